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
from exoguard.vetting.simulated_vetters import SimulatedVetter, VetterMix, make_vetters
from exoguard.vetting.simulation_report import (
    MethodScore,
    SimulationReport,
    VetterReport,
    score_method,
)

logger = logging.getLogger(__name__)

KOI_PLANET_FRACTION = 2747 / (2747 + 4839)
"""CONFIRMED / (CONFIRMED + FALSE POSITIVE) in the KOI cumulative table of 2026-06-22."""

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _other(label: VoteLabel) -> VoteLabel:
    return "false_positive" if label == "planet" else "planet"


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
    _check_arguments(
        n_vetters=n_vetters,
        n_items=n_items,
        planet_fraction=planet_fraction,
        min_votes=min_votes,
        max_votes_per_item=max_votes_per_item,
        batch_size=batch_size,
        loop_method=loop_method,
    )
    mix = mix or VetterMix()
    cfg = reputation_config or ReputationConfig()
    n_gold = max(20, n_items // 10) if n_gold is None else n_gold

    vetters = make_vetters(n_vetters, mix=mix, rng=rng)
    loop = _VettingLoop.start(
        n_items=n_items,
        n_gold=n_gold,
        planet_fraction=planet_fraction,
        vetters=vetters,
        rng=rng,
        rule=_Rule(min_votes, threshold, max_votes_per_item, loop_method, cfg),
    )
    rounds = loop.run(gold_rate=gold_rate, batch_size=batch_size, max_rounds=max_rounds, rng=rng)

    return _final_report(
        loop, cfg, rounds=rounds, gold_rate=gold_rate, planet_fraction=planet_fraction, seed=seed
    )


def _final_report(
    loop: _VettingLoop,
    cfg: ReputationConfig,
    *,
    rounds: int,
    gold_rate: float,
    planet_fraction: float,
    seed: int | None,
) -> SimulationReport:
    """Score the three methods on all votes and compare learnt with true reliabilities."""
    rule = loop.rule
    min_votes, threshold = rule.min_votes, rule.threshold
    n_items, n_gold = len(loop.truth), len(loop.gold)
    all_votes = loop.all_votes
    regular_votes = [v for v in all_votes if v.item_id not in loop.gold]
    maj = majority(regular_votes, min_votes=min_votes, threshold=threshold)
    wtd = weighted(
        regular_votes,
        reputations=loop.reputations,
        min_votes=min_votes,
        threshold=threshold,
        config=cfg,
    )
    ds: DawidSkeneResult = dawid_skene(
        all_votes, min_votes=min_votes, threshold=threshold, gold=loop.gold
    )
    reports, n_by_user = _vetter_reports(loop, ds, cfg)
    ds_err = np.array([abs(r.ds_accuracy - r.true_accuracy) for r in reports])
    rep_err = np.array([abs(r.reputation_accuracy - r.true_accuracy) for r in reports])
    settled, truth = loop.settled, loop.truth
    loop_right = sum(settled[i] == truth[i] for i in settled)

    return SimulationReport(
        majority=score_method(maj, truth),
        weighted=score_method(wtd, truth),
        dawid_skene=score_method(ds.consensus, truth),
        reliability_mae=float(np.nanmean(ds_err)),
        max_reliability_error=float(np.nanmax(ds_err)),
        reputation_mae=float(np.mean(rep_err)),
        n_vetters=len(loop.vetters),
        n_items=n_items,
        n_gold=n_gold,
        planet_fraction=planet_fraction,
        gold_rate=gold_rate,
        gold_fraction_served=loop.n_gold_served / len(all_votes) if all_votes else 0.0,
        min_votes=min_votes,
        threshold=threshold,
        max_votes_per_item=rule.max_votes_per_item,
        loop_method=rule.loop_method,
        n_votes=len(all_votes),
        votes_per_item=len(regular_votes) / n_items,
        min_votes_per_vetter=min(n_by_user.values()),
        rounds=rounds,
        loop_settled_fraction=len(settled) / n_items,
        loop_settled_accuracy=loop_right / len(settled) if settled else None,
        vetters=tuple(reports),
        seed=seed,
    )


def _check_arguments(
    *,
    n_vetters: int,
    n_items: int,
    planet_fraction: float,
    min_votes: int,
    max_votes_per_item: int,
    batch_size: int,
    loop_method: str,
) -> None:
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


@dataclass(frozen=True, slots=True)
class _Rule:
    """The consensus rule and the aggregation the loop settles items with."""

    min_votes: int
    threshold: float
    max_votes_per_item: int
    loop_method: AggregationMethod
    config: ReputationConfig


@dataclass
class _VettingLoop:
    """State of the simulated queue: open items, votes so far, settled labels, reputations."""

    vetters: list[SimulatedVetter]
    rule: _Rule
    truth_all: dict[ItemId, VoteLabel]
    truth: dict[ItemId, VoteLabel]
    gold: dict[ItemId, VoteLabel]
    gold_items: list[QueueItem]
    open_regular: dict[ItemId, QueueItem]
    all_votes: list[Vote] = field(default_factory=list)
    votes_by_item: dict[ItemId, list[Vote]] = field(default_factory=dict)
    gold_votes_by_user: dict[UserId, list[Vote]] = field(default_factory=dict)
    settled: dict[ItemId, VoteLabel] = field(default_factory=dict)
    reputations: dict[UserId, Reputation] = field(default_factory=dict)
    n_gold_served: int = 0

    @classmethod
    def start(
        cls,
        *,
        n_items: int,
        n_gold: int,
        planet_fraction: float,
        vetters: list[SimulatedVetter],
        rng: np.random.Generator,
        rule: _Rule,
    ) -> _VettingLoop:
        """Draw the true labels and the queue items (regular first, then gold)."""
        n_total = n_items + n_gold
        is_planet = rng.random(n_total) < planet_fraction
        truth_all: dict[ItemId, VoteLabel] = {
            i: ("planet" if is_planet[i] else "false_positive") for i in range(n_total)
        }
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
        return cls(
            vetters=vetters,
            rule=rule,
            truth_all=truth_all,
            truth={i: truth_all[i] for i in range(n_items)},
            gold=gold,
            gold_items=[it for it in items if it.is_gold],
            open_regular={it.item_id: it for it in items if not it.is_gold},
            gold_votes_by_user={v.user_id: [] for v in vetters},
        )

    def run(
        self, *, gold_rate: float, batch_size: int, max_rounds: int, rng: np.random.Generator
    ) -> int:
        """Play rounds until nothing can be served (or ``max_rounds``); return the rounds."""
        rule = self.rule
        rounds = 0
        while self.open_regular and rounds < max_rounds:
            rounds += 1
            regular_votes_this_round = 0
            for vi in rng.permutation(len(self.vetters)):
                regular_votes_this_round += self._turn(
                    self.vetters[int(vi)], gold_rate=gold_rate, batch_size=batch_size, rng=rng
                )
            if rule.loop_method == "dawid_skene" and self.all_votes:
                ds_loop = dawid_skene(
                    self.all_votes,
                    min_votes=rule.min_votes,
                    threshold=rule.threshold,
                    gold=self.gold,
                )
                self._close_if_done(
                    {i: r for i, r in ds_loop.consensus.items() if i in self.open_regular}
                )
            self.reputations = compute_reputations(
                self.all_votes, gold=self.gold, consensus=self.settled, config=rule.config
            )
            logger.debug(
                "round %d: %d open, %d settled, %d votes",
                rounds,
                len(self.open_regular),
                len(self.settled),
                len(self.all_votes),
            )
            if regular_votes_this_round == 0:
                break
        return rounds

    def _turn(
        self,
        vetter: SimulatedVetter,
        *,
        gold_rate: float,
        batch_size: int,
        rng: np.random.Generator,
    ) -> int:
        """One vetter takes a batch and votes; return the votes cast on regular items."""
        uid = vetter.user_id
        open_list = list(self.open_regular.values()) + self.gold_items
        relevant = itertools.chain(
            (v for i in self.open_regular for v in self.votes_by_item.get(i, ())),
            self.gold_votes_by_user[uid],
        )
        batch = next_items_for(
            uid,
            open_items=open_list,
            votes=relevant,
            gold_rate=gold_rate,
            rng=rng,
            limit=batch_size,
            max_votes_per_item=self.rule.max_votes_per_item,
        )
        if not batch:
            return 0
        correct = rng.random(len(batch)) < vetter.accuracy
        confidence = rng.integers(1, 6, len(batch))
        touched: list[ItemId] = []
        for item, ok, conf in zip(batch, correct, confidence, strict=True):
            t = self.truth_all[item.item_id]
            vote = Vote(item.item_id, uid, t if ok else _other(t), int(conf))
            self.all_votes.append(vote)
            self.votes_by_item.setdefault(item.item_id, []).append(vote)
            if item.is_gold:
                self.gold_votes_by_user[uid].append(vote)
                self.n_gold_served += 1
            else:
                touched.append(item.item_id)
        if touched:
            self._settle(touched)
        return len(touched)

    def _settle(self, touched: list[ItemId]) -> None:
        """Apply the loop's (non-Dawid–Skene) aggregation to the items just voted."""
        rule = self.rule
        if rule.loop_method == "dawid_skene":
            return
        sub = [v for i in touched for v in self.votes_by_item[i]]
        if rule.loop_method == "majority":
            self._close_if_done(majority(sub, min_votes=rule.min_votes, threshold=rule.threshold))
        else:
            self._close_if_done(
                weighted(
                    sub,
                    reputations=self.reputations,
                    min_votes=rule.min_votes,
                    threshold=rule.threshold,
                    config=rule.config,
                )
            )

    def _close_if_done(self, results: Mapping[ItemId, ConsensusResult]) -> None:
        for item_id, res in results.items():
            if item_id not in self.open_regular:
                continue
            if res.label is not None:
                self.settled[item_id] = res.label
                del self.open_regular[item_id]
            elif len(self.votes_by_item[item_id]) >= self.rule.max_votes_per_item:
                del self.open_regular[item_id]


def _vetter_reports(
    loop: _VettingLoop, ds: DawidSkeneResult, cfg: ReputationConfig
) -> tuple[list[VetterReport], dict[UserId, int]]:
    """Each vetter's true accuracy beside what Dawid–Skene and the reputations learnt."""
    n_by_user: dict[UserId, int] = {v.user_id: 0 for v in loop.vetters}
    right_by_user: dict[UserId, int] = {v.user_id: 0 for v in loop.vetters}
    for v in loop.all_votes:
        n_by_user[v.user_id] += 1
        right_by_user[v.user_id] += v.label == loop.truth_all[v.item_id]
    reports: list[VetterReport] = []
    for vt in loop.vetters:
        rel = ds.reliabilities.get(vt.user_id)
        rep = loop.reputations.get(vt.user_id)
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
    return reports, n_by_user


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
