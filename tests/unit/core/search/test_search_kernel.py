"""The numba BLS kernel against its slow reference, astropy, and the SDE."""

from __future__ import annotations

import numpy as np
import pytest

from exoguard.core.search import bls_periodogram, make_grid, sde_spectrum
from exoguard.core.search.kernel import (
    fixed_point_frequencies,
    phase_bins,
    quantise_times,
    warmup,
)
from exoguard.errors import ValidationError


def _box_lightcurve(
    rng: np.random.Generator,
    *,
    n: int = 600,
    span: float = 20.0,
    period: float = 2.6,
    t0: float = 0.7,
    half_width: float = 0.06,
    depth: float = 3e-3,
    noise: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.sort(rng.uniform(0.0, span, n)) + 2455000.0
    err = noise * (1.0 + 0.3 * rng.random(n))
    y = 1.0 + err * rng.standard_normal(n)
    phase = (t - 2455000.0 - t0 + 0.5 * period) % period - 0.5 * period
    y[np.abs(phase) < half_width] -= depth
    return t, y, err


def test_fixed_point_phases_match_floating_point() -> None:
    rng = np.random.default_rng(0)
    t_rel = np.sort(rng.uniform(0.0, 1500.0, 5000))
    periods = np.array([0.5, 3.3, 54.418383, 700.0])
    tq = quantise_times(t_rel)
    fq = fixed_point_frequencies(periods)
    for period, f in zip(periods, fq, strict=True):
        n_bins = 1 << 20
        bins = phase_bins(tq, f, n_bins).astype(np.float64)
        exact = np.mod(t_rel / period, 1.0) * n_bins
        # Within one bin of 2**-20 of a cycle (times are quantised to 1e-7 d).
        diff = np.abs(bins - np.floor(exact))
        diff = np.minimum(diff, n_bins - diff)
        assert diff.max() <= 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fast_kernel_matches_slow_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t, y, e = _box_lightcurve(rng, n=300)
    grid = make_grid(t, min_period_days=1.0, max_period_days=5.0, oversampling=0.3)
    assert 20 <= grid.n_periods <= 120
    fast = bls_periodogram(t, y, e, grid=grid, engine="fast")
    slow = bls_periodogram(t, y, e, grid=grid, engine="slow")
    assert fast.best_index == slow.best_index
    np.testing.assert_allclose(fast.power, slow.power, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(fast.depth, slow.depth, rtol=1e-6, atol=1e-12)
    best = fast.best_index
    assert fast.t0_bjd[best] == pytest.approx(slow.t0_bjd[best], abs=1e-9)
    assert fast.duration_days[best] == pytest.approx(slow.duration_days[best], abs=1e-12)


def test_recovers_an_injected_box() -> None:
    rng = np.random.default_rng(11)
    t, y, e = _box_lightcurve(rng, n=4000, period=3.4, t0=1.3, half_width=0.05, depth=2e-3)
    res = bls_periodogram(t, y, e, grid=make_grid(t))
    assert res.period_days == pytest.approx(3.4, rel=2e-3)
    assert res.best_depth == pytest.approx(2e-3, rel=0.15)
    assert res.duration * 24 == pytest.approx(2.4, rel=0.35)
    phase = ((res.t0 - 2455000.0 - 1.3) / 3.4) % 1.0
    assert min(phase, 1 - phase) * 3.4 < 0.05
    assert res.sde > 10
    # Power is half the squared depth SNR.
    assert res.power[res.best_index] == pytest.approx(0.5 * res.best_snr**2, rel=1e-9)


def test_astropy_engine_agrees_on_the_same_grid() -> None:
    rng = np.random.default_rng(5)
    t, y, e = _box_lightcurve(rng, n=3000, period=2.2, t0=0.4, half_width=0.05, depth=2e-3)
    grid = make_grid(t, max_period_days=6.0)
    ours = bls_periodogram(t, y, e, grid=grid, engine="fast")
    theirs = bls_periodogram(t, y, e, grid=grid, engine="astropy")
    assert ours.period_days == pytest.approx(theirs.period_days, rel=1e-3)
    assert ours.best_depth == pytest.approx(theirs.best_depth, rel=0.1)
    assert ours.engine == "fast" and theirs.engine == "astropy"


def test_flat_light_curve_has_no_dip() -> None:
    t = np.linspace(0.0, 10.0, 200)
    res = bls_periodogram(t, np.ones_like(t), np.full(t.size, 1e-3), grid=make_grid(t))
    assert np.all(res.power == 0.0)
    assert res.sde == 0.0


def test_progress_is_reported_up_to_the_total() -> None:
    rng = np.random.default_rng(2)
    t, y, e = _box_lightcurve(rng)
    calls: list[tuple[int, int]] = []
    grid = make_grid(t)
    bls_periodogram(t, y, e, grid=grid, progress=lambda d, n: calls.append((d, n)), n_chunks=5)
    assert calls[-1] == (grid.n_periods, grid.n_periods)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert len(calls) == 5


def test_input_validation() -> None:
    t = np.linspace(0, 10, 40)
    with pytest.raises(ValidationError, match="at least 50"):
        bls_periodogram(t, np.ones_like(t), grid=make_grid(t))
    t = np.linspace(0, 10, 100)
    with pytest.raises(ValueError, match="engine must be one of"):
        bls_periodogram(t, np.ones_like(t), grid=make_grid(t), engine="gpu")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="one length"):
        bls_periodogram(t, np.ones(99), grid=make_grid(t))


def test_unsorted_input_and_missing_errors_are_handled() -> None:
    rng = np.random.default_rng(9)
    t, y, e = _box_lightcurve(rng, n=2000)
    order = rng.permutation(t.size)
    grid = make_grid(t)
    a = bls_periodogram(t, y, e, grid=grid)
    b = bls_periodogram(t[order], y[order], e[order], grid=grid)
    np.testing.assert_allclose(a.power, b.power, rtol=1e-9)
    c = bls_periodogram(t, y, None, grid=grid)
    assert c.period_days == pytest.approx(a.period_days, rel=1e-3)


def test_sde_of_pure_noise_is_small_and_of_a_signal_large() -> None:
    rng = np.random.default_rng(4)
    periods = np.sort(1.0 / np.linspace(1 / 13.5, 2.0, 3000))
    noise = 5.0 + rng.standard_normal(periods.size)
    _, sde_noise = sde_spectrum(periods, noise, baseline_days=27.0)
    with_peak = noise.copy()
    with_peak[1500] += 12.0
    spectrum, sde_peak = sde_spectrum(periods, with_peak, baseline_days=27.0)
    assert sde_noise < 4.5
    assert sde_peak > 10
    assert int(np.argmax(spectrum)) == 1500


def test_sde_removes_a_trend() -> None:
    rng = np.random.default_rng(8)
    periods = np.sort(1.0 / np.linspace(1 / 13.5, 2.0, 3000))
    noise = rng.standard_normal(periods.size)
    _, sde_flat = sde_spectrum(periods, 5.0 + noise, baseline_days=27.0)
    # A rising noise floor (as BLS spectra have towards long periods) changes little.
    _, sde_trend = sde_spectrum(periods, 3.0 + 2.0 * np.log(periods) + noise, baseline_days=27.0)
    assert sde_trend == pytest.approx(sde_flat, abs=0.5)
    _, sde_raw = sde_spectrum(
        periods, 3.0 + 2.0 * np.log(periods) + noise, baseline_days=27.0, window_independent=1e9
    )
    assert sde_raw > sde_trend


def test_warmup_runs() -> None:
    warmup()
