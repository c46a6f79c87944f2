"""Background job state."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from exoguard.errors import ConflictError, NotFoundError
from exoguard.store.models import JOB_STATUSES, Job
from exoguard.store.repositories._common import _check, _page
from exoguard.store.types import utcnow


class JobRepository:
    """Background job state (the runner — in-process or Celery — only moves it along)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        kind: str,
        params: Mapping[str, Any] | None = None,
        owner_id: int | None = None,
        job_id: str | None = None,
    ) -> Job:
        """A queued job; `job_id` defaults to a new UUID4 string."""
        job = Job(
            id=job_id or str(uuid.uuid4()),
            kind=kind,
            status="queued",
            progress=0.0,
            params=dict(params or {}),
            owner_id=owner_id,
            attempts=0,
        )
        self.session.add(job)
        self.session.flush()
        return job

    def get(self, job_id: str) -> Job | None:
        return self.session.get(Job, job_id)

    def require(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id!r} not found")
        return job

    def list(
        self,
        *,
        owner_id: int | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int | None = 50,
        offset: int = 0,
    ) -> Sequence[Job]:
        """Jobs, newest first."""
        stmt = select(Job)
        if owner_id is not None:
            stmt = stmt.where(Job.owner_id == owner_id)
        if kind is not None:
            stmt = stmt.where(Job.kind == kind)
        if status is not None:
            _check("status", status, JOB_STATUSES)
            stmt = stmt.where(Job.status == status)
        stmt = stmt.order_by(Job.created_at.desc(), Job.id)
        return self.session.scalars(_page(stmt, limit, offset)).all()

    def mark_running(self, job_id: str, *, now: datetime | None = None) -> Job:
        """queued/failed → running; counts an attempt."""
        job = self.require(job_id)
        job.status = "running"
        job.attempts += 1
        job.started_at = now or utcnow()
        job.finished_at = None
        job.error = None
        self.session.flush()
        return job

    def set_progress(self, job_id: str, progress: float) -> Job:
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"progress must be within [0, 1]; got {progress}")
        job = self.require(job_id)
        job.progress = float(progress)
        self.session.flush()
        return job

    def mark_succeeded(
        self,
        job_id: str,
        *,
        result: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        holder: str | None = None,
    ) -> Job:
        """The job succeeded: progress 1, `result` kept, finished `now`.

        The one place a job is marked succeeded. With `holder` (the runner's
        `exoguard.jobs.execute.replica_id`) the write applies only while the job is running and
        held by `holder`, else `ConflictError` — raised in the caller's transaction, so domain
        writes made with it roll back: a run taken as interrupted and re-run elsewhere writes
        nothing. That check and the write are one UPDATE with no read first (on SQLite a
        read-then-write transaction fails at once when another connection wrote in between).
        Without `holder` a missing job raises `NotFoundError`.
        """
        conditions = [Job.id == job_id]
        if holder is None:
            self.require(job_id)
        else:
            conditions += [Job.status == "running", Job.worker_id == holder]
        done = self.session.execute(
            update(Job)
            .where(*conditions)
            .values(
                status="succeeded",
                progress=1.0,
                result=dict(result) if result is not None else None,
                finished_at=now or utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
        job = self.session.get(Job, job_id, populate_existing=True)
        if job is None:
            raise ConflictError(f"job {job_id} vanished while running")
        if cast("CursorResult[Any]", done).rowcount != 1:
            raise ConflictError(
                f"job {job_id} is no longer held by this process ({job.status}, "
                f"held by {job.worker_id}); its writes are dropped"
            )
        return job

    def mark_failed(self, job_id: str, *, error: str, now: datetime | None = None) -> Job:
        job = self.require(job_id)
        job.status = "failed"
        job.error = error
        job.finished_at = now or utcnow()
        self.session.flush()
        return job
