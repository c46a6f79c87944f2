"""Runs one job by id: the shared core of the in-process and the Celery adapters.

Every job row names its holder (``worker_id``: ``host:pid:token`` of the replica or worker
process) and a heartbeat (``heartbeat_at``) the holder refreshes every
``settings.job_heartbeat_s`` seconds. A job is taken as interrupted only when its holder is
gone: no heartbeat for ``settings.job_stale_s`` seconds, or, on this very host, its process
no longer exists. An interrupted job is run again until ``settings.job_max_attempts`` runs
were started, then failed with the reason. Starting or claiming a job is a conditional
UPDATE, so two replicas (or a redelivered Celery message) never run one job twice at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings
from exoguard.errors import ConflictError
from exoguard.jobs.tasks import JobContext, get_task
from exoguard.store.db import session_scope
from exoguard.store.models import Job
from exoguard.store.repositories import JobRepository
from exoguard.store.types import utcnow

log = logging.getLogger(__name__)
PROGRESS_MIN_INTERVAL_S = 0.5
#: Every error of a job failed because its holder died starts with this.
INTERRUPTED_ERROR = "interrupted"
CLAIM_TRIES = 6
ACTIVE_STATUSES = ("queued", "running")

_identity: tuple[int, str] | None = None
_identity_lock = threading.Lock()


def replica_id() -> str:
    """This process's holder id, ``host:pid:token`` (a forked child gets a new one)."""
    global _identity
    pid = os.getpid()
    with _identity_lock:
        if _identity is None or _identity[0] != pid:
            _identity = (pid, f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}")
        return _identity[1]


def _pid_exists(pid: int) -> bool:
    """Whether process `pid` runs here (a killed process not yet reaped, a zombie, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (not Linux): trust the signal check
        return True


def beats_in_database(settings: Settings) -> bool:
    """Whether holders write periodic heartbeats: not on SQLite.

    Every process using one SQLite file runs on one host (WAL needs shared memory), where
    the process check is exact; and on SQLite each heartbeat write would make a concurrent
    read-then-write transaction of a running job fail ("database is locked").
    """
    return not settings.database_url.startswith("sqlite")


def holder_gone(
    worker_id: str | None,
    heartbeat_at: datetime | None,
    *,
    now: datetime,
    stale_s: float,
    process_decides: bool = False,
) -> bool:
    """True when the holder of a job stopped: a stale heartbeat, or a dead local process.

    The process check only applies to holders on this host (same hostname), where a pid
    names a process; elsewhere only the heartbeat counts. With `process_decides` (SQLite:
    no periodic heartbeats), a local holder whose process exists is never taken as gone.
    """
    host, _, rest = (worker_id or "").partition(":")
    pid_text = rest.partition(":")[0]
    local = host == socket.gethostname() and pid_text.isdigit()
    if local and not _pid_exists(int(pid_text)):
        return True
    if local and process_decides:
        return False
    return heartbeat_at is None or heartbeat_at < now - timedelta(seconds=stale_s)


def last_sign_of_life(job: Job) -> datetime | None:
    """The heartbeat, else when the job started, else when it was queued (rows without one)."""
    return job.heartbeat_at or job.started_at or job.created_at


def _same(job: Job) -> list[ColumnElement[bool]]:
    """WHERE clauses matching the row as `job` saw it (optimistic concurrency)."""
    held = Job.worker_id.is_(None) if job.worker_id is None else Job.worker_id == job.worker_id
    return [Job.id == job.id, Job.status == job.status, Job.attempts == job.attempts, held]


def _conditional_update(session: Session, job: Job, **values: Any) -> bool:
    """Apply `values` only when the row still is as `job` saw it; True when it was."""
    statement = update(Job).where(*_same(job)).values(**values)
    done = session.execute(statement.execution_options(synchronize_session=False))
    return bool(getattr(done, "rowcount", 0))


def _interrupted_reason(job: Job, settings: Settings) -> str:
    return (
        f"{INTERRUPTED_ERROR}: the process running this job stopped "
        f"({job.worker_id or 'unknown holder'}: its process is gone, or it sent no heartbeat "
        f"for {settings.job_stale_s:g} s) "
        f"during run {job.attempts} of at most {settings.job_max_attempts} "
        "(EXOGUARD_JOB_MAX_ATTEMPTS); not run again"
    )


@contextmanager
def heartbeat(factory: sessionmaker[Session], settings: Settings, job_id: str) -> Iterator[None]:
    """Refresh the job's ``heartbeat_at`` while it runs (while this process holds it)."""
    if not beats_in_database(settings):
        yield
        return
    me, stop = replica_id(), threading.Event()

    def beat() -> None:
        while not stop.wait(settings.job_heartbeat_s):
            try:
                with session_scope(factory) as session:
                    session.execute(
                        update(Job)
                        .where(Job.id == job_id, Job.worker_id == me, Job.status == "running")
                        .values(heartbeat_at=utcnow())
                        .execution_options(synchronize_session=False)
                    )
            except Exception as exc:  # a database hiccup must not kill the job
                log.warning("job %s: heartbeat failed: %s", job_id, exc)

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def claim_job(factory: sessionmaker[Session], settings: Settings, job_id: str) -> str:
    """Take job `job_id` for this process: ``"run"`` when it is now ours and running.

    Otherwise the reason not to run it: ``"succeeded"``/``"failed"`` (finished, or failed
    here because its runs are used up) or ``"busy"`` (a live holder has it). SQLite's
    "database is locked" (a concurrent claim committed first) is retried a few times.
    """
    for attempt in range(CLAIM_TRIES):
        try:
            return _claim_once(factory, settings, job_id)
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == CLAIM_TRIES - 1:
                raise
            time.sleep(0.02 * 2**attempt)
    raise AssertionError("unreachable")


