"""Vetting: the next items for this vetter, votes, and statistics (exoguard.vetting.service)."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from exoguard.errors import PermissionDeniedError
from exoguard.store.models import QueueStatus, VoteLabel
from exoguard.vetting import service as vetting
from exoguard.web.api.schemas import QueueOut, VettingStatsOut, VoteOut
from exoguard.web.deps import CurrentUser, SessionDep, SettingsDep
from exoguard.web.params import DbId, OffsetQuery

router = APIRouter(prefix="/vetting", tags=["vetting"])


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: DbId
    label: VoteLabel
    confidence: int = Field(ge=1, le=5, description="1 (guess) to 5 (certain)")
    comment: str | None = None


@router.get("/queue", response_model=QueueOut, response_model_exclude_unset=True)
def queue(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    limit: int = Query(default=vetting.DEFAULT_QUEUE_LIMIT, ge=1, le=vetting.MAX_QUEUE_LIMIT),
) -> dict[str, Any]:
    """The next items for this vetter (never one they voted on; gold items mixed in)."""
    entries = vetting.queue_for_user(
        session, user.id, limit=limit, rng=np.random.default_rng(), settings=settings
    )
    return {"items": [entry.to_dict() for entry in entries]}


@router.post(
    "/submit",
    status_code=status.HTTP_201_CREATED,
    response_model=VoteOut,
    response_model_exclude_unset=True,
)
def submit(body: VoteIn, user: CurrentUser, session: SessionDep, settings: SettingsDep) -> dict:
    """One vote (409 for a second vote on the item, 410 once the item is settled)."""
    outcome = vetting.submit_vote(
        session,
        item_id=body.item_id,
        user_id=user.id,
        label=body.label,
        confidence=body.confidence,
        comment=body.comment,
        settings=settings,
    )
    session.commit()
    return outcome.to_dict()


@router.get("/stats", response_model=VettingStatsOut, response_model_exclude_unset=True)
def stats(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    item_status: QueueStatus | None = None,
    item_limit: int = Query(default=100, ge=1, le=1000),
    item_offset: OffsetQuery = 0,
    user_limit: int = Query(default=100, ge=1, le=1000),
    include_gold: bool = Query(default=False, description="admins only"),
) -> dict[str, Any]:
    """Per item, per user and overall statistics, and this vetter's own row (`me`)."""
    if include_gold and user.role != "admin":
        raise PermissionDeniedError("include_gold reveals the gold items; it needs the admin role")
    return vetting.stats(
        session,
        user_id=user.id,
        item_limit=item_limit,
        item_offset=item_offset,
        item_status=item_status,
        user_limit=user_limit,
        include_gold=include_gold,
        settings=settings,
    )
