"""The model lifecycle: version timeline, promotion, rollback, canary, retraining."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from exoguard.ml import lifecycle as ml_lifecycle
from exoguard.services import lifecycle
from exoguard.web.api.schemas import (
    CanaryEvaluationOut,
    JobQueuedOut,
    LifecycleActionOut,
    TimelineOut,
)
from exoguard.web.deps import AdminUser, ResearcherUser, SessionDep, StateDep
from exoguard.web.params import DbCount, KeyPath

router = APIRouter(prefix="/models", tags=["models"])


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="manual", max_length=500)


class RetrainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    config: str = Field(default="default", max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    metric: str = "accuracy"
    tolerance: float = Field(default=ml_lifecycle.DEFAULT_TOLERANCE, ge=0.0, lt=1.0)
    min_labels: DbCount = ml_lifecycle.DEFAULT_MIN_LABELS
    apply: bool = True


def _refresh_gauges(request: Request, session: Any, state: Any) -> None:
    from exoguard.services.monitoring import export_to_prometheus

    metrics = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        export_to_prometheus(metrics, session, canary_fraction=state.settings.canary_fraction)


@router.get("/timeline", response_model=TimelineOut, response_model_exclude_unset=True)
def timeline(
    request: Request,
    _user: ResearcherUser,
    session: SessionDep,
    state: StateDep,
    limit: int = Query(default=20, ge=1, le=200),
) -> dict[str, Any]:
    """Versions newest first: status, traffic share, latest metrics, lifecycle events."""
    out = lifecycle.timeline(session, settings=state.settings, limit=limit)
    _refresh_gauges(request, session, state)
    return out


@router.post(
    "/{version_id}/promote", response_model=LifecycleActionOut, response_model_exclude_unset=True
)
def promote(
    version_id: KeyPath,
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    state: StateDep,
    body: ReasonIn | None = None,
) -> dict[str, Any]:
    """Make a deployable version the active one (admins)."""
    reason = body.reason if body is not None else "manual"
    action = lifecycle.promote(
        session, version_id, settings=state.settings, reason=f"admin: {reason}", actor_id=admin.id
    )
    session.commit()
    _refresh_gauges(request, session, state)
    return action.to_dict()


@router.post(
    "/{version_id}/canary", response_model=LifecycleActionOut, response_model_exclude_unset=True
)
def start_canary(
    version_id: KeyPath, request: Request, admin: AdminUser, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """Let a registered version serve the canary share of predictions (admins)."""
    action = lifecycle.start_canary(session, version_id, settings=state.settings, actor_id=admin.id)
    session.commit()
    _refresh_gauges(request, session, state)
    return action.to_dict()


@router.post("/rollback", response_model=LifecycleActionOut, response_model_exclude_unset=True)
def rollback(
    request: Request,
    admin: AdminUser,
    session: SessionDep,
    state: StateDep,
    body: ReasonIn | None = None,
) -> dict[str, Any]:
    """Stop the canary, or without one return to the previously active version (admins)."""
    reason = body.reason if body is not None else "manual"
    action = lifecycle.rollback(
        session, settings=state.settings, reason=f"admin: {reason}", actor_id=admin.id
    )
    session.commit()
    _refresh_gauges(request, session, state)
    return action.to_dict()


@router.post(
    "/canary/evaluate", response_model=CanaryEvaluationOut, response_model_exclude_unset=True
)
def evaluate_canary(
    request: Request,
    body: EvaluateIn,
    _admin: AdminUser,
    session: SessionDep,
    state: StateDep,
) -> dict[str, Any]:
    """Compare the canary with the active version on vetted labels now (admins)."""
    result = lifecycle.evaluate_canary(
        session,
        metric=body.metric,
        tolerance=body.tolerance,
        min_labels=body.min_labels,
        apply=body.apply,
        settings=state.settings,
    )
    session.commit()
    _refresh_gauges(request, session, state)
    return result.to_dict()


@router.post(
    "/retrain",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobQueuedOut,
    response_model_exclude_unset=True,
)
def retrain(body: RetrainIn, user: ResearcherUser, state: StateDep) -> dict[str, Any]:
    """Queue a retraining job on the archive data plus the curated set (researchers)."""
    ml_lifecycle.resolve_config(body.config, body.params)  # refuse bad parameters now, not later
    job_id = state.jobs.submit(
        "retrain", {"config": body.config, "params": dict(body.params)}, owner_id=user.id
    )
    return {"job_id": job_id, "status": "queued"}
