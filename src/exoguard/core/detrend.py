"""Detrending with wotan's time-windowed biweight (Hippke et al. 2019).

Window rule: ``window_days = 3 × max_duration_hours / 24`` by default, i.e. three
times the longest transit duration the search will look for (wotan's recommendation:
a window ~3× T14 preserves at least ~90 % of the transit depth). With the default
``max_duration_hours = 12`` that is a 1.5-day window.

Each segment (file/quarter/sector) is detrended on its own, and wotan further splits a
segment at gaps longer than half the window, so no trend is fitted across a gap.

Masking: points where ``mask`` is True (e.g. found transits, from
``exoguard.core.inject.mask_transits``) are left out of the trend fit; the trend at
those points is estimated from the unmasked points in the window, and linearly
interpolated where a whole window is masked. This is how the search re-runs the
detrending with its candidates masked.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from numpy.typing import ArrayLike

from exoguard.core.lightcurve import FloatArray, LightCurve

logger = logging.getLogger(__name__)

DEFAULT_MAX_DURATION_HOURS = 12.0
WINDOW_PER_DURATION = 3.0
METHODS = ("biweight", "median", "welsch", "andrewsinewave")


def default_window_days(max_duration_hours: float = DEFAULT_MAX_DURATION_HOURS) -> float:
    """``3 × max_duration_hours / 24`` days: the default biweight window."""
    if not (np.isfinite(max_duration_hours) and max_duration_hours > 0):
        raise ValueError(f"max_duration_hours must be positive, got {max_duration_hours}")
    return WINDOW_PER_DURATION * max_duration_hours / 24.0


def _fill_gaps(time: FloatArray, trend: FloatArray) -> FloatArray:
    """Linear interpolation of NaN trend values from the finite ones (edges held)."""
    ok = np.isfinite(trend)
    if ok.all():
        return trend
    if not ok.any():
        return np.ones_like(trend)
    out = trend.copy()
    out[~ok] = np.interp(time[~ok], time[ok], trend[ok])
    return out


def detrend(
    lc: LightCurve,
    *,
    window_days: float | None = None,
    max_duration_hours: float = DEFAULT_MAX_DURATION_HOURS,
    mask: ArrayLike | None = None,
    method: str = "biweight",
    break_tolerance_days: float | None = None,
) -> tuple[LightCurve, FloatArray]:
    """Divide the light curve by a robust running trend, segment by segment.

    Parameters
    ----------
    lc : LightCurve
        Normalised light curve (flux ~1, as ``read_lightcurve`` returns).
    window_days : float, optional
        Biweight window length in days. Default ``3 * max_duration_hours / 24``.
    max_duration_hours : float
        Longest transit duration searched; sets the default window.
    mask : bool array, shape (n,), optional
        True where points must not shape the trend (known transits).
    method : {'biweight', 'median', 'welsch', 'andrewsinewave'}
        wotan time-windowed location estimator.
    break_tolerance_days : float, optional
        Split a segment at gaps longer than this (default: half the window).

    Returns
    -------
    flat : LightCurve
        Same points; ``flux / trend`` and ``flux_err / trend``.
    trend : ndarray, shape (n,)
        The trend that was divided out (relative flux).

    Examples
    --------
    >>> import numpy as np
    >>> from exoguard.core.lightcurve import LightCurve
    >>> t = 2455000 + np.arange(2000) * 0.02
    >>> lc = LightCurve.from_arrays(t, 1 + 0.01 * np.sin(t / 3))
    >>> flat, trend = detrend(lc, window_days=1.0)
    >>> bool(np.std(flat.flux) < 1e-3)
    True
    """
    from wotan import flatten  # lazy: wotan pulls in numba at import

    if method not in METHODS:
        raise ValueError(f"method {method!r} is not allowed; use one of {METHODS}")
    window = default_window_days(max_duration_hours) if window_days is None else window_days
    if not (np.isfinite(window) and window > 0):
        raise ValueError(f"window_days must be a positive number, got {window_days}")
    m = np.zeros(lc.n_points, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != (lc.n_points,):
        raise ValueError(f"mask has shape {m.shape}, expected ({lc.n_points},)")
    trend = np.full(lc.n_points, np.nan)
    for _, idx in lc.iter_segments():
        t = lc.time_bjd[idx]
        f = lc.flux[idx]
        if idx.size < 3:
            trend[idx] = np.median(f)
            continue
        with warnings.catch_warnings():
            # A fully masked window gives NaN there (filled below); wotan warns about it.
            warnings.simplefilter("ignore", UserWarning)
            _, seg_trend = flatten(
                t,
                f,
                method=method,
                window_length=window,
                break_tolerance=break_tolerance_days,
                return_trend=True,
                mask=m[idx] if m[idx].any() else None,
            )
        trend[idx] = _fill_gaps(t, np.asarray(seg_trend, dtype=np.float64))
    bad = ~(np.isfinite(trend) & (trend > 0))
    if bad.any():
        logger.warning("%s: %d points without a usable trend kept as 1", lc.target_id, bad.sum())
        trend[bad] = 1.0
    note = f"detrended: wotan {method}, window {window:.3g} d, per segment"
    if m.any():
        note += f", {int(m.sum())} points masked from the fit"
    flat = lc.with_flux(lc.flux / trend, lc.flux_err / trend, note=note)
    return flat, trend
