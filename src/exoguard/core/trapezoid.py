"""Trapezoid fit of a phase-folded transit: depth, total duration, ingress fraction.

The ingress (+ egress) fraction of the total duration is ~0.1 for a planet (U shape) and 0.5
for a grazing eclipse (V shape); :func:`exoguard.core.diagnostics.diagnose_transit` judges the
shape with it.

The fit's residuals are computed by a compiled kernel (:func:`trapezoid_residuals`: one pass,
no temporary arrays; the optimiser calls it a few hundred times per fit) that does the same
floating-point operations in the same order as its numpy reference
(:func:`trapezoid_residuals_reference`), so the fit is the same to the last bit; the tests
check both against each other.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from exoguard.core.lightcurve import FloatArray

__all__ = [
    "fit_trapezoid",
    "trapezoid_dip",
    "trapezoid_residuals",
    "trapezoid_residuals_reference",
]


def trapezoid_dip(dt: FloatArray, depth: float, t14: float, t12: float) -> FloatArray:
    """Trapezoid dip (fraction) at time offsets ``dt`` from the centre."""
    x = np.abs(dt)
    half = 0.5 * t14
    t12 = min(max(t12, 1e-9), half)
    model = np.where(x <= half - t12, depth, depth * (half - x) / t12)
    return np.asarray(np.where(x >= half, 0.0, model))


def trapezoid_residuals_reference(
    theta: FloatArray, dt_days: FloatArray, flux: FloatArray, sigma: FloatArray, sub: FloatArray
) -> FloatArray:
    """``(flux - model) / sigma`` of the exposure-averaged trapezoid (numpy; the reference).

    Parameters
    ----------
    theta : ndarray of shape (5,)
        Baseline, depth, total duration (days), ingress fraction, centre offset (days).
    dt_days, flux, sigma : ndarray of shape (n,)
        Time from the transit centre (days), flux and 1-sigma errors.
    sub : ndarray of shape (k,)
        Sub-sample offsets within an exposure (days); the model is their mean.

    Returns
    -------
    ndarray of shape (n,)
    """
    base, dep, t14, frac, off = theta
    shifted = dt_days[:, None] - off + sub[None, :]
    dip = trapezoid_dip(shifted.ravel(), dep, t14, frac * t14).reshape(shifted.shape)
    return np.asarray((flux - (base - dip.mean(axis=1))) / sigma)


@njit(cache=True, nogil=True)
def _residuals_kernel(  # pragma: no cover - compiled
    theta: FloatArray, dt_days: FloatArray, flux: FloatArray, sigma: FloatArray, sub: FloatArray
) -> FloatArray:
    base = theta[0]
    dep = theta[1]
    t14 = theta[2]
    off = theta[4]
    half = 0.5 * t14
    t12 = min(max(theta[3] * t14, 1e-9), half)
    flat_end = half - t12
    k = sub.size
    out = np.empty(dt_days.size)
    for i in range(dt_days.size):
        shifted = dt_days[i] - off
        total = 0.0  # summed in order, as numpy sums a row of fewer than 8 values
        for j in range(k):
            x = abs(shifted + sub[j])
            if x >= half:
                value = 0.0
            elif x <= flat_end:
                value = dep
            else:
                value = dep * (half - x) / t12
            total += value
        out[i] = (flux[i] - (base - total / k)) / sigma[i]
    return out


def trapezoid_residuals(
    theta: FloatArray, dt_days: FloatArray, flux: FloatArray, sigma: FloatArray, sub: FloatArray
) -> FloatArray:
    """:func:`trapezoid_residuals_reference`, compiled (the same values, bit for bit)."""
    return np.asarray(
        _residuals_kernel(np.ascontiguousarray(theta, dtype=np.float64), dt_days, flux, sigma, sub)
    )


def fit_trapezoid(
    dt_days: FloatArray,
    flux: FloatArray,
    sigma: FloatArray,
    *,
    depth: float,
    duration_days: float,
    exposure_days: float = 0.0,
) -> dict[str, float]:
    """Least-squares trapezoid fit to phase-folded data, averaged over the exposure time.

    Parameters
    ----------
    dt_days : ndarray of shape (n,)
        Time from the transit centre (phase-folded), days.
    flux, sigma : ndarray of shape (n,)
        Detrended flux (~1) and 1-sigma errors.
    depth, duration_days : float
        Starting values (fractional depth, total duration).
    exposure_days : float
        Exposure (cadence) time the model is averaged over (5 sub-samples).

    Returns
    -------
    dict
        ``depth``, ``duration_days`` (first to fourth contact), ``ingress_days``,
        ``ingress_fraction`` (ingress / total, 0-0.5), ``t_offset_days`` (centre shift),
        ``baseline``, ``chi2``, ``success`` (1.0 or 0.0); NaN values when the fit fails.
    """
    from scipy.optimize import least_squares

    nan = {
        "depth": math.nan,
        "duration_days": math.nan,
        "ingress_days": math.nan,
        "ingress_fraction": math.nan,
        "t_offset_days": math.nan,
        "baseline": math.nan,
        "chi2": math.nan,
        "success": 0.0,
    }
    if dt_days.size < 8 or not (depth > 0 and duration_days > 0):
        return nan
    sub = np.linspace(-0.4, 0.4, 5) * exposure_days if exposure_days > 0 else np.zeros(1)

    dt_c, flux_c, sigma_c, sub_c = (
        np.ascontiguousarray(a, dtype=np.float64) for a in (dt_days, flux, sigma, sub)
    )

    def resid(theta: FloatArray) -> FloatArray:
        return trapezoid_residuals(theta, dt_c, flux_c, sigma_c, sub_c)

    x0 = np.array([1.0, depth, duration_days, 0.15, 0.0])
    lower = [0.5, 0.0, 0.2 * duration_days, 0.01, -0.5 * duration_days]
    upper = [1.5, max(10 * depth, 1e-3), 3.0 * duration_days, 0.5, 0.5 * duration_days]
    x0 = np.clip(x0, np.array(lower) + 1e-12, np.array(upper) - 1e-12)
    best: Any = None
    for frac0 in (0.1, 0.3, 0.45):
        x0[3] = frac0
        try:
            res = least_squares(resid, x0, bounds=(lower, upper), x_scale="jac", max_nfev=400)
        except (ValueError, np.linalg.LinAlgError):
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:
        return nan
    base, dep, t14, frac, off = (float(v) for v in best.x)
    return {
        "depth": dep,
        "duration_days": t14,
        "ingress_days": frac * t14,
        "ingress_fraction": frac,
        "t_offset_days": off,
        "baseline": base,
        "chi2": float(2.0 * best.cost),
        "success": 1.0 if best.success else 0.0,
    }
