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

Edges: within half a window of a segment's ends the biweight window is one-sided, and a
running location estimate lags a steep trend there (a spotted star's curve keeps ramps of
several parts per thousand at each end). There the trend is replaced by a robust
*local-linear* fit over the same one-sided window (Tukey biweight weights, ``c = 5``
MADs, iterated), which follows a linear trend without bias; see :func:`edge_linear_trend`.
``edges="location"`` keeps wotan's estimate. The fit runs in a compiled kernel
(:mod:`exoguard.core.edge_nodes`) that repeats, row by row, the floating-point operations
of its vectorised numpy twin, numpy's pairwise summation included, so both give the same
trend to the last bit; the tests compare them.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from numpy.typing import ArrayLike

from exoguard.core.edge_nodes import MIN_EDGE_POINTS, fit_edge_nodes
from exoguard.core.lightcurve import FloatArray, LightCurve

logger = logging.getLogger(__name__)

DEFAULT_MAX_DURATION_HOURS = 12.0
WINDOW_PER_DURATION = 3.0
METHODS = ("biweight", "median", "welsch", "andrewsinewave")
EDGE_MODES = ("linear", "location")
#: Tukey biweight tuning constant (in MADs), wotan's default for its biweight.
BIWEIGHT_C = 5.0


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


#: Points per segment edge at which the local-linear trend is fitted (interpolated between).
EDGE_NODES = 32


def edge_linear_trend(
    time: FloatArray,
    flux: FloatArray,
    trend: FloatArray,
    *,
    window_days: float,
    use: np.ndarray | None = None,
    n_iter: int = 8,
    c: float = BIWEIGHT_C,
    max_nodes: int | None = EDGE_NODES,
) -> FloatArray:
    """Replace ``trend`` within half a window of both ends by a robust local-linear fit.

    For each point ``t_i`` within ``window_days / 2`` of the first or last time, a straight
    line is fitted by iteratively reweighted least squares (Tukey biweight weights with
    ``c`` MADs of the residuals) to the usable points of the window
    ``t_i - window_days/2 <= t < t_i + window_days/2`` (the same one-sided window as
    wotan's), starting from ``trend``; the trend becomes the line's value at ``t_i``.
    A location estimate at an edge lags a slope by about ``slope × window / 4``; the line
    does not.

    Parameters
    ----------
    time : ndarray, shape (n,)
        Sorted times of one segment (days).
    flux : ndarray, shape (n,)
    trend : ndarray, shape (n,)
        The running location estimate (may hold NaN where a window was fully masked).
    window_days : float
        Window length (days).
    use : bool ndarray, shape (n,), optional
        False for points that must not shape the fit (masked transits).
    n_iter : int
        Reweighting iterations.
    c : float
        Biweight tuning constant in MADs.
    max_nodes : int or None
        Fit at most this many points per edge, evenly spaced in time (always the end
        point and the innermost point), and interpolate linearly between them: the trend
        varies on the scale of the window, and a short-cadence edge holds ~1,000 points.
        None: fit every point.

    Returns
    -------
    ndarray, shape (n,)
        A new trend; unchanged away from the edges and where an edge window has fewer
        than ``MIN_EDGE_POINTS`` usable points.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0.0, 5.0, 0.02)
    >>> f = 1 + 0.01 * t  # a steep linear trend
    >>> lagged = f.copy(); lagged[:25] = 1 + 0.01 * 0.25  # a location estimate's lag
    >>> fixed = edge_linear_trend(t, f, lagged, window_days=1.0)
    >>> bool(np.max(np.abs(fixed - f)) < 1e-9)
    True
    """
    n = time.size
    out = np.array(trend, dtype=np.float64, copy=True)
    if n < MIN_EDGE_POINTS:
        return out
    ok = np.isfinite(flux) if use is None else (np.asarray(use, dtype=bool) & np.isfinite(flux))
    half = 0.5 * window_days
    for edge in _edge_indices(time, half):
        if edge.size == 0:
            continue
        _fit_edge(time, flux, ok, out, edge, half=half, n_iter=n_iter, c=c, max_nodes=max_nodes)
    return out


