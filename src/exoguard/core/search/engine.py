"""One BLS run on arrays: ``bls_periodogram(time, flux, flux_err, grid=..., engine=...)``.

Three engines share the interface: ``"fast"`` (the numba kernel), ``"slow"`` (the point-by-point
reference, for tests) and ``"astropy"`` (``astropy.timeseries.BoxLeastSquares``).
"""

from __future__ import annotations

import logging
import time as _time
from collections.abc import Callable
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from exoguard.core.search.grid import G_SI, M_SUN_KG, R_SUN_M, SECONDS_PER_DAY, SearchGrid
from exoguard.core.search.results import BLSPeriodogram
from exoguard.errors import ValidationError

__all__ = [
    "ENGINES",
    "Engine",
    "bls_periodogram",
    "sde_spectrum",
    "weights_from_errors",
]

log = logging.getLogger(__name__)

Engine = Literal["fast", "slow", "astropy"]
ENGINES: tuple[str, ...] = ("fast", "slow", "astropy")
MIN_POINTS = 50


def robust_std(x: NDArray[np.float64]) -> float:
    """Point-to-point scatter from the median absolute successive difference (robust to trends)."""
    x = np.asarray(x, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 3:
        return float(np.std(x)) if x.size else float("nan")
    mad = np.median(np.abs(np.diff(x)))
    return float(1.4826 * mad / np.sqrt(2.0))


def weights_from_errors(
    flux: NDArray[np.float64], flux_err: NDArray[np.float64] | None
) -> NDArray[np.float64]:
    """Per-point 1-sigma errors: the given ones where finite and > 0, else the robust scatter.

    Returns
    -------
    ndarray of shape (n_points,)
        ``sigma`` (same units as ``flux``).
    """
    scatter = robust_std(flux)
    if not np.isfinite(scatter) or scatter <= 0:
        scatter = float(np.nanstd(flux)) or 1.0
    if flux_err is None:
        return np.full(flux.shape, scatter)
    err = np.asarray(flux_err, dtype=np.float64).copy()
    bad = ~np.isfinite(err) | (err <= 0)
    if bad.all():
        return np.full(flux.shape, scatter)
    err[bad] = np.median(err[~bad])
    return err


def _independent_step_u(baseline_days: float) -> float:
    """Width of one independent frequency in ``u = f^(1/3)`` (f in 1/day), Sun, Ofir OS = 1."""
    gm = G_SI * M_SUN_KG
    a_si = (2.0 * np.pi) ** (2.0 / 3.0) / np.pi * R_SUN_M / gm ** (1.0 / 3.0)
    a_si /= baseline_days * SECONDS_PER_DAY
    return float(a_si / 3.0 * SECONDS_PER_DAY ** (1.0 / 3.0))


def sde_spectrum(
    periods_days: NDArray[np.float64],
    snr: NDArray[np.float64],
    *,
    baseline_days: float,
    window_independent: float = 30.0,
    robust: bool = True,
    background: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.float64], float]:
    """Detrend a BLS SNR spectrum and express it in SDE units (as transitleastsquares does).

    A running median over ``window_independent`` independent frequencies (a fixed width in
    ``f^(1/3)``, where transit peaks have constant width whatever the grid) is subtracted, and
    the residual is standardised: ``SDE = (peak - centre) / scale``. With ``robust=True`` (the
    default) centre and scale are the median and 1.4826 x the median absolute deviation, so that a
    strong signal's own harmonics and aliases do not inflate the scale and hide it (with the
    mean and standard deviation of TLS, HAT-P-7 b at SNR ~ 5000 scores an SDE of 5).

    Parameters
    ----------
    periods_days : ndarray of shape (n_periods,)
        Trial periods, days.
    snr : ndarray of shape (n_periods,)
        Depth SNR of the best box at each period.
    baseline_days : float
        Time span of the data, days.
    window_independent : float
        Running-median width in independent frequencies.
    robust : bool
        Median/MAD (default) or mean/standard deviation (as TLS).
    background : ndarray of shape (n_periods,), bool, optional
        The periods the running median, centre and scale are taken from (default: all); the
        coarse periods of a coarse-to-fine search, an evenly spaced subset of the full grid.

    Returns
    -------
    spectrum : ndarray of shape (n_periods,)
        Detrended, standardised spectrum (its maximum is the SDE).
    sde : float
        The SDE of the highest peak.
    """
    from exoguard.core.search.kernel import window_medians

    snr = np.nan_to_num(np.asarray(snr, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if snr.size < 3:
        return np.zeros_like(snr), 0.0
    u = (1.0 / np.asarray(periods_days, dtype=np.float64)) ** (1.0 / 3.0)
    bg = np.ones(snr.size, dtype=bool) if background is None else np.asarray(background, bool)
    if bg.shape != snr.shape or bg.sum() < 3:
        raise ValueError("background must be a boolean mask of the periods with >= 3 True")
    order = np.argsort(u)
    u_sorted, s_sorted = u[order], snr[order]
    u_bg, s_bg = u_sorted[bg[order]], s_sorted[bg[order]]
    width = window_independent * _independent_step_u(baseline_days)
    span = u_bg[-1] - u_bg[0]
    if span <= width:
        trend_sorted = np.full_like(s_sorted, np.median(s_bg))
    else:
        anchors = np.arange(u_bg[0], u_bg[-1] + width / 4.0, width / 4.0)
        lo = np.searchsorted(u_bg, anchors - width / 2.0, side="left")
        hi = np.searchsorted(u_bg, anchors + width / 2.0, side="right")
        med = window_medians(s_bg, lo, hi)
        ok = np.isfinite(med)
        trend_sorted = np.interp(u_sorted, anchors[ok], med[ok])
    resid_sorted = s_sorted - trend_sorted
    resid = np.empty_like(resid_sorted)
    resid[order] = resid_sorted
    if robust:
        centre = float(np.median(resid[bg]))
        scale = 1.4826 * float(np.median(np.abs(resid[bg] - centre)))
    else:
        centre = float(np.mean(resid[bg]))
        scale = float(np.std(resid[bg]))
    if not scale > 0:
        return np.zeros_like(resid), 0.0
    spectrum = (resid - centre) / scale
    return spectrum, float(np.max(spectrum))


def _validate_arrays(
    time_days: NDArray[np.float64],
    flux: NDArray[np.float64],
    flux_err: NDArray[np.float64] | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    t = np.asarray(time_days, dtype=np.float64)
    y = np.asarray(flux, dtype=np.float64)
    if t.ndim != 1 or t.shape != y.shape:
        raise ValidationError(f"time and flux must be 1-D of one length, got {t.shape}, {y.shape}")
    e = None if flux_err is None else np.asarray(flux_err, dtype=np.float64)
    if e is not None and e.shape != y.shape:
        raise ValidationError(f"flux_err must have the shape of flux {y.shape}, got {e.shape}")
    keep = np.isfinite(t) & np.isfinite(y)
    if keep.sum() < MIN_POINTS:
        raise ValidationError(
            f"need at least {MIN_POINTS} points with finite time and flux, got {int(keep.sum())}"
        )
    t, y = t[keep], y[keep]
    e = None if e is None else e[keep]
    if np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, y = t[order], y[order]
        e = None if e is None else e[order]
    sigma = weights_from_errors(y, e)
    return t, y, sigma


def _search(
    t_rel: NDArray[np.float64],
    y: NDArray[np.float64],
    sigma: NDArray[np.float64],
    grid: SearchGrid,
    engine: Engine,
    progress: Callable[[int, int], None] | None,
    n_chunks: int,
) -> tuple[NDArray[np.float64], ...]:
    """``(power, depth, depth_err, t0_rel, duration)`` of the best box at every grid period."""
    w = 1.0 / sigma**2
    periods = grid.periods_days
    n = periods.size
    if engine == "astropy":
        from exoguard.core.search.astropy_engine import bls_astropy

        return bls_astropy(t_rel, y, sigma, grid, progress=progress, n_chunks=n_chunks)
    n_bins = grid.n_phase_bins()
    dur_bins = grid.duration_bins()
    max_dur = grid.max_duration_bins()
    if engine == "fast":
        power, depth, depth_err, start_bin, length = _fast_kernel(
            t_rel, y, w, grid, progress=progress, n_chunks=n_chunks
        )
    else:
        from exoguard.core.search.reference import bls_reference

        power, depth, depth_err, start_bin, length = bls_reference(
            t_rel, y, w, periods, n_bins, dur_bins, max_dur
        )
        if progress is not None:
            progress(n, n)
    bin_width = periods / n_bins
    return power, depth, depth_err, (start_bin + 0.5 * length) * bin_width, length * bin_width


def _fast_kernel(
    t_rel: NDArray[np.float64],
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    grid: SearchGrid,
    *,
    progress: Callable[[int, int], None] | None,
    n_chunks: int,
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.int64],
]:
    import numba

    from exoguard.core.search.kernel import (
        bls_kernel,
        default_chunks,
        fixed_point_frequencies,
        quantise_times,
    )

    periods = grid.periods_days
    n = periods.size
    n_bins = grid.n_phase_bins()
    dur_bins = grid.duration_bins()
    max_dur = grid.max_duration_bins()
    power = np.zeros(n)
    depth = np.zeros(n)
    depth_err = np.full(n, np.inf)
    start_bin = np.zeros(n, dtype=np.int64)
    length = np.zeros(n, dtype=np.int64)
    chunks = default_chunks()
    mean_y = float(np.sum(w * y) / np.sum(w))
    wy_w = (w * (y - mean_y)) + 1j * w
    tq = quantise_times(t_rel)
    fq = fixed_point_frequencies(periods)
    # One parallel region unless progress is wanted (each region costs a thread wake-up).
    pieces = 1 if progress is None else min(max(n_chunks, 1), n)
    edges = np.linspace(0, n, pieces + 1).astype(int)
    # Dynamic scheduling (one work item at a time): a thread slowed down by other
    # processes on the machine then holds up the others for one item, not for its share.
    previous = numba.set_parallel_chunksize(1)
    try:
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            if hi <= lo:
                continue
            bls_kernel(
                tq, wy_w, fq[lo:hi], n_bins[lo:hi], dur_bins, max_dur[lo:hi],
                power[lo:hi], depth[lo:hi], depth_err[lo:hi], start_bin[lo:hi],
                length[lo:hi], chunks,
            )  # fmt: skip
            if progress is not None:
                progress(int(hi), n)
    finally:
        numba.set_parallel_chunksize(previous)
    return power, depth, depth_err, start_bin, length


def _evaluated_periods(
    t_rel: NDArray[np.float64],
    y: NDArray[np.float64],
    sigma: NDArray[np.float64],
    grid: SearchGrid,
    engine: Engine,
    stride: int,
    baseline: float,
    progress: Callable[[int, int], None] | None,
    n_chunks: int,
) -> tuple[NDArray[np.float64], tuple[NDArray[np.float64], ...], NDArray[np.bool_] | None]:
    """(periods evaluated, their BLS columns, the SDE background or None): every period of
    the grid with ``stride`` 1, else coarse-to-fine."""
    if stride == 1:
        return grid.periods_days, _search(t_rel, y, sigma, grid, engine, progress, n_chunks), None
    return _coarse_to_fine(t_rel, y, sigma, grid, engine, stride, baseline, progress, n_chunks)


def bls_periodogram(
    time_days: NDArray[np.float64],
    flux: NDArray[np.float64],
    flux_err: NDArray[np.float64] | None = None,
    *,
    grid: SearchGrid,
    engine: Engine = "fast",
    progress: Callable[[int, int], None] | None = None,
    n_chunks: int = 20,
    coarse_stride: int | None = None,
) -> BLSPeriodogram:
    """Box least squares periodogram of a (detrended) light curve.

    Parameters
    ----------
    time_days : ndarray of shape (n_points,)
        Times (BJD_TDB for a LightCurve; any day-based scale works).
    flux : ndarray of shape (n_points,)
        Normalised, detrended flux.
    flux_err : ndarray of shape (n_points,), optional
        1-sigma errors; the robust point-to-point scatter where missing.
    grid : SearchGrid
        Periods and durations (see :func:`exoguard.core.search.grid.make_grid`).
    engine : {"fast", "slow", "astropy"}
        The numba kernel, the point-by-point reference or astropy's BoxLeastSquares.
    progress : callable, optional
        Called as ``progress(n_done, n_total)`` (trial periods) as the search advances.
    n_chunks : int
        Number of pieces the period grid is cut into for progress reports (only when
        ``progress`` is given).
    coarse_stride : int, optional
        Search coarse-to-fine (:mod:`exoguard.core.search.coarse`): every ``coarse_stride``-th
        period first, then every period near the highest peaks; 1 evaluates every period.
        Default: the Ofir oversampling for an Ofir grid of at least ``COARSE_MIN_PERIODS``
        periods with the ``"fast"`` or ``"slow"`` engine, else 1. (astropy takes one duration
        list for the whole grid, so it always searches every period.)

    Returns
    -------
    BLSPeriodogram
        On the periods evaluated (all of the grid's, unless searched coarse-to-fine).

    Examples
    --------
    >>> import numpy as np
    >>> from exoguard.core.search import bls_periodogram, make_grid
    >>> rng = np.random.default_rng(1)
    >>> t = np.arange(0, 27, 2 / 1440)
    >>> y = 1 + 1e-3 * rng.standard_normal(t.size)
    >>> y[np.abs((t - 1.3 + 1.7) % 3.4 - 1.7) < 0.05] -= 2e-3
    >>> res = bls_periodogram(t, y, grid=make_grid(t))
    >>> round(res.period_days, 2)
    3.4
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    stride = _coarse_stride(grid, engine, coarse_stride)
    t, y, sigma = _validate_arrays(time_days, flux, flux_err)
    t_ref = float(t[0])
    t_rel = t - t_ref
    baseline = float(t[-1] - t[0])
    start_time = _time.perf_counter()
    periods, columns, background = _evaluated_periods(
        t_rel, y, sigma, grid, engine, stride, baseline, progress, n_chunks
    )
    power, depth, depth_err, t0_rel, duration = columns
    elapsed = _time.perf_counter() - start_time
    snr = _snr(depth, depth_err)
    spectrum, sde = sde_spectrum(periods, snr, baseline_days=baseline, background=background)
    best = int(np.argmax(spectrum))
    return BLSPeriodogram(
        periods_days=periods,
        power=power,
        depth=depth,
        depth_err=depth_err,
        snr=snr,
        t0_bjd=t_ref + np.mod(t0_rel, periods),
        duration_days=duration,
        spectrum=spectrum,
        sde=sde,
        best_index=best,
        engine=engine,
        grid=grid,
        elapsed_s=elapsed,
        n_points=int(t.size),
        coarse_stride=stride,
    )


def _coarse_stride(grid: SearchGrid, engine: Engine, coarse_stride: int | None) -> int:
    from exoguard.core.search.coarse import auto_coarse_stride

    if coarse_stride is None:
        return 1 if engine == "astropy" else auto_coarse_stride(grid)
    if coarse_stride < 1:
        raise ValueError(f"coarse_stride must be >= 1, got {coarse_stride}")
    if engine == "astropy" and coarse_stride > 1:
        raise ValueError('engine="astropy" searches every period: coarse_stride must be 1')
    return int(coarse_stride)


def _snr(depth: NDArray[np.float64], depth_err: NDArray[np.float64]) -> NDArray[np.float64]:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(depth_err) & (depth_err > 0), depth / depth_err, 0.0)


def _coarse_to_fine(
    t_rel: NDArray[np.float64],
    y: NDArray[np.float64],
    sigma: NDArray[np.float64],
    grid: SearchGrid,
    engine: Engine,
    stride: int,
    baseline: float,
    progress: Callable[[int, int], None] | None,
    n_chunks: int,
) -> tuple[NDArray[np.float64], tuple[NDArray[np.float64], ...], NDArray[np.bool_]]:
    """Both stages: ``(periods evaluated, their columns, which of them are coarse)``."""
    from exoguard.core.search.coarse import coarse_indices, refine_indices

    n = grid.n_periods
    coarse = coarse_indices(n, stride)
    staged = None if progress is None else (lambda done, _total: progress(done * stride, n))
    first = _search(
        t_rel, y, sigma, grid.subset(grid.periods_days[coarse]), engine, staged, n_chunks
    )
    spectrum, _ = sde_spectrum(
        grid.periods_days[coarse], _snr(first[1], first[2]), baseline_days=baseline
    )
    fine = refine_indices(spectrum, coarse, n_periods=n, stride=stride)
    if fine.size:
        second = _search(
            t_rel, y, sigma, grid.subset(grid.periods_days[fine]), engine, None, n_chunks
        )
    else:
        second = tuple(np.zeros(0) for _ in first)
    if progress is not None:
        progress(n, n)
    index = np.concatenate((coarse, fine))
    order = np.argsort(index, kind="stable")
    columns = tuple(np.concatenate((a, b))[order] for a, b in zip(first, second, strict=True))
    is_coarse = np.concatenate((np.ones(coarse.size, bool), np.zeros(fine.size, bool)))[order]
    return grid.periods_days[index[order]], columns, is_coarse
