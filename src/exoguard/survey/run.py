"""Running a survey to its end: on local processes (default) or on Celery workers.

Both submit the survey's unfinished stars as ``survey_chunk`` jobs and watch the star rows
for progress. On Celery the watcher also queues again the chunks whose worker died (as the
API's sweeper does), and, when every chunk ended but stars are left (a chunk whose runs were
used up), submits those stars in new chunks, a few rounds at most.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings
from exoguard.errors import ExoguardError, NotFoundError
from exoguard.jobs.runner import create_job_row
from exoguard.survey.service import (
    CHUNK_KIND,
    SurveyProgress,
    chunk_params,
    create_survey,
    fail_unfinished_chunks,
    finish_if_complete,
    latest_survey_for,
    survey_progress,
    unfinished_chunks,
)

log = logging.getLogger(__name__)
ProgressFn = Callable[[SurveyProgress], None]
#: Rounds of new chunks for stars left when every chunk ended.
MAX_ROUNDS = 3
WATCH_INTERVAL_S = 0.5


def open_survey(
    factory: sessionmaker[Session],
    *,
    source: Path,
    resume: bool,
    chunk_size: int,
    name: str | None = None,
    options: dict[str, Any] | None = None,
    owner_id: int | None = None,
) -> tuple[str, bool]:
    """(survey id, resumed): the newest survey of `source` with `resume`, else a new one."""
    source = source.resolve()
    if resume:
        survey_id = latest_survey_for(factory, source)
        if survey_id is None:
            raise NotFoundError(f"no survey of {source} to resume; run it without --resume")
        fail_unfinished_chunks(factory, survey_id, reason="superseded: the survey was resumed")
        return survey_id, True
    survey_id = create_survey(
        factory,
        source=source,
        name=name,
        owner_id=owner_id,
        chunk_size=chunk_size,
        options=options,
    )
    return survey_id, False


def _queue_chunks(
    factory: sessionmaker[Session], survey_id: str, *, owner_id: int | None
) -> list[str]:
    return [
        create_job_row(factory, CHUNK_KIND, chunk_params(survey_id, ids), owner_id)
        for ids in unfinished_chunks(factory, survey_id)
    ]


def run_local(
    factory: sessionmaker[Session],
    settings: Settings,
    survey_id: str,
    *,
    workers: int,
    on_progress: ProgressFn | None = None,
    warm: bool = True,
) -> SurveyProgress:
    """Run the survey's unfinished stars on `workers` local processes; its progress after."""
    from exoguard.survey.local import process_pool, run_jobs

    def report(*_: Any) -> None:
        if on_progress is not None:
            on_progress(survey_progress(factory, survey_id))

    stop = threading.Event()

    def watch() -> None:  # progress from the database while the chunks run
        while not stop.wait(WATCH_INTERVAL_S):
            try:
                report()
            except Exception as exc:  # progress is advisory
                log.debug("survey progress: %s", exc)

    watcher = threading.Thread(target=watch, name="survey-progress", daemon=True)
    watcher.start()
    try:
        with process_pool(workers=workers, settings=settings, warm=warm) as pool:
            for _ in range(MAX_ROUNDS):
                job_ids = _queue_chunks(factory, survey_id, owner_id=None)
                if not job_ids:
                    break
                try:
                    run_jobs(pool, job_ids)
                except BaseException:
                    fail_unfinished_chunks(factory, survey_id, reason="interrupted")
                    raise
    finally:
        stop.set()
        watcher.join(timeout=5)
    finish_if_complete(factory, survey_id)
    report()
    return survey_progress(factory, survey_id)


def run_celery(
    factory: sessionmaker[Session],
    settings: Settings,
    survey_id: str,
    *,
    on_progress: ProgressFn | None = None,
    timeout_s: float | None = None,
) -> SurveyProgress:
    """Queue the survey's chunks on Celery (``exoguard worker``) and watch until it ends."""
    from exoguard.jobs.runner import CeleryRunner
    from exoguard.survey.service import chunk_jobs

    runner = CeleryRunner(factory, settings)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    last_recover = 0.0
    for _ in range(MAX_ROUNDS):
        chunks = unfinished_chunks(factory, survey_id)
        if not chunks:
            break
        job_ids = [
            runner.submit(CHUNK_KIND, chunk_params(survey_id, ids), owner_id=None) for ids in chunks
        ]
        while True:
            progress = survey_progress(factory, survey_id)
            if on_progress is not None:
                on_progress(progress)
            if progress.finished >= progress.n_stars:
                break
            states = {j.id: j.status for j in chunk_jobs(factory, survey_id) if j.id in job_ids}
            if all(s in ("succeeded", "failed") for s in states.values()):
                break  # stars left: a new round
            if time.monotonic() - last_recover > max(settings.job_heartbeat_s, 1.0):
                runner.recover(job_ids=job_ids)  # chunks whose worker died: queued again
                last_recover = time.monotonic()
            if deadline is not None and time.monotonic() > deadline:
                raise ExoguardError(
                    f"survey {survey_id}: not finished after {timeout_s:g} s "
                    f"({progress.finished} of {progress.n_stars} stars); is a worker running?"
                )
            time.sleep(WATCH_INTERVAL_S)
    finish_if_complete(factory, survey_id)
    progress = survey_progress(factory, survey_id)
    if on_progress is not None:
        on_progress(progress)
    return progress


__all__ = ["open_survey", "run_celery", "run_local"]
