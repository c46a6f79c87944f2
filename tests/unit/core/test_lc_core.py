"""LightCurve object, cleaning, normalisation, stitching and detrending."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from exoguard.core.cleaning import (
    KEPLER_BITMASKS,
    TESS_BITMASKS,
    clean,
    clip_upward_outliers,
    normalise_segments,
    oot_level,
    quality_good,
    resolve_quality_bitmask,
    stitch,
)
from exoguard.core.detrend import default_window_days, detrend, edge_linear_trend
from exoguard.core.lightcurve import LightCurve, fold_phase_days
from exoguard.errors import ValidationError

CADENCE_D = 1765.5 / 86400.0


def box_lc(
    *,
    n: int = 4000,
    level: float = 1.0,
    depth: float = 0.01,
    period: float = 3.0,
    duration: float = 0.15,
    noise: float = 1e-4,
    t_start: float = 2455000.0,
    seed: int = 0,
    target: str = "KIC 1",
) -> LightCurve:
    t = t_start + np.arange(n) * CADENCE_D
    rng = np.random.default_rng(seed)
    f = 1.0 + rng.normal(0, noise, n)
    phase = fold_phase_days(t, period_days=period, t0_bjd=t_start + 1.0)
    f[np.abs(phase) < duration / 2] -= depth
    return LightCurve.from_arrays(
        t,
        level * f,
        np.full(n, level * noise),
        mission="kepler",
        target_id=target,
        cadence_s=1765.5,
        sources=(f"{target}.fits",),
    )


def test_lightcurve_is_immutable_and_methods_return_new() -> None:
    lc = box_lc(n=200)
    with pytest.raises(dataclasses.FrozenInstanceError):
        lc.mission = "tess"  # type: ignore[misc]
    with pytest.raises(ValueError):
        lc.flux[0] = 2.0
    sub = lc.select(lc.time_bjd < lc.time_bjd[50], note="first 50")
    assert sub.n_points == 50 and lc.n_points == 200 and sub.notes[-1] == "first 50"
    masked = lc.with_mask(np.arange(200) < 10)
    assert masked.n_points == 190 and masked.time_bjd[0] == lc.time_bjd[10]
    assert lc.baseline_days == pytest.approx(199 * CADENCE_D)
    assert lc.time_btjd[0] == pytest.approx(lc.time_bjd[0] - 2457000.0)
    with pytest.raises(ValidationError, match="mission"):
        lc.replace(mission="hubble")
    with pytest.raises(ValidationError, match="flux has 3 values"):
        LightCurve(np.arange(4.0), np.ones(3), np.ones(4), np.zeros(4, int))
    d = lc.to_dict()
    assert len(d["time_bjd"]) == 200 and d["target_id"] == "KIC 1"


def test_fold_phase_range() -> None:
    t = np.linspace(0, 100, 10001)
    ph = fold_phase_days(t, period_days=7.0, t0_bjd=3.0)
    assert ph.min() >= -3.5 and ph.max() < 3.5
    assert ph[300] == pytest.approx(0.0)  # t = 3.0
    with pytest.raises(ValueError, match="period_days"):
        fold_phase_days(t, period_days=0.0, t0_bjd=0.0)


def test_quality_bitmasks_match_lightkurve_values() -> None:
    # lightkurve 2.6 KeplerQualityFlags / TessQualityFlags DEFAULT/HARD/HARDEST_BITMASK
    assert KEPLER_BITMASKS["default"] == 1130799 and TESS_BITMASKS["default"] == 17087
    assert resolve_quality_bitmask("hard", mission="tess") == 24319
    assert resolve_quality_bitmask(5, mission="kepler") == 5
    with pytest.raises(ValueError, match="hardest"):
        resolve_quality_bitmask("extreme", mission="kepler")
    good = quality_good(np.array([0, 1, 2048, 32, 3.0, np.nan]), KEPLER_BITMASKS["default"])
    # 2048 (stray light) is not in the default mask; 32 (desaturation) is; NaN reads as 0
    assert good.tolist() == [True, False, True, False, False, True]


def test_oot_level_ignores_transits() -> None:
    lc = box_lc(level=5000.0, depth=0.05, duration=0.4)  # ~13 % of points in transit
    # noise 0.5, depth 250: the naive median is pulled down by ~0.12, the clipped one not
    assert oot_level(lc.flux) == pytest.approx(5000.0, abs=0.03)
    assert np.median(lc.flux) < 5000.0 - 0.08


def test_normalise_keeps_depth_per_segment() -> None:
    a = box_lc(level=1000.0, seed=1)
    b = box_lc(level=3000.0, t_start=2455000.0 + 4000 * CADENCE_D + 5, seed=2)
    lc = stitch([normalise_segments(a), normalise_segments(b)])
    assert lc.n_segments == 2
    for _, idx in lc.iter_segments():
        f = lc.flux[idx]
        assert np.median(f[f > 0.995]) == pytest.approx(1.0, abs=2e-5)
        assert np.median(f[f < 0.995]) == pytest.approx(0.99, abs=1e-4)


def test_stitch_orders_segments_and_refuses_other_targets() -> None:
    late = box_lc(t_start=2456000.0, target="KIC 1")
    early = box_lc(t_start=2455000.0, target="KIC 0001")
    lc = stitch([late, early])
    assert lc.time_bjd[0] == pytest.approx(2455000.0)
    assert lc.segment[0] == 0 and lc.segment[-1] == 1
    with pytest.raises(ValidationError, match="different targets"):
        stitch([late, box_lc(target="KIC 2")])
    with pytest.raises(ValidationError, match="different missions"):
        stitch([late, box_lc(t_start=2457000.0).replace(mission="tess")])
    unknown = box_lc(t_start=2457000.0).replace(target_id="unknown")
    assert stitch([late, unknown]).target_id == "KIC 1"


def test_outliers_clipped_upwards_only() -> None:
    lc = box_lc(depth=0.01, noise=1e-4)
    f = lc.flux.copy()
    f[[100, 900, 2500]] += 0.02  # cosmic rays
    f[[300, 1700]] -= 0.02  # single low points stay (could be anything, never clipped)
    dirty = lc.with_flux(f)
    out = clip_upward_outliers(dirty, upper_sigma=5.0)
    assert dirty.n_points - out.n_points == 3
    kept_low = np.isin(dirty.time_bjd[[300, 1700]], out.time_bjd)
    assert kept_low.all()
    # every in-transit point is kept
    in_transit = dirty.flux < 0.995
    assert np.isin(dirty.time_bjd[in_transit], out.time_bjd).all()


def test_clean_pipeline_and_errors() -> None:
    lc = box_lc(level=2000.0)
    f = lc.flux.copy()
    f[:20] = np.nan
    cleaned = clean(lc.with_flux(f))
    assert cleaned.n_points == lc.n_points - 20
    assert abs(np.median(cleaned.flux) - 1) < 1e-4
    with pytest.raises(ValidationError, match="no finite value"):
        clean(lc.with_flux(np.full(lc.n_points, np.nan)))
    with pytest.raises(ValidationError, match="at least 50"):
        clean(lc.select(np.arange(30)))


def test_detrend_removes_trend_and_keeps_transit() -> None:
    lc = box_lc(depth=0.005, duration=0.1, noise=2e-4)  # 2.4-h transits
    t = lc.time_bjd
    trend_true = 1.0 + 0.01 * np.sin(2 * np.pi * (t - t[0]) / 12.0)
    wavy = lc.with_flux(lc.flux * trend_true)
    flat, trend = detrend(wavy, max_duration_hours=6.0)  # window 0.75 d = 7.5 durations
    assert default_window_days(6.0) == pytest.approx(0.75)
    assert flat.n_points == lc.n_points and trend.shape == (lc.n_points,)
    oot = lc.flux > 0.9975
    assert np.std(flat.flux[oot]) < 3e-4
    inner = oot & (t > t[0] + 0.375) & (t < t[-1] - 0.375)  # edges: one-sided windows
    err = np.abs(trend - trend_true)[inner]  # windows holding part of a transit are biased
    assert np.median(err) < 1e-4 and np.percentile(err, 95) < 3e-4
    depth = np.median(flat.flux[oot]) - np.median(flat.flux[~oot])
    assert depth == pytest.approx(0.005, rel=0.05)
    assert "wotan biweight" in flat.notes[-1]


def test_detrend_mask_protects_long_transit() -> None:
    # A transit as long as the window: the biweight eats part of it unless masked.
    lc = box_lc(depth=0.004, duration=0.5, period=5.0, noise=1e-4)
    in_transit = np.abs(lc.phase_days(period_days=5.0, t0_bjd=2455001.0)) < 0.25
    flat_plain, _ = detrend(lc, window_days=0.9)
    flat_masked, trend = detrend(
        lc, window_days=0.9, mask=np.abs(lc.phase_days(period_days=5.0, t0_bjd=2455001.0)) < 0.4
    )
    depth_plain = 1 - np.median(flat_plain.flux[in_transit])
    depth_masked = 1 - np.median(flat_masked.flux[in_transit])
    assert depth_masked == pytest.approx(0.004, rel=0.05)
    assert depth_plain < depth_masked
    assert np.all(np.isfinite(trend))
    with pytest.raises(ValueError, match="mask has shape"):
        detrend(lc, mask=np.zeros(3, bool))
    with pytest.raises(ValueError, match="biweight"):
        detrend(lc, method="spline")


def test_detrend_does_not_cross_segments() -> None:
    a = box_lc(n=1500, depth=0.0, seed=3)
    b = box_lc(n=1500, depth=0.0, seed=4, t_start=a.time_bjd[-1] + CADENCE_D)
    b = b.with_flux(b.flux * 1.02)  # a jump between files with no time gap
    lc = stitch([a, b])
    flat, _ = detrend(lc, window_days=1.0)
    assert np.max(np.abs(flat.flux - 1)) < 1e-3  # no ramp at the join


def _spotted(lc: LightCurve) -> tuple[LightCurve, np.ndarray]:
    """A spotted star's trend: 2 % modulation, at its steepest at both ends of the curve."""
    t = lc.time_bjd
    period = 2 * (t[-1] - t[0]) / 11  # 5.5 cycles: both ends at zero crossings
    trend_true = 1.0 + 0.02 * np.sin(2 * np.pi * (t - t[0]) / period)
    return lc.with_flux(lc.flux * trend_true), trend_true


