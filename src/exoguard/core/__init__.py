"""exoguard.core."""
