"""The vetting loop over the database: queue, votes, consensus, reputations and statistics.

This is the database-backed service the API routes call; the science (queue policy,
reputation formula, aggregation) lives in the pure modules of this package and is reused as is.

Concurrency
-----------
* A vote locks its queue item (``SELECT ... FOR UPDATE`` on PostgreSQL), so the votes on one
  item are applied one at a time: the aggregation sees every earlier vote, and a second vote
  of the same user finds the first and replaces it (the last vote counts; every submission is
  kept in ``vote_history``), even when both requests arrive together.
* Settling is a conditional ``UPDATE vetting_queue ... WHERE id = :id AND status = 'open'``; only
  the transaction that changes the row updates the candidate and the reputations, so consensus
  fires exactly once per item.
* Enqueueing takes a transaction-scoped advisory lock on PostgreSQL, so two batch jobs cannot
  both open an item for the same candidate.
* Reputations are written in ascending user id, so concurrent settlements never deadlock.

Gold items (candidates whose archive disposition is known) are mixed into every vetter's
batch at ``policy.gold_rate``; they measure the vetters and are never settled, so they never
change a candidate. A vote on a settled item is refused (``GoneError``, 410): settled items
have left the queue, and their consensus is public in :func:`stats`. Until then a vetter may
change their vote as often as they like.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, cast

import numpy as np
from sqlalchemy import case, func, select, text, update
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import PHYSICAL_COLUMNS
from exoguard.errors import GoneError, NotFoundError, ValidationError
from exoguard.store.models import Candidate, Prediction, User, VettingItem
from exoguard.store.models import Vote as VoteRow
from exoguard.store.repositories import (
    CandidateRepository,
    PredictionRepository,
    UserRepository,
    VettingRepository,
    VoteRepository,
    newest_per_candidate,
)
from exoguard.store.types import utcnow
from exoguard.vetting.aggregation import aggregate
from exoguard.vetting.models import (
    AGGREGATION_METHODS,
    CONFIDENCE_MAX,
    CONFIDENCE_MIN,
    CONSENSUS_THRESHOLD,
    VOTE_LABELS,
    AggregationMethod,
    ConsensusResult,
    ItemId,
    QueueItem,
    Vote,
    VoteLabel,
)
from exoguard.vetting.queue import QueuePolicy, enters_queue, next_items_for
from exoguard.vetting.reputation import (
    Reputation,
    ReputationConfig,
    compute_reputations,
    new_user_reputation,
    vote_weight,
)

if TYPE_CHECKING:
    from exoguard.config import Settings

logger = logging.getLogger(__name__)

COMMENT_MAX_CHARS: Final = 2000
"""Longest vote comment accepted."""
DEFAULT_QUEUE_LIMIT: Final = 10
MAX_QUEUE_LIMIT: Final = 100
GOLD_POOL_MIN: Final = 20
"""Open gold items kept in the queue at least (when enough labelled catalog candidates exist)."""
MAX_VOTES_FACTOR: Final = 3
"""An item with ``MAX_VOTES_FACTOR * min_votes`` votes and no consensus is no longer served."""
_ENQUEUE_LOCK_KEY: Final = 0x6578_6F76_6574  # "exovet": serialises enqueue batches (PostgreSQL)
_CHUNK: Final = 500


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VettingConfig:
    """How votes become consensus: aggregation method and the consensus rule.

    Attributes
    ----------
    method
        ``"weighted"`` (reputation-weighted share) or ``"dawid_skene"``; ``"majority"`` is
        accepted for experiments.
    min_votes
        Votes needed before consensus can fire.
    threshold
        Consensus needs a (weighted) agreement share strictly above this (0.70).
    reputation
        Parameters of the reputation formula.
    """

    method: AggregationMethod = "weighted"
    min_votes: int = 3
    threshold: float = CONSENSUS_THRESHOLD
    reputation: ReputationConfig = field(default_factory=ReputationConfig)

    def __post_init__(self) -> None:
        if self.method not in AGGREGATION_METHODS:
            raise ValueError(
                f"method must be one of {', '.join(AGGREGATION_METHODS)}; got {self.method!r}"
            )
        if self.min_votes < 1:
            raise ValueError(f"min_votes must be >= 1; got {self.min_votes}")
        if not 0.5 <= self.threshold < 1.0:
            raise ValueError(f"threshold must be in [0.5, 1); got {self.threshold}")

    @classmethod
    def from_settings(cls, settings: Settings) -> VettingConfig:
        """``EXOGUARD_AGGREGATION`` and ``EXOGUARD_VET_MIN_VOTES``."""
        return cls(method=settings.aggregation, min_votes=settings.vetting_min_votes)


def policy_from_settings(settings: Settings) -> QueuePolicy:
    """The queue policy of the settings: threshold, ambiguous band, gold rate, vote cap."""
    return QueuePolicy.from_settings(
        settings,
        ambiguous_band=tuple(settings.vetting_ambiguous_band),
        gold_rate=settings.vetting_gold_rate,
        max_votes_per_item=MAX_VOTES_FACTOR * settings.vetting_min_votes,
    )


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from exoguard.config import get_settings

    return get_settings()


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _chunks(values: Sequence[int], size: int = _CHUNK) -> Iterable[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


# --------------------------------------------------------------------------------------------
# Queue
# --------------------------------------------------------------------------------------------


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
    for chunk in _chunks(candidate_ids):
        stmt = select(VettingItem.candidate_id).where(
            VettingItem.status == "open", VettingItem.candidate_id.in_(chunk)
        )
        found.update(int(c) for c in session.scalars(stmt))
    return found


def _curated_candidate_ids(session: Session, candidate_ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(candidate_ids):
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
    if _is_postgres(session):
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
    for chunk in _chunks(item_ids):
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


def queue_for_user(
    session: Session,
    user_id: int,
    *,
    limit: int = DEFAULT_QUEUE_LIMIT,
    rng: np.random.Generator,
    policy: QueuePolicy | None = None,
    exclude_item_ids: Collection[int] = (),
    settings: Settings | None = None,
) -> list[QueueEntry]:
    """The next items for ``user_id``: open items they have not voted on, gold mixed in.

    Regular items come by priority (uncertainty, then age); each slot is a gold slot with
    probability ``policy.gold_rate`` (drawn from ``rng``). Items the user voted on, and
    ``exclude_item_ids`` (e.g. skipped ones), are never returned, and no item appears twice.
    Regular items with ``policy.max_votes_per_item`` votes are no longer served.
    """
    if not 1 <= limit <= MAX_QUEUE_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_QUEUE_LIMIT}; got {limit}")
    pol = policy or policy_from_settings(_settings(settings))
    voted = select(VoteRow.item_id).where(VoteRow.user_id == user_id)
    base = select(VettingItem).where(VettingItem.status == "open", VettingItem.id.not_in(voted))
    if exclude_item_ids:
        base = base.where(VettingItem.id.not_in([int(i) for i in exclude_item_ids]))

    regular_stmt = base.where(VettingItem.is_gold.is_(False))
    if pol.max_votes_per_item is not None:
        counts = (
            select(func.count(VoteRow.id))
            .where(VoteRow.item_id == VettingItem.id)
            .correlate(VettingItem)
            .scalar_subquery()
        )
        regular_stmt = regular_stmt.where(counts < pol.max_votes_per_item)
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
        user_id, open_items=records, votes=(), gold_rate=pol.gold_rate, rng=rng, limit=limit
    )
    return entries_for(session, [by_id[cast(int, q.item_id)] for q in chosen])


def queue_listing(
    session: Session,
    user: User | None,
    *,
    limit: int = DEFAULT_QUEUE_LIMIT,
    policy: QueuePolicy | None = None,
    settings: Settings | None = None,
) -> tuple[int, list[QueueEntry]]:
    """The queue table of the vetting page: (how many items wait, the first ``limit`` of them).

    One query gives both, so the count always matches the list. Gold items are never listed
    nor counted (they are served, disguised, by :func:`queue_for_user` only); for a logged-in
    vetter the items they voted on and the items at the vote cap are left out, for a visitor
    the private uploads' items too (`exoguard.store.access.vetting_item_filter`).
    """
    from exoguard.store import access

    if not 1 <= limit <= MAX_QUEUE_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_QUEUE_LIMIT}; got {limit}")
    pol = policy or policy_from_settings(_settings(settings))
    conditions = [
        VettingItem.status == "open",
        VettingItem.is_gold.is_(False),
        access.vetting_item_filter(user),
    ]
    if user is not None:
        voted = select(VoteRow.item_id).where(VoteRow.user_id == user.id)
        conditions.append(VettingItem.id.not_in(voted))
        if pol.max_votes_per_item is not None:
            counts = (
                select(func.count(VoteRow.id))
                .where(VoteRow.item_id == VettingItem.id)
                .correlate(VettingItem)
                .scalar_subquery()
            )
            conditions.append(counts < pol.max_votes_per_item)
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


# --------------------------------------------------------------------------------------------
# Votes and consensus
# --------------------------------------------------------------------------------------------


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
    if isinstance(confidence, bool) or not isinstance(confidence, int | np.integer):
        raise ValidationError(
            f"confidence must be an integer from {CONFIDENCE_MIN} to {CONFIDENCE_MAX}; "
            f"got {confidence!r}"
        )
    if not CONFIDENCE_MIN <= int(confidence) <= CONFIDENCE_MAX:
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


@dataclass(frozen=True, slots=True)
class _History:
    """Votes of some vetters on every item, with the items' gold and consensus labels."""

    votes: list[Vote]
    gold: dict[ItemId, VoteLabel]
    consensus: dict[ItemId, VoteLabel]


