"""Predictions that need people into the vetting queue, and the pool of gold items."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from exoguard.store.models import Candidate, Prediction, VettingItem
from exoguard.store.repositories import VettingRepository, newest_per_candidate
from exoguard.vetting.models import VOTE_LABELS
from exoguard.vetting.queue import QueuePolicy, enters_queue
from exoguard.vetting.service.config import chunks

logger = logging.getLogger(__name__)

GOLD_POOL_MIN: Final = 20
"""Open gold items kept in the queue at least (when enough labelled catalog candidates exist)."""
_ENQUEUE_LOCK_KEY: Final = 0x6578_6F76_6574  # "exovet": serialises enqueue batches (PostgreSQL)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@dataclass(frozen=True, slots=True)
class EnqueueResult:
    """What :func:`enqueue_uncertain` did.

    Attributes
    ----------
    enqueued
        Ids of the new regular queue items, in the order of the predictions.
    already_open
        Uncertain predictions whose candidate already had an open item.
    curated
        Uncertain predictions of candidates that already carry a vetting consensus.
    certain
        Predictions that did not need people.
    gold_added
        Ids of the gold items added to keep the gold pool filled.
    """

    enqueued: list[int] = field(default_factory=list)
    already_open: int = 0
    curated: int = 0
    certain: int = 0
    gold_added: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "enqueued": len(self.enqueued),
            "item_ids": list(self.enqueued),
            "already_open": self.already_open,
            "curated": self.curated,
            "certain": self.certain,
            "gold_added": len(self.gold_added),
        }


def _open_candidate_ids(session: Session, candidate_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in chunks(candidate_ids):
        stmt = select(VettingItem.candidate_id).where(
            VettingItem.status == "open", VettingItem.candidate_id.in_(chunk)
        )
        found.update(int(c) for c in session.scalars(stmt))
    return found


def _curated_candidate_ids(session: Session, candidate_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in chunks(candidate_ids):
        stmt = select(Candidate.id).where(Candidate.origin == "curated", Candidate.id.in_(chunk))
        found.update(int(c) for c in session.scalars(stmt))
    return found


def enqueue_uncertain(
    session: Session,
    predictions: Iterable[Prediction],
    *,
    policy: QueuePolicy,
    rng: np.random.Generator | None = None,
    gold_pool_min: int = GOLD_POOL_MIN,
) -> EnqueueResult:
    """Put the predictions that need people into the vetting queue, and top up gold items.

    A prediction enters when :func:`exoguard.vetting.queue.enters_queue` says so, its candidate
    has no open item and is not curated already. Its priority is its uncertainty (the queue is
    served by descending priority, then age). Of several predictions of one candidate the
    newest counts. Gold items are then added from catalog candidates labelled planet or
    false_positive until the open gold items are at least ``gold_rate / (1 - gold_rate)`` times
    the open regular items, and at least ``gold_pool_min`` (when ``gold_rate > 0``).
    """
    if is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ENQUEUE_LOCK_KEY})

    newest = newest_per_candidate(predictions)

    uncertain: list[Prediction] = []
    certain = 0
    for prediction in newest.values():
        if enters_queue(
            probability=float(prediction.probability),
            uncertainty=float(prediction.uncertainty),
            policy=policy,
        ):
            uncertain.append(prediction)
        else:
            certain += 1

    ids = [p.candidate_id for p in uncertain]
    already = _open_candidate_ids(session, ids)
    curated = _curated_candidate_ids(session, ids)
    repo = VettingRepository(session)
    enqueued: list[int] = []
    n_open = n_curated = 0
    for prediction in uncertain:
        if prediction.candidate_id in already:
            n_open += 1
            continue
        if prediction.candidate_id in curated:
            n_curated += 1
            continue
        item = repo.enqueue(
            candidate_id=prediction.candidate_id,
            prediction_id=prediction.id,
            priority=float(prediction.uncertainty),
        )
        enqueued.append(item.id)

    gold_added = top_up_gold(session, gold_rate=policy.gold_rate, rng=rng, pool_min=gold_pool_min)
    if enqueued or gold_added:
        logger.info(
            "vetting queue: %d items enqueued, %d gold items added", len(enqueued), len(gold_added)
        )
    return EnqueueResult(
        enqueued=enqueued,
        already_open=n_open,
        curated=n_curated,
        certain=certain,
        gold_added=gold_added,
    )


def top_up_gold(
    session: Session,
    *,
    gold_rate: float,
    rng: np.random.Generator | None = None,
    pool_min: int = GOLD_POOL_MIN,
) -> list[int]:
    """Add gold items (catalog candidates of known label) until the pool is large enough.

    The target is ``max(pool_min, ceil(gold_rate / (1 - gold_rate) * open regular items))``;
    nothing is added when ``gold_rate == 0``. Candidates are drawn uniformly with ``rng`` from
    catalog candidates labelled planet or false_positive that have no open item. Returns the
    ids of the new items.
    """
    if not 0.0 <= gold_rate <= 1.0:
        raise ValueError(f"gold_rate must be in [0, 1]; got {gold_rate!r}")
    if gold_rate == 0.0:
        return []
    counts = dict(
        session.execute(
            select(VettingItem.is_gold, func.count(VettingItem.id))
            .where(VettingItem.status == "open")
            .group_by(VettingItem.is_gold)
        )
        .tuples()
        .all()
    )
    n_regular, n_gold = int(counts.get(False, 0)), int(counts.get(True, 0))
    ratio = gold_rate / (1.0 - gold_rate) if gold_rate < 1.0 else float(max(n_regular, 1))
    target = max(pool_min, math.ceil(ratio * n_regular))
    missing = target - n_gold
    if missing <= 0:
        return []
    open_ids = select(VettingItem.candidate_id).where(VettingItem.status == "open")
    stmt = (
        select(Candidate.id, Candidate.label)
        .where(
            Candidate.origin == "catalog",
            Candidate.label.in_(VOTE_LABELS),
            Candidate.id.not_in(open_ids),
        )
        .order_by(Candidate.id)
    )
    pool = session.execute(stmt).tuples().all()
    if not pool:
        return []
    generator = rng if rng is not None else np.random.default_rng()
    chosen = generator.choice(len(pool), size=min(missing, len(pool)), replace=False)
    repo = VettingRepository(session)
    added = []
    for index in sorted(int(i) for i in chosen):
        candidate_id, label = pool[index]
        item = repo.enqueue(
            candidate_id=int(candidate_id), priority=0.0, is_gold=True, gold_label=str(label)
        )
        added.append(item.id)
    return added