def _claim_once(factory: sessionmaker[Session], settings: Settings, job_id: str) -> str:
    me = replica_id()
    with session_scope(factory) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise ValueError(f"job {job_id} does not exist")
        if job.status not in ACTIVE_STATUSES:
            return job.status  # a redelivered message for a finished job: nothing to do
        now = utcnow()
        held_elsewhere = job.worker_id is not None and job.worker_id != me
        if (job.status == "running" or held_elsewhere) and not holder_gone(
            job.worker_id,
            last_sign_of_life(job),
            now=now,
            stale_s=settings.job_stale_s,
            process_decides=not beats_in_database(settings),
        ):
            return "busy"
        if job.status == "running" and job.attempts >= settings.job_max_attempts:
            reason = _interrupted_reason(job, settings)
            if _conditional_update(session, job, status="failed", error=reason, finished_at=now):
                log.warning("job %s: %s", job_id, reason)
                return "failed"
            return "busy"
        claimed = _conditional_update(
            session,
            job,
            status="running",
            worker_id=me,
            heartbeat_at=now,
            started_at=now,
            attempts=job.attempts + 1,
            error=None,
            progress=0.0,
            result=None,  # not the last run's progress message
        )
        if claimed and job.attempts:
            log.warning("job %s: run %d (the last run was interrupted)", job_id, job.attempts + 1)
        return "run" if claimed else "busy"


def execute_job(factory: sessionmaker[Session], settings: Settings, job_id: str) -> str:
    """Run job `job_id` to completion and return its final status.

    ``succeeded`` or ``failed``; ``busy`` when another live process holds the job (a
    duplicate delivery), which is then left alone.
    """
    claim = claim_job(factory, settings, job_id)
    if claim != "run":
        return claim
    me = replica_id()
    with session_scope(factory) as session:
        job = session.get(Job, job_id)
        assert job is not None
        kind, params, owner_id = job.kind, dict(job.params or {}), job.owner_id

    last = [0.0]

    def progress(fraction: float, message: str | None = None) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - last[0] < PROGRESS_MIN_INTERVAL_S:
            return
        last[0] = now
        values: dict[str, Any] = {"progress": float(min(max(fraction, 0.0), 1.0))}
        if message:
            values["result"] = {"message": message}
        # One UPDATE, no read first: on SQLite a read-then-write transaction fails at once
        # ("database is locked") when another connection wrote in between.
        try:
            with session_scope(factory) as s:
                s.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == "running", Job.worker_id == me)
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
        except OperationalError as exc:  # progress is advisory: the job goes on
            log.warning("job %s: progress not saved: %s", job_id, exc)

    def finish(**values: Any) -> None:
        with session_scope(factory) as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "running", Job.worker_id == me)
                .values(finished_at=utcnow(), **values)
                .execution_options(synchronize_session=False)
            )

    try:
        fn = get_task(kind)
        with heartbeat(factory, settings, job_id):
            result = fn(JobContext(job_id, params, settings, progress, owner_id))
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, kind)
        finish(
            status="failed",
            error=f"{type(exc).__name__}: {exc}"[:4000],
            result={"traceback": traceback.format_exc(limit=5)[-4000:]},
        )
    else:
        with session_scope(factory) as session, contextlib.suppress(ConflictError):
            # ConflictError: the task already finished the job in the transaction of its
            # domain writes, or this process lost the job (re-run elsewhere): nothing to write
            JobRepository(session).mark_succeeded(job_id, result=result, holder=me)
    with session_scope(factory) as session:
        job = session.get(Job, job_id)
        return job.status if job is not None else "failed"