def test_detrend_edges_follow_a_steep_trend() -> None:
    # wotan's one-sided edge windows lag the slope by ~ slope x window / 4 (ramps of
    # several parts per thousand on a spotted star); the local-linear edge fit does not.
    lc, trend_true = _spotted(box_lc(n=1500, depth=0.0, noise=2e-4, seed=5))
    t = lc.time_bjd
    edge = (t < t[0] + 0.75) | (t > t[-1] - 0.75)
    _, trend_loc = detrend(lc, window_days=1.5, edges="location")
    flat, trend_lin = detrend(lc, window_days=1.5)
    near = (t < t[0] + 0.25) | (t > t[-1] - 0.25)
    err_loc, err_lin = np.abs(trend_loc - trend_true), np.abs(trend_lin - trend_true)
    assert err_loc[near].max() > 5e-3  # the lag this guards against (measured 7.9e-3)
    assert err_lin[near].max() < 6e-4  # measured 3.7e-4
    # further in, both carry the biweight's curvature bias (interior max 2.1e-3)
    assert err_lin[edge].max() < err_lin[~edge].max()
    np.testing.assert_array_equal(trend_lin[~edge], trend_loc[~edge])  # interior untouched
    assert "local-linear edges" in flat.notes[-1]
    with pytest.raises(ValueError, match="linear"):
        detrend(lc, edges="cubic")


