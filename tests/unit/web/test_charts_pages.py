"""The figure sets and helpers behind the pages (exoguard.web.pages._figures and friends)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from exoguard.core.lightcurve import fold_phase_days
from exoguard.ml import curves
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.state import verdict_of
from exoguard.web.charts.base import robust_range
from exoguard.web.pages import _figures
from exoguard.web.pages._common import _fmt, safe_next


def _strict_json(obj: object) -> object:
    return json.loads(json.dumps(obj, allow_nan=False))


@pytest.fixture
def eb_like() -> tuple[np.ndarray, np.ndarray, _figures.Ephemeris]:
    """A box transit whose odd and even depths differ (2000 vs 1000 ppm) and a secondary."""
    rng = np.random.default_rng(3)
    period, t0, dur_h = 2.0, 0.5, 3.0
    t = np.arange(0.0, 40.0, 10 / 1440)
    phase = fold_phase_days(t, period_days=period, t0_bjd=t0)
    number = np.rint((t - t0) / period).astype(int)
    f = 1 + rng.normal(0, 2e-4, t.size)
    in_transit = np.abs(phase) < dur_h / 48
    f[in_transit & (number % 2 == 1)] -= 2e-3
    f[in_transit & (number % 2 == 0)] -= 1e-3
    secondary = np.abs(fold_phase_days(t, period_days=period, t0_bjd=t0 + 1.0)) < dur_h / 48
    f[secondary] -= 4e-4
    eph = _figures.Ephemeris(
        name="EB", period_days=period, t0_bjd=t0, duration_hours=dur_h, odd_even_sigma=9.0
    )
    return t, f, eph


def test_folded_views_show_odd_even_and_secondary(eb_like) -> None:
    t, f, eph = eb_like
    figures, missing = _figures.folded_figures(t, f, eph)
    assert missing == {}
    assert set(figures) == {"folded_global", "folded_local", "odd_even", "secondary"}
    odd, even = figures["odd_even"]["data"]
    # binned odd transits are ~2000 ppm deep, even ~1000 ppm
    assert min(v for v in odd["y"] if v is not None) == pytest.approx(0.998, abs=2e-4)
    assert min(v for v in even["y"] if v is not None) == pytest.approx(0.999, abs=2e-4)
    assert "9.0σ" in figures["odd_even"]["layout"]["title"]["text"]
    # the primary is masked from the secondary view: its floor is the 400 ppm secondary
    sec_bins = figures["secondary"]["data"][1]
    assert min(v for v in sec_bins["y"] if v is not None) == pytest.approx(0.9996, abs=1.5e-4)
    lo, hi = figures["secondary"]["layout"]["yaxis"]["range"]
    assert lo > 0.999  # the 1000-2000 ppm primary would push it below
    # the local view is in hours, ±2.5 durations
    local_x = [v for v in figures["folded_local"]["data"][0]["x"] if v is not None]
    assert max(abs(v) for v in local_x) <= 2.5 * 3.0 + 1e-6
    _strict_json(figures)


def test_lightcurve_figures_mark_every_candidate(eb_like) -> None:
    t, f, eph = eb_like
    other = _figures.Ephemeris(name="c", period_days=7.0, t0_bjd=3.0)
    figures, missing = _figures.lightcurve_figures(
        time_bjd=t + 2457000.0,
        raw_flux=f,
        detrended_flux=f,
        trend=np.ones_like(f),
        mission="tess",
        ephemerides=[
            _figures.Ephemeris(name="EB", period_days=2.0, t0_bjd=2457000.5),
            _figures.Ephemeris(name="c", period_days=7.0, t0_bjd=2457003.0),
        ],
        focus=_figures.Ephemeris(name="EB", period_days=2.0, t0_bjd=2457000.5, duration_hours=3),
    )
    assert other.usable
    marks = [d for d in figures["lightcurve"]["data"] if d["name"].startswith("transits of")]
    assert [len(m["x"]) for m in marks] == [20, 6]  # 40 days: every 2 d from 0.5; every 7 d from 3
    assert missing == {"periodogram": "no periodogram for this light curve"}
    assert figures["lightcurve_raw"]["data"][1]["name"] == "trend"
    # 5,760 points (40 d at 10 min): averaged to about one marker per pixel of the chart,
    # half as many for the light curve before detrending (there the trend matters)
    shown = {k: len(figures[k]["data"][0]["x"]) for k in ("lightcurve", "lightcurve_raw")}
    assert 1000 < shown["lightcurve"] <= _figures.DISPLAY_MAX_POINTS == 1200, shown
    assert 500 < shown["lightcurve_raw"] <= _figures.RAW_DISPLAY_MAX_POINTS == 600, shown
    for key in ("folded_global", "folded_local", "secondary"):
        assert len(figures[key]["data"][0]["x"]) <= _figures.FOLDED_MAX_POINTS == 400, key
    no_focus, why = _figures.lightcurve_figures(
        time_bjd=t,
        raw_flux=f,
        detrended_flux=f,
        trend=None,
        mission=None,
        ephemerides=[],
        focus=None,
    )
    assert "folded_local" not in no_focus and "ephemeris" in why["folded_local"]


def test_ephemeris_of_candidate_rows() -> None:
    row = SimpleNamespace(
        object_id="K00754.01",
        period_days=1.736952,
        t0_bjd=2455003.308,
        duration_hours=2.41,
        depth_ppm=8079.0,
        features={"odd_even_sigma": 1.2, "secondary_sigma": None, "secondary_snr": 4.0},
    )
    eph = _figures.ephemeris_of(row)
    assert eph is not None and eph.usable
    assert (eph.name, eph.odd_even_sigma, eph.secondary_sigma) == ("K00754.01", 1.2, 4.0)
    assert _figures.ephemeris_of(SimpleNamespace(period_days=None, t0_bjd=1.0)) is None
    assert _figures.ephemeris_of(SimpleNamespace(period_days=float("nan"), t0_bjd=1.0)) is None


def test_pr_from_roc_is_exact_at_roc_thresholds() -> None:
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 400)
    s = np.clip(0.4 * y + rng.normal(0.3, 0.2, y.size), 0, 1)
    roc = curves.roc_points(y, s)
    pr = curves.pr_points(y, s)
    derived = _figures.pr_from_roc(
        roc["fpr"], roc["tpr"], n_planet=int(y.sum()), n_false_positive=int((1 - y).sum())
    )
    # every derived (recall, precision) pair is a point of the exact curve
    exact = set(zip(np.round(pr["recall"], 12), np.round(pr["precision"], 12), strict=True))
    for r, p in zip(derived["recall"][1:], derived["precision"][1:], strict=True):
        assert (round(float(r), 12), round(float(p), 12)) in exact
    assert derived["prevalence"] == pytest.approx(y.mean())


def _block(with_curves: bool) -> dict:
    block = {
        "n_planet": 40,
        "n_false_positive": 60,
        "roc_auc": 0.9,
        "pr_auc": 0.85,
        "ece": 0.02,
        "confusion_matrix": [[50, 10], [5, 35]],
    }
    if with_curves:
        block["roc_curve"] = [[0.0, 0.0], [0.1, 0.6], [0.3, 0.9], [1.0, 1.0]]
        block["reliability"] = [
            {"mean_predicted": 0.1, "fraction_positive": 0.12, "count": 50},
            {"mean_predicted": 0.8, "fraction_positive": 0.75, "count": 50},
        ]
    return block


def test_model_figures_from_training_and_evaluation_metrics() -> None:
    importance = [
        {"feature": "planet_radius_rearth", "mean_abs_shap": 1.1},
        {"feature": "transit_snr", "mean_abs_shap": 0.5},
    ]
    # The calibration step's out-of-fold figures are no evaluation set: nothing to draw.
    figures, missing = _figures.model_figures({"oof": {"all": _block(True)}}, importance)
    assert set(figures) == {"importance"}
    assert set(missing) == {"confusion", "roc", "pr", "calibration"}
    assert "not evaluated on the named sets" in missing["roc"]
    evaluation = {
        "evaluation": {
            "kepler_cv": _block(True) | {"eval_set": "koi-grouped-cv-5fold", "roc_auc": 0.984},
            "cross_mission": {"tess": _block(True), "k2": None},
        },
        "oof": {"all": _block(False) | {"roc_auc": 0.977}},
    }
    figures, missing = _figures.model_figures(evaluation, importance)
    assert missing == {}
    assert [d["name"] for d in figures["roc"]["data"]] == [
        "koi-grouped-cv-5fold (AUC 0.984)",
        "toi-cross-mission (AUC 0.900)",
        "chance",
    ]
    assert figures["confusion"]["layout"]["title"]["text"].endswith("koi-grouped-cv-5fold")
    assert figures["calibration"]["layout"]["title"]["text"].endswith("koi-grouped-cv-5fold")
    # precision at (fpr 0.1, tpr 0.6): 24 planets / (24 + 6)
    assert 0.8 in figures["pr"]["data"][0]["y"]
    assert figures["calibration"]["data"][0]["customdata"] == [50, 50]
    assert figures["importance"]["data"][0]["y"] == ["transit_snr", "planet_radius_rearth"]
    # another set chosen: the confusion matrix and calibration draw that one
    chosen, _ = _figures.model_figures(evaluation, None, set_name="toi-cross-mission")
    assert chosen["confusion"]["layout"]["title"]["text"].endswith("toi-cross-mission")
    # a stored precision-recall curve ([[recall, precision], ...]) is drawn as stored
    stored = _block(True) | {"pr_curve": [[1.0, 0.4], [0.5, 0.9], [0.0, 1.0]]}
    figures, _ = _figures.model_figures(
        {"evaluation": {"kepler_cv": stored | {"eval_set": "koi-grouped-cv-5fold"}}}, None
    )
    pr_trace, no_skill = figures["pr"]["data"]
    assert (pr_trace["x"], pr_trace["y"]) == ([1.0, 0.5, 0.0], [0.4, 0.9, 1.0])
    assert pr_trace["name"].endswith("(AP 0.850)") and no_skill["y"] == [0.4, 0.4]
    assert figures["pr"]["layout"]["showlegend"] is True
    empty, why = _figures.model_figures({}, None)
    assert empty == {} and set(why) == {"confusion", "roc", "pr", "calibration", "importance"}
    _strict_json(figures)


def test_model_figures_and_headline_of_network_and_ensemble_versions() -> None:
    from exoguard.services.models import headline_metrics

    network = {
        "injected_test": _block(True) | {"roc_auc": 0.97},
        "catalog": {"kepler_holdout": _block(True), "cross_mission": {"tess": _block(False)}},
    }
    figures, missing = _figures.model_figures(network, None, kind="multibranch")
    assert missing == {"importance": "no feature importance stored with this version"}
    occlusion = [{"feature": "local view", "mean_abs_shap": 0.8}]
    axis = _figures.model_figures(network, occlusion, kind="multibranch")[0]["importance"]
    assert axis["layout"]["xaxis"]["title"]["text"] == "Mean |occlusion effect| (log-odds)"
    shap = _figures.model_figures(network, occlusion)[0]["importance"]
    assert shap["layout"]["xaxis"]["title"]["text"].startswith("Mean |SHAP value|")
    assert figures["confusion"]["layout"]["title"]["text"].endswith("injected-test")
    names = [d["name"] for d in figures["roc"]["data"]]
    assert names[:2] == ["injected-test (AUC 0.970)", "koi-holdout-stars (AUC 0.900)"]
    ensemble = {
        "sets": {"injected_test": {"ensemble": _block(True), "gbm": _block(False)}},
        "pooled_heldout": {"ensemble": {"roc_auc": 0.979, "n": 3006}},
    }
    figures, missing = _figures.model_figures(ensemble, None, kind="ensemble")
    assert "roc" in figures and figures["roc"]["data"][0]["name"].startswith("injected-test")
    pooled = headline_metrics("ensemble", ensemble)
    assert pooled["set"] == "injected-test+koi-holdout-stars" and pooled["roc_auc"] == 0.979
    assert headline_metrics("multibranch", network)["roc_auc"] == 0.97
    # gbm: the named 5-fold set, never the calibration step's out-of-fold figures
    assert headline_metrics("gbm", {"oof": {"all": {"roc_auc": 0.98}}}) == {
        "set": "koi-grouped-cv-5fold"
    }
    assert headline_metrics("gbm", None) == {"set": "koi-grouped-cv-5fold"}


def test_shap_figures_add_the_remainder() -> None:
    explanation = {
        "base_value": -0.5,
        "log_odds": 1.0,
        "n_features": 5,
        "contributions": [
            {"feature": "transit_snr", "value": 99.9, "contribution": 1.0},
            {"feature": "depth_ppm", "value": 6081.0, "contribution": 0.3},
        ],
    }
    figures, missing = _figures.shap_figures(explanation)
    wf = figures["shap"]["data"][0]
    assert missing == {}
    assert wf["y"][0] == "3 other features"
    # Plain words with the value, not machine names; the axis reads without "log-odds".
    assert wf["y"][-1] == "the signal is 99.9× the noise"
    assert "log-odds" not in figures["shap"]["layout"]["xaxis"]["title"]["text"]
    assert wf["base"][0] + sum(wf["x"]) == pytest.approx(1.0)
    assert _figures.shap_figures(None)[1] == {
        "shap": "no explanation stored for this prediction yet"
    }


def test_figure_cache_builds_once() -> None:
    cache = _figures.FigureCache(size=2)
    calls: list[int] = []

    def build(n: int) -> dict:
        calls.append(n)
        return {"n": n}

    assert cache.get_or_build(("a",), lambda: build(1)) == {"n": 1}
    assert cache.get_or_build(("a",), lambda: build(2)) == {"n": 1}
    cache.get_or_build(("b",), lambda: build(3))
    cache.get_or_build(("c",), lambda: build(4))  # evicts "a"
    assert cache.get_or_build(("a",), lambda: build(5)) == {"n": 5}
    assert calls == [1, 3, 4, 5]


def test_verdict_in_plain_words_follows_the_queue_policy() -> None:
    policy = QueuePolicy(uncertainty_threshold=0.15, ambiguous_band=(0.35, 0.65))
    assert verdict_of("planet", 0.9, 0.05, policy=policy)["words"] == "likely a planet"
    assert verdict_of("false_positive", 0.1, 0.05, policy=policy)["words"] == (
        "likely a false positive"
    )
    assert verdict_of("planet", 0.9, 0.2, policy=policy)["key"] == "uncertain"
    assert verdict_of("planet", 0.6, 0.01, policy=policy)["words"] == (
        "uncertain — sent to human vetters"
    )
    assert verdict_of(None, None, None, policy=policy)["key"] == "none"


def test_number_formatting_and_safe_redirects() -> None:
    assert _fmt(None) == "—" and _fmt(float("nan")) == "—"
    assert _fmt(3.28879, 5) == "3.2888"
    assert _fmt(6300.4) == "6,300"
    assert _fmt(2.5e-5) == "2.5e-05"
    assert safe_next("/vetting/3") == "/vetting/3"
    for bad in ("https://evil.example", "//evil.example", "/\\evil", None, ""):
        assert safe_next(bad) == "/"


def test_robust_range_ignores_outliers_but_keeps_the_signal() -> None:
    rng = np.random.default_rng(5)
    flux = 1 + rng.normal(0, 1e-4, 5000)
    flux[:3] = [1.05, 1.08, 0.95]  # cosmic rays and a glitch
    lo, hi = robust_range(flux, keep=[0.997, 1.0])
    assert lo < 0.997 and 1.0002 < hi < 1.01  # the 1.05-1.08 spikes are left out
    assert robust_range([], keep=[]) is None
