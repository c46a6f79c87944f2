"""Measurements of a transit signal at a given ephemeris: which points are in transit, how
many transits have data, box depths (all, odd and even) and the deepest secondary eclipse.

:mod:`exoguard.core.diagnostics` combines them into the vetting diagnostics.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from exoguard.core.lightcurve import FloatArray, fold_phase_days

__all__ = [
    "box_depth",
    "count_transits",
    "odd_even_depths",
    "secondary_eclipse",
    "transit_mask",
    "transit_numbers",
]


def transit_mask(
    time_bjd: FloatArray,
    *,
    period_days: float,
    t0_bjd: float,
    duration_days: float,
    width_factor: float = 1.0,
) -> NDArray[np.bool_]:
    """True for points within ``width_factor * duration / 2`` of a transit centre. Shape (n,)."""
    phase = fold_phase_days(time_bjd, period_days=period_days, t0_bjd=t0_bjd)
    return np.asarray(np.abs(phase) < 0.5 * width_factor * duration_days)


def transit_numbers(time_bjd: ArrayLike, *, period_days: float, t0_bjd: float) -> NDArray[np.int64]:
    """Number of the nearest transit (``round((t - t0) / P)``) of each time, shape (n,)."""
    t = np.asarray(time_bjd, dtype=np.float64)
    return np.rint((t - t0_bjd) / period_days).astype(np.int64)


def count_transits(
    time_bjd: FloatArray,
    *,
    period_days: float,
    t0_bjd: float,
    duration_days: float,
    cadence_days: float | None = None,
    min_coverage: float = 0.25,
) -> tuple[int, int]:
    """Transits with data, and transit epochs inside the time span.

    A transit counts when at least ``min_coverage`` of the cadences expected inside it (from
    the median cadence) are present, and at least one point.

    Returns
    -------
    n_with_data : int
    n_in_span : int
        Epochs whose centre lies between the first and last time.
    """
    t = np.asarray(time_bjd, dtype=np.float64)
    if t.size == 0:
        return 0, 0
    if cadence_days is None:
        dt = np.diff(t)
        dt = dt[dt > 0]
        cadence_days = float(np.median(dt)) if dt.size else duration_days
    inside = transit_mask(t, period_days=period_days, t0_bjd=t0_bjd, duration_days=duration_days)
    epochs = transit_numbers(t[inside], period_days=period_days, t0_bjd=t0_bjd)
    expected = max(duration_days / max(cadence_days, 1e-9), 1.0)
    need = max(1, int(math.ceil(min_coverage * expected)))
    _, counts = np.unique(epochs, return_counts=True)
    n_with = int(np.sum(counts >= need))
    first = math.ceil((t[0] - t0_bjd) / period_days)
    last = math.floor((t[-1] - t0_bjd) / period_days)
    return n_with, max(0, last - first + 1)


def _weighted_mean(values: FloatArray, sigma: FloatArray) -> tuple[float, float]:
    if values.size == 0:
        return math.nan, math.inf
    w = 1.0 / sigma**2
    sw = float(np.sum(w))
    return float(np.sum(w * values) / sw), math.sqrt(1.0 / sw)


def box_depth(
    flux: FloatArray,
    sigma: FloatArray,
    inside: NDArray[np.bool_],
    baseline: NDArray[np.bool_],
) -> tuple[float, float, int]:
    """Weighted mean flux of ``baseline`` minus that of ``inside``.

    Returns
    -------
    depth, depth_err : float
        Fractional depth and its 1-sigma error (NaN, inf when either set is empty).
    n_in : int
        Points inside.
    """
    m_in, e_in = _weighted_mean(flux[inside], sigma[inside])
    m_out, e_out = _weighted_mean(flux[baseline], sigma[baseline])
    n_in = int(np.sum(inside))
    if not (np.isfinite(m_in) and np.isfinite(m_out)):
        return math.nan, math.inf, n_in
    return m_out - m_in, math.hypot(e_in, e_out), n_in


def odd_even_depths(
    time_bjd: FloatArray,
    flux: FloatArray,
    sigma: FloatArray,
    *,
    period_days: float,
    t0_bjd: float,
    duration_days: float,
    baseline: NDArray[np.bool_],
) -> tuple[float, float, float, float, float]:
    """Depths of odd and even transits (inner 80 % of the duration) and their difference.

    Returns
    -------
    depth_odd, err_odd, depth_even, err_even : float
    sigma : float
        ``|odd - even| / sqrt(err_odd^2 + err_even^2)``; NaN if a parity has no data.
    """
    inside = transit_mask(
        time_bjd, period_days=period_days, t0_bjd=t0_bjd, duration_days=0.8 * duration_days
    )
    odd = (transit_numbers(time_bjd, period_days=period_days, t0_bjd=t0_bjd) % 2) == 1
    d_odd, e_odd, _ = box_depth(flux, sigma, inside & odd, baseline)
    d_even, e_even, _ = box_depth(flux, sigma, inside & ~odd, baseline)
    if not (np.isfinite(d_odd) and np.isfinite(d_even)):
        return d_odd, e_odd, d_even, e_even, math.nan
    return d_odd, e_odd, d_even, e_even, abs(d_odd - d_even) / math.hypot(e_odd, e_even)


def secondary_eclipse(
    time_bjd: FloatArray,
    flux: FloatArray,
    sigma: FloatArray,
    *,
    period_days: float,
    t0_bjd: float,
    duration_days: float,
    phase_range: tuple[float, float] = (0.35, 0.65),
) -> tuple[float, float, float, float]:
    """The most significant dip of the transit's duration within ``phase_range``.

    Boxes of the transit duration are centred every quarter duration across the phase range;
    the baseline is all points outside the primary transits and outside the box.

    Returns
    -------
    depth, depth_err : float
        Fractional depth of the best box (may be negative: a brightening) and its error.
    sigma : float
        ``depth / depth_err`` of the best box (the maximum over trials, so biased upward by the
        number of trials, about ``(phase span) * P / (duration / 4)``).
    phase : float
        Phase (0-1, transit at 0) of the best box.
    """
    phase = np.mod((np.asarray(time_bjd) - t0_bjd) / period_days, 1.0)
    primary = transit_mask(
        time_bjd, period_days=period_days, t0_bjd=t0_bjd, duration_days=1.5 * duration_days
    )
    half_q = 0.5 * duration_days / period_days
    step = max(0.25 * duration_days / period_days, 1e-4)
    centres = np.arange(phase_range[0], phase_range[1] + 0.5 * step, step)
    best = (math.nan, math.inf, math.nan, math.nan)
    w = 1.0 / sigma**2
    sum_w_all = float(np.sum(w[~primary]))
    sum_wy_all = float(np.sum((w * flux)[~primary]))
    order = np.argsort(phase)
    ph_sorted = phase[order]
    cw = np.concatenate([[0.0], np.cumsum(np.where(primary, 0.0, w)[order])])
    cwy = np.concatenate([[0.0], np.cumsum(np.where(primary, 0.0, w * flux)[order])])
    lo = np.searchsorted(ph_sorted, centres - half_q, side="left")
    hi = np.searchsorted(ph_sorted, centres + half_q, side="right")
    w_in = cw[hi] - cw[lo]
    wy_in = cwy[hi] - cwy[lo]
    w_out = sum_w_all - w_in
    ok = (w_in > 0) & (w_out > 0)
    if not ok.any():
        return best
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = (sum_wy_all - wy_in) / w_out - wy_in / w_in
        err = np.sqrt(1.0 / w_in + 1.0 / w_out)
        sig = np.where(ok, depth / err, -np.inf)
    k = int(np.argmax(sig))
    return float(depth[k]), float(err[k]), float(sig[k]), float(centres[k])
