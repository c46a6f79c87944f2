"""Curve points stored with metrics feed the ROC, precision-recall and calibration charts."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_a_probability_on_a_bin_edge_counts_in_the_lower_bin() -> None:
    """One edge rule for the evaluation's ECE/reliability and the chart: bins are closed on
    the right, so p = 0.2 with 10 bins is in (0.1, 0.2] (before, ml/calibration.py put it
    in [0.2, 0.3) and web/charts.py in (0.1, 0.2])."""
    from exoguard.ml.calibration import expected_calibration_error, reliability_curve
    from exoguard.ml.curves import calibration_points, reliability_bin_index

    p = np.array([0.0, 0.1, 0.15, 0.2, 0.2 + 1e-9, 0.95, 1.0])
    assert reliability_bin_index(p, n_bins=10).tolist() == [0, 0, 1, 1, 2, 9, 9]
    assert reliability_bin_index([-0.5, 1.5], n_bins=10).tolist() == [0, 9]
    (only,) = reliability_curve(np.array([1]), np.array([0.2]), n_bins=10)
    assert (only["bin_lo"], only["bin_hi"]) == (0.1, 0.2)
    # probabilities on the edges (as isotonic calibration gives): both sides agree
    rng = np.random.default_rng(5)
    probs = rng.integers(0, 11, 500) / 10
    y = (rng.uniform(size=probs.size) < probs).astype(int)
    chart = calibration_points(y, probs, n_bins=10)
    curve = reliability_curve(y, probs, n_bins=10)
    assert expected_calibration_error(y, probs, n_bins=10) == chart["ece"]
    assert [b["count"] for b in curve] == chart["count"].tolist()
    assert [b["mean_predicted"] for b in curve] == chart["mean_predicted"].tolist()
    assert [b["fraction_positive"] for b in curve] == chart["fraction_positive"].tolist()


def test_the_chart_points_are_the_evaluations_points() -> None:
    """The stored (thinned) ROC/PR points are points of the curves the charts draw, ends
    included, and the stored reliability bins are the chart's."""
    from exoguard.ml.curves import calibration_points, pr_points, roc_points

    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 3000)
    p = np.round(np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, y.size), 0, 1), 3)  # ties
    m = binary_metrics(y, p, curves=True)
    roc, pr = roc_points(y, p), pr_points(y, p)
    roc_pairs = set(zip(roc["fpr"].tolist(), roc["tpr"].tolist(), strict=True))
    pr_pairs = set(zip(pr["recall"].tolist(), pr["precision"].tolist(), strict=True))
    assert len(m["roc_curve"]) == 50 and len(m["pr_curve"]) == 50
    assert all(tuple(pt) in roc_pairs for pt in m["roc_curve"])
    assert all(tuple(pt) in pr_pairs for pt in m["pr_curve"])
    assert m["roc_curve"][0] == [0.0, 0.0] and m["roc_curve"][-1] == [1.0, 1.0]
    assert m["pr_curve"][-1] == [0.0, 1.0]
    assert roc["auc"] == pytest.approx(m["roc_auc"], abs=1e-12)
    assert pr["average_precision"] == pytest.approx(m["pr_auc"], abs=1e-12)
    chart = calibration_points(y, p)
    assert [b["count"] for b in m["reliability"]] == chart["count"].tolist()
    assert [b["fraction_positive"] for b in m["reliability"]] == chart["fraction_positive"].tolist()
    assert m["ece"] == chart["ece"]


def test_one_class_sets_store_no_roc_or_pr_points() -> None:
    """A set with one class has no ROC/PR curve (before: NaN points with a warning)."""
    m = binary_metrics(np.zeros(20, int), np.linspace(0, 1, 20), curves=True)
    assert "roc_curve" not in m and "pr_curve" not in m
    assert sum(b["count"] for b in m["reliability"]) == 20
