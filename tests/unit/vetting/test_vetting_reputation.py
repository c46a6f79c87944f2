"""Reputation formula, prior for new vetters, confidence factor."""

from __future__ import annotations

import pytest

from exoguard.vetting.models import Vote
from exoguard.vetting.reputation import (
    Reputation,
    ReputationConfig,
    compute_reputations,
    confidence_factor,
    new_user_reputation,
    user_weight,
    vote_weight,
)


def test_new_user_gets_the_beta_prior() -> None:
    cfg = ReputationConfig(alpha=4.0, beta=2.0)
    rep = new_user_reputation("new", config=cfg)
    assert rep.accuracy == pytest.approx(4 / 6)
    assert rep.weight == pytest.approx(2 * 4 / 6 - 1)
    assert user_weight("unknown", {}, config=cfg) == pytest.approx(1 / 3)


def test_formula_on_gold_and_consensus_by_hand() -> None:
    cfg = ReputationConfig(alpha=4.0, beta=2.0, consensus_weight=0.5)
    gold = {"g1": "planet", "g2": "false_positive", "g3": "planet"}
    consensus = {"c1": "planet", "c2": "planet"}
    votes = [
        Vote("g1", "u", "planet"),  # right
        Vote("g2", "u", "false_positive"),  # right
        Vote("g3", "u", "false_positive"),  # wrong
        Vote("c1", "u", "planet"),  # agrees
        Vote("c2", "u", "false_positive"),  # disagrees
        Vote("open", "u", "planet"),  # not settled: no evidence
    ]
    rep = compute_reputations(votes, gold=gold, consensus=consensus, config=cfg)["u"]
    assert (rep.gold_correct, rep.gold_total, rep.consensus_agree, rep.consensus_total) == (
        2,
        3,
        1,
        2,
    )
    expected = (4 + 2 + 0.5 * 1) / (4 + 2 + 3 + 0.5 * 2)
    assert rep.accuracy == pytest.approx(expected)
    assert rep.weight == pytest.approx(2 * expected - 1)
    assert rep.gold_accuracy == pytest.approx(2 / 3)


def test_gold_wins_over_consensus_and_history_adds() -> None:
    cfg = ReputationConfig()
    history = {"u": Reputation("u", gold_correct=10, gold_total=10)}
    reps = compute_reputations(
        [Vote("g", "u", "false_positive")],
        gold={"g": "planet"},
        consensus={"g": "false_positive"},
        config=cfg,
        history=history,
    )
    assert (reps["u"].gold_correct, reps["u"].gold_total, reps["u"].consensus_total) == (10, 11, 0)


def test_adversary_weight_floors_and_good_vetter_dominates() -> None:
    cfg = ReputationConfig(min_weight=0.01)
    gold = {f"g{i}": "planet" for i in range(50)}
    votes = [Vote(f"g{i}", "good", "planet") for i in range(50)]
    votes += [Vote(f"g{i}", "bad", "false_positive") for i in range(50)]
    reps = compute_reputations(votes, gold=gold, consensus={}, config=cfg)
    assert reps["bad"].weight == pytest.approx(0.01)
    assert reps["good"].weight > 0.9


def test_confidence_factor_is_linear_from_floor_to_one() -> None:
    cfg = ReputationConfig(confidence_floor=0.5)
    assert [confidence_factor(c, config=cfg) for c in range(1, 6)] == pytest.approx(
        [0.5, 0.625, 0.75, 0.875, 1.0]
    )
    assert confidence_factor(1, config=ReputationConfig(confidence_floor=1.0)) == 1.0
    with pytest.raises(ValueError, match="from 1 to 5"):
        confidence_factor(0, config=cfg)
    # vote weight = vetter weight (bare float accepted) x confidence factor
    assert vote_weight(Vote("i", "u", "planet", 1), {"u": 0.8}, config=cfg) == pytest.approx(0.4)


def test_invalid_inputs_name_the_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"confidence must be an integer from 1 to 5"):
        Vote("i", "u", "planet", 6)
    with pytest.raises(ValueError, match="planet"):
        Vote("i", "u", "candidate")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha and beta"):
        ReputationConfig(alpha=0)
