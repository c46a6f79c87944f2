"""What a simulated vetting run reports: per-method scores and per-vetter reliabilities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from exoguard.vetting.models import AggregationMethod, ConsensusResult, ItemId, VoteLabel

VetterKind = Literal["good", "random", "adversarial"]


@dataclass(frozen=True, slots=True)
class MethodScore:
    """How one aggregation method did against the truth on the regular items."""

    accuracy: float
    consensus_rate: float
    consensus_accuracy: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "accuracy": self.accuracy,
            "consensus_rate": self.consensus_rate,
            "consensus_accuracy": self.consensus_accuracy,
        }


@dataclass(frozen=True, slots=True)
class VetterReport:
    """One simulated vetter: true accuracy against what the system learnt."""

    user_id: str
    kind: VetterKind
    true_accuracy: float
    empirical_accuracy: float
    ds_accuracy: float
    reputation_accuracy: float
    reputation_weight: float
    n_votes: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "user_id": self.user_id,
            "kind": self.kind,
            "true_accuracy": self.true_accuracy,
            "empirical_accuracy": self.empirical_accuracy,
            "ds_accuracy": self.ds_accuracy,
            "reputation_accuracy": self.reputation_accuracy,
            "reputation_weight": self.reputation_weight,
            "n_votes": self.n_votes,
        }


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """Figures of one simulated run (see :func:`simulate`)."""

    majority: MethodScore
    weighted: MethodScore
    dawid_skene: MethodScore
    reliability_mae: float
    max_reliability_error: float
    reputation_mae: float
    n_vetters: int
    n_items: int
    n_gold: int
    planet_fraction: float
    gold_rate: float
    gold_fraction_served: float
    min_votes: int
    threshold: float
    max_votes_per_item: int
    loop_method: AggregationMethod
    n_votes: int
    votes_per_item: float
    min_votes_per_vetter: int
    rounds: int
    loop_settled_fraction: float
    loop_settled_accuracy: float | None
    vetters: tuple[VetterReport, ...] = field(default=())
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object printed by ``exoguard vetting simulate --json``."""
        return {
            "majority": self.majority.to_dict(),
            "weighted": self.weighted.to_dict(),
            "dawid_skene": self.dawid_skene.to_dict(),
            "reliability_mae": self.reliability_mae,
            "max_reliability_error": self.max_reliability_error,
            "reputation_mae": self.reputation_mae,
            "n_vetters": self.n_vetters,
            "n_items": self.n_items,
            "seed": self.seed,
            "n_gold": self.n_gold,
            "planet_fraction": self.planet_fraction,
            "gold_rate": self.gold_rate,
            "gold_fraction_served": self.gold_fraction_served,
            "min_votes": self.min_votes,
            "threshold": self.threshold,
            "max_votes_per_item": self.max_votes_per_item,
            "loop_method": self.loop_method,
            "n_votes": self.n_votes,
            "votes_per_item": self.votes_per_item,
            "min_votes_per_vetter": self.min_votes_per_vetter,
            "rounds": self.rounds,
            "loop_settled_fraction": self.loop_settled_fraction,
            "loop_settled_accuracy": self.loop_settled_accuracy,
            "vetters": [v.to_dict() for v in self.vetters],
        }


def score_method(
    results: Mapping[ItemId, ConsensusResult], truth: Mapping[ItemId, VoteLabel]
) -> MethodScore:
    """Accuracy of ``results`` against ``truth`` (an item without a leading label scores 0.5)."""
    credit = 0.0
    n_cons = 0
    n_cons_right = 0
    for item_id, label in truth.items():
        r = results.get(item_id)
        if r is None or r.leading_label is None:
            credit += 0.5
            continue
        credit += r.leading_label == label
        if r.consensus:
            n_cons += 1
            n_cons_right += r.leading_label == label
    n = len(truth)
    return MethodScore(
        accuracy=credit / n,
        consensus_rate=n_cons / n,
        consensus_accuracy=n_cons_right / n_cons if n_cons else None,
    )


__all__ = ["MethodScore", "SimulationReport", "VetterKind", "VetterReport", "score_method"]
