"""Recording a vote: input checks, the item lock, a changed vote, and consensus when reached."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from exoguard.errors import GoneError, NotFoundError, ValidationError
from exoguard.store.models import VettingItem
from exoguard.store.repositories import UserRepository, VoteRepository
from exoguard.vetting.models import (
    CONFIDENCE_MAX,
    CONFIDENCE_MIN,
    VOTE_LABELS,
    ConsensusResult,
    VoteLabel,
)
from exoguard.vetting.service.config import VettingConfig
from exoguard.vetting.service.consensus import aggregate_item, settle
from exoguard.vetting.service.standing import store_reputations

COMMENT_MAX_CHARS: Final = 2000
"""Longest vote comment accepted."""


@dataclass(frozen=True, slots=True)
class VoteOutcome:
    """The result of :func:`submit_vote`.

    Attributes
    ----------
    vote_id, item_id, user_id, label, confidence
        The stored vote.
    n_votes
        Votes on the item, this one included.
    consensus
        The aggregation of the item's votes after this vote (None for gold items, which are
        never aggregated).
    settled
        True when this vote settled the item (the candidate's label was updated).
    changed
        True when the vetter had voted on the item before: this vote replaced theirs.
    previous
        The replaced vote (``label``, ``confidence``, ``comment``) when ``changed``.
    """

    vote_id: int
    item_id: int
    user_id: int
    label: VoteLabel
    confidence: int
    n_votes: int
    consensus: ConsensusResult | None
    settled: bool
    changed: bool = False
    previous: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "vote": {
                "id": self.vote_id,
                "item_id": self.item_id,
                "user_id": self.user_id,
                "label": self.label,
                "confidence": self.confidence,
            },
            "n_votes": self.n_votes,
            "consensus": None if self.consensus is None else self.consensus.to_dict(),
            "settled": self.settled,
            "changed": self.changed,
            "previous": None if self.previous is None else dict(self.previous),
        }


def _check_vote_input(
    label: str, confidence: Any, comment: str | None
) -> tuple[VoteLabel, int, str | None]:
    if label not in VOTE_LABELS:
        raise ValidationError(f"label must be one of {', '.join(VOTE_LABELS)}; got {label!r}")
    is_integer = isinstance(confidence, int | np.integer) and not isinstance(confidence, bool)
    if not is_integer or not CONFIDENCE_MIN <= int(confidence) <= CONFIDENCE_MAX:
        raise ValidationError(
            f"confidence must be an integer from {CONFIDENCE_MIN} to {CONFIDENCE_MAX}; "
            f"got {confidence!r}"
        )
    if comment is not None:
        comment = comment.strip() or None
    if comment is not None and len(comment) > COMMENT_MAX_CHARS:
        raise ValidationError(
            f"comment must have at most {COMMENT_MAX_CHARS} characters; got {len(comment)}"
        )
    return cast(VoteLabel, label), int(confidence), comment


def _lock_item(session: Session, item_id: int) -> VettingItem:
    stmt = (
        select(VettingItem)
        .where(VettingItem.id == item_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    item = session.scalars(stmt).one_or_none()
    if item is None:
        raise NotFoundError(f"vetting item {item_id} not found")
    return item


def submit_vote(
    session: Session,
    *,
    item_id: int,
    user_id: int,
    label: str,
    confidence: int,
    comment: str | None = None,
    config: VettingConfig,
) -> VoteOutcome:
    """Record one vote, aggregate the item and settle it when consensus is reached.

    A vetter who already voted on the item changes their vote: the last one counts, and
    every vote they submitted stays in the history (``vote_history``). Only the vetter's own
    vote is touched (``user_id`` is the caller, never a field of the request).

    Raises
    ------
    ValidationError
        Label not planet/false_positive, confidence not an integer 1–5, comment too long.
    NotFoundError
        Unknown item or user.
    GoneError
        The item is settled (it has left the queue).
    ConflictError
        Two first votes of the same user raced past the item lock (the unique constraint
        refuses the second; not expected, the lock serialises them).
    """
    checked_label, checked_confidence, checked_comment = _check_vote_input(
        label, confidence, comment
    )
    item = _lock_item(session, item_id)
    if item.status != "open":
        raise GoneError(f"vetting item {item_id} is settled; it has left the queue")
    UserRepository(session).require(user_id)
    repo = VoteRepository(session)
    existing = repo.get_for(item_id=item.id, user_id=user_id)
    previous: dict[str, Any] | None = None
    if existing is None:
        vote = repo.add(
            item_id=item.id,
            user_id=user_id,
            label=checked_label,
            confidence=checked_confidence,
            comment=checked_comment,
        )
    else:
        previous = {
            "label": existing.label,
            "confidence": existing.confidence,
            "comment": existing.comment,
        }
        vote = repo.change(
            existing, label=checked_label, confidence=checked_confidence, comment=checked_comment
        )
    rows = list(repo.list_for_item(item.id))

    consensus: ConsensusResult | None = None
    settled = False
    if item.is_gold:  # gold items measure the vetter and are never aggregated
        store_reputations(session, [user_id], config=config.reputation)
    else:
        consensus, weights = aggregate_item(session, item, rows, config)
        if consensus.consensus:
            settled = settle(session, item, consensus, rows, weights, config=config)
    return VoteOutcome(
        vote_id=vote.id,
        item_id=item.id,
        user_id=user_id,
        label=checked_label,
        confidence=checked_confidence,
        n_votes=len(rows),
        consensus=consensus,
        settled=settled,
        changed=previous is not None,
        previous=previous,
    )
