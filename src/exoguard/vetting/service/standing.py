"""Vetters' standing from their votes: the vote history, reputations and a vetter's row."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from exoguard.store.models import VettingItem
from exoguard.store.models import Vote as VoteRow
from exoguard.store.repositories import UserRepository
from exoguard.vetting.models import ItemId, Vote, VoteLabel
from exoguard.vetting.reputation import (
    Reputation,
    ReputationConfig,
    compute_reputations,
    new_user_reputation,
)
from exoguard.vetting.service.config import chunks


@dataclass(frozen=True, slots=True)
class VoteHistory:
    """Votes of some vetters on every item, with the items' gold and consensus labels."""

    votes: list[Vote]
    gold: dict[ItemId, VoteLabel]
    consensus: dict[ItemId, VoteLabel]


def load_history(session: Session, user_ids: Collection[int]) -> VoteHistory:
    votes: list[Vote] = []
    gold: dict[ItemId, VoteLabel] = {}
    consensus: dict[ItemId, VoteLabel] = {}
    ids = sorted({int(u) for u in user_ids})
    for chunk in chunks(ids):
        stmt = (
            select(
                VoteRow.item_id,
                VoteRow.user_id,
                VoteRow.label,
                VoteRow.confidence,
                VettingItem.is_gold,
                VettingItem.gold_label,
                VettingItem.status,
                VettingItem.consensus_label,
            )
            .join(VettingItem, VettingItem.id == VoteRow.item_id)
            .where(VoteRow.user_id.in_(chunk))
            .order_by(VoteRow.id)
        )
        for (
            item_id,
            user_id,
            label,
            confidence,
            is_gold,
            gold_label,
            status,
            settled,
        ) in session.execute(stmt).tuples():
            votes.append(
                Vote(
                    item_id=int(item_id),
                    user_id=int(user_id),
                    label=cast(VoteLabel, label),
                    confidence=int(confidence),
                )
            )
            if is_gold and gold_label is not None:
                gold[int(item_id)] = cast(VoteLabel, gold_label)
            elif status == "settled" and settled is not None:
                consensus[int(item_id)] = cast(VoteLabel, settled)
    return VoteHistory(votes=votes, gold=gold, consensus=consensus)


def reputations_of(
    session: Session, user_ids: Collection[int], *, config: ReputationConfig | None = None
) -> dict[int, Reputation]:
    """Current reputation of each user: gold accuracy and agreement with settled consensus.

    Users without any counted vote get the prior (:func:`new_user_reputation`).
    """
    cfg = config or ReputationConfig()
    history = load_history(session, user_ids)
    reps = compute_reputations(
        history.votes, gold=history.gold, consensus=history.consensus, config=cfg
    )
    out: dict[int, Reputation] = {}
    for user_id in user_ids:
        rep = reps.get(int(user_id))
        out[int(user_id)] = rep if rep is not None else new_user_reputation(user_id, config=cfg)
    return out


def store_reputations(
    session: Session, user_ids: Collection[int], *, config: ReputationConfig
) -> dict[int, Reputation]:
    reps = reputations_of(session, user_ids, config=config)
    users = UserRepository(session)
    for user_id in sorted(reps):  # one lock order for every transaction: no deadlocks
        users.set_reputation(user_id, reps[user_id].weight)
    return reps


def reputation_row(user_id: int, name: str | None, n_votes: int, rep: Reputation) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "name": name,
        "n_votes": n_votes,
        "gold_correct": rep.gold_correct,
        "gold_total": rep.gold_total,
        "gold_accuracy": rep.gold_accuracy,
        "consensus_agree": rep.consensus_agree,
        "consensus_total": rep.consensus_total,
        "consensus_agreement": rep.consensus_agreement,
        "accuracy": rep.accuracy,
        "reputation": rep.weight,
    }
