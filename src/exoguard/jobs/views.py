"""Background jobs as the API shows them (state lives in the database)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from exoguard.config import Settings
from exoguard.jobs import execute
from exoguard.jobs.execute import ACTIVE_STATUSES
from exoguard.store import access
from exoguard.store.models import Job, User
from exoguard.store.repositories import JobRepository
from exoguard.store.types import utcnow


def get_visible_job(session: Session, job_id: str, user: User) -> Job:
    """The job when `user` may see it (`exoguard.store.access`); 404 otherwise."""
    return access.require_job(session, job_id, user)


def holder_gone(job: Job, settings: Settings) -> bool:
    """True when `job` is queued or running but the process holding it stopped."""
    if job.status not in ACTIVE_STATUSES or (job.status == "queued" and job.worker_id is None):
        return False
    return execute.holder_gone(
        job.worker_id,
        execute.last_sign_of_life(job),
        now=utcnow(),
        stale_s=settings.job_stale_s,
        process_decides=not execute.beats_in_database(settings),
    )


def list_jobs(
    session: Session, user: User, *, kind: str | None, status: str | None, limit: int, offset: int
) -> Sequence[Job]:
    owner = None if access.sees_all(user) else user.id
    return JobRepository(session).list(
        owner_id=owner, kind=kind, status=status, limit=limit, offset=offset
    )


def job_view(job: Job, *, detailed: bool = False) -> dict[str, Any]:
    """Status, progress, and the result (succeeded) or the error (failed)."""
    view: dict[str, Any] = {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": float(job.progress or 0.0),
        "params": job.params or {},
        "attempts": job.attempts,
        "owner_id": job.owner_id,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
    result = dict(job.result or {})
    if job.status == "succeeded":
        view["result"] = result
    elif job.status == "failed":
        view["error"] = job.error or "failed"
        if detailed and "traceback" in result:
            view["traceback"] = result["traceback"]
    else:
        view["message"] = result.get("message")
    return view
