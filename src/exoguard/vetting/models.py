"""Plain, database-free records of the vetting loop: votes, queue items, consensus results.

These are immutable dataclasses. The SQLAlchemy layer maps its rows onto them and hands them to
the pure functions in :mod:`exoguard.vetting.queue`, :mod:`~exoguard.vetting.reputation` and
:mod:`~exoguard.vetting.aggregation`.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal, cast

import numpy as np

VoteLabel = Literal["planet", "false_positive"]
"""What a vetter can say about a candidate."""

VOTE_LABELS: Final[tuple[VoteLabel, VoteLabel]] = ("planet", "false_positive")
"""Both labels, in the order used by every matrix in this package (row/column 0 is planet)."""

AggregationMethod = Literal["majority", "weighted", "dawid_skene"]
AGGREGATION_METHODS: Final[tuple[AggregationMethod, ...]] = ("majority", "weighted", "dawid_skene")

CONFIDENCE_MIN: Final = 1
CONFIDENCE_MAX: Final = 5
CONSENSUS_THRESHOLD: Final = 0.70
"""Consensus needs a weighted agreement share strictly above this."""

ItemId = Hashable
"""Any hashable id of a queue item (the DB layer uses its integer primary key)."""
UserId = Hashable
"""Any hashable id of a vetter."""


def check_label(label: str) -> VoteLabel:
    """Return ``label`` typed as a vote label, or raise ValueError naming the allowed ones."""
    if label not in VOTE_LABELS:
        raise ValueError(f"label must be one of {VOTE_LABELS}, got {label!r}")
    return cast(VoteLabel, label)


def label_index(label: VoteLabel) -> int:
    """Index of ``label`` in :data:`VOTE_LABELS` (planet 0, false_positive 1)."""
    return 0 if label == "planet" else 1


@dataclass(frozen=True, slots=True)
class Vote:
    """One vetter's vote on one item.

    Attributes
    ----------
    item_id, user_id
        Hashable ids (one vote per pair; the store enforces uniqueness).
    label
        ``"planet"`` or ``"false_positive"``.
    confidence
        Self-reported confidence, an integer from 1 (guess) to 5 (certain).
    """

    item_id: ItemId
    user_id: UserId
    label: VoteLabel
    confidence: int = 3

    def __post_init__(self) -> None:
        check_label(self.label)
        if (
            isinstance(self.confidence, bool)
            or not isinstance(self.confidence, int | np.integer)
            or not CONFIDENCE_MIN <= int(self.confidence) <= CONFIDENCE_MAX
        ):
            raise ValueError(
                f"confidence must be an integer from {CONFIDENCE_MIN} to {CONFIDENCE_MAX}, "
                f"got {self.confidence!r}"
            )


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A prediction that is (or may enter) the vetting queue.

    Attributes
    ----------
    item_id
        Id of the queue entry / prediction.
    probability
        Model probability that the candidate is a planet, in [0, 1].
    uncertainty
        Model uncertainty of that probability (>= 0; e.g. ensemble spread or conformal width).
    created_at
        When the prediction entered the queue; older items come first among equal uncertainty.
    gold_label
        The known disposition when this is a gold item (never shown to the vetter), else None.
    """

    item_id: ItemId
    probability: float
    uncertainty: float
    created_at: datetime
    gold_label: VoteLabel | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.probability) <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {self.probability!r}")
        if not float(self.uncertainty) >= 0.0:
            raise ValueError(f"uncertainty must be >= 0, got {self.uncertainty!r}")
        if self.gold_label is not None:
            check_label(self.gold_label)

    @property
    def is_gold(self) -> bool:
        """True for an item of known disposition mixed in to measure vetters."""
        return self.gold_label is not None


@dataclass(frozen=True, slots=True)
class ConsensusResult:
    """The aggregated verdict on one item.

    Attributes
    ----------
    item_id
        The item.
    method
        ``"majority"``, ``"weighted"`` or ``"dawid_skene"``.
    leading_label
        The label with the largest share (None only on an exact tie).
    share
        The leading label's share: fraction of votes (majority), fraction of vote weight
        (weighted) or posterior probability (Dawid–Skene); 0.5 on a tie.
    planet_share
        The share of ``"planet"`` on the same scale (1 - share of false_positive).
    n_votes
        Number of votes on the item.
    consensus
        True when ``share > threshold`` and ``n_votes >= min_votes``.
    label
        ``leading_label`` when consensus is reached, otherwise None.
    """

    item_id: ItemId
    method: AggregationMethod
    leading_label: VoteLabel | None
    share: float
    planet_share: float
    n_votes: int
    consensus: bool

    @property
    def label(self) -> VoteLabel | None:
        """The consensus label, or None when the rule did not fire."""
        return self.leading_label if self.consensus else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (ids are passed through unchanged)."""
        return {
            "item_id": self.item_id,
            "method": self.method,
            "label": self.label,
            "leading_label": self.leading_label,
            "share": self.share,
            "planet_share": self.planet_share,
            "n_votes": self.n_votes,
            "consensus": self.consensus,
        }


@dataclass(frozen=True, slots=True)
class VetterReliability:
    """One vetter's confusion matrix as learnt by Dawid–Skene.

    Attributes
    ----------
    user_id
        The vetter.
    confusion
        Array of shape (2, 2): ``confusion[t, o]`` is P(vetter says o | truth t), indices in
        :data:`VOTE_LABELS` order (0 planet, 1 false_positive); each row sums to 1.
    accuracy
        P(vetter is right) under the learnt class prior: ``sum_t prior[t] * confusion[t, t]``.
    n_votes
        Number of votes by this vetter in the fitted data.
    """

    user_id: UserId
    confusion: np.ndarray = field(repr=False)
    accuracy: float
    n_votes: int

    @property
    def recall_planet(self) -> float:
        """P(says planet | planet)."""
        return float(self.confusion[0, 0])

    @property
    def recall_false_positive(self) -> float:
        """P(says false_positive | false_positive)."""
        return float(self.confusion[1, 1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: ``confusion[true][observed]`` as nested dicts."""
        return {
            "user_id": self.user_id,
            "accuracy": self.accuracy,
            "n_votes": self.n_votes,
            "confusion": {
                t: {o: float(self.confusion[i, j]) for j, o in enumerate(VOTE_LABELS)}
                for i, t in enumerate(VOTE_LABELS)
            },
        }
