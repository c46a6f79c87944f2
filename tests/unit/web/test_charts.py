"""Figure contents of exoguard.web.charts (pure dict builders for Plotly)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from exoguard.core.lightcurve import fold_phase_days
from exoguard.ml import curves
from exoguard.reports.curves import bin_series, fold_and_bin, phase_fraction, transit_times
from exoguard.web.charts.base import FP_COLOR, PLANET_COLOR, json_values
from exoguard.web.charts.evaluation import (
    calibration_figure,
    confusion_matrix_figure,
    pr_figure,
    probability_histogram_figure,
    roc_figure,
)
from exoguard.web.charts.explain import (
    feature_importance_figure,
    shap_bar_figure,
    shap_waterfall_figure,
)
from exoguard.web.charts.lightcurves import (
    folded_figure,
    lightcurve_figure,
    odd_even_figure,
    periodogram_figure,
    secondary_figure,
)


def _roundtrip(fig: dict) -> dict:
    # What the browser receives: strict JSON (NaN is not allowed).
    return json.loads(json.dumps(fig, allow_nan=False))


@pytest.fixture
def scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 600)
    s = np.clip(0.5 * y + rng.normal(0.25, 0.22, y.size), 0, 1)
    s[:40] = np.round(s[:40], 1)  # ties, which the curve helpers must handle
    return y, s


def test_values_are_rounded_and_nan_free() -> None:
    out = json_values([1.23456789, np.nan, -np.inf, 0.0, 2454833.123456789], digits=6)
    assert out == [1.23457, None, None, 0.0, 2454830.0]
    assert json_values([2457000.123456], digits=12) == [2457000.12346]


def test_lightcurve_marks_every_transit_in_range() -> None:
    t0, period = 2458326.0, 3.289
    t = 2458325.0 + np.arange(0, 27.0, 2 / 1440)
    f = np.ones_like(t)
    f[np.abs(fold_phase_days(t, period_days=period, t0_bjd=t0)) < 0.05] -= 0.01
    f[5] = np.nan
    fig = _roundtrip(
        lightcurve_figure(
            time_bjd=t,
            flux=f,
            mission="tess",
            candidates=[{"period_days": period, "t0_bjd": t0, "name": "TOI-114.01"}],
            max_points=5000,
        )
    )
    flux_trace, marks = fig["data"]
    # 19,440 finite points → averaged by 4 to ≤ 5000 points
    assert len(flux_trace["x"]) <= 5000
    assert "mean of 4 points" in flux_trace["name"]
    expected = transit_times(t0_bjd=t0, period_days=period, t_min_bjd=t[0], t_max_bjd=t[-1])
    assert len(expected) == 8  # 26 days after the first transit / 3.289 d
    assert marks["x"] == pytest.approx(list(expected - 2457000.0), abs=1e-4)
    assert "TOI-114.01" in marks["name"] and "3.2890 d" in marks["name"]
    assert "BTJD" in fig["layout"]["xaxis"]["title"]["text"]
    assert len(fig["layout"]["shapes"]) == 8
    # the transit markers sit below the lowest plotted flux
    assert marks["y"][0] < min(v for v in flux_trace["y"] if v is not None)


def test_lightcurve_rejects_mismatched_arrays() -> None:
    with pytest.raises(ValueError, match="same length"):
        lightcurve_figure(time_bjd=[1, 2, 3], flux=[1, 2])


def test_transit_times_edges() -> None:
    times = transit_times(t0_bjd=10.0, period_days=2.0, t_min_bjd=10.0, t_max_bjd=16.0)
    assert times.tolist() == [10.0, 12.0, 14.0, 16.0]
    assert transit_times(t0_bjd=0, period_days=5, t_min_bjd=1, t_max_bjd=4).size == 0
    with pytest.raises(ValueError, match="positive"):
        transit_times(t0_bjd=0, period_days=0, t_min_bjd=0, t_max_bjd=1)


def test_periodogram_keeps_peak_when_thinned() -> None:
    p = np.geomspace(0.5, 20, 100_000)
    power = np.exp(-(((p - 3.289) / 0.002) ** 2)) * 30
    fig = _roundtrip(periodogram_figure(period_days=p, power=power, best_period_days=3.289))
    trace = fig["data"][0]
    assert len(trace["x"]) <= 20000
    assert max(trace["y"]) == pytest.approx(30, rel=0.01)
    assert fig["layout"]["xaxis"]["type"] == "log"
    xs = sorted(s["x0"] for s in fig["layout"]["shapes"])
    assert xs == pytest.approx([3.289 / 2, 3.289, 2 * 3.289])
    assert "3.28900 d" in fig["layout"]["annotations"][0]["text"]


def test_fold_and_bin_recovers_depth() -> None:
    rng = np.random.default_rng(1)
    t = np.sort(rng.uniform(0, 30, 20000))
    phase = fold_phase_days(t, period_days=2.5, t0_bjd=1.0)
    f = 1 + rng.normal(0, 1e-4, t.size) - 0.002 * (np.abs(phase) < 0.05)
    view = fold_and_bin(time_bjd=t, flux=f, period_days=2.5, t0_bjd=1.0, window_days=0.3, n_bins=61)
    assert np.all(np.abs(view["phase_days"]) <= 0.3)
    centre = view["bin_flux"][np.abs(view["bin_phase_days"]) < 0.03]
    assert np.mean(centre) == pytest.approx(0.998, abs=1e-4)
    fig = _roundtrip(
        folded_figure(
            phase=view["phase_days"] * 24,
            flux=view["flux"],
            bin_phase=view["bin_phase_days"] * 24,
            bin_flux=view["bin_flux"],
            x_title="hours",
        )
    )
    assert [d["name"] for d in fig["data"]] == ["points", "binned"]
    assert len(fig["data"][1]["x"]) == len(view["bin_flux"])


def test_folded_views_draw_at_most_the_cap_and_dots_only_on_sparse_binned_curves() -> None:
    rng = np.random.default_rng(3)
    phase = rng.uniform(-1, 1, 5000)
    flux = 1 + rng.normal(0, 1e-3, 5000)
    dense = folded_figure(
        phase=phase,
        flux=flux,
        bin_phase=np.linspace(-1, 1, 201),
        bin_flux=np.ones(201),
        max_points=400,
    )
    points, binned = dense["data"]
    assert 350 <= len(points["x"]) <= 400  # every 13th of 5,000 points
    # 201 bins on half the page's width: the dots would merge into the line
    assert binned["mode"] == "lines" and len(binned["x"]) == 201
    sparse = folded_figure(
        phase=phase, flux=flux, bin_phase=np.linspace(-1, 1, 61), bin_flux=np.ones(61)
    )
    assert sparse["data"][1]["mode"] == "lines+markers"


def test_folded_figure_needs_something() -> None:
    with pytest.raises(ValueError, match="needs points"):
        folded_figure(phase=[], flux=[])


def test_odd_even_and_secondary() -> None:
    ph = np.linspace(-3, 3, 50)
    fig = _roundtrip(
        odd_even_figure(
            odd_phase=ph,
            odd_flux=1 - 0.001 * (np.abs(ph) < 1),
            even_phase=ph,
            even_flux=1 - 0.002 * (np.abs(ph) < 1),
            odd_depth_ppm=1000,
            even_depth_ppm=2000,
            odd_even_sigma=7.3,
        )
    )
    assert [d["xaxis"] for d in fig["data"]] == ["x", "x2"]
    assert "7.3σ" in fig["layout"]["title"]["text"]
    levels = sorted(s["y0"] for s in fig["layout"]["shapes"])
    assert levels == pytest.approx([0.998, 0.999])
    sec = _roundtrip(
        secondary_figure(
            phase=np.linspace(0, 1, 100),
            flux=np.ones(100),
            secondary_depth_ppm=120,
            secondary_sigma=2.0,
        )
    )
    assert "120 ppm (2.0σ)" in sec["layout"]["title"]["text"]
    assert sec["layout"]["shapes"][0]["x0"] == 0.5
    frac = phase_fraction(time_bjd=[1.0, 2.25, 3.5], period_days=2.5, t0_bjd=1.0)
    assert frac.tolist() == pytest.approx([0.0, 0.5, 0.0])


def test_confusion_matrix_counts_and_shares() -> None:
    fig = _roundtrip(confusion_matrix_figure([[90, 10], [5, 45]]))
    hm = fig["data"][0]
    assert hm["type"] == "heatmap"
    assert hm["z"] == [[0.9, 0.1], [0.1, 0.9]]
    assert hm["text"][0][0] == "90<br>90.0%"
    assert hm["text"][1][0] == "5<br>10.0%"
    assert hm["y"] == ["true false positive", "true planet"]
    with pytest.raises(ValueError, match="2×2"):
        confusion_matrix_figure([[1, 2, 3]])


def test_roc_matches_sklearn(scores: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.metrics import roc_auc_score, roc_curve

    y, s = scores
    pts = curves.roc_points(y, s)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert pts["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    np.testing.assert_allclose(pts["fpr"], fpr, atol=1e-12)
    np.testing.assert_allclose(pts["tpr"], tpr, atol=1e-12)
    fig = _roundtrip(roc_figure({"kepler cv": pts}))
    assert f"AUC {pts['auc']:.3f}" in fig["data"][0]["name"]
    assert fig["data"][-1]["name"] == "chance"
    with pytest.raises(ValueError, match="both classes"):
        curves.roc_points([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match="0 \\(false positive\\) or 1"):
        curves.roc_points([0, 2], [0.2, 0.3])


def test_pr_matches_sklearn(scores: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.metrics import average_precision_score

    y, s = scores
    pts = curves.pr_points(y, s)
    assert pts["average_precision"] == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert pts["prevalence"] == pytest.approx(y.mean())
    fig = _roundtrip(pr_figure({"kepler cv": pts}))
    assert fig["data"][1]["y"] == pytest.approx([y.mean()] * 2)
    assert fig["data"][0]["line"]["shape"] == "hv"


def test_calibration_matches_sklearn(scores: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.calibration import calibration_curve

    y, s = scores
    pts = curves.calibration_points(y, s, n_bins=10)
    frac, mean_pred = calibration_curve(y, s, n_bins=10, strategy="uniform")
    np.testing.assert_allclose(pts["fraction_positive"], frac, atol=1e-12)
    np.testing.assert_allclose(pts["mean_predicted"], mean_pred, atol=1e-12)
    assert pts["count"].sum() == y.size
    gap = np.abs(frac - mean_pred)
    assert pts["ece"] == pytest.approx(float(np.sum(gap * pts["count"]) / y.size))
    fig = _roundtrip(calibration_figure(**pts))
    assert "ECE" in fig["data"][0]["name"]
    assert fig["data"][0]["customdata"] == [int(c) for c in pts["count"]]
    with pytest.raises(ValueError, match="probabilities"):
        curves.calibration_points([0, 1], [0.5, 1.5])


def test_feature_importance_orders_largest_on_top() -> None:
    imp = {f"f{i}": float(i) for i in range(20)}
    imp["bad"] = float("nan")
    fig = _roundtrip(feature_importance_figure(imp, max_display=5))
    bar = fig["data"][0]
    assert bar["y"] == ["f15", "f16", "f17", "f18", "f19"]  # Plotly draws the last on top
    assert bar["x"] == [15.0, 16.0, 17.0, 18.0, 19.0]


def test_shap_waterfall_sums_to_output() -> None:
    contrib = {"depth_ppm": -1.2, "period_days": 0.4, "transit_snr": 0.9, "a": 0.01, "b": -0.02}
    fig = _roundtrip(
        shap_waterfall_figure(
            base_value=-0.5,
            contributions=contrib,
            feature_values={"depth_ppm": 41000.0, "period_days": 3.289},
            max_display=3,
        )
    )
    wf = fig["data"][0]
    assert wf["type"] == "bar"  # the partial Plotly bundle has no waterfall trace
    assert wf["base"][0] == -0.5
    assert wf["y"][-1] == "depth_ppm = 4.1e+04"  # largest |value| on top
    assert wf["y"][0] == "2 other features"
    assert wf["x"][0] == pytest.approx(-0.01)
    assert sum(wf["x"]) + wf["base"][0] == pytest.approx(-0.5 + sum(contrib.values()))
    # Each bar starts where the previous ended; the last ends at the output.
    for i in range(1, len(wf["x"])):
        assert wf["base"][i] == pytest.approx(wf["base"][i - 1] + wf["x"][i - 1], abs=1e-5)
    assert wf["base"][-1] + wf["x"][-1] == pytest.approx(-0.5 + sum(contrib.values()), abs=1e-5)
    assert wf["marker"]["color"][-1] == FP_COLOR  # depth_ppm pushes away from planet
    connectors = [s for s in fig["layout"]["shapes"] if s["yref"] == "y"]
    assert [c["x0"] for c in connectors] == pytest.approx(wf["base"][1:])
    assert "→ -0.410" in fig["layout"]["xaxis"]["title"]["text"]


def test_shap_bar_colours_by_sign() -> None:
    fig = _roundtrip(shap_bar_figure({"a": 0.3, "b": -0.6}))
    bar = fig["data"][0]
    assert bar["y"] == ["a", "b"]
    assert bar["marker"]["color"] == [PLANET_COLOR, FP_COLOR]


def test_probability_histogram_counts() -> None:
    fig = _roundtrip(probability_histogram_figure([0.01, 0.02, 0.5, 0.99, 1.0], n_bins=10))
    assert sum(fig["data"][0]["y"]) == 5
    assert fig["data"][0]["y"][0] == 2 and fig["data"][0]["y"][-1] == 2


def test_bin_series() -> None:
    x, y = bin_series([0, 1, 2, 3, np.nan], [1, 3, 5, 7, 100], n_bins=2)
    assert x.tolist() == [0.5, 2.5] and y.tolist() == [2.0, 6.0]
    with pytest.raises(ValueError, match="n_bins"):
        bin_series([1], [1], n_bins=0)


def test_shap_waterfall_remainder_stays_last_and_counts() -> None:
    fig = _roundtrip(
        shap_waterfall_figure(
            base_value=0.0,
            contributions={"a": 0.1, "b": -0.2},
            remainder=(7, 2.5),  # larger than any listed contribution
        )
    )
    wf = fig["data"][0]
    assert wf["y"][0] == "7 other features" and wf["x"][0] == pytest.approx(2.5)
    assert sum(wf["x"]) == pytest.approx(2.4)
    assert "→ 2.400" in fig["layout"]["xaxis"]["title"]["text"]


def test_report_and_chart_time_axes_share_one_table() -> None:
    """The PDF and the pages name the same offsets; only the label's wording differs."""
    from exoguard.reports.tables import chart_time_axis, time_axis

    assert time_axis("kepler") == (2454833.0, "BKJD (BJD − 2454833) [d]")
    assert chart_time_axis("k2") == (2454833.0, "BJD − 2454833 (BKJD)")
    assert time_axis("tess") == (2457000.0, "BTJD (BJD − 2457000) [d]")
    assert chart_time_axis("TESS") == (2457000.0, "BJD − 2457000 (BTJD)")
    assert time_axis(None) == (2450000.0, "BJD − 2450000 [d]")
    assert chart_time_axis("other") == (2450000.0, "BJD − 2450000")
    figure = lightcurve_figure(time_bjd=[2457001.0, 2457002.0], flux=[1.0, 1.0], mission="tess")
    assert figure["layout"]["xaxis"]["title"]["text"] == "Time [BJD − 2457000 (BTJD)]"
    assert figure["data"][0]["x"] == [1.0, 2.0]
