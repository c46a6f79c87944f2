"""What a vetter is served: the next items (gold mixed in) and the queue table of the page."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

import numpy as np
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import PHYSICAL_COLUMNS
from exoguard.errors import ValidationError
from exoguard.store import access
from exoguard.store.models import Candidate, User, VettingItem
from exoguard.store.models import Vote as VoteRow
from exoguard.store.repositories import PredictionRepository
from exoguard.store.types import utcnow
from exoguard.vetting.models import QueueItem, VoteLabel
from exoguard.vetting.queue import QueuePolicy, next_items_for
from exoguard.vetting.service.config import (
    DEFAULT_QUEUE_LIMIT,
    MAX_QUEUE_LIMIT,
    chunks,
)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One item served to a vetter, with what the vetting page shows.

    Gold items look exactly like regular ones: neither the gold flag nor the candidate's
    archive label or disposition is included.
    """

    item_id: int
    candidate_id: int
    mission: str
    object_id: str
    #: The name shown (:func:`exoguard.store.naming.candidate_name`).
    name: str
    host_id: str | None
    parameters: dict[str, float | None]
    probability: float | None
    uncertainty: float | None
    model_version: str | None
    n_votes: int
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "candidate_id": self.candidate_id,
            "mission": self.mission,
            "object_id": self.object_id,
            "name": self.name,
            "host_id": self.host_id,
            "parameters": dict(self.parameters),
            "probability": self.probability,
            "uncertainty": self.uncertainty,
            "model_version": self.model_version,
            "n_votes": self.n_votes,
            "created_at": self.created_at.isoformat(),
        }


_ENTRY_PARAMETERS: Final[tuple[str, ...]] = PHYSICAL_COLUMNS


def _vote_counts(session: Session, item_ids: Sequence[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for chunk in chunks(item_ids):
        stmt = (
            select(VoteRow.item_id, func.count(VoteRow.id))
            .where(VoteRow.item_id.in_(chunk))
            .group_by(VoteRow.item_id)
        )
        counts.update({int(i): int(n) for i, n in session.execute(stmt).tuples()})
    return counts


def entries_for(session: Session, items: Sequence[VettingItem]) -> list[QueueEntry]:
    """Queue entries (what a vetter sees) of ``items``, in the same order."""
    if not items:
        return []
    counts = _vote_counts(session, [i.id for i in items])
    missing = [i.candidate_id for i in items if i.prediction is None]
    fallback = PredictionRepository(session).latest_by_candidate(missing) if missing else {}
    entries = []
    for item in items:
        candidate = item.candidate
        prediction = item.prediction or fallback.get(item.candidate_id)
        entries.append(
            QueueEntry(
                item_id=item.id,
                candidate_id=candidate.id,
                mission=candidate.mission,
                object_id=candidate.object_id,
                name=candidate.display_name,
                host_id=candidate.host_id,
                parameters={name: getattr(candidate, name) for name in _ENTRY_PARAMETERS},
                probability=None if prediction is None else float(prediction.probability),
                uncertainty=None if prediction is None else float(prediction.uncertainty),
                model_version=None if prediction is None else prediction.model_version,
                n_votes=counts.get(item.id, 0),
                created_at=item.created_at,
            )
        )
    return entries


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_QUEUE_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_QUEUE_LIMIT}; got {limit}")


def _below_vote_cap(max_votes: int) -> ColumnElement[bool]:
    """True for an item with fewer than ``max_votes`` votes (correlated to `VettingItem`)."""
    counts = (
        select(func.count(VoteRow.id))
        .where(VoteRow.item_id == VettingItem.id)
        .correlate(VettingItem)
        .scalar_subquery()
    )
    return counts < max_votes


def queue_for_user(
    session: Session,
    user_id: int,
    *,
    limit: int = DEFAULT_QUEUE_LIMIT,
    rng: np.random.Generator,
    policy: QueuePolicy,
    exclude_item_ids: Collection[int] = (),
) -> list[QueueEntry]:
    """The next items for ``user_id``: open items they have not voted on, gold mixed in.

    Regular items come by priority (uncertainty, then age); each slot is a gold slot with
    probability ``policy.gold_rate`` (drawn from ``rng``). Items the user voted on, and
    ``exclude_item_ids`` (e.g. skipped ones), are never returned, and no item appears twice.
    Regular items with ``policy.max_votes_per_item`` votes are no longer served.
    """
    _check_limit(limit)
    voted = select(VoteRow.item_id).where(VoteRow.user_id == user_id)
    base = select(VettingItem).where(VettingItem.status == "open", VettingItem.id.not_in(voted))
    if exclude_item_ids:
        base = base.where(VettingItem.id.not_in([int(i) for i in exclude_item_ids]))

    regular_stmt = base.where(VettingItem.is_gold.is_(False))
    if policy.max_votes_per_item is not None:
        regular_stmt = regular_stmt.where(_below_vote_cap(policy.max_votes_per_item))
    regular_stmt = regular_stmt.order_by(VettingItem.priority.desc(), VettingItem.id.asc())
    regular = list(session.scalars(regular_stmt.limit(limit)))
    gold = list(session.scalars(base.where(VettingItem.is_gold.is_(True)).order_by(VettingItem.id)))

    by_id = {item.id: item for item in (*regular, *gold)}
    # Rank by position so that next_items_for's (uncertainty, age) order equals the SQL order.
    epoch = utcnow()
    records = [
        QueueItem(
            item_id=item.id,
            probability=0.5,
            uncertainty=float(len(regular) - rank),
            created_at=epoch,
        )
        for rank, item in enumerate(regular)
    ] + [
        QueueItem(
            item_id=item.id,
            probability=0.5,
            uncertainty=0.0,
            created_at=epoch,
            gold_label=cast(VoteLabel, item.gold_label),
        )
        for item in gold
    ]
    chosen = next_items_for(
        user_id, open_items=records, votes=(), gold_rate=policy.gold_rate, rng=rng, limit=limit
    )
    return entries_for(session, [by_id[cast(int, q.item_id)] for q in chosen])


def queue_listing(
    session: Session,
    user: User | None,
    *,
    limit: int = DEFAULT_QUEUE_LIMIT,
    policy: QueuePolicy,
) -> tuple[int, list[QueueEntry]]:
    """The queue table of the vetting page: (how many items wait, the first ``limit`` of them).

    One query gives both, so the count always matches the list. Gold items are never listed
    nor counted (they are served, disguised, by :func:`queue_for_user` only); for a logged-in
    vetter the items they voted on and the items at the vote cap are left out, for a visitor
    the private uploads' items too (`exoguard.store.access.vetting_item_filter`).
    """
    _check_limit(limit)
    conditions = [
        VettingItem.status == "open",
        VettingItem.is_gold.is_(False),
        access.vetting_item_filter(user),
    ]
    if user is not None:
        voted = select(VoteRow.item_id).where(VoteRow.user_id == user.id)
        conditions.append(VettingItem.id.not_in(voted))
        if policy.max_votes_per_item is not None:
            conditions.append(_below_vote_cap(policy.max_votes_per_item))
    total = int(
        session.scalar(
            select(func.count(VettingItem.id))
            .join(Candidate, Candidate.id == VettingItem.candidate_id)
            .where(*conditions)
        )
        or 0
    )
    items = list(
        session.scalars(
            select(VettingItem)
            .join(Candidate, Candidate.id == VettingItem.candidate_id)
            .where(*conditions)
            .order_by(VettingItem.priority.desc(), VettingItem.id.asc())
            .limit(limit)
        )
    )
    return total, entries_for(session, items)