def _edge_indices(time: FloatArray, half: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices within ``half`` of the first and of the last time (disjoint)."""
    first = np.flatnonzero(time < time[0] + half)
    last = np.flatnonzero(time > time[-1] - half)
    if last.size and first.size and last[0] <= first[-1]:  # segment shorter than a window
        last = last[last > first[-1]]
    return first, last


def _fit_edge(
    time: FloatArray,
    flux: FloatArray,
    ok: np.ndarray,
    out: FloatArray,
    edge: np.ndarray,
    *,
    half: float,
    n_iter: int,
    c: float,
    max_nodes: int | None,
) -> None:
    """Fit the local lines at the nodes of one edge and write the trend into ``out``."""
    nodes = edge
    if max_nodes is not None and edge.size > max_nodes:
        grid = np.linspace(time[edge[0]], time[edge[-1]], max(int(max_nodes), 2))
        pos = np.clip(np.searchsorted(time[edge], grid), 0, edge.size - 1)
        nodes = edge[np.unique(np.concatenate(([0], pos, [edge.size - 1])))]
    lo = int(np.searchsorted(time, time[nodes[0]] - half, side="left"))
    hi = int(np.searchsorted(time, time[nodes[-1]] + half, side="left"))
    level = fit_edge_nodes(
        time[nodes],
        out[nodes],
        time[lo:hi],
        flux[lo:hi],
        ok[lo:hi],
        half=half,
        n_iter=n_iter,
        c=c,
    )
    if nodes.size == edge.size:
        out[edge] = level
    else:
        good = np.isfinite(level)
        if good.sum() >= 2:
            out[edge] = np.interp(time[edge], time[nodes[good]], level[good])


def detrend(
    lc: LightCurve,
    *,
    window_days: float | None = None,
    max_duration_hours: float = DEFAULT_MAX_DURATION_HOURS,
    mask: ArrayLike | None = None,
    method: str = "biweight",
    break_tolerance_days: float | None = None,
    edges: str = "linear",
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
    edges : {'linear', 'location'}
        Trend within half a window of each segment end: a robust local-linear fit
        (default), or wotan's running location estimate.

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
    window, m = _check_detrend_args(
        lc,
        window_days,
        max_duration_hours=max_duration_hours,
        mask=mask,
        method=method,
        edges=edges,
    )
    trend = np.full(lc.n_points, np.nan)
    for _, idx in lc.iter_segments():
        trend[idx] = _segment_trend(
            lc.time_bjd[idx],
            lc.flux[idx],
            m[idx],
            method=method,
            window=window,
            break_tolerance_days=break_tolerance_days,
            edges=edges,
        )
    bad = ~(np.isfinite(trend) & (trend > 0))
    if bad.any():
        logger.warning("%s: %d points without a usable trend kept as 1", lc.target_id, bad.sum())
        trend[bad] = 1.0
    note = f"detrended: wotan {method}, window {window:.3g} d, per segment"
    if edges == "linear":
        note += ", local-linear edges"
    if m.any():
        note += f", {int(m.sum())} points masked from the fit"
    flat = lc.with_flux(lc.flux / trend, lc.flux_err / trend, note=note)
    return flat, trend


def _check_detrend_args(
    lc: LightCurve,
    window_days: float | None,
    *,
    max_duration_hours: float,
    mask: ArrayLike | None,
    method: str,
    edges: str,
) -> tuple[float, np.ndarray]:
    """The window (days) and the boolean mask, or ``ValueError`` naming what is allowed."""
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not allowed; use one of {METHODS}")
    if edges not in EDGE_MODES:
        raise ValueError(f"edges {edges!r} is not allowed; use one of {EDGE_MODES}")
    window = default_window_days(max_duration_hours) if window_days is None else window_days
    if not (np.isfinite(window) and window > 0):
        raise ValueError(f"window_days must be a positive number, got {window_days}")
    m = np.zeros(lc.n_points, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if m.shape != (lc.n_points,):
        raise ValueError(f"mask has shape {m.shape}, expected ({lc.n_points},)")
    return window, m


def _segment_trend(
    t: FloatArray,
    f: FloatArray,
    m: np.ndarray,
    *,
    method: str,
    window: float,
    break_tolerance_days: float | None,
    edges: str,
) -> FloatArray:
    """wotan's trend of one segment, with local-linear edges per sub-segment, gaps filled."""
    # lazy: wotan pulls in numba at import
    from wotan import flatten
    from wotan.gaps import get_gaps_indexes

    if t.size < 3:
        return np.full(t.size, np.median(f))
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
            mask=m if m.any() else None,
        )
    seg_trend = np.asarray(seg_trend, dtype=np.float64)
    if edges == "linear":
        # the sub-segments wotan fitted on its own: its split of the finite points
        tol = 0.5 * window if break_tolerance_days is None else break_tolerance_days
        finite = np.flatnonzero(np.isfinite(t) & np.isfinite(f))
        bounds = get_gaps_indexes(t[finite], break_tolerance=tol if tol > 0 else np.inf)
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            sub = finite[a:b]
            if sub.size == 0:
                continue
            seg_trend[sub] = edge_linear_trend(
                t[sub], f[sub], seg_trend[sub], window_days=window, use=~m[sub]
            )
    return _fill_gaps(t, seg_trend)
