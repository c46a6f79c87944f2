"""The job runner port and its two adapters: in-process threads (default) and Celery."""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings
from exoguard.errors import UnavailableError
from exoguard.jobs.execute import (
    Recovery,
    beat_held_jobs,
    beats_in_database,
    execute_job,
    fail_held_job,
    fail_unqueued,
    recover_interrupted_jobs,
    release_held_jobs,
    replica_id,
)
from exoguard.jobs.tasks import get_task
from exoguard.store.db import session_scope
from exoguard.store.models import Job
from exoguard.store.types import utcnow

log = logging.getLogger(__name__)


class JobRunner(Protocol):
    """Starts background work; job state lives in the database, not in the runner."""

    def submit(self, kind: str, params: dict[str, Any], *, owner_id: int | None = None) -> str: ...

    def recover(self, *, job_ids: list[str] | None = None) -> Recovery: ...

    def check(self) -> str | None:
        """None when jobs can be run now, else why not (for /readyz)."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def create_job_row(
    factory: sessionmaker[Session],
    kind: str,
    params: dict[str, Any],
    owner_id: int | None,
    *,
    hold: bool = False,
) -> str:
    """Insert a queued job and return its id (validates the kind first).

    hold: this process keeps the job (in-process runner), so it is beaten while queued.
    """
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
                worker_id=replica_id() if hold else None,
                heartbeat_at=utcnow() if hold else None,
            )
        )
    return job_id


class InProcessRunner:
    """Runs jobs on a small thread pool inside the API process (single-user embedded mode).

    A sweeper thread beats the heartbeat of the jobs queued here every
    ``settings.job_heartbeat_s`` seconds and re-runs (once, by default) the jobs of replicas
    that stopped: another ``exoguard serve`` on the same database leaves this one's jobs alone.
    """

    def __init__(self, factory: sessionmaker[Session], settings: Settings, *, workers: int = 2):
        self._factory = factory
        self._settings = settings
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._pool is not None:
                return
            self._pool = ThreadPoolExecutor(
                max_workers=self._workers, thread_name_prefix="exoguard-job"
            )
            self._stop.clear()
            sweeper = threading.Thread(
                target=self._sweep_forever, name="exoguard-job-sweeper", daemon=True
            )
            self._sweeper = sweeper
        try:
            self.sweep()  # jobs of a previous process on this host: taken at once
        except Exception as exc:  # the sweeper tries again
            log.warning("job sweep failed: %s", exc)
        sweeper.start()

    def stop(self) -> None:
        with self._lock:
            pool, sweeper, self._pool, self._sweeper = self._pool, self._sweeper, None, None
        self._stop.set()
        if sweeper is not None:
            sweeper.join(timeout=10)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        try:
            released = release_held_jobs(self._factory)
        except Exception as exc:  # the database may be gone at shutdown
            log.warning("could not release the queued jobs of this replica: %s", exc)
        else:
            if released:
                log.info("released %d queued job(s) for other replicas", released)

    def _run(self, job_id: str) -> None:
        with self._lock:
            pool = self._pool
        if pool is None:
            raise RuntimeError("the job runner is stopped")
        pool.submit(self._execute, job_id)

    def _execute(self, job_id: str) -> None:
        try:
            execute_job(self._factory, self._settings, job_id)
        except Exception as exc:  # the database refused the claim or the final status
            log.exception("job %s: could not be run or finished", job_id)
            try:
                release_held_jobs(self._factory, job_id=job_id)  # queued: the sweeper adopts it
                fail_held_job(self._factory, job_id, reason=f"{type(exc).__name__}: {exc}")
            except Exception as again:  # still down: a PostgreSQL row goes stale by itself
                log.warning("job %s: could not be released: %s", job_id, again)

    def submit(self, kind: str, params: dict[str, Any], *, owner_id: int | None = None) -> str:
        get_task(kind)  # an unknown kind is refused before anything starts
        if self._pool is None:
            self.start()
        job_id = create_job_row(self._factory, kind, params, owner_id, hold=True)
        self._run(job_id)
        return job_id

    def recover(self, *, job_ids: list[str] | None = None) -> Recovery:
        return recover_interrupted_jobs(
            self._factory,
            self._settings,
            requeue=self._run,
            hold=True,
            adopt_unheld=True,
            job_ids=job_ids,
        )

    def check(self) -> str | None:
        if self._pool is None:
            return "the in-process job runner is stopped"
        return None

    def sweep(self) -> Recovery:
        """One round: beat the jobs queued here, then recover interrupted ones."""
        if beats_in_database(self._settings):
            beat_held_jobs(self._factory, statuses=("queued",))
        return self.recover()

    def _sweep_forever(self) -> None:
        while not self._stop.wait(self._settings.job_heartbeat_s):
            try:
                self.sweep()
            except Exception as exc:  # a database hiccup must not stop the sweeper
                log.warning("job sweep failed: %s", exc)


class CeleryRunner:
    """Sends job ids to Celery workers over the Redis broker (`exoguard worker`).

    Once started (in the API), a sweeper thread queues again, every
    ``settings.job_heartbeat_s`` seconds, the jobs whose worker died, so a job is not left
    `running` while no worker is up to notice.
    """

    def __init__(self, factory: sessionmaker[Session], settings: Settings) -> None:
        from exoguard.jobs.celery_app import make_celery

        self._factory = factory
        self._settings = settings
        self._celery = make_celery(settings)
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def start(self) -> None:
        if self._sweeper is not None:
            return
        self._stop.clear()
        self._sweeper = threading.Thread(
            target=self._sweep_forever, name="exoguard-job-sweeper", daemon=True
        )
        self._sweeper.start()

    def stop(self) -> None:
        sweeper, self._sweeper = self._sweeper, None
        self._stop.set()
        if sweeper is not None:
            sweeper.join(timeout=10)

    def _sweep_forever(self) -> None:
        while not self._stop.wait(max(self._settings.job_heartbeat_s, 1.0)):
            try:
                self.recover()
            except Exception as exc:  # a database hiccup must not stop the sweeper
                log.warning("job sweep failed: %s", exc)

    def enqueue(self, job_id: str) -> None:
        """Publish job `job_id` to the broker (a bounded retry; raises when it is down)."""
        self._celery.send_task(
            "exoguard.run_job",
            args=[job_id],
            retry=True,
            retry_policy={
                "max_retries": 1,
                "interval_start": 0,
                "interval_step": 0.2,
                "interval_max": 0.2,
            },
        )

    def submit(self, kind: str, params: dict[str, Any], *, owner_id: int | None = None) -> str:
        job_id = create_job_row(self._factory, kind, params, owner_id)
        try:
            self.enqueue(job_id)
        except Exception as exc:  # kombu OperationalError, socket errors, ...
            reason = f"could not queue the job: the job broker is unreachable ({exc})"
            fail_unqueued(self._factory, job_id, reason=reason)
            log.warning("job %s: %s", job_id, reason)
            raise UnavailableError(
                f"job {job_id} failed: the job broker (Redis) is unreachable; retry later"
            ) from exc
        return job_id

    def recover(self, *, job_ids: list[str] | None = None) -> Recovery:
        return recover_interrupted_jobs(
            self._factory,
            self._settings,
            requeue=self.enqueue,
            hold=False,
            adopt_unheld=False,
            job_ids=job_ids,
        )

    def check(self) -> str | None:
        """None when the broker accepts a connection, else the reason."""
        try:
            with self._celery.connection_for_write() as connection:
                connection.ensure_connection(max_retries=1, interval_start=0, timeout=1.0)
        except Exception as exc:
            return f"the Celery broker is unreachable: {type(exc).__name__}: {exc}"
        return None


def make_runner(factory: sessionmaker[Session], settings: Settings) -> JobRunner:
    """The adapter chosen by `settings.job_backend` (`inprocess` or `celery`)."""
    if settings.job_backend == "celery":
        if not settings.redis_url:
            raise ValueError("EXOGUARD_JOBS=celery needs REDIS_URL (the broker)")
        return CeleryRunner(factory, settings)
    return InProcessRunner(factory, settings)
