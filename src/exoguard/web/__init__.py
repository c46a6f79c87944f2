"""exoguard.web."""
