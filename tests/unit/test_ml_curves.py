"""Curve points stored with metrics feed the ROC, precision-recall and calibration charts."""

from __future__ import annotations

import numpy as np

from exoguard.ml.evaluate import binary_metrics


def test_curve_points_describe_a_good_classifier() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 2000)
    p = np.clip(0.25 + 0.5 * y + rng.normal(0, 0.15, y.size), 0, 1)
    m = binary_metrics(y, p, curves=True)
    roc = np.array(m["roc_curve"])
    pr = np.array(m["pr_curve"])
    assert roc[0].tolist() == [0.0, 0.0] and roc[-1].tolist() == [1.0, 1.0]
    assert np.all(np.diff(roc[:, 0]) >= 0) and np.all(np.diff(roc[:, 1]) >= 0)
    # sklearn's PR curve runs from recall 1 down to 0; precision at full recall = prevalence
    assert pr[0, 0] == 1.0 and abs(pr[0, 1] - y.mean()) < 1e-9
    assert pr[-1].tolist() == [0.0, 1.0]
    assert m["roc_auc"] > 0.9
    assert sum(b["count"] for b in m["reliability"]) == y.size
