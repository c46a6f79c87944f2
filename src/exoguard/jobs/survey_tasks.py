"""The job kind of survey mode: one chunk of a survey's stars (``survey_chunk``).

Params: ``survey_id`` and ``star_ids``. Each star is claimed and stored on its own (see
``exoguard.survey.pipeline``), so a chunk run twice (a redelivered Celery message, a worker
killed mid-chunk, a resumed survey) skips the stars already done and stores none twice.
"""

from __future__ import annotations

from typing import Any

from exoguard.jobs.tasks import JobContext, task


@task("survey_chunk")
def survey_chunk(ctx: JobContext) -> dict[str, Any]:
    """Search, cross-match, classify and store the stars of one chunk of a survey."""
    from exoguard.survey.local import warm_once, worker_sessions
    from exoguard.survey.pipeline import run_chunk

    warm_once(ctx.settings)
    _, factory = worker_sessions(ctx.settings.database_url)
    return run_chunk(
        factory,
        ctx.settings,
        survey_id=str(ctx.params["survey_id"]),
        star_ids=[int(i) for i in ctx.params["star_ids"]],
        progress=ctx.progress,
    )
