"""Survey mode: many stars' light curves searched, cross-matched and classified.

``inputs`` turns a folder or a manifest into stars, ``service`` keeps the survey's state in
the database (one row per star; a star done with the same file hash is never redone),
``pipeline`` runs one star (read → detrend → search → diagnostics → classify → store),
``local`` runs chunks on a pool of processes (the embedded default) and ``export`` writes
the CSV and the summary PDF. On Celery each chunk is a job (``exoguard.jobs.survey_tasks``).
"""
