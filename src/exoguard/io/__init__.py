"""exoguard.io."""
