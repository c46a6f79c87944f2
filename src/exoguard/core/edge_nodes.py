"""The robust local-linear fit at a segment's edges (see :mod:`exoguard.core.detrend`).

Within half a window of a segment's ends the trend is a local-linear fit with Tukey
biweight weights, iterated, evaluated at nodes (``exoguard.core.detrend.EDGE_NODES``).
Two twins compute it: :func:`fit_edge_nodes_reference`, vectorised numpy, and
:func:`fit_edge_nodes`, a compiled kernel that repeats the reference's floating-point
operations row by row (numpy's pairwise summation and median included), so both give the
same values to the last bit; the tests compare them. The detrending calls the compiled one:
it is several times cheaper per star.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from exoguard.core.lightcurve import FloatArray

#: Fewest usable points in an edge window for the local-linear fit (else wotan's value).
MIN_EDGE_POINTS = 8
_MAD_POINTS = 400


def _row_median(values: FloatArray, count: np.ndarray) -> FloatArray:
    """Median of the first ``count[i]`` smallest values of each row (the others are +inf);
    NaN for an empty row."""
    ordered = np.sort(values, axis=1)
    rows = np.arange(values.shape[0])
    k = np.maximum(count, 1)
    med = 0.5 * (ordered[rows, (k - 1) // 2] + ordered[rows, k // 2])
    return np.where(count > 0, med, np.nan)


def fit_edge_nodes_reference(
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
    (columns): the vectorised numpy reference of :func:`fit_edge_nodes`."""
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
def pairwise_sum(a: FloatArray, lo: int, n: int) -> float:  # pragma: no cover - compiled
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


def fit_edge_nodes(
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
    compiled twin of :func:`fit_edge_nodes_reference` (same values)."""
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


__all__ = ["MIN_EDGE_POINTS", "fit_edge_nodes", "fit_edge_nodes_reference", "pairwise_sum"]
