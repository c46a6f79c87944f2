"""Coarse-to-fine search of a long period grid: which periods to evaluate, in two stages.

An Ofir grid with oversampling ``OS`` holds ``OS`` trial periods per independent frequency, so a
transit peak spans about ``OS`` neighbouring periods. Every ``OS``-th period (a grid of
oversampling about 1) already samples every peak; the first stage evaluates those, the second
evaluates every period within ``OS + 2`` grid steps of the highest local maxima of the first
stage's SDE spectrum. Around those peaks the result is then exactly the full grid's (same
kernel, same periods, same boxes), with the neighbours :func:`exoguard.core.search.refine_peak`
reads; elsewhere only the coarse periods are kept. The spectrum's running median and scale are
taken from the coarse periods alone, an evenly spaced subset of the full grid, so that the
refined peaks do not bias them.

On Kepler-227's 17 quarters (199,509 periods) the two stages evaluate about 36 % of the periods
and find the same peaks; ``tests/unit/core/search/test_search_coarse.py`` checks this against
the full grid on injected signals and on noise.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from exoguard.core.search.grid import SearchGrid

__all__ = [
    "COARSE_MIN_PERIODS",
    "COARSE_MIN_PEAKS",
    "COARSE_PEAK_FRACTION",
    "auto_coarse_stride",
    "coarse_indices",
    "refine_indices",
]

#: Grids with at least this many periods are searched coarse-to-fine unless told otherwise (a
#: TESS sector's grid, a few thousand periods, is searched in full).
COARSE_MIN_PERIODS = 30_000
#: Local maxima of the coarse spectrum refined: this fraction of the coarse periods ...
COARSE_PEAK_FRACTION = 0.01
#: ... and at least this many.
COARSE_MIN_PEAKS = 256


def auto_coarse_stride(grid: SearchGrid) -> int:
    """The default stride of the first stage: the Ofir oversampling (1, full grid, otherwise).

    Only Ofir grids of at least ``COARSE_MIN_PERIODS`` periods are searched in two stages.
    """
    if grid.kind != "ofir" or grid.n_periods < COARSE_MIN_PERIODS:
        return 1
    return max(1, int(math.floor(grid.oversampling + 1e-9)))


def coarse_indices(n_periods: int, stride: int) -> NDArray[np.int64]:
    """Grid indices of the first stage: every ``stride``-th period, shape (ceil(n / stride),)."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    return np.arange(0, n_periods, stride, dtype=np.int64)


def refine_indices(
    spectrum: NDArray[np.float64],
    coarse: NDArray[np.int64],
    *,
    n_periods: int,
    stride: int,
    n_peaks: int | None = None,
) -> NDArray[np.int64]:
    """Grid indices of the second stage: the neighbours of the highest coarse local maxima.

    Parameters
    ----------
    spectrum : ndarray of shape (n_coarse,)
        SDE spectrum of the first stage.
    coarse : ndarray of shape (n_coarse,)
        Grid indices of the first stage (:func:`coarse_indices`).
    n_periods : int
        Periods in the full grid.
    stride : int
        Stride of the first stage.
    n_peaks : int, optional
        Local maxima refined; default ``max(COARSE_MIN_PEAKS, COARSE_PEAK_FRACTION * n_coarse)``.

    Returns
    -------
    ndarray of shape (n_refined,), int64
        Sorted grid indices within ``stride + 2`` steps of a chosen maximum, coarse ones left out.
    """
    sp = np.asarray(spectrum, dtype=np.float64)
    if sp.shape != coarse.shape:
        raise ValueError("spectrum and coarse indices must have one shape")
    if stride <= 1 or sp.size == 0:
        return np.zeros(0, dtype=np.int64)
    k = (
        n_peaks
        if n_peaks is not None
        else max(COARSE_MIN_PEAKS, int(COARSE_PEAK_FRACTION * sp.size))
    )
    padded = np.concatenate(([-np.inf], sp, [-np.inf]))
    is_max = (sp >= padded[:-2]) & (sp >= padded[2:])
    maxima = np.flatnonzero(is_max)
    top = maxima[np.argsort(sp[maxima])[::-1][:k]]
    reach = stride + 2
    offsets = np.arange(-reach, reach + 1, dtype=np.int64)
    near = (coarse[top][:, None] + offsets[None, :]).ravel()
    near = near[(near >= 0) & (near < n_periods) & (near % stride != 0)]
    return np.unique(near)
