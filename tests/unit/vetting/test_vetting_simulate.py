"""The simulated vetting loop: Dawid–Skene recovers vetters; weighted and DS beat majority."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from exoguard.vetting.simulate import VetterMix, make_vetters, simulate

SEEDS = [0, 1, 2, 3]


@pytest.fixture(scope="module")
def reports() -> list:
    # 12 vetters (7 good ~0.9, 3 random 0.5, 2 adversarial ~0.2), 1,500 items, 150 gold,
    # ~3.4 votes per item: every vetter casts >= 400 votes (asserted below).
    return [
        simulate(n_vetters=12, n_items=1500, rng=np.random.default_rng(s), seed=s) for s in SEEDS
    ]


def test_dawid_skene_recovers_every_vetter_within_0_1(reports: list) -> None:
    for r in reports:
        assert r.min_votes_per_vetter >= 400
        assert {v.kind for v in r.vetters} == {"good", "random", "adversarial"}
        for v in r.vetters:
            assert abs(v.ds_accuracy - v.true_accuracy) < 0.1, (r.seed, v)
        assert r.max_reliability_error < 0.1
        assert r.reliability_mae < 0.04


def test_dawid_skene_and_weighted_beat_majority(reports: list) -> None:
    for r in reports:
        assert r.dawid_skene.accuracy > r.majority.accuracy + 0.05
        assert r.weighted.accuracy > r.majority.accuracy + 0.05
        assert r.dawid_skene.accuracy > 0.9


def test_loop_honours_gold_rate_and_consensus_rule(reports: list) -> None:
    for r in reports:
        # ~5,000 served items per run: 0.10 +- 0.02 is > 4 binomial sigmas
        assert abs(r.gold_fraction_served - 0.10) < 0.02
        assert r.votes_per_item >= r.min_votes
        assert r.loop_settled_fraction > 0.8
        assert r.loop_settled_accuracy is not None and r.loop_settled_accuracy > 0.85


def test_vetter_mix_counts_and_accuracies() -> None:
    mix = VetterMix()
    assert mix.counts(30) == {"good": 18, "random": 6, "adversarial": 6}
    vetters = make_vetters(30, mix=mix, rng=np.random.default_rng(0))
    for v in vetters:
        centre = {"good": 0.9, "random": 0.5, "adversarial": 0.2}[v.kind]
        assert abs(v.accuracy - centre) <= mix.spread
    with pytest.raises(ValueError, match="mix fractions"):
        VetterMix(good=-1)


def test_same_seed_same_report() -> None:
    a = simulate(n_vetters=5, n_items=80, rng=np.random.default_rng(7))
    b = simulate(n_vetters=5, n_items=80, rng=np.random.default_rng(7))
    assert a.to_dict() == b.to_dict()


def test_cli_json_prints_one_object() -> None:
    from exoguard.cli import app

    result = CliRunner().invoke(
        app, ["vetting", "simulate", "--vetters", "6", "--items", "120", "--seed", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for method in ("majority", "weighted", "dawid_skene"):
        assert 0.0 <= data[method]["accuracy"] <= 1.0
    assert 0.0 <= data["reliability_mae"] <= data["max_reliability_error"] <= 1.0
    assert (data["n_vetters"], data["n_items"], data["seed"]) == (6, 120, 3)
    assert len(data["vetters"]) == 6
