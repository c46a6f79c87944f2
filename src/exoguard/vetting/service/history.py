"""What one vetter did: their votes, each with its earlier versions and how the item ended."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exoguard.errors import NotFoundError, ValidationError
from exoguard.store.models import Candidate, User, VettingItem, VoteChange
from exoguard.store.models import Vote as VoteRow
from exoguard.vetting.service.config import VettingConfig, chunks
from exoguard.vetting.service.standing import reputation_row, reputations_of


def vetter_history(
    session: Session,
    user_id: int,
    *,
    limit: int = 200,
    config: VettingConfig,
) -> dict[str, Any]:
    """What one vetter did: ``reputation`` (their row of :func:`stats`) and ``votes``.

    Each vote is the one that counts, newest first, with every earlier version of it
    (``changes``) and how the item ended: ``open`` (no consensus yet; gold items stay open,
    so nothing here tells them apart), ``agrees`` or ``differs`` with the consensus.
    """
    if not 1 <= limit <= 1000:
        raise ValidationError(f"limit must be between 1 and 1000; got {limit}")
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    n_votes = int(
        session.scalar(select(func.count(VoteRow.id)).where(VoteRow.user_id == user_id)) or 0
    )
    rep = reputations_of(session, [user_id], config=config.reputation)[user_id]
    rows = session.execute(
        select(VoteRow, VettingItem, Candidate)
        .join(VettingItem, VettingItem.id == VoteRow.item_id)
        .join(Candidate, Candidate.id == VettingItem.candidate_id)
        .where(VoteRow.user_id == user_id)
        .order_by(VoteRow.id.desc())
        .limit(limit)
    ).tuples()
    votes: list[dict[str, Any]] = []
    vote_ids: list[int] = []
    for vote, item, candidate in rows:
        settled = item.status == "settled" and not item.is_gold
        votes.append(
            {
                "vote_id": vote.id,
                "item_id": item.id,
                "candidate_id": candidate.id,
                "object_id": candidate.object_id,
                "name": candidate.display_name,
                "mission": candidate.mission,
                "label": vote.label,
                "confidence": vote.confidence,
                "comment": vote.comment,
                "created_at": vote.created_at.isoformat() if vote.created_at else None,
                "updated_at": vote.updated_at.isoformat() if vote.updated_at else None,
                "item_status": "settled" if settled else "open",
                "consensus_label": item.consensus_label if settled else None,
                "outcome": (
                    "open"
                    if not settled
                    else ("agrees" if vote.label == item.consensus_label else "differs")
                ),
                "changes": [],
            }
        )
        vote_ids.append(vote.id)
    by_vote = {v["vote_id"]: v for v in votes}
    for chunk in chunks(vote_ids):
        for change in session.scalars(
            select(VoteChange).where(VoteChange.vote_id.in_(chunk)).order_by(VoteChange.id)
        ):
            by_vote[change.vote_id]["changes"].append(
                {
                    "label": change.label,
                    "confidence": change.confidence,
                    "comment": change.comment,
                    "at": change.created_at.isoformat() if change.created_at else None,
                }
            )
    return {"reputation": reputation_row(user_id, user.name, n_votes, rep), "votes": votes}
