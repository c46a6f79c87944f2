"""Consensus on one item from its votes, and settling it (the candidate's label and provenance)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import update
from sqlalchemy.orm import Session

from exoguard.store.models import VettingItem
from exoguard.store.models import Vote as VoteRow
from exoguard.store.repositories import CandidateRepository
from exoguard.store.types import utcnow
from exoguard.vetting.aggregation import aggregate
from exoguard.vetting.models import ConsensusResult, Vote, VoteLabel
from exoguard.vetting.reputation import compute_reputations, vote_weight
from exoguard.vetting.service.config import VettingConfig
from exoguard.vetting.service.standing import load_history, store_reputations

logger = logging.getLogger(__name__)


def aggregate_item(
    session: Session, item: VettingItem, rows: Sequence[VoteRow], config: VettingConfig
) -> tuple[ConsensusResult, dict[int, float]]:
    """Consensus on ``item`` with the configured method, and the weight of each vote."""
    votes = [
        Vote(
            item_id=item.id,
            user_id=r.user_id,
            label=cast(VoteLabel, r.label),
            confidence=r.confidence,
        )
        for r in rows
    ]
    voters = {v.user_id for v in votes}
    history = load_history(session, cast(Collection[int], voters))
    reps = compute_reputations(
        history.votes, gold=history.gold, consensus=history.consensus, config=config.reputation
    )
    weights = {
        r.id: vote_weight(v, reps, config=config.reputation)
        for r, v in zip(rows, votes, strict=True)
    }
    if config.method == "dawid_skene":
        # Learn the confusion matrices from everything these vetters did (gold anchors them).
        results = aggregate(
            history.votes,
            method="dawid_skene",
            min_votes=config.min_votes,
            threshold=config.threshold,
            gold=history.gold,
        )
    else:
        results = aggregate(
            votes,
            method=config.method,
            min_votes=config.min_votes,
            threshold=config.threshold,
            reputations=reps,
            config=config.reputation,
        )
    return results[item.id], weights


def _provenance(
    item: VettingItem,
    result: ConsensusResult,
    rows: Sequence[VoteRow],
    weights: Mapping[int, float],
    *,
    config: VettingConfig,
    previous_label: str,
    previous_origin: str,
    settled_at: datetime,
) -> dict[str, Any]:
    prediction = item.prediction
    return {
        "item_id": item.id,
        "label": result.label,
        "share": result.share,
        "planet_share": result.planet_share,
        "method": result.method,
        "n_votes": result.n_votes,
        "min_votes": config.min_votes,
        "threshold": config.threshold,
        "settled_at": settled_at.isoformat(),
        "previous_label": previous_label,
        "previous_origin": previous_origin,
        "prediction": None
        if prediction is None
        else {
            "id": prediction.id,
            "model_version": prediction.model_version,
            "probability": prediction.probability,
            "uncertainty": prediction.uncertainty,
        },
        "votes": [
            {
                "vote_id": r.id,
                "user_id": r.user_id,
                "label": r.label,
                "confidence": r.confidence,
                "weight": weights.get(r.id),
                "comment": r.comment,
                "created_at": r.created_at.isoformat() if r.created_at else None,
            }
            for r in rows
        ],
    }


def settle(
    session: Session,
    item: VettingItem,
    result: ConsensusResult,
    rows: Sequence[VoteRow],
    weights: Mapping[int, float],
    *,
    config: VettingConfig,
) -> bool:
    """Settle ``item`` if it is still open; True only for the one call that settles it."""
    assert result.label is not None
    now = utcnow()
    changed = session.execute(
        update(VettingItem)
        .where(VettingItem.id == item.id, VettingItem.status == "open")
        .values(
            status="settled",
            consensus_label=result.label,
            consensus_share=min(max(result.share, 0.0), 1.0),
            settled_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        return False
    session.refresh(item)

    candidates = CandidateRepository(session)
    candidate = candidates.require(item.candidate_id)
    previous_label, previous_origin = candidate.label, candidate.origin
    provenance = _provenance(
        item,
        result,
        rows,
        weights,
        config=config,
        previous_label=previous_label,
        previous_origin=previous_origin,
        settled_at=now,
    )
    candidates.set_label(candidate.id, label=result.label, origin="curated")
    features = dict(candidate.features or {})
    if "vetting" in features:
        features["vetting_history"] = [*features.get("vetting_history", []), features["vetting"]]
    features["vetting"] = provenance
    candidate.features = features  # a new dict: JSON columns are not mutation-tracked
    session.flush()
    store_reputations(session, {r.user_id for r in rows}, config=config.reputation)
    logger.info(
        "vetting item %d settled: %s (share %.3f, %d votes, %s)",
        item.id,
        result.label,
        result.share,
        result.n_votes,
        result.method,
    )
    return True
