"""Majority, weighted and Dawid–Skene aggregation and the consensus rule."""

from __future__ import annotations

import numpy as np
import pytest

from exoguard.vetting.aggregation import (
    aggregate,
    consensus_reached,
    dawid_skene,
    majority,
    weighted,
)
from exoguard.vetting.models import Vote, VoteLabel
from exoguard.vetting.reputation import ReputationConfig, compute_reputations


def _votes(item: object, labels: str) -> list[Vote]:
    """'ppf' -> planet, planet, false_positive by users u0, u1, u2."""
    return [
        Vote(item, f"u{k}", "planet" if c == "p" else "false_positive")
        for k, c in enumerate(labels)
    ]


def test_consensus_rule_strictly_above_70_percent_with_enough_votes() -> None:
    assert consensus_reached(0.75, 4, min_votes=4)
    assert not consensus_reached(0.70, 10, min_votes=3)  # exactly 70 % is not enough
    assert not consensus_reached(1.0, 2, min_votes=3)  # unanimous but too few
    res = majority(
        _votes("a", "pppf") + _votes("b", "pppppppfff") + _votes("c", "pp") + _votes("d", "pf"),
        min_votes=3,
    )
    assert res["a"].consensus and res["a"].label == "planet" and res["a"].share == 0.75
    assert (
        not res["b"].consensus and res["b"].label is None and res["b"].share == pytest.approx(0.7)
    )
    assert not res["c"].consensus and res["c"].leading_label == "planet"
    assert res["d"].leading_label is None and res["d"].share == 0.5
    assert not majority(_votes("a", "pppf"), min_votes=5)["a"].consensus


def test_weighted_share_follows_reputation() -> None:
    votes = _votes("x", "ffp")  # two low-reputation users say fp, one trusted user says planet
    reps = {"u0": 0.1, "u1": 0.1, "u2": 0.9}
    cfg = ReputationConfig(confidence_floor=1.0)
    res = weighted(votes, reputations=reps, min_votes=3, config=cfg)["x"]
    assert res.leading_label == "planet"
    assert res.share == pytest.approx(0.9 / 1.1)
    assert res.consensus
    assert majority(votes, min_votes=3)["x"].leading_label == "false_positive"
    # unknown users get the prior weight: equal weights reproduce the majority share
    assert weighted(votes, reputations={}, min_votes=3, config=cfg)["x"].planet_share == (
        pytest.approx(1 / 3)
    )


def _crowd(
    rng: np.random.Generator, accuracies: list[float], n_items: int, per_item: int
) -> tuple[list[Vote], dict[int, VoteLabel]]:
    truth: dict[int, VoteLabel] = {}
    votes: list[Vote] = []
    for i in range(n_items):
        t: VoteLabel = "planet" if rng.random() < 0.36 else "false_positive"
        truth[i] = t
        for u in rng.choice(len(accuracies), per_item, replace=False):
            right = rng.random() < accuracies[u]
            label: VoteLabel = t if right else ("false_positive" if t == "planet" else "planet")
            votes.append(Vote(i, f"w{u}", label, int(rng.integers(1, 6))))
    return votes, truth


ACCURACIES = [0.9, 0.92, 0.88, 0.9, 0.85, 0.5, 0.5, 0.2, 0.2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dawid_skene_recovers_confusions_and_beats_majority(seed: int) -> None:
    """9 workers, 600 items, 5 votes each (~330 votes per worker): |error| < 0.1 each."""
    votes, truth = _crowd(np.random.default_rng(seed), ACCURACIES, 600, 5)
    ds = dawid_skene(votes, min_votes=3)
    for u, acc in enumerate(ACCURACIES):
        rel = ds.reliabilities[f"w{u}"]
        assert abs(rel.accuracy - acc) < 0.1
        assert rel.confusion.shape == (2, 2)
        assert np.allclose(rel.confusion.sum(axis=1), 1.0)
    assert ds.class_prior["planet"] == pytest.approx(0.36, abs=0.06)
    maj = majority(votes, min_votes=3)
    acc_ds = np.mean([ds.consensus[i].leading_label == t for i, t in truth.items()])
    acc_maj = np.mean([maj[i].leading_label == t for i, t in truth.items()])
    assert acc_ds > acc_maj + 0.05


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_beats_majority_once_reputations_are_learnt(seed: int) -> None:
    """Reputations from 60 gold items per worker, then weighted vs majority on 600 items."""
    rng = np.random.default_rng(seed)
    votes, truth = _crowd(rng, ACCURACIES, 600, 5)
    gold_votes, gold_truth = _crowd(rng, ACCURACIES, 100, 5)
    gold = {("gold", i): t for i, t in gold_truth.items()}
    gold_votes = [Vote(("gold", v.item_id), v.user_id, v.label, v.confidence) for v in gold_votes]
    reps = compute_reputations(gold_votes, gold=gold, consensus={})
    wtd = weighted(votes, reputations=reps, min_votes=3)
    maj = majority(votes, min_votes=3)
    acc_w = np.mean([wtd[i].leading_label == t for i, t in truth.items()])
    acc_m = np.mean([maj[i].leading_label == t for i, t in truth.items()])
    assert acc_w > acc_m + 0.03


def test_dawid_skene_uses_gold_and_any_hashable_ids() -> None:
    votes = _votes(("koi", 1), "ppf") + _votes("g", "ffp")
    ds = dawid_skene(votes, min_votes=3, gold={"g": "planet", "absent": "planet"})
    assert ds.consensus["g"].leading_label == "planet"  # clamped to the gold truth
    assert set(ds.reliabilities) == {"u0", "u1", "u2"}
    assert dawid_skene([], min_votes=1).consensus == {}


def test_aggregate_dispatches_and_rejects_unknown_method() -> None:
    votes = _votes(1, "pppp")
    for method in ("majority", "weighted", "dawid_skene"):
        res = aggregate(votes, method=method, min_votes=3)  # type: ignore[arg-type]
        assert res[1].method == method and res[1].label == "planet"
    with pytest.raises(ValueError, match="majority"):
        aggregate(votes, method="mean", min_votes=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_votes"):
        majority(votes, min_votes=0)
