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
(``_fit_edge_nodes``) that repeats, row by row, the floating-point operations of its
vectorised numpy twin (``_fit_edge_nodes_reference``), numpy's pairwise summation
included, so both give the same trend to the last bit; the tests compare them.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from numba import njit
from numpy.typing import ArrayLike

from exoguard.core.lightcurve import FloatArray, LightCurve

logger = logging.getLogger(__name__)

DEFAULT_MAX_DURATION_HOURS = 12.0
WINDOW_PER_DURATION = 3.0
METHODS = ("biweight", "median", "welsch", "andrewsinewave")
EDGE_MODES = ("linear", "location")
#: Tukey biweight tuning constant (in MADs), wotan's default for its biweight.
BIWEIGHT_C = 5.0
#: Fewest usable points in an edge window for the local-linear fit (else wotan's value).
MIN_EDGE_POINTS = 8


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
_MAD_POINTS = 400


def _row_median(values: FloatArray, count: np.ndarray) -> FloatArray:
    """Median of the first ``count[i]`` smallest values of each row (the others are +inf);
    NaN for an empty row."""
    ordered = np.sort(values, axis=1)
    rows = np.arange(values.shape[0])
    k = np.maximum(count, 1)
    med = 0.5 * (ordered[rows, (k - 1) // 2] + ordered[rows, k // 2])
    return np.where(count > 0, med, np.nan)


def _fit_edge_nodes_reference(
    t_edge: FloatArray,
    start_level: FloatArray,
    t_pool: FloatArray,
    f_pool: FloatArray,
    ok_pool: np.ndarray,
    *,
    half: float,
    n_iter: int,
    c: float,
) -> FloatArray:
    """Robust local-linear values at the nodes ``t_edge`` (rows) from the pool's points
    (columns): the vectorised numpy reference of :func:`_fit_edge_nodes`."""
    x = t_pool[None, :] - t_edge[:, None]  # days from t_i
    inside = (x >= -half) & (x < half) & ok_pool[None, :]
    y = np.broadcast_to(f_pool[None, :], x.shape)
    count = inside.sum(axis=1)
    enough = count >= MIN_EDGE_POINTS
    level = np.array(start_level, dtype=np.float64, copy=True)
    if not np.isfinite(level).all():  # wotan had no estimate: start from the window median
        med = _row_median(np.where(inside, y, np.inf), count)
        level = np.where(np.isfinite(level), level, med)
    slope = np.zeros(t_edge.size)
    stride = max(1, x.shape[1] // _MAD_POINTS)
    count_sub = inside[:, ::stride].sum(axis=1)
    for _ in range(n_iter):
        resid = y - (level[:, None] + slope[:, None] * x)
        # the scale from at most ~_MAD_POINTS points per window (sorting is the cost)
        sub = np.where(inside[:, ::stride], np.abs(resid[:, ::stride]), np.inf)
        mad = _row_median(sub, count_sub)
        mad = np.where(np.isfinite(mad) & (mad > 0), mad, np.inf)[:, None]
        u = np.where(inside, resid / (c * mad), np.inf)
        w = np.where(np.abs(u) < 1, (1 - u**2) ** 2, 0.0)
        s0 = w.sum(axis=1)
        s1 = (w * x).sum(axis=1)
        s2 = (w * x * x).sum(axis=1)
        sy = (w * y).sum(axis=1)
        sxy = (w * x * y).sum(axis=1)
        det = s0 * s2 - s1 * s1
        good = enough & (s0 > 0) & (det > 1e-12 * np.maximum(s0 * s2, 1e-300))
        with np.errstate(all="ignore"):
            new_level = (s2 * sy - s1 * sxy) / det
            new_slope = (s0 * sxy - s1 * sy) / det
        level = np.where(good, new_level, level)
        slope = np.where(good, new_slope, slope)
    return np.where(enough & np.isfinite(level), level, start_level)


#: numpy sums a contiguous run of float64 in blocks of this many values (pairwise beyond).
_PAIRWISE_BLOCK = 128


@njit(cache=True, nogil=True)
def _block_sum(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """numpy's sum of a run of at most ``_PAIRWISE_BLOCK`` values (eight lanes)."""
    if n < 8:
        res = -0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


#: Frames of the pairwise-summation walk: the tree of a run of n values is log2(n / 128) deep.
_PAIRWISE_DEPTH = 64


@njit(cache=True, nogil=True)
def _pairwise_sum(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
    """``a[lo:lo + n].sum()`` as numpy computes it (see :func:`_pairwise_walk`)."""
    return _pairwise_walk(
        a,
        lo,
        n,
        np.empty(_PAIRWISE_DEPTH, dtype=np.int64),
        np.empty(_PAIRWISE_DEPTH, dtype=np.int64),
        np.empty(_PAIRWISE_DEPTH),
        np.empty(_PAIRWISE_DEPTH, dtype=np.bool_),
    )


@njit(cache=True, nogil=True)
def _pairwise_walk(  # pragma: no cover - compiled
    a: FloatArray,
    lo: int,
    n: int,
    f_lo: np.ndarray,
    f_n: np.ndarray,
    f_left: FloatArray,
    f_right: np.ndarray,
) -> float:
    """``a[lo:lo + n].sum()`` as numpy computes it: runs of more than ``_PAIRWISE_BLOCK``
    values are split in two (the first half a multiple of 8 long) and summed pairwise.

    numpy recurses; this walks the same tree with a stack of frames (``f_*``: work arrays of
    ``_PAIRWISE_DEPTH``; numba cannot load a recursive function from its disk cache).
    """
    if n <= _PAIRWISE_BLOCK:
        return _block_sum(a, lo, n)
    f_lo[0] = lo
    f_n[0] = n
    f_right[0] = False  # True: the left half is summed, the right one is next
    sp = 1
    value = 0.0
    returned = False
    while True:
        k = sp - 1
        n2 = f_n[k] // 2
        n2 -= n2 % 8
        if returned:
            if not f_right[k]:
                f_left[k] = value
                f_right[k] = True
                child_lo, child_n = f_lo[k] + n2, f_n[k] - n2
            else:
                value = f_left[k] + value
                sp -= 1
                if sp == 0:
                    return value
                continue
        else:
            child_lo, child_n = f_lo[k], n2
        if child_n <= _PAIRWISE_BLOCK:
            value = _block_sum(a, child_lo, child_n)
            returned = True
        else:
            f_lo[sp] = child_lo
            f_n[sp] = child_n
            f_right[sp] = False
            sp += 1
            returned = False


@njit(cache=True, nogil=True)
def _window_median(values: FloatArray, n: int) -> float:  # pragma: no cover - compiled
    """Median of ``values[:n]`` (NaN when empty), as :func:`_row_median` gives it."""
    if n == 0:
        return np.nan
    # selection, not a sort; (a + b) / 2 of the two middle values is 0.5 * (a + b) exactly
    return float(np.median(values[:n]))


@njit(cache=True, nogil=True)
def _fit_edge_nodes_kernel(  # pragma: no cover - compiled
    t_edge: FloatArray,
    start_level: FloatArray,
    t_pool: FloatArray,
    f_pool: FloatArray,
    ok_pool: np.ndarray,
    half: float,
    n_iter: int,
    c: float,
    min_points: int,
    stride: int,
) -> FloatArray:
    n_rows = t_edge.size
    n_cols = t_pool.size
    fill_start = False
    for r in range(n_rows):
        if not np.isfinite(start_level[r]):
            fill_start = True
    x = np.empty(n_cols)
    inside = np.zeros(n_cols, dtype=np.bool_)
    resid = np.empty(n_cols)
    w = np.empty(n_cols)
    wx = np.empty(n_cols)
    p2 = np.empty(n_cols)
    py = np.empty(n_cols)
    pxy = np.empty(n_cols)
    picked = np.empty(n_cols)
    f_lo = np.empty(_PAIRWISE_DEPTH, dtype=np.int64)
    f_n = np.empty(_PAIRWISE_DEPTH, dtype=np.int64)
    f_left = np.empty(_PAIRWISE_DEPTH)
    f_right = np.empty(_PAIRWISE_DEPTH, dtype=np.bool_)
    out = np.empty(n_rows)
    for r in range(n_rows):
        count = 0
        count_sub = 0
        lo = n_cols  # [lo, hi): the window's columns (times ascend); zero weight elsewhere
        hi = 0
        for j in range(n_cols):
            x[j] = t_pool[j] - t_edge[r]
            in_window = x[j] >= -half and x[j] < half
            inside[j] = in_window and ok_pool[j]
            if in_window:
                lo = min(lo, j)
                hi = j + 1
            if inside[j]:
                count += 1
        if hi <= lo:
            lo = hi = 0
        # the products of zero weights (signed zeros, as numpy forms them) once per row
        for j in range(n_cols):
            if j < lo or j >= hi:
                w[j] = 0.0
                wx[j] = 0.0 * x[j]
                p2[j] = wx[j] * x[j]
                py[j] = 0.0 * f_pool[j]
                pxy[j] = wx[j] * f_pool[j]
        for j in range(0, n_cols, stride):
            if inside[j]:
                count_sub += 1
        enough = count >= min_points
        level = start_level[r]
        if fill_start and not np.isfinite(level):
            m = 0
            for j in range(lo, hi):
                if inside[j]:
                    picked[m] = f_pool[j]
                    m += 1
            level = _window_median(picked, m)
        slope = 0.0
        first = lo + (stride - lo % stride) % stride  # the first sampled column in the window
        for _ in range(n_iter):
            for j in range(lo, hi):
                resid[j] = f_pool[j] - (level + slope * x[j])
            m = 0
            for j in range(first, hi, stride):
                if inside[j]:
                    picked[m] = abs(resid[j])
                    m += 1
            mad = _window_median(picked, count_sub)
            if not (np.isfinite(mad) and mad > 0):
                mad = np.inf
            scale = c * mad
            for j in range(lo, hi):
                u = resid[j] / scale if inside[j] else np.inf
                if abs(u) < 1:
                    v = 1 - u * u
                    w[j] = v * v
                else:
                    w[j] = 0.0
                wx[j] = w[j] * x[j]
                p2[j] = wx[j] * x[j]
                py[j] = w[j] * f_pool[j]
                pxy[j] = wx[j] * f_pool[j]
            s0 = _pairwise_walk(w, 0, n_cols, f_lo, f_n, f_left, f_right)
            s1 = _pairwise_walk(wx, 0, n_cols, f_lo, f_n, f_left, f_right)
            s2 = _pairwise_walk(p2, 0, n_cols, f_lo, f_n, f_left, f_right)
            sy = _pairwise_walk(py, 0, n_cols, f_lo, f_n, f_left, f_right)
            sxy = _pairwise_walk(pxy, 0, n_cols, f_lo, f_n, f_left, f_right)
            det = s0 * s2 - s1 * s1
            if enough and s0 > 0 and det > 1e-12 * max(s0 * s2, 1e-300):
                level = (s2 * sy - s1 * sxy) / det
                slope = (s0 * sxy - s1 * sy) / det
        out[r] = level if enough and np.isfinite(level) else start_level[r]
    return out


def _fit_edge_nodes(
    t_edge: FloatArray,
    start_level: FloatArray,
    t_pool: FloatArray,
    f_pool: FloatArray,
    ok_pool: np.ndarray,
    *,
    half: float,
    n_iter: int,
    c: float,
) -> FloatArray:
    """Robust local-linear values at the nodes ``t_edge`` from the pool's points: the
    compiled twin of :func:`_fit_edge_nodes_reference` (same values)."""
    return np.asarray(
        _fit_edge_nodes_kernel(
            np.ascontiguousarray(t_edge, dtype=np.float64),
            np.ascontiguousarray(start_level, dtype=np.float64),
            np.ascontiguousarray(t_pool, dtype=np.float64),
            np.ascontiguousarray(f_pool, dtype=np.float64),
            np.ascontiguousarray(ok_pool, dtype=np.bool_),
            float(half),
            int(n_iter),
            float(c),
            MIN_EDGE_POINTS,
            max(1, t_pool.size // _MAD_POINTS),
        )
    )


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
    level = _fit_edge_nodes(
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