def test_detrend_edges_keep_a_transit_and_honour_the_mask() -> None:
    # A 2.4-h transit 0.2 d from the start: the robust weights ignore it; masking it
    # keeps the trend under it at the true level too.
    base = box_lc(n=1500, depth=0.0, noise=1e-4, seed=6)
    in_transit = np.abs(base.time_bjd - base.time_bjd[0] - 0.2) < 0.05
    base = base.with_flux(np.where(in_transit, base.flux - 0.004, base.flux))
    lc, trend_true = _spotted(base)
    assert in_transit.sum() >= 4
    flat, trend = detrend(lc, window_days=1.5)
    assert 1 - np.median(flat.flux[in_transit]) == pytest.approx(0.004, rel=0.15)
    near = np.abs(lc.time_bjd - (lc.time_bjd[0] + 0.2)) < 0.3
    assert np.max(np.abs(trend - trend_true)[near]) < 1e-3  # measured 6.5e-4
    flat_loc, _ = detrend(lc, window_days=1.5, edges="location")
    assert abs(1 - np.median(flat_loc.flux[in_transit]) - 0.004) > 1e-3  # lagged trend
    # masked points do not shape the edge fit: same trend as without the transit
    mask = np.abs(lc.time_bjd - lc.time_bjd[0] - 0.2) < 0.1
    _, trend_m = detrend(lc, window_days=1.5, mask=mask)
    no_transit, _ = _spotted(base.with_flux(np.where(in_transit, base.flux + 0.004, base.flux)))
    _, trend_free = detrend(no_transit, window_days=1.5, mask=mask)
    np.testing.assert_allclose(trend_m, trend_free, rtol=0, atol=1e-12)
    assert not np.allclose(trend, trend_free, rtol=0, atol=1e-5)


