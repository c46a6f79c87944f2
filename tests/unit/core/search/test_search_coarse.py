"""Coarse-to-fine BLS against the full grid, the slow reference, and on noise."""

from __future__ import annotations

import numpy as np
import pytest

from exoguard.core.search import bls_periodogram, make_grid
from exoguard.core.search.coarse import (
    COARSE_MIN_PERIODS,
    auto_coarse_stride,
    coarse_indices,
    refine_indices,
)


def _light_curve(
    seed: int, *, span: float = 90.0, n: int = 4000, period: float | None = 7.3, depth: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, span, n)) + 2455000.0
    err = np.full(n, 1e-3)
    y = 1.0 + err * rng.standard_normal(n)
    if period is not None and depth > 0:
        phase = (t - 2455000.0 - 1.1 + 0.5 * period) % period - 0.5 * period
        y[np.abs(phase) < 0.07] -= depth
    return t, y, err


def test_refine_indices_are_the_neighbours_of_the_highest_maxima() -> None:
    coarse = coarse_indices(30, 3)
    spectrum = np.zeros(coarse.size)
    spectrum[4] = 5.0  # grid index 12
    spectrum[0] = 3.0  # grid index 0, at the edge
    spectrum[7] = 1.0  # a lower maximum, not among the two chosen
    fine = refine_indices(spectrum, coarse, n_periods=30, stride=3, n_peaks=2)
    assert fine.tolist() == [1, 2, 4, 5, 7, 8, 10, 11, 13, 14, 16, 17]
    assert refine_indices(spectrum, coarse, n_periods=30, stride=1).size == 0


def test_only_long_ofir_grids_are_searched_in_two_stages() -> None:
    short = make_grid(baseline_days=27.0)
    long = make_grid(baseline_days=1470.0)
    assert short.n_periods < COARSE_MIN_PERIODS <= long.n_periods
    assert auto_coarse_stride(short) == 1
    assert auto_coarse_stride(long) == 3
    assert auto_coarse_stride(make_grid(baseline_days=1470.0, oversampling=2.0)) == 2
    assert auto_coarse_stride(long.subset(long.periods_days[::2])) == 1  # custom grids: full


def test_astropy_searches_every_period() -> None:
    t, y, e = _light_curve(0, span=20.0, n=400)
    grid = make_grid(t, min_period_days=1.0, max_period_days=3.0, oversampling=0.5)
    with pytest.raises(ValueError, match="coarse_stride must be 1"):
        bls_periodogram(t, y, e, grid=grid, engine="astropy", coarse_stride=3)
    with pytest.raises(ValueError, match="coarse_stride must be >= 1"):
        bls_periodogram(t, y, e, grid=grid, coarse_stride=0)


@pytest.mark.parametrize(("seed", "period", "depth"), [(1, 7.3, 1.2e-3), (2, 2.17, 8e-4)])
def test_coarse_to_fine_finds_the_full_grids_peak(seed: int, period: float, depth: float) -> None:
    t, y, e = _light_curve(seed, period=period, depth=depth)
    grid = make_grid(t)
    full = bls_periodogram(t, y, e, grid=grid, coarse_stride=1)
    c2f = bls_periodogram(t, y, e, grid=grid, coarse_stride=3)
    assert c2f.coarse_stride == 3 and full.coarse_stride == 1
    assert c2f.periods_days.size < 0.6 * grid.n_periods
    # The same kernel on the same periods: identical values where both evaluated.
    idx = np.searchsorted(full.periods_days, c2f.periods_days)
    np.testing.assert_array_equal(full.periods_days[idx], c2f.periods_days)
    np.testing.assert_array_equal(full.power[idx], c2f.power)
    np.testing.assert_array_equal(full.t0_bjd[idx], c2f.t0_bjd)
    # The peak is the full grid's, with its neighbours (what refine_peak reads).
    assert c2f.period_days == full.period_days
    assert c2f.period_days == pytest.approx(period, rel=2e-3)
    best = int(np.searchsorted(full.periods_days, c2f.period_days))
    assert set(full.periods_days[best - 2 : best + 3]) <= set(c2f.periods_days)
    # The SDE scale comes from the coarse third of the periods: within a few per cent.
    assert c2f.sde == pytest.approx(full.sde, rel=0.05)


def test_coarse_to_fine_fast_matches_slow_reference() -> None:
    t, y, e = _light_curve(3, span=30.0, n=300, period=2.6, depth=3e-3)
    grid = make_grid(t, min_period_days=1.0, max_period_days=4.0, oversampling=0.6)
    assert 60 <= grid.n_periods <= 300
    fast = bls_periodogram(t, y, e, grid=grid, coarse_stride=3, engine="fast")
    slow = bls_periodogram(t, y, e, grid=grid, coarse_stride=3, engine="slow")
    np.testing.assert_array_equal(fast.periods_days, slow.periods_days)
    np.testing.assert_allclose(fast.power, slow.power, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(fast.spectrum, slow.spectrum, rtol=1e-6, atol=1e-6)
    assert fast.best_index == slow.best_index


def test_noise_scores_about_the_same_sde() -> None:
    # The false-alarm decision (SDE against the 6.5 threshold) rests on the highest noise peak.
    # The coarse stage estimates the spectrum's running median and scale from a third of the
    # periods: on these ten noise curves that moves the SDE by -0.25 to +0.45 (mean +0.1), as
    # much as taking another third of the full grid does.
    full_sde, c2f_sde = [], []
    for seed in range(10, 20):
        t, y, e = _light_curve(seed, period=None)
        grid = make_grid(t)
        full = bls_periodogram(t, y, e, grid=grid, coarse_stride=1)
        c2f = bls_periodogram(t, y, e, grid=grid, coarse_stride=3)
        assert c2f.period_days == full.period_days  # the same highest noise peak
        full_sde.append(full.sde)
        c2f_sde.append(c2f.sde)
    diff = np.array(c2f_sde) - np.array(full_sde)
    assert np.max(np.abs(diff)) < 0.5
    assert abs(np.mean(diff)) < 0.2
    threshold = 6.5
    assert [s >= threshold for s in c2f_sde] == [s >= threshold for s in full_sde]
