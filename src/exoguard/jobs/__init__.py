"""exoguard.jobs."""
