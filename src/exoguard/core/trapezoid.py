"""Trapezoid fit of a phase-folded transit: depth, total duration, ingress fraction.

The ingress (+ egress) fraction of the total duration is ~0.1 for a planet (U shape) and 0.5
for a grazing eclipse (V shape); :func:`exoguard.core.diagnostics.diagnose_transit` judges the
shape with it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from exoguard.core.lightcurve import FloatArray

__all__ = ["fit_trapezoid", "trapezoid_dip"]


def trapezoid_dip(dt: FloatArray, depth: float, t14: float, t12: float) -> FloatArray:
    """Trapezoid dip (fraction) at time offsets ``dt`` from the centre."""
    x = np.abs(dt)
    half = 0.5 * t14
    t12 = min(max(t12, 1e-9), half)
    model = np.where(x <= half - t12, depth, depth * (half - x) / t12)
    return np.asarray(np.where(x >= half, 0.0, model))


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

    def model(theta: FloatArray) -> FloatArray:
        base, dep, t14, frac, off = theta
        shifted = dt_days[:, None] - off + sub[None, :]
        dip = trapezoid_dip(shifted.ravel(), dep, t14, frac * t14).reshape(shifted.shape)
        return np.asarray(base - dip.mean(axis=1))

    def resid(theta: FloatArray) -> FloatArray:
        return (flux - model(theta)) / sigma

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
