"""exoguard.ml."""