def _history(session: Session, user_ids: Collection[int]) -> _History:
    votes: list[Vote] = []
    gold: dict[ItemId, VoteLabel] = {}
    consensus: dict[ItemId, VoteLabel] = {}
    ids = sorted({int(u) for u in user_ids})
    for chunk in _chunks(ids):
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
    return _History(votes=votes, gold=gold, consensus=consensus)


def reputations_of(
    session: Session, user_ids: Collection[int], *, config: ReputationConfig | None = None
) -> dict[int, Reputation]:
    """Current reputation of each user: gold accuracy and agreement with settled consensus.

    Users without any counted vote get the prior (:func:`new_user_reputation`).
    """
    cfg = config or ReputationConfig()
    history = _history(session, user_ids)
    reps = compute_reputations(
        history.votes, gold=history.gold, consensus=history.consensus, config=cfg
    )
    out: dict[int, Reputation] = {}
    for user_id in user_ids:
        rep = reps.get(int(user_id))
        out[int(user_id)] = rep if rep is not None else new_user_reputation(user_id, config=cfg)
    return out


def _store_reputations(
    session: Session, user_ids: Collection[int], *, config: ReputationConfig
) -> dict[int, Reputation]:
    reps = reputations_of(session, user_ids, config=config)
    users = UserRepository(session)
    for user_id in sorted(reps):  # one lock order for every transaction: no deadlocks
        users.set_reputation(user_id, reps[user_id].weight)
    return reps