@dataclass
class Recovery:
    """What one sweep did: jobs handed to a runner again, and jobs failed for good."""

    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def recover_interrupted_jobs(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    requeue: Callable[[str], None],
    hold: bool,
    adopt_unheld: bool,
    job_ids: list[str] | None = None,
) -> Recovery:
    """Hand jobs whose holder is gone to `requeue` again, or fail them when runs are used up.

    hold
        The caller keeps requeued jobs itself (in-process runner: ``worker_id`` = this
        process, beaten while queued); otherwise they wait unheld in a broker (Celery).
    adopt_unheld
        Also take queued jobs nobody held for ``settings.job_stale_s`` (in-process runner:
        rows queued by an older version or another tool).
    """
    now, out = utcnow(), Recovery()
    with session_scope(factory) as session:
        query = session.query(Job).filter(Job.status.in_(ACTIVE_STATUSES))
        if job_ids is not None:
            query = query.filter(Job.id.in_(job_ids))
        candidates = query.all()
        session.expunge_all()
    for job in candidates:
        # Jobs of this very process count too: one whose beats stopped was orphaned here
        # (its thread died on a database error), and its pid alone says nothing.
        if job.worker_id is None and job.status == "queued" and not adopt_unheld:
            continue  # waiting in a broker
        # A row without a heartbeat counts from its start (or queueing): unheld queued rows
        # are adopted, and holder-less running rows re-run, only once that is stale.
        if not holder_gone(
            job.worker_id,
            last_sign_of_life(job),
            now=now,
            stale_s=settings.job_stale_s,
            process_decides=not beats_in_database(settings),
        ):
            continue
        with session_scope(factory) as session:
            if job.status == "running" and job.attempts >= settings.job_max_attempts:
                reason = _interrupted_reason(job, settings)
                if _conditional_update(
                    session, job, status="failed", error=reason, finished_at=now
                ):
                    log.warning("job %s: %s", job.id, reason)
                    out.failed.append(job.id)
                continue
            message = (
                f"queued again: {job.worker_id} stopped during run {job.attempts}"
                if job.worker_id
                else "queued again"
            )
            if not _conditional_update(
                session,
                job,
                status="queued",
                worker_id=replica_id() if hold else None,
                heartbeat_at=now if hold else None,
                result={"message": message},
            ):
                continue
        try:
            requeue(job.id)
        except Exception as exc:
            fail_unqueued(factory, job.id, reason=f"could not queue the job again: {exc}")
            out.failed.append(job.id)
            continue
        log.warning("job %s: %s", job.id, message)
        out.requeued.append(job.id)
    return out


def fail_unqueued(factory: sessionmaker[Session], job_id: str, *, reason: str) -> None:
    """Mark a queued job that no runner will pick up as failed, with `reason`."""
    with session_scope(factory) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(status="failed", error=reason[:4000], finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def fail_held_job(factory: sessionmaker[Session], job_id: str, *, reason: str) -> None:
    """Mark job `job_id` failed if this process holds it running (its run broke down)."""
    with session_scope(factory) as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "running", Job.worker_id == replica_id())
            .values(status="failed", error=reason[:4000], finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def beat_held_jobs(factory: sessionmaker[Session], *, statuses: tuple[str, ...]) -> int:
    """Refresh the heartbeat of every job this process holds in `statuses`; how many."""
    with session_scope(factory) as session:
        done = session.execute(
            update(Job)
            .where(Job.worker_id == replica_id(), Job.status.in_(statuses))
            .values(heartbeat_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(getattr(done, "rowcount", 0) or 0)


def release_held_jobs(factory: sessionmaker[Session], *, job_id: str | None = None) -> int:
    """Let go of the queued jobs this process holds (all, or `job_id`), so others adopt them."""
    statement = update(Job).where(Job.worker_id == replica_id(), Job.status == "queued")
    if job_id is not None:
        statement = statement.where(Job.id == job_id)
    with session_scope(factory) as session:
        done = session.execute(
            statement.values(worker_id=None, heartbeat_at=None).execution_options(
                synchronize_session=False
            )
        )
        return int(getattr(done, "rowcount", 0) or 0)
