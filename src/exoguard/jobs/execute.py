"""Runs one job by id: the shared core of the in-process and the Celery adapters."""

from __future__ import annotations

import logging
import time
import traceback
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings
from exoguard.jobs.tasks import JobContext, get_task
from exoguard.store.db import session_scope
from exoguard.store.models import Job

log = logging.getLogger(__name__)
PROGRESS_MIN_INTERVAL_S = 0.5


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
