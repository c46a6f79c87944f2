"""exoguard.catalogs."""
