"""The vetting queue (items) and the votes on them, with each vote's history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from exoguard.errors import NotFoundError
from exoguard.store.models import (
    QUEUE_STATUSES,
    VOTE_LABELS,
    Candidate,
    VettingItem,
    Vote,
    VoteChange,
)
from exoguard.store.repositories._common import _check, _conflict_on_integrity, _page
from exoguard.store.types import utcnow


class VettingRepository:
    """Items of the vetting queue (`vetting_queue`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self,
        *,
        candidate_id: int,
        priority: float,
        prediction_id: int | None = None,
        is_gold: bool = False,
        gold_label: str | None = None,
    ) -> VettingItem:
        if gold_label is not None:
            _check("gold_label", gold_label, VOTE_LABELS)
        if is_gold and gold_label is None:
            raise ValueError("a gold item needs gold_label (planet or false_positive)")
        item = VettingItem(
            candidate_id=candidate_id,
            prediction_id=prediction_id,
            priority=float(priority),
            status="open",
            is_gold=is_gold,
            gold_label=gold_label,
        )
        self.session.add(item)
        self.session.flush()
        return item

    def get(self, item_id: int) -> VettingItem | None:
        return self.session.get(VettingItem, item_id)

    def require(self, item_id: int) -> VettingItem:
        item = self.get(item_id)
        if item is None:
            raise NotFoundError(f"vetting item {item_id} not found")
        return item

    def open_for_candidate(self, candidate_id: int) -> VettingItem | None:
        """The open item of a candidate, if any (to avoid queueing it twice)."""
        stmt = (
            select(VettingItem)
            .where(VettingItem.candidate_id == candidate_id, VettingItem.status == "open")
            .order_by(VettingItem.id)
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def newest_for_candidate(self, candidate_id: int) -> VettingItem | None:
        """The candidate's newest queue item, open or settled (what its state is read from)."""
        stmt = (
            select(VettingItem)
            .where(VettingItem.candidate_id == candidate_id)
            .order_by(VettingItem.id.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def list(
        self,
        *,
        status: str | None = "open",
        exclude_voted_by: int | None = None,
        visible: ColumnElement[bool] | None = None,
        limit: int | None = 50,
        offset: int = 0,
    ) -> Sequence[VettingItem]:
        """Items by descending priority (ties: oldest first); optionally without a user's votes.

        `visible` (``exoguard.store.access.vetting_item_filter``) may name item and candidate
        columns: the candidate is joined for it.
        """
        stmt = select(VettingItem)
        if visible is not None:
            stmt = stmt.join(Candidate, Candidate.id == VettingItem.candidate_id).where(visible)
        if status is not None:
            _check("status", status, QUEUE_STATUSES)
            stmt = stmt.where(VettingItem.status == status)
        if exclude_voted_by is not None:
            voted = select(Vote.item_id).where(Vote.user_id == exclude_voted_by)
            stmt = stmt.where(VettingItem.id.not_in(voted))
        stmt = stmt.order_by(VettingItem.priority.desc(), VettingItem.id.asc())
        return self.session.scalars(_page(stmt, limit, offset)).all()

    def count(self, *, status: str | None = None) -> int:
        stmt = select(func.count(VettingItem.id))
        if status is not None:
            _check("status", status, QUEUE_STATUSES)
            stmt = stmt.where(VettingItem.status == status)
        return int(self.session.scalar(stmt) or 0)

    def settle(
        self,
        item_id: int,
        *,
        consensus_label: str,
        consensus_share: float,
        now: datetime | None = None,
    ) -> VettingItem:
        """Close an item with its consensus label and the share of (weighted) agreement."""
        _check("consensus_label", consensus_label, VOTE_LABELS)
        if not 0.0 <= consensus_share <= 1.0:
            raise ValueError(f"consensus_share must be within [0, 1]; got {consensus_share}")
        item = self.require(item_id)
        item.status = "settled"
        item.consensus_label = consensus_label
        item.consensus_share = float(consensus_share)
        item.settled_at = now or utcnow()
        self.session.flush()
        return item


class VoteRepository:
    """Votes on vetting items: one per user and item (database-enforced)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        item_id: int,
        user_id: int,
        label: str,
        confidence: int,
        comment: str | None = None,
    ) -> Vote:
        """Store a vote; a second vote of the same user on the same item raises `ConflictError`."""
        _check("label", label, VOTE_LABELS)
        if not 1 <= int(confidence) <= 5:
            raise ValueError(f"confidence must be an integer from 1 to 5; got {confidence}")
        vote = Vote(
            item_id=item_id,
            user_id=user_id,
            label=label,
            confidence=int(confidence),
            comment=comment,
        )
        with _conflict_on_integrity(
            self.session, f"user {user_id} has already voted on item {item_id}"
        ):
            self.session.add(vote)
        self._record(vote)
        return vote

    def change(self, vote: Vote, *, label: str, confidence: int, comment: str | None) -> Vote:
        """Replace the label, confidence and comment of `vote`; the old one stays in the history."""
        _check("label", label, VOTE_LABELS)
        if not 1 <= int(confidence) <= 5:
            raise ValueError(f"confidence must be an integer from 1 to 5; got {confidence}")
        vote.label = label
        vote.confidence = int(confidence)
        vote.comment = comment
        vote.updated_at = utcnow()
        self.session.flush()
        self._record(vote)
        return vote

    def _record(self, vote: Vote) -> None:
        self.session.add(
            VoteChange(
                vote_id=vote.id,
                item_id=vote.item_id,
                user_id=vote.user_id,
                label=vote.label,
                confidence=vote.confidence,
                comment=vote.comment,
            )
        )
        self.session.flush()

    def get_for(self, *, item_id: int, user_id: int) -> Vote | None:
        """The vote of `user_id` on `item_id` (the one that counts), None if they have not voted."""
        stmt = select(Vote).where(Vote.item_id == item_id, Vote.user_id == user_id)
        return self.session.scalars(stmt).one_or_none()

    def history(self, *, user_id: int, item_id: int | None = None) -> Sequence[VoteChange]:
        """Every vote `user_id` submitted (on `item_id` only when given), oldest first."""
        stmt = select(VoteChange).where(VoteChange.user_id == user_id)
        if item_id is not None:
            stmt = stmt.where(VoteChange.item_id == item_id)
        return self.session.scalars(stmt.order_by(VoteChange.id)).all()

    def get(self, vote_id: int) -> Vote | None:
        return self.session.get(Vote, vote_id)

    def list_for_item(self, item_id: int) -> Sequence[Vote]:
        stmt = select(Vote).where(Vote.item_id == item_id).order_by(Vote.id)
        return self.session.scalars(stmt).all()

    def list_for_user(self, user_id: int) -> Sequence[Vote]:
        stmt = select(Vote).where(Vote.user_id == user_id).order_by(Vote.id)
        return self.session.scalars(stmt).all()

    def count_for_item(self, item_id: int) -> int:
        stmt = select(func.count(Vote.id)).where(Vote.item_id == item_id)
        return int(self.session.scalar(stmt) or 0)

    def list(self, *, item_status: str | None = None) -> Sequence[Vote]:
        """Every vote (for aggregation such as Dawid–Skene), optionally by item status."""
        stmt = select(Vote)
        if item_status is not None:
            _check("item_status", item_status, QUEUE_STATUSES)
            stmt = stmt.join(VettingItem, Vote.item_id == VettingItem.id).where(
                VettingItem.status == item_status
            )
        return self.session.scalars(stmt.order_by(Vote.id)).all()
