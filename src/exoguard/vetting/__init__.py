"""exoguard.vetting."""
