"""Vetting: the next items for this vetter, votes, and statistics (exoguard.vetting.service.*)."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from exoguard.config import Settings
from exoguard.errors import PermissionDeniedError
from exoguard.store import access
from exoguard.store.models import QueueStatus, VettingItem, VoteLabel
from exoguard.store.repositories import VoteRepository
from exoguard.vetting.service.comments import item_comments, may_read_comments
from exoguard.vetting.service.config import (
    DEFAULT_QUEUE_LIMIT,
    MAX_QUEUE_LIMIT,
    VettingConfig,
    policy_from_settings,
)
from exoguard.vetting.service.history import vetter_history
from exoguard.vetting.service.serving import queue_for_user
from exoguard.vetting.service.stats import stats as vetting_stats
from exoguard.vetting.service.votes import submit_vote
from exoguard.vetting.state import state_for_candidate, state_policy
from exoguard.web.api.schemas import (
    CommentsOut,
    QueueOut,
    VetterHistoryOut,
    VettingItemOut,
    VettingStatsOut,
    VoteOut,
)
from exoguard.web.deps import CurrentUser, SessionDep, SettingsDep
from exoguard.web.params import DbId, IdPath, OffsetQuery

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
    limit: int = Query(default=DEFAULT_QUEUE_LIMIT, ge=1, le=MAX_QUEUE_LIMIT),
) -> dict[str, Any]:
    """The next items for this vetter (never one they voted on; gold items mixed in)."""
    entries = queue_for_user(
        session,
        user.id,
        limit=limit,
        rng=np.random.default_rng(),
        policy=policy_from_settings(settings),
    )
    return {"items": [entry.to_dict() for entry in entries]}


@router.post(
    "/submit",
    status_code=status.HTTP_201_CREATED,
    response_model=VoteOut,
    response_model_exclude_unset=True,
)
def submit(
    body: VoteIn, response: Response, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> dict:
    """Your vote: 201 for a first vote, 200 when it changes your earlier vote on the item
    (the last vote counts, the history is kept), 410 once the item is settled."""
    access.require_vetting_item(session, body.item_id, user)
    outcome = submit_vote(
        session,
        item_id=body.item_id,
        user_id=user.id,
        label=body.label,
        confidence=body.confidence,
        comment=body.comment,
        config=VettingConfig.from_settings(settings),
    )
    session.commit()
    if outcome.changed:
        response.status_code = status.HTTP_200_OK
    out = outcome.to_dict()
    out["state"] = _item_state(session, outcome.item_id, settings)
    return out


def _item_state(session: Session, item_id: int, settings: Settings) -> dict[str, Any]:
    item = session.get(VettingItem, item_id)
    assert item is not None
    return state_for_candidate(session, item.candidate_id, policy=state_policy(settings)).to_dict()


@router.get("/history", response_model=VetterHistoryOut, response_model_exclude_unset=True)
def history(
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    limit: int = Query(default=200, ge=1, le=1000),
) -> dict[str, Any]:
    """Your own votes (newest first, each with its earlier versions) and your reputation."""
    return vetter_history(
        session, user.id, limit=limit, config=VettingConfig.from_settings(settings)
    )


@router.get("/items/{item_id}", response_model=VettingItemOut, response_model_exclude_unset=True)
def item(
    item_id: IdPath, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """One item: status, vote count, your vote, the candidate's state, and the comments when
    you may read them (researchers, admins, and vetters who voted on it; else null)."""
    found = access.require_vetting_item(session, item_id, user)
    mine = VoteRepository(session).get_for(item_id=found.id, user_id=user.id)
    return {
        "item_id": found.id,
        "status": "open" if found.is_gold else found.status,
        "n_votes": VoteRepository(session).count_for_item(found.id),
        "my_vote": None
        if mine is None
        else {"label": mine.label, "confidence": mine.confidence, "comment": mine.comment},
        "state": _item_state(session, found.id, settings),
        "comments": item_comments(session, found.id, user=user)
        if may_read_comments(session, found.id, user)
        else None,
    }


@router.get("/items/{item_id}/comments", response_model=CommentsOut)
def comments(item_id: IdPath, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """The comments on one item (403 for a vetter who has not voted on it yet)."""
    found = access.require_vetting_item(session, item_id, user)
    return {"comments": item_comments(session, found.id, user=user)}


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
    return vetting_stats(
        session,
        user_id=user.id,
        item_limit=item_limit,
        item_offset=item_offset,
        item_status=item_status,
        user_limit=user_limit,
        include_gold=include_gold,
        config=VettingConfig.from_settings(settings),
    )
