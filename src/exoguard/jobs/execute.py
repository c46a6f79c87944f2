"""Runs one job by id: the shared core of the in-process and the Celery adapters."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings
from exoguard.jobs.tasks import JobContext, get_task
from exoguard.store.db import session_scope
from exoguard.store.models import Job

log = logging.getLogger(__name__)
PROGRESS_MIN_INTERVAL_S = 0.5
#: A running job refreshes its Redis heartbeat every HEARTBEAT_INTERVAL_S seconds (env
#: EXOGUARD_JOB_HEARTBEAT_S overrides it); a heartbeat missing for HEARTBEAT_TTL_FACTOR times
#: that means its worker died (SIGKILL, lost machine) and the job is marked failed.
HEARTBEAT_INTERVAL_S = 5.0
HEARTBEAT_TTL_FACTOR = 6
HEARTBEAT_ENV = "EXOGUARD_JOB_HEARTBEAT_S"
LOST_JOB_ERROR = "worker lost: the process running this job stopped (no heartbeat)"


def heartbeat_interval_s() -> float:
    return float(os.environ.get(HEARTBEAT_ENV) or HEARTBEAT_INTERVAL_S)


def heartbeat_ttl_s() -> float:
    return heartbeat_interval_s() * HEARTBEAT_TTL_FACTOR


def heartbeat_key(job_id: str) -> str:
    return f"exoguard:job:{job_id}:alive"


@contextmanager
def heartbeat(settings: Settings, job_id: str) -> Iterator[None]:
    """Keep a Redis key alive while a job runs (only when REDIS_URL is configured)."""
    if not settings.redis_url:
        yield
        return
    import redis

    client: Any = redis.Redis.from_url(settings.redis_url)
    stop = threading.Event()
    interval, ttl_ms = heartbeat_interval_s(), max(1, int(heartbeat_ttl_s() * 1000))

    def beat() -> None:
        while True:
            try:
                client.set(heartbeat_key(job_id), "1", px=ttl_ms)
            except Exception as exc:  # a Redis hiccup must not kill the job
                log.warning("job %s: heartbeat failed: %s", job_id, exc)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id[:8]}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=2)
        with contextlib.suppress(Exception):  # the key expires by itself anyway
            client.delete(heartbeat_key(job_id))
        client.close()


def fail_lost_jobs(
    factory: sessionmaker[Session], settings: Settings, *, job_ids: list[str] | None = None
) -> int:
    """Mark `running` jobs whose heartbeat expired as failed; returns how many.

    Needs REDIS_URL (heartbeats live there); a job started less than one heartbeat TTL ago
    is never failed. Work of a lost job is never half-applied: tasks write in one transaction.
    """
    if not settings.redis_url:
        return 0
    import redis

    client: Any = redis.Redis.from_url(settings.redis_url)
    cutoff = datetime.now(UTC) - timedelta(seconds=heartbeat_ttl_s())
    n = 0
    try:
        with session_scope(factory) as session:
            query = session.query(Job).filter(Job.status == "running")
            if job_ids is not None:
                query = query.filter(Job.id.in_(job_ids))
            for job in query.all():
                started = job.started_at
                if started is None or started > cutoff:
                    continue
                if client.exists(heartbeat_key(job.id)):
                    continue
                job.status = "failed"
                job.error = LOST_JOB_ERROR
                job.finished_at = datetime.now(UTC)
                n += 1
    finally:
        client.close()
    if n:
        log.warning("marked %d lost job(s) as failed", n)
    return n


def execute_job(factory: sessionmaker[Session], settings: Settings, job_id: str) -> str:
    """Run job `job_id` to completion and return its final status (`succeeded` or `failed`)."""
    with session_scope(factory) as session:
        job = session.get(Job, job_id)
        if job is None:
            raise ValueError(f"job {job_id} does not exist")
        if job.status in ("succeeded", "failed"):
            return job.status  # a redelivered message for a finished job: nothing to do
        job.status = "running"
        job.attempts = (job.attempts or 0) + 1
        job.started_at = datetime.now(UTC)
        job.error = None
        kind, params, owner_id = job.kind, dict(job.params or {}), job.owner_id

    last = [0.0]

    def progress(fraction: float, message: str | None = None) -> None:
        now = time.monotonic()
        if fraction < 1.0 and now - last[0] < PROGRESS_MIN_INTERVAL_S:
            return
        last[0] = now
        with session_scope(factory) as s:
            j = s.get(Job, job_id)
            if j is not None and j.status == "running":
                j.progress = float(min(max(fraction, 0.0), 1.0))
                if message:
                    j.result = {"message": message}

    try:
        fn = get_task(kind)
        with heartbeat(settings, job_id):
            result = fn(JobContext(job_id, params, settings, progress, owner_id))
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, kind)
        with session_scope(factory) as session:
            job = session.get(Job, job_id)
            if job is not None:
                job.status = "failed"
                job.error = f"{type(exc).__name__}: {exc}"[:4000]
                job.result = {"traceback": traceback.format_exc(limit=5)[-4000:]}
                job.finished_at = datetime.now(UTC)
        return "failed"
    with session_scope(factory) as session:
        job = session.get(Job, job_id)
        if job is not None:
            job.status = "succeeded"
            job.progress = 1.0
            job.result = result
            job.finished_at = datetime.now(UTC)
    return "succeeded"


def fail_interrupted(factory: sessionmaker[Session], *, reason: str) -> int:
    """Mark jobs left `running`/`queued` by a dead in-process runner as failed; returns how many."""
    with session_scope(factory) as session:
        jobs = session.query(Job).filter(Job.status.in_(("running", "queued"))).all()
        for job in jobs:
            job.status = "failed"
            job.error = reason
            job.finished_at = datetime.now(UTC)
        return len(jobs)
