"""One rule says which verdicts are uncertain: the vetting queue, the evaluations and the
settings all use :class:`exoguard.ml.flagging.FlagRule`."""

from __future__ import annotations

import numpy as np
import pytest

from exoguard.config import Settings
from exoguard.ml.flagging import DEFAULT_AMBIGUOUS_BAND, FlagRule
from exoguard.ml.multibranch.evaluate import group_figures
from exoguard.vetting.queue import QueuePolicy, enters_queue


def test_queue_and_evaluation_flag_the_same_verdicts() -> None:
    rng = np.random.default_rng(7)
    p = np.r_[rng.uniform(0, 1, 500), 0.2, 0.8, 0.19999, 0.80001]
    u = np.r_[rng.uniform(0, 0.3, 500), 0.0, 0.0, 0.15, 0.150001]
    rule = FlagRule()
    vector = rule.flagged(p, u)
    policy = QueuePolicy()
    one_by_one = [
        enters_queue(probability=float(a), uncertainty=float(b), policy=policy)
        for a, b in zip(p, u, strict=True)
    ]
    assert vector.tolist() == one_by_one
    # the band is closed, the threshold strict
    assert vector[-4:].tolist() == [True, True, False, True]


def test_policy_from_settings_takes_the_configured_band() -> None:
    """Fixed: the queue used to take only the threshold from the settings and keep its own
    band, while `evaluate --paths` read both."""
    settings = Settings(EXOGUARD_VET_AMBIGUOUS_BAND=(0.3, 0.7), EXOGUARD_VET_UNCERTAINTY=0.1)
    policy = QueuePolicy.from_settings(settings)
    assert policy.rule == FlagRule.from_settings(settings) == FlagRule(0.1, (0.3, 0.7))
    assert QueuePolicy().rule == FlagRule(0.15, DEFAULT_AMBIGUOUS_BAND)


def test_bad_rules_name_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="0 <= low <= high <= 1"):
        FlagRule(ambiguous_band=(0.8, 0.2))
    with pytest.raises(ValueError, match=">= 0 or None"):
        QueuePolicy(uncertainty_threshold=-1.0)


def test_confident_and_wrong_counts_errors_among_unflagged_verdicts() -> None:
    y = np.array([1, 1, 0, 0, 1])
    p = np.array([0.95, 0.05, 0.9, 0.5, 0.99])  # row 2 and 3 wrong; row 4 (0.5) flagged
    u = np.array([0.01, 0.01, 0.01, 0.01, 0.3])  # row 5 flagged by its uncertainty

    class Pred:
        probability = p
        uncertainty = u

    m = group_figures(y, Pred())  # type: ignore[arg-type]
    assert m["flagged_fraction"] == pytest.approx(2 / 5)
    assert m["confident_wrong_rate"] == pytest.approx(2 / 3)
