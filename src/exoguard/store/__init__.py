"""exoguard.store."""
