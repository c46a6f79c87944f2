"""Background jobs: status, progress, result or error."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from exoguard.jobs import views as job_service
from exoguard.store.models import JobStatus
from exoguard.web.api.schemas import JobsOut, JobView
from exoguard.web.deps import CurrentUser, SessionDep, StateDep
from exoguard.web.params import KeyPath, OffsetQuery

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=JobsOut, response_model_exclude_unset=True)
def list_jobs(
    user: CurrentUser,
    session: SessionDep,
    kind: str | None = None,
    status: JobStatus | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Own jobs (all jobs for researchers and admins), newest first."""
    rows = job_service.list_jobs(
        session, user, kind=kind, status=status, limit=limit, offset=offset
    )
    return {"jobs": [job_service.job_view(j) for j in rows]}


@router.get("/{job_id}", response_model=JobView, response_model_exclude_unset=True)
def get_job(
    job_id: KeyPath, user: CurrentUser, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """`{"status": queued|running|succeeded|failed, "progress": 0..1, "result"|"error"}`."""
    job = job_service.get_visible_job(session, job_id, user)
    if job_service.holder_gone(job, state.settings):  # re-run once, or fail, at once
        state.jobs.recover(job_ids=[job_id])
        session.commit()  # end this read's snapshot (SQLite keeps it), then read again
        session.refresh(job)
    return job_service.job_view(job, detailed=user.role in ("researcher", "admin"))
