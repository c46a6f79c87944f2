"""exoguard.reports."""
