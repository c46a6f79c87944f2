"""The job runner port and its two adapters: in-process threads (default) and Celery."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings
from exoguard.jobs.execute import execute_job, fail_interrupted
from exoguard.jobs.tasks import get_task
from exoguard.store.db import session_scope
from exoguard.store.models import Job

log = logging.getLogger(__name__)


class JobRunner(Protocol):
    """Starts background work; job state lives in the database, not in the runner."""

    def submit(self, kind: str, params: dict[str, Any], *, owner_id: int | None = None) -> str: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_job_row(
    factory: sessionmaker[Session], kind: str, params: dict[str, Any], owner_id: int | None
) -> str:
    """Insert a queued job and return its id (validates the kind first)."""
    get_task(kind)
    job_id = str(uuid.uuid4())
    with session_scope(factory) as session:
        session.add(
            Job(
                id=job_id,
                kind=kind,
                status="queued",
                progress=0.0,
                params=params,
                owner_id=owner_id,
                attempts=0,
            )
        )
    return job_id


class InProcessRunner:
    """Runs jobs on a small thread pool inside the API process (single-user embedded mode)."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, *, workers: int = 2):
        self._factory = factory
        self._settings = settings
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None

    def start(self) -> None:
        # Jobs of a previous process cannot resume: say so instead of leaving them "running".
        n = fail_interrupted(self._factory, reason="interrupted: the server stopped during the job")
        if n:
            log.warning("marked %d interrupted jobs as failed", n)
        self._pool = ThreadPoolExecutor(
            max_workers=self._workers, thread_name_prefix="exoguard-job"
        )

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def submit(self, kind: str, params: dict[str, Any], *, owner_id: int | None = None) -> str:
        job_id = create_job_row(self._factory, kind, params, owner_id)
        if self._pool is None:
            self.start()
        assert self._pool is not None
        self._pool.submit(execute_job, self._factory, self._settings, job_id)
        return job_id


class CeleryRunner:
    """Sends job ids to Celery workers over the Redis broker (`exoguard worker`)."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        from exoguard.jobs.celery_app import make_celery

        self._factory = factory
        self._celery = make_celery(settings)

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def submit(self, kind: str, params: dict[str, Any], *, owner_id: int | None = None) -> str:
        job_id = create_job_row(self._factory, kind, params, owner_id)
        self._celery.send_task("exoguard.run_job", args=[job_id])
        return job_id


def make_runner(factory: sessionmaker[Session], settings: Settings) -> JobRunner:
    """The adapter chosen by `settings.job_backend` (`inprocess` or `celery`)."""
    if settings.job_backend == "celery":
        if not settings.redis_url:
            raise ValueError("EXOGUARD_JOBS=celery needs REDIS_URL (the broker)")
        return CeleryRunner(factory, settings)
    return InProcessRunner(factory, settings)