def _item_votes(session: Session, item_id: int) -> list[VoteRow]:
    return list(VoteRepository(session).list_for_item(item_id))


def _aggregate_item(
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
    history = _history(session, cast(Collection[int], voters))
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


def _settle(
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
    _store_reputations(session, {r.user_id for r in rows}, config=config.reputation)
    logger.info(
        "vetting item %d settled: %s (share %.3f, %d votes, %s)",
        item.id,
        result.label,
        result.share,
        result.n_votes,
        result.method,
    )
    return True


def submit_vote(
    session: Session,
    *,
    item_id: int,
    user_id: int,
    label: str,
    confidence: int,
    comment: str | None = None,
    settings: Settings | None = None,
    config: VettingConfig | None = None,
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
    cfg = config or VettingConfig.from_settings(_settings(settings))
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
    changed = previous is not None
    rows = _item_votes(session, item.id)

    if item.is_gold:
        _store_reputations(session, [user_id], config=cfg.reputation)
        return VoteOutcome(
            vote_id=vote.id,
            item_id=item.id,
            user_id=user_id,
            label=checked_label,
            confidence=checked_confidence,
            n_votes=len(rows),
            consensus=None,
            settled=False,
            changed=changed,
            previous=previous,
        )

    result, weights = _aggregate_item(session, item, rows, cfg)
    settled = False
    if result.consensus:
        settled = _settle(session, item, result, rows, weights, config=cfg)
    return VoteOutcome(
        vote_id=vote.id,
        item_id=item.id,
        user_id=user_id,
        label=checked_label,
        confidence=checked_confidence,
        n_votes=len(rows),
        consensus=result,
        settled=settled,
        changed=changed,
        previous=previous,
    )


# --------------------------------------------------------------------------------------------
# A vetter's own history, and the comments of an item
# --------------------------------------------------------------------------------------------

COMMENT_ROLES: Final[tuple[str, ...]] = ("researcher", "admin")
"""Roles that read every comment; other vetters read an item's comments once they voted."""


def vetter_history(
    session: Session,
    user_id: int,
    *,
    limit: int = 200,
    settings: Settings | None = None,
    config: VettingConfig | None = None,
) -> dict[str, Any]:
    """What one vetter did: ``reputation`` (their row of :func:`stats`) and ``votes``.

    Each vote is the one that counts, newest first, with every earlier version of it
    (``changes``) and how the item ended: ``open`` (no consensus yet; gold items stay open,
    so nothing here tells them apart), ``agrees`` or ``differs`` with the consensus.
    """
    from exoguard.store.models import VoteChange

    if not 1 <= limit <= 1000:
        raise ValidationError(f"limit must be between 1 and 1000; got {limit}")
    cfg = config or VettingConfig.from_settings(_settings(settings))
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(f"user {user_id} not found")
    n_votes = int(
        session.scalar(select(func.count(VoteRow.id)).where(VoteRow.user_id == user_id)) or 0
    )
    rep = reputations_of(session, [user_id], config=cfg.reputation)[user_id]
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
    for chunk in _chunks(vote_ids):
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
    return {"reputation": _user_row(user_id, user.name, n_votes, rep), "votes": votes}


def may_read_comments(session: Session, item_id: int, user: User | None) -> bool:
    """Researchers and admins always; a vetter once they voted on the item; nobody else."""
    if user is None:
        return False
    if user.role in COMMENT_ROLES:
        return True
    return VoteRepository(session).get_for(item_id=item_id, user_id=user.id) is not None


def item_comments(session: Session, item_id: int, *, user: User | None) -> list[dict[str, Any]]:
    """The comments on an item (the vote that counts of each vetter), oldest first.

    Raises `PermissionDeniedError` unless :func:`may_read_comments`: a vetter reads the
    others' comments only after forming their own view.
    """
    from exoguard.errors import PermissionDeniedError

    if not may_read_comments(session, item_id, user):
        raise PermissionDeniedError(
            f"the comments on vetting item {item_id} are shown to researchers and admins, "
            "and to vetters who have voted on it"
        )
    stmt = (
        select(VoteRow, User.name)
        .join(User, User.id == VoteRow.user_id)
        .where(VoteRow.item_id == item_id, VoteRow.comment.is_not(None))
        .order_by(VoteRow.id)
    )
    viewer = user.id if user is not None else None
    return [
        {
            "label": vote.label,
            "confidence": vote.confidence,
            "comment": vote.comment,
            "vetter": name or "a vetter",
            "mine": vote.user_id == viewer,
            "at": (vote.updated_at or vote.created_at).isoformat()
            if (vote.updated_at or vote.created_at)
            else None,
        }
        for vote, name in session.execute(stmt).tuples()
    ]


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def _item_stats(
    session: Session, *, include_gold: bool, status: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    n_planet = func.sum(case((VoteRow.label == "planet", 1), else_=0))
    n_fp = func.sum(case((VoteRow.label == "false_positive", 1), else_=0))
    stmt = (
        select(
            VettingItem,
            Candidate.mission,
            Candidate.object_id,
            func.count(VoteRow.id),
            n_planet,
            n_fp,
            func.avg(VoteRow.confidence),
        )
        .join(Candidate, Candidate.id == VettingItem.candidate_id)
        .outerjoin(VoteRow, VoteRow.item_id == VettingItem.id)
        .group_by(VettingItem.id, Candidate.mission, Candidate.object_id)
        .order_by(VettingItem.status.asc(), VettingItem.priority.desc(), VettingItem.id.asc())
    )
    if not include_gold:
        stmt = stmt.where(VettingItem.is_gold.is_(False))
    if status is not None:
        if status not in ("open", "settled"):
            raise ValidationError(f"status must be open or settled; got {status!r}")
        stmt = stmt.where(VettingItem.status == status)
    stmt = stmt.limit(limit).offset(offset)
    out = []
    for item, mission, object_id, n, n_p, n_f, mean_conf in session.execute(stmt).tuples():
        row: dict[str, Any] = {
            "item_id": item.id,
            "candidate_id": item.candidate_id,
            "mission": mission,
            "object_id": object_id,
            "status": item.status,
            "priority": item.priority,
            "n_votes": int(n or 0),
            "n_planet": int(n_p or 0),
            "n_false_positive": int(n_f or 0),
            "mean_confidence": None if mean_conf is None else float(mean_conf),
            "consensus_label": item.consensus_label,
            "consensus_share": item.consensus_share,
            "created_at": item.created_at.isoformat(),
            "settled_at": item.settled_at.isoformat() if item.settled_at else None,
        }
        if include_gold:
            row["is_gold"] = item.is_gold
            row["gold_label"] = item.gold_label
        out.append(row)
    return out


def _user_row(user_id: int, name: str | None, n_votes: int, rep: Reputation) -> dict[str, Any]:
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


def stats(
    session: Session,
    *,
    user_id: int | None = None,
    item_limit: int = 100,
    item_offset: int = 0,
    item_status: str | None = None,
    user_limit: int = 100,
    include_gold: bool = False,
    settings: Settings | None = None,
    config: VettingConfig | None = None,
) -> dict[str, Any]:
    """Vetting statistics: ``overall``, ``users`` (most active first), ``items``, and ``me``.

    ``items`` leaves out gold items unless ``include_gold`` (admins only: it reveals them);
    ``me`` is the row of ``user_id`` (None when not given).
    """
    if not 1 <= item_limit <= 1000 or not 1 <= user_limit <= 1000:
        raise ValidationError("item_limit and user_limit must be between 1 and 1000")
    if item_offset < 0:
        raise ValidationError(f"item_offset must be >= 0; got {item_offset}")
    cfg = config or VettingConfig.from_settings(_settings(settings))

    by_status = {
        (bool(g), str(s)): int(n)
        for g, s, n in session.execute(
            select(VettingItem.is_gold, VettingItem.status, func.count(VettingItem.id)).group_by(
                VettingItem.is_gold, VettingItem.status
            )
        ).tuples()
    }
    settled_labels = {
        str(label): int(n)
        for label, n in session.execute(
            select(VettingItem.consensus_label, func.count(VettingItem.id))
            .where(VettingItem.status == "settled", VettingItem.is_gold.is_(False))
            .group_by(VettingItem.consensus_label)
        ).tuples()
    }
    n_votes_total = int(session.scalar(select(func.count(VoteRow.id))) or 0)
    votes_per_settled = session.execute(
        select(func.count(VoteRow.id), func.avg(VettingItem.consensus_share))
        .select_from(VettingItem)
        .outerjoin(VoteRow, VoteRow.item_id == VettingItem.id)
        .where(VettingItem.status == "settled", VettingItem.is_gold.is_(False))
    ).one()
    n_settled = sum(n for (g, s), n in by_status.items() if not g and s == "settled")
    gold_votes = session.execute(
        select(
            func.count(VoteRow.id),
            func.sum(case((VoteRow.label == VettingItem.gold_label, 1), else_=0)),
        )
        .join(VettingItem, VettingItem.id == VoteRow.item_id)
        .where(VettingItem.is_gold.is_(True))
    ).one()

    per_user = (
        session.execute(
            select(User.id, User.name, func.count(VoteRow.id))
            .join(VoteRow, VoteRow.user_id == User.id)
            .group_by(User.id, User.name)
            .order_by(func.count(VoteRow.id).desc(), User.id.asc())
            .limit(user_limit)
        )
        .tuples()
        .all()
    )
    n_vetters = int(session.scalar(select(func.count(func.distinct(VoteRow.user_id)))) or 0)
    user_ids = [int(u) for u, _, _ in per_user]
    if user_id is not None and user_id not in user_ids:
        user_ids_all = [*user_ids, int(user_id)]
    else:
        user_ids_all = user_ids
    reps = reputations_of(session, user_ids_all, config=cfg.reputation)
    users = [_user_row(int(u), name, int(n), reps[int(u)]) for u, name, n in per_user]

    me: dict[str, Any] | None = None
    if user_id is not None:
        mine = next((row for row in users if row["user_id"] == user_id), None)
        if mine is None:
            user = session.get(User, user_id)
            if user is None:
                raise NotFoundError(f"user {user_id} not found")
            n_mine = int(
                session.scalar(select(func.count(VoteRow.id)).where(VoteRow.user_id == user_id))
                or 0
            )
            mine = _user_row(user_id, user.name, n_mine, reps[user_id])
        me = mine

    gold_total = int(gold_votes[0] or 0)
    overall = {
        "items_open": by_status.get((False, "open"), 0),
        "items_settled": n_settled,
        "gold_items_open": by_status.get((True, "open"), 0),
        "settled_planet": settled_labels.get("planet", 0),
        "settled_false_positive": settled_labels.get("false_positive", 0),
        "votes": n_votes_total,
        "vetters": n_vetters,
        "mean_votes_per_settled_item": (
            float(votes_per_settled[0]) / n_settled if n_settled else None
        ),
        "mean_consensus_share": (
            None if votes_per_settled[1] is None else float(votes_per_settled[1])
        ),
        "gold_votes": gold_total,
        "gold_accuracy": (float(gold_votes[1] or 0) / gold_total) if gold_total else None,
        "method": cfg.method,
        "min_votes": cfg.min_votes,
        "threshold": cfg.threshold,
    }
    return {
        "overall": overall,
        "users": users,
        "items": _item_stats(
            session,
            include_gold=include_gold,
            status=item_status,
            limit=item_limit,
            offset=item_offset,
        ),
        "me": me,
    }


__all__ = [
    "COMMENT_MAX_CHARS",
    "EnqueueResult",
    "QueueEntry",
    "VettingConfig",
    "VoteOutcome",
    "enqueue_uncertain",
    "entries_for",
    "item_comments",
    "may_read_comments",
    "queue_listing",
    "policy_from_settings",
    "queue_for_user",
    "reputations_of",
    "stats",
    "submit_vote",
    "top_up_gold",
    "vetter_history",
]
