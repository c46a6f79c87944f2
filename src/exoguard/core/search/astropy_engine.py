"""The reference engine: astropy's ``BoxLeastSquares`` behind the same interface as ours."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from exoguard.core.search.grid import SearchGrid

__all__ = ["astropy_durations_days", "bls_astropy"]


def astropy_durations_days(grid: SearchGrid) -> NDArray[np.float64]:
    """One list of absolute durations covering the grid's range (astropy has one for all periods).

    Geometric from the shortest duration of the grid to the longest, clipped below the shortest
    trial period (astropy requires ``max(duration) < min(period)``), with as many values as the
    grid has duration factors.

    Returns
    -------
    ndarray of shape (n_durations,)
        Durations in days.
    """
    d_min = grid.min_duration_days
    d_max = min(grid.longest_duration_days, 0.99 * float(grid.periods_days[0]))
    n = max(int(grid.duration_factors.size), 1)
    if d_max <= d_min or n == 1:
        return np.array([d_min])
    return np.geomspace(d_min, d_max, n)


def bls_astropy(
    t_rel: NDArray[np.float64],
    y: NDArray[np.float64],
    dy: NDArray[np.float64],
    grid: SearchGrid,
    *,
    progress: Callable[[int, int], None] | None = None,
    n_chunks: int = 20,
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
]:
    """Run astropy BLS (``objective="likelihood"``, ``method="fast"``) on the grid's periods.

    Parameters
    ----------
    t_rel : ndarray of shape (n_points,)
        Times relative to the reference epoch, days.
    y, dy : ndarray of shape (n_points,)
        Flux and its 1-sigma error.
    grid : SearchGrid
        Trial periods; durations from :func:`astropy_durations_days`; astropy's ``oversample``
        is the grid's ``phase_oversample``.
    progress : callable, optional
        Called as ``progress(n_done, n_total)`` after each chunk of periods.

    Returns
    -------
    power, depth, depth_err, t0_rel, duration_days : ndarray of shape (n_periods,)
        astropy's log-likelihood, depth, depth error, mid-transit time (relative to the reference
        epoch) and duration of the best box at each period.
    """
    from astropy.timeseries import BoxLeastSquares

    model = BoxLeastSquares(t_rel, y, dy)
    durations = astropy_durations_days(grid)
    periods = grid.periods_days
    n = periods.size
    out = [np.empty(n) for _ in range(5)]
    edges = np.linspace(0, n, min(n_chunks, n) + 1).astype(int)
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        if hi <= lo:
            continue
        res = model.power(
            periods[lo:hi],
            durations,
            objective="likelihood",
            method="fast",
            oversample=grid.phase_oversample,
        )
        out[0][lo:hi] = np.asarray(res.log_likelihood)
        out[1][lo:hi] = np.asarray(res.depth)
        out[2][lo:hi] = np.asarray(res.depth_err)
        out[3][lo:hi] = np.asarray(res.transit_time)
        out[4][lo:hi] = np.asarray(res.duration)
        if progress is not None:
            progress(hi, n)
    power, depth, depth_err, t0_rel, dur = out
    bad = ~np.isfinite(power) | ~(depth > 0)
    power[bad] = 0.0
    depth[bad] = 0.0
    depth_err[~np.isfinite(depth_err) | bad] = np.inf
    t0_rel = np.mod(t0_rel, periods)
    return power, depth, depth_err, t0_rel, dur
