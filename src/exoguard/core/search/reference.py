"""Slow, obviously-correct BLS: evaluates every box point by point with plain numpy.

Same boxes as the compiled kernel (a box starts on a phase-bin edge and spans a whole number of
bins, and the phase of a point is the same fixed-point number), but membership is decided per
point and the means are computed directly from the points in and out of the box, with the raw
(uncentred) flux: no centring, no binning, no cumulative sums, no blocked scan. Meant for tests on
small inputs (a few thousand points, a few hundred periods).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from exoguard.core.search.kernel import fixed_point_frequencies, phase_bins, quantise_times

__all__ = ["bls_reference"]


def bls_reference(
    t_rel: NDArray[np.float64],
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    periods: NDArray[np.float64],
    n_bins: NDArray[np.int64],
    dur_bins: NDArray[np.int64],
    max_dur_bins: NDArray[np.int64],
) -> tuple[
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.float64],
    NDArray[np.int64],
    NDArray[np.int64],
]:
    """Box least squares by direct evaluation.

    Parameters
    ----------
    t_rel : ndarray of shape (n_points,)
        Times relative to the reference epoch (days).
    y : ndarray of shape (n_points,)
        Flux (any offset).
    w : ndarray of shape (n_points,)
        Weights ``1 / sigma^2``.
    periods, n_bins, dur_bins, max_dur_bins
        As for :func:`exoguard.core.search.kernel.bls_kernel`.

    Returns
    -------
    power, depth, depth_err : ndarray of shape (n_periods,)
        Best ``0.5 * (depth / depth_err)^2`` per period, with its depth and error.
    start_bin, dur_bins : ndarray of shape (n_periods,), int
        First phase bin and length (bins) of the best box.
    """
    n_periods = periods.size
    power = np.zeros(n_periods)
    depth = np.zeros(n_periods)
    depth_err = np.full(n_periods, np.inf)
    start = np.zeros(n_periods, dtype=np.int64)
    length_out = np.full(n_periods, int(dur_bins[0]), dtype=np.int64)
    tq = quantise_times(t_rel)
    fq = fixed_point_frequencies(periods)
    for p in range(n_periods):
        nb = int(n_bins[p])
        bin_index = phase_bins(tq, fq[p], nb).astype(np.int64)
        starts = np.arange(nb)
        for length in dur_bins:
            if length > max_dur_bins[p]:
                break
            # inside[s, i]: point i lies in the box that starts at bin s (wrapping at phase 1).
            inside = ((bin_index[None, :] - starts[:, None]) % nb) < length
            w_in = inside @ w
            w_out = w.sum() - w_in
            wy_in = inside @ (w * y)
            wy_out = np.sum(w * y) - wy_in
            with np.errstate(divide="ignore", invalid="ignore"):
                d = wy_out / w_out - wy_in / w_in
                err = np.sqrt(1.0 / w_in + 1.0 / w_out)
                pw = 0.5 * (d / err) ** 2
            ok = (w_in > 0) & (w_out > 0) & (d > 0)
            if not ok.any():
                continue
            pw = np.where(ok, pw, -1.0)
            s = int(np.argmax(pw))
            if pw[s] > power[p]:
                power[p] = pw[s]
                depth[p] = d[s]
                depth_err[p] = err[s]
                start[p] = s
                length_out[p] = int(length)
    return power, depth, depth_err, start, length_out
