"""How votes become consensus, and the queue policy, as configured (``VettingConfig``).

Also the chunking of ``IN (...)`` id lists, which every module of the service uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from exoguard.vetting.models import AGGREGATION_METHODS, CONSENSUS_THRESHOLD, AggregationMethod
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.reputation import ReputationConfig

if TYPE_CHECKING:
    from exoguard.config import Settings


DEFAULT_QUEUE_LIMIT: Final = 10
MAX_QUEUE_LIMIT: Final = 100
MAX_VOTES_FACTOR: Final = 3
"""An item with ``MAX_VOTES_FACTOR * min_votes`` votes and no consensus is no longer served."""
_CHUNK: Final = 500


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


def chunks(values: Sequence[int], size: int = _CHUNK) -> Iterable[Sequence[int]]:
    """Slices of at most ``size`` ids, so that every ``IN (...)`` list of the service is short."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
