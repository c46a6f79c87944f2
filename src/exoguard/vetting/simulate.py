"""Run the vetting loop against simulated vetters of known reliability.

The simulation exercises the real queue, reputation and aggregation code:

1. ``n_items`` regular items get a true label (planet with probability ``planet_fraction``;
   default 0.36, the CONFIRMED share of dispositioned KOIs: 2,747 of 2,747 + 4,839 in the
   2026-06-22 cumulative table) and ``n_gold`` gold items of known label are added.
2. Vetters are ``good``, ``random`` or ``adversarial`` (:class:`VetterMix`); each has a true
   accuracy drawn uniformly within ``± spread`` of its kind's accuracy and answers every item
   correctly with that probability, whatever the class (confidence is uniform on 1..5, i.e.
   uninformative).
3. In each round every vetter, in random order, asks :func:`~exoguard.vetting.queue.next_items_for`
   for ``batch_size`` items (gold mixed in at ``gold_rate``) and votes. After each batch the
   loop's aggregation (``loop_method``) is applied to the items just voted: an item leaves the
   queue when the consensus rule fires, or when it has ``max_votes_per_item`` votes (left
   unresolved). After each round reputations are recomputed from gold answers and settled
   consensus. The loop ends when no open item can be served.
4. On all votes at the end, ``majority``, ``weighted`` (final reputations) and ``dawid_skene``
   (gold labels given) label every regular item; accuracy is measured against the truth, ties
   scoring 0.5 (a fair coin). Dawid–Skene's per-vetter accuracy is compared with the true one.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np

from exoguard.vetting.aggregation import DawidSkeneResult, dawid_skene, majority, weighted
from exoguard.vetting.models import (
    CONSENSUS_THRESHOLD,
    AggregationMethod,
    ConsensusResult,
    ItemId,
    QueueItem,
    UserId,
    Vote,
    VoteLabel,
)
from exoguard.vetting.queue import next_items_for
from exoguard.vetting.reputation import Reputation, ReputationConfig, compute_reputations

logger = logging.getLogger(__name__)

VetterKind = Literal["good", "random", "adversarial"]
KOI_PLANET_FRACTION = 2747 / (2747 + 4839)
"""CONFIRMED / (CONFIRMED + FALSE POSITIVE) in the KOI cumulative table of 2026-06-22."""

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class VetterMix:
    """Fractions and accuracies of the three kinds of simulated vetter.

    Fractions are normalised; counts are rounded with the remainder going to ``random``.
    Each vetter's accuracy is drawn uniformly in ``[acc - spread, acc + spread]``.
    """

    good: float = 0.6
    random: float = 0.2
    adversarial: float = 0.2
    good_accuracy: float = 0.9
    random_accuracy: float = 0.5
    adversarial_accuracy: float = 0.2
    spread: float = 0.05

    def __post_init__(self) -> None:
        fractions = (self.good, self.random, self.adversarial)
        if min(fractions) < 0 or sum(fractions) <= 0:
            raise ValueError(f"mix fractions must be >= 0 with a positive sum, got {fractions}")
        for name in ("good_accuracy", "random_accuracy", "adversarial_accuracy"):
            acc = getattr(self, name)
            if not self.spread <= acc <= 1.0 - self.spread:
                raise ValueError(f"{name} must be in [spread, 1 - spread], got {acc!r}")
        if not 0.0 <= self.spread <= 0.5:
            raise ValueError(f"spread must be in [0, 0.5], got {self.spread!r}")

    def counts(self, n_vetters: int) -> dict[VetterKind, int]:
        """Number of vetters of each kind among ``n_vetters``."""
        total = self.good + self.random + self.adversarial
        n_good = round(n_vetters * self.good / total)
        n_adv = min(round(n_vetters * self.adversarial / total), n_vetters - n_good)
        return {"good": n_good, "random": n_vetters - n_good - n_adv, "adversarial": n_adv}


@dataclass(frozen=True, slots=True)
class SimulatedVetter:
    """A vetter who answers correctly with probability ``accuracy`` on every item."""

    user_id: str
    kind: VetterKind
    accuracy: float


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


def make_vetters(
    n_vetters: int, *, mix: VetterMix, rng: np.random.Generator
) -> list[SimulatedVetter]:
    """Vetters ``v000``, ``v001``, ... with kinds per ``mix`` (in random order)."""
    kinds: list[VetterKind] = []
    for kind, n in mix.counts(n_vetters).items():
        kinds.extend([kind] * n)
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    centre = {
        "good": mix.good_accuracy,
        "random": mix.random_accuracy,
        "adversarial": mix.adversarial_accuracy,
    }
    return [
        SimulatedVetter(
            user_id=f"v{i:03d}",
            kind=kind,
            accuracy=float(centre[kind] + rng.uniform(-mix.spread, mix.spread)),
        )
        for i, kind in enumerate(kinds)
    ]


def _other(label: VoteLabel) -> VoteLabel:
    return "false_positive" if label == "planet" else "planet"


def _score(
    results: Mapping[ItemId, ConsensusResult], truth: Mapping[ItemId, VoteLabel]
) -> MethodScore:
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


def simulate(
    *,
    n_vetters: int,
    n_items: int,
    rng: np.random.Generator,
    mix: VetterMix | None = None,
    planet_fraction: float = KOI_PLANET_FRACTION,
    n_gold: int | None = None,
    gold_rate: float = 0.10,
    min_votes: int = 3,
    threshold: float = CONSENSUS_THRESHOLD,
    max_votes_per_item: int = 7,
    batch_size: int = 10,
    loop_method: AggregationMethod = "weighted",
    reputation_config: ReputationConfig | None = None,
    max_rounds: int = 10_000,
    seed: int | None = None,
) -> SimulationReport:
    """Simulate the vetting loop and score the three aggregation methods.

    Parameters
    ----------
    n_vetters
        Number of simulated vetters (>= 1).
    n_items
        Number of regular items with unknown (to the system) labels (>= 1).
    rng
        Source of all randomness (vetters, truths, queue gold draws, votes).
    mix
        Kinds of vetter (default :class:`VetterMix`: 60 % good ~0.9, 20 % random 0.5,
        20 % adversarial ~0.2).
    planet_fraction
        Probability that an item (and a gold item) is a planet.
    n_gold
        Gold items (default ``max(20, n_items // 10)``).
    gold_rate
        Fraction of served items that are gold.
    min_votes, threshold
        The consensus rule (share > threshold with at least min_votes votes).
    max_votes_per_item
        Votes after which an unresolved item stops being served (>= min_votes).
    batch_size
        Items a vetter takes per request.
    loop_method
        Aggregation that settles items during the loop.
    reputation_config
        Reputation formula parameters.
    max_rounds
        Safety cap on the number of rounds.
    seed
        Recorded in the report only (the randomness comes from ``rng``).

    Returns
    -------
    SimulationReport
    """
    if n_vetters < 1 or n_items < 1:
        raise ValueError(f"n_vetters and n_items must be >= 1, got {n_vetters}, {n_items}")
    if not 0.0 <= planet_fraction <= 1.0:
        raise ValueError(f"planet_fraction must be in [0, 1], got {planet_fraction!r}")
    if max_votes_per_item < min_votes:
        raise ValueError(
            f"max_votes_per_item must be >= min_votes ({min_votes}), got {max_votes_per_item}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if loop_method not in ("majority", "weighted", "dawid_skene"):
        raise ValueError(
            f"loop_method must be one of ('majority', 'weighted', 'dawid_skene'), "
            f"got {loop_method!r}"
        )
    mix = mix or VetterMix()
    cfg = reputation_config or ReputationConfig()
    n_gold = max(20, n_items // 10) if n_gold is None else n_gold

    vetters = make_vetters(n_vetters, mix=mix, rng=rng)
    n_total = n_items + n_gold
    is_planet = rng.random(n_total) < planet_fraction
    truth_all: dict[ItemId, VoteLabel] = {
        i: ("planet" if is_planet[i] else "false_positive") for i in range(n_total)
    }
    truth: dict[ItemId, VoteLabel] = {i: truth_all[i] for i in range(n_items)}
    gold: dict[ItemId, VoteLabel] = {i: truth_all[i] for i in range(n_items, n_total)}

    uncertainty = rng.uniform(0.15, 0.5, n_total)
    probability = rng.uniform(0.35, 0.65, n_total)
    age_order = rng.permutation(n_total)
    items = [
        QueueItem(
            item_id=i,
            probability=float(probability[i]),
            uncertainty=float(uncertainty[i]),
            created_at=_EPOCH + timedelta(minutes=int(age_order[i])),
            gold_label=gold.get(i),
        )
        for i in range(n_total)
    ]
    gold_items = [it for it in items if it.is_gold]
    open_regular: dict[ItemId, QueueItem] = {it.item_id: it for it in items if not it.is_gold}

    all_votes: list[Vote] = []
    votes_by_item: dict[ItemId, list[Vote]] = {}
    gold_votes_by_user: dict[UserId, list[Vote]] = {v.user_id: [] for v in vetters}
    settled: dict[ItemId, VoteLabel] = {}
    reputations: dict[UserId, Reputation] = {}
    n_gold_served = 0

    def close_if_done(results: Mapping[ItemId, ConsensusResult]) -> None:
        for item_id, res in results.items():
            if item_id not in open_regular:
                continue
            if res.label is not None:
                settled[item_id] = res.label
                del open_regular[item_id]
            elif len(votes_by_item[item_id]) >= max_votes_per_item:
                del open_regular[item_id]

    rounds = 0
    while open_regular and rounds < max_rounds:
        rounds += 1
        regular_votes_this_round = 0
        for vi in rng.permutation(n_vetters):
            vetter = vetters[int(vi)]
            uid = vetter.user_id
            open_list = list(open_regular.values()) + gold_items
            relevant = itertools.chain(
                (v for i in open_regular for v in votes_by_item.get(i, ())),
                gold_votes_by_user[uid],
            )
            batch = next_items_for(
                uid,
                open_items=open_list,
                votes=relevant,
                gold_rate=gold_rate,
                rng=rng,
                limit=batch_size,
                max_votes_per_item=max_votes_per_item,
            )
            if not batch:
                continue
            correct = rng.random(len(batch)) < vetter.accuracy
            confidence = rng.integers(1, 6, len(batch))
            touched: list[ItemId] = []
            for item, ok, conf in zip(batch, correct, confidence, strict=True):
                t = truth_all[item.item_id]
                vote = Vote(item.item_id, uid, t if ok else _other(t), int(conf))
                all_votes.append(vote)
                votes_by_item.setdefault(item.item_id, []).append(vote)
                if item.is_gold:
                    gold_votes_by_user[uid].append(vote)
                    n_gold_served += 1
                else:
                    touched.append(item.item_id)
                    regular_votes_this_round += 1
            if loop_method != "dawid_skene" and touched:
                sub = [v for i in touched for v in votes_by_item[i]]
                if loop_method == "majority":
                    close_if_done(majority(sub, min_votes=min_votes, threshold=threshold))
                else:
                    close_if_done(
                        weighted(
                            sub,
                            reputations=reputations,
                            min_votes=min_votes,
                            threshold=threshold,
                            config=cfg,
                        )
                    )
        if loop_method == "dawid_skene" and all_votes:
            ds_loop = dawid_skene(all_votes, min_votes=min_votes, threshold=threshold, gold=gold)
            close_if_done({i: r for i, r in ds_loop.consensus.items() if i in open_regular})
        reputations = compute_reputations(all_votes, gold=gold, consensus=settled, config=cfg)
        logger.debug(
            "round %d: %d open, %d settled, %d votes",
            rounds,
            len(open_regular),
            len(settled),
            len(all_votes),
        )
        if regular_votes_this_round == 0:
            break

    regular_votes = [v for v in all_votes if v.item_id not in gold]
    maj = majority(regular_votes, min_votes=min_votes, threshold=threshold)
    wtd = weighted(
        regular_votes,
        reputations=reputations,
        min_votes=min_votes,
        threshold=threshold,
        config=cfg,
    )
    ds: DawidSkeneResult = dawid_skene(
        all_votes, min_votes=min_votes, threshold=threshold, gold=gold
    )

    n_by_user: dict[UserId, int] = {v.user_id: 0 for v in vetters}
    right_by_user: dict[UserId, int] = {v.user_id: 0 for v in vetters}
    for v in all_votes:
        n_by_user[v.user_id] += 1
        right_by_user[v.user_id] += v.label == truth_all[v.item_id]
    reports: list[VetterReport] = []
    for vt in vetters:
        rel = ds.reliabilities.get(vt.user_id)
        rep = reputations.get(vt.user_id)
        n = n_by_user[vt.user_id]
        reports.append(
            VetterReport(
                user_id=vt.user_id,
                kind=vt.kind,
                true_accuracy=vt.accuracy,
                empirical_accuracy=right_by_user[vt.user_id] / n if n else float("nan"),
                ds_accuracy=rel.accuracy if rel else float("nan"),
                reputation_accuracy=rep.accuracy if rep else cfg.prior_accuracy,
                reputation_weight=rep.weight if rep else cfg.prior_weight,
                n_votes=n,
            )
        )
    ds_err = np.array([abs(r.ds_accuracy - r.true_accuracy) for r in reports])
    rep_err = np.array([abs(r.reputation_accuracy - r.true_accuracy) for r in reports])
    loop_right = sum(settled[i] == truth[i] for i in settled)

    return SimulationReport(
        majority=_score(maj, truth),
        weighted=_score(wtd, truth),
        dawid_skene=_score(ds.consensus, truth),
        reliability_mae=float(np.nanmean(ds_err)),
        max_reliability_error=float(np.nanmax(ds_err)),
        reputation_mae=float(np.mean(rep_err)),
        n_vetters=n_vetters,
        n_items=n_items,
        n_gold=n_gold,
        planet_fraction=planet_fraction,
        gold_rate=gold_rate,
        gold_fraction_served=n_gold_served / len(all_votes) if all_votes else 0.0,
        min_votes=min_votes,
        threshold=threshold,
        max_votes_per_item=max_votes_per_item,
        loop_method=loop_method,
        n_votes=len(all_votes),
        votes_per_item=len(regular_votes) / n_items,
        min_votes_per_vetter=min(n_by_user.values()),
        rounds=rounds,
        loop_settled_fraction=len(settled) / n_items,
        loop_settled_accuracy=loop_right / len(settled) if settled else None,
        vetters=tuple(reports),
        seed=seed,
    )


__all__ = [
    "KOI_PLANET_FRACTION",
    "MethodScore",
    "SimulatedVetter",
    "SimulationReport",
    "VetterMix",
    "VetterReport",
    "make_vetters",
    "simulate",
]
