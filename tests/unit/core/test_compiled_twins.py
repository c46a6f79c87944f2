"""Compiled kernels of the per-star path against their numpy references: the same numbers.

Each kernel repeats its reference's floating-point operations in the same order (numpy's
pairwise summation and median included), so the tests ask for equality to the last bit: a
change to either side that changes a result fails here.
"""

from __future__ import annotations

import numpy as np
import pytest

import exoguard.core.detrend as detrend_module
from exoguard.core.detrend import detrend
from exoguard.core.edge_nodes import fit_edge_nodes, fit_edge_nodes_reference, pairwise_sum
from exoguard.core.lightcurve import LightCurve
from exoguard.core.search.engine import sde_spectrum
from exoguard.core.search.kernel import window_medians
from exoguard.core.trapezoid import (
    fit_trapezoid,
    trapezoid_residuals,
    trapezoid_residuals_reference,
)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 256, 1000, 1537, 9000, 20000])
def test_pairwise_sum_is_numpys_sum(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.standard_normal(n + 5) * 10 ** rng.uniform(-6, 6, n + 5)
    assert pairwise_sum(a, 3, n) == np.sum(a[3 : 3 + n])


def test_window_medians_are_numpys_medians() -> None:
    rng = np.random.default_rng(0)
    for k in range(30):
        n = int(rng.integers(1, 3000))
        values = rng.standard_normal(n) * 10 ** rng.uniform(-3, 3)
        if k % 3 == 0:
            values = np.round(values, 1)  # ties
        lo = rng.integers(0, n, 40)
        hi = np.minimum(lo + rng.integers(-5, 400, 40), n)
        expected = [
            np.median(values[a:b]) if b > a else np.nan for a, b in zip(lo, hi, strict=True)
        ]
        np.testing.assert_array_equal(window_medians(values, lo, hi), expected)


def test_sde_spectrum_is_unchanged_by_the_compiled_medians() -> None:
    rng = np.random.default_rng(3)
    periods = np.sort(rng.uniform(0.5, 13.0, 3000))
    snr = np.abs(rng.standard_normal(3000)) + 0.1 * periods
    spectrum, sde = sde_spectrum(periods, snr, baseline_days=27.0)
    # the reference: numpy medians of the same windows, as the spectrum used to take them
    u = (1.0 / periods) ** (1.0 / 3.0)
    order = np.argsort(u)
    u_s, s_s = u[order], snr[order]
    from exoguard.core.search.engine import _independent_step_u

    width = 30.0 * _independent_step_u(27.0)
    anchors = np.arange(u_s[0], u_s[-1] + width / 4.0, width / 4.0)
    lo = np.searchsorted(u_s, anchors - width / 2.0, side="left")
    hi = np.searchsorted(u_s, anchors + width / 2.0, side="right")
    med = np.array([np.median(s_s[a:b]) if b > a else np.nan for a, b in zip(lo, hi, strict=True)])
    ok = np.isfinite(med)
    resid = np.empty_like(s_s)
    resid[order] = s_s - np.interp(u_s, anchors[ok], med[ok])
    centre = np.median(resid)
    scale = 1.4826 * np.median(np.abs(resid - centre))
    np.testing.assert_array_equal(spectrum, (resid - centre) / scale)
    assert sde == float(np.max(spectrum))


@pytest.mark.parametrize("exposure_days", [0.0, 2.0 / 1440.0, 30.0 / 1440.0])
def test_trapezoid_residuals_match_the_reference_bit_for_bit(exposure_days: float) -> None:
    rng = np.random.default_rng(11)
    n = 2500
    dt = rng.uniform(-0.4, 0.4, n)
    flux = 1.0 + 1e-3 * rng.standard_normal(n)
    sigma = np.full(n, 1e-3) * (1 + rng.random(n))
    sub = np.linspace(-0.4, 0.4, 5) * exposure_days if exposure_days > 0 else np.zeros(1)
    for _ in range(200):
        theta = np.array(
            [
                1 + 1e-4 * rng.standard_normal(),
                rng.uniform(0.0, 0.02),
                rng.uniform(0.005, 0.4),
                rng.uniform(0.0, 0.7),  # beyond 0.5: the ingress is clipped to half
                rng.uniform(-0.05, 0.05),
            ]
        )
        np.testing.assert_array_equal(
            trapezoid_residuals(theta, dt, flux, sigma, sub),
            trapezoid_residuals_reference(theta, dt, flux, sigma, sub),
        )


def test_trapezoid_fit_is_the_fit_of_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    dt = np.sort(rng.uniform(-0.3, 0.3, 1500))
    x = np.abs(dt)
    truth = np.where(x < 0.04, 4e-3, np.where(x < 0.06, 4e-3 * (0.06 - x) / 0.02, 0.0))
    flux = 1.0 - truth + 5e-4 * rng.standard_normal(dt.size)
    sigma = np.full(dt.size, 5e-4)
    kwargs = {"depth": 3e-3, "duration_days": 0.1, "exposure_days": 2.0 / 1440.0}
    fast = fit_trapezoid(dt, flux, sigma, **kwargs)
    import exoguard.core.trapezoid as trapezoid_module

    monkeypatch.setattr(trapezoid_module, "trapezoid_residuals", trapezoid_residuals_reference)
    slow = fit_trapezoid(dt, flux, sigma, **kwargs)
    assert fast == slow
    assert fast["duration_days"] == pytest.approx(0.12, rel=0.05)


def _edge_case(rng: np.random.Generator, k: int) -> tuple[tuple[np.ndarray, ...], dict]:
    n = int(rng.integers(5, 3000))
    t_pool = np.sort(rng.uniform(0.0, 2.0, n))
    f_pool = 1.0 + rng.standard_normal(n) * 10 ** rng.uniform(-5, -2)
    ok = rng.uniform(size=n) > 0.1
    t_edge = np.sort(rng.uniform(0.0, 2.0, int(rng.integers(1, 40))))
    start = 1.0 + 1e-3 * rng.standard_normal(t_edge.size)
    if k % 3 == 0:
        start[::2] = np.nan  # no location estimate: the window median starts the fit
    half = float(rng.uniform(0.05, 1.0))
    return (t_edge, start, t_pool, f_pool, ok), {"half": half, "n_iter": 8, "c": 5.0}


def test_edge_fit_kernel_matches_the_reference_bit_for_bit() -> None:
    rng = np.random.default_rng(21)
    for k in range(150):
        args, kwargs = _edge_case(rng, k)
        np.testing.assert_array_equal(
            fit_edge_nodes(*args, **kwargs), fit_edge_nodes_reference(*args, **kwargs)
        )


def test_detrend_is_unchanged_by_the_edge_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    t = 2458000.0 + np.concatenate([np.arange(0, 12, 2 / 1440), np.arange(13, 26, 2 / 1440)])
    flux = 1 + 3e-3 * np.sin(t / 1.7) + 0.004 * (t - t[0]) / 26 + 4e-4 * rng.standard_normal(t.size)
    lc = LightCurve.from_arrays(t, flux, np.full(t.size, 4e-4), target_id="TIC 1")
    mask = np.zeros(t.size, dtype=bool)
    mask[(t - t[0]) % 3.1 < 0.2] = True
    fast = [detrend(lc, window_days=w, mask=m)[1] for w in (0.7, 1.5) for m in (None, mask)]
    monkeypatch.setattr(detrend_module, "fit_edge_nodes", fit_edge_nodes_reference)
    slow = [detrend(lc, window_days=w, mask=m)[1] for w in (0.7, 1.5) for m in (None, mask)]
    for a, b in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(a, b)


def test_box_means_kernel_matches_the_numpy_version_bit_for_bit() -> None:
    from exoguard.core.search.single import _box_means_kernel, _box_means_numpy

    rng = np.random.default_rng(8)
    for k in range(40):
        n = int(rng.integers(1, 4000))
        t = np.sort(rng.uniform(0.0, 27.0, n))
        if k % 4 == 0:
            t = np.round(t, 2)  # repeated times: points on the window edges
        y = 1.0 + 1e-3 * rng.standard_normal(n)
        half = float(rng.uniform(0.005, 0.5))
        means, counts = _box_means_kernel(t, y, half)
        ref_means, ref_counts = _box_means_numpy(t, y, half)
        np.testing.assert_array_equal(counts, ref_counts)
        np.testing.assert_array_equal(means, ref_means)