def _slow_edge_fit(
    t: np.ndarray,
    f: np.ndarray,
    start: float,
    t_i: float,
    half: float,
    n_iter: int = 8,
    c: float = 5.0,
) -> float:
    """Obviously-correct reference: IRLS with Tukey weights, one point at a time."""
    sel = (t >= t_i - half) & (t < t_i + half)
    x, y = t[sel] - t_i, f[sel]
    level, slope = start, 0.0
    for _ in range(n_iter):
        r = y - (level + slope * x)
        mad = np.median(np.abs(r))
        u = r / (c * mad) if mad > 0 else np.zeros_like(r)
        w = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
        a = np.vstack([np.ones_like(x), x]).T
        level, slope = np.linalg.solve(a.T @ (w[:, None] * a), a.T @ (w * y))
    return float(level)


def test_edge_linear_trend_matches_slow_reference() -> None:
    rng = np.random.default_rng(7)
    t = np.sort(rng.uniform(0, 4, 400))
    f = 1 + 0.01 * np.sin(t) + rng.normal(0, 5e-4, t.size)
    f[[3, 10, 390]] -= 0.01  # outliers the weights must drop
    start = np.full(t.size, np.median(f))
    fast = edge_linear_trend(t, f, start, window_days=1.0, max_nodes=None)
    edge = (t < t[0] + 0.5) | (t > t[-1] - 0.5)
    for i in np.flatnonzero(edge):
        assert fast[i] == pytest.approx(_slow_edge_fit(t, f, start[i], t[i], 0.5), abs=1e-9)
    np.testing.assert_array_equal(fast[~edge], start[~edge])
    # the default fits 32 nodes per edge and interpolates: the trend is smooth on that scale
    noded = edge_linear_trend(t, f, start, window_days=1.0)
    assert np.max(np.abs(noded - fast)[edge]) < 1e-4  # noise 5e-4
    np.testing.assert_array_equal(noded[~edge], start[~edge])
