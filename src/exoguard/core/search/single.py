"""A single transit-like event: one box-shaped dip well above the noise, and no second one.

A period needs at least two transits, so the BLS search cannot report a lone dip (a long-period
planet seen once, or one eclipse) as a candidate. When the search finds nothing, this check
says whether the light curve holds one such event, so the user is told "one transit-like event
found; a period needs at least two" rather than "no signal".

The event statistic is the mean flux in a box of each trial duration, centred on each point,
below the light curve's median, divided by the robust scatter (1.4826 x MAD) of all box means of
that duration: the scatter of box means includes red noise, which a white-noise error per point
would miss. Boxes that fall in a gap (fewer than ``min_coverage`` of the expected points) are
left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numba import njit
from numpy.typing import NDArray

__all__ = ["SINGLE_EVENT_SNR_THRESHOLD", "SingleEvent", "box_means", "strongest_single_event"]

#: The SNR a lone dip needs before the search reports it. Higher than the periodic search's
#: threshold (7): one event has no second transit to confirm it. On the bundled light curves
#: the two real single transits reach 11.4 (K00777.01 in Kepler Q1) and 17.5 (Kepler-36 c in
#: Q0), while four unlabelled K2 C4 stars without a periodic candidate show dips of 7.9-9.6
#: (probably systematics) that this threshold leaves out.
SINGLE_EVENT_SNR_THRESHOLD = 10.0

#: Durations tried between the grid's shortest and longest (geometric).
N_DURATIONS = 8
MAD_TO_SIGMA = 1.4826
BoxMethod = Literal["fast", "slow"]


@dataclass(frozen=True)
class SingleEvent:
    """The strongest box-shaped dip of a light curve, with no second one above the threshold.

    Attributes
    ----------
    t_mid_bjd : float
        Centre of the dip, in the light curve's time scale (BJD_TDB).
    duration_hours : float
        Box duration of the strongest dip, hours.
    depth_ppm : float
        Median flux minus the mean flux in the box, ppm.
    snr : float
        Depth over the robust scatter of box means of that duration.
    second_snr : float
        The strongest dip elsewhere (not overlapping this one), same statistic; below the
        threshold by construction.
    """

    t_mid_bjd: float
    duration_hours: float
    depth_ppm: float
    snr: float
    second_snr: float

    def to_dict(self) -> dict[str, float]:
        """JSON-ready fields (rounded for display; units in the names)."""
        return {
            "t_mid_bjd": round(self.t_mid_bjd, 5),
            "duration_hours": round(self.duration_hours, 3),
            "depth_ppm": round(self.depth_ppm, 1),
            "snr": round(self.snr, 2),
            "second_snr": round(self.second_snr, 2),
        }


def box_means(
    time_bjd: NDArray[np.float64],
    flux: NDArray[np.float64],
    *,
    duration_days: float,
    method: BoxMethod = "fast",
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Mean flux in a box of ``duration_days`` centred on each point, and the points in it.

    Parameters
    ----------
    time_bjd : ndarray of shape (n,)
        Times, ascending, days.
    flux : ndarray of shape (n,)
        Relative flux.
    duration_days : float
        Box width, days (> 0); a point is in the box when ``|t - t_i| < duration_days / 2``.
    method : {"fast", "slow"}
        Cumulative sums over windows found in one compiled sweep (the same numbers as
        ``_box_means_numpy``'s binary searches), or the obviously correct loop (tests only).

    Returns
    -------
    means : ndarray of shape (n,)
        Mean flux in each box.
    counts : ndarray of shape (n,)
        Points in each box (at least 1: the centre).
    """
    if method not in ("fast", "slow"):
        raise ValueError(f"method must be 'fast' or 'slow', got {method!r}")
    if not duration_days > 0:
        raise ValueError(f"duration_days must be > 0, got {duration_days!r}")
    t = np.asarray(time_bjd, dtype=np.float64)
    y = np.asarray(flux, dtype=np.float64)
    half = 0.5 * duration_days
    if method == "slow":
        means = np.empty(t.size)
        counts = np.empty(t.size, dtype=np.int64)
        for i in range(t.size):
            inside = np.abs(t - t[i]) < half
            means[i] = y[inside].mean()
            counts[i] = int(inside.sum())
        return means, counts
    means, counts = _box_means_kernel(np.ascontiguousarray(t), np.ascontiguousarray(y), half)
    return np.asarray(means), np.asarray(counts)


def _box_means_numpy(
    t: NDArray[np.float64], y: NDArray[np.float64], half: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The vectorised reference of :func:`_box_means_kernel` (binary searches, cumulative sum)."""
    lo = np.searchsorted(t, t - half, side="right")
    hi = np.searchsorted(t, t + half, side="left")
    # the open interval keeps |t - t_i| < half; the centre is always inside
    lo = np.minimum(lo, np.arange(t.size))
    hi = np.maximum(hi, np.arange(t.size) + 1)
    csum = np.concatenate(([0.0], np.cumsum(y)))
    counts = (hi - lo).astype(np.int64)
    return (csum[hi] - csum[lo]) / counts, counts


@njit(cache=True, nogil=True)
def _box_means_kernel(  # pragma: no cover - compiled
    t: NDArray[np.float64], y: NDArray[np.float64], half: float
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """:func:`_box_means_numpy` with the window edges found by one sweep (the same numbers:
    the same comparisons, a cumulative sum in the same order)."""
    n = t.size
    csum = np.empty(n + 1)
    csum[0] = 0.0
    if n:
        csum[1] = y[0]  # as numpy's cumulative sum starts: the first value itself
    for i in range(1, n):
        csum[i + 1] = csum[i] + y[i]
    means = np.empty(n)
    counts = np.empty(n, dtype=np.int64)
    lo = 0
    hi = 0
    for i in range(n):
        start = t[i] - half  # first index with t > start (searchsorted side="right")
        while lo < n and t[lo] <= start:
            lo += 1
        end = t[i] + half  # first index with t >= end (side="left")
        while hi < n and t[hi] < end:
            hi += 1
        a = min(lo, i)
        b = max(hi, i + 1)
        counts[i] = b - a
        means[i] = (csum[b] - csum[a]) / (b - a)
    return means, counts


def strongest_single_event(
    time_bjd: NDArray[np.float64],
    flux: NDArray[np.float64],
    *,
    min_duration_days: float,
    max_duration_days: float,
    snr_threshold: float,
    repeat_snr_threshold: float | None = None,
    cadence_days: float | None = None,
    min_coverage: float = 0.75,
) -> SingleEvent | None:
    """The strongest single dip when it reaches ``snr_threshold`` and no other dip does.

    Parameters
    ----------
    time_bjd : ndarray of shape (n,)
        Times, days (sorted here if needed).
    flux : ndarray of shape (n,)
        Detrended relative flux (about 1 out of transit).
    min_duration_days, max_duration_days : float
        Shortest and longest box tried, days (``N_DURATIONS`` geometric steps).
    snr_threshold : float
        The strongest dip counts as an event at or above this SNR.
    repeat_snr_threshold : float, optional
        A second, separate dip at or above this SNR means the event is not single (default
        ``snr_threshold``).
    cadence_days : float, optional
        Sampling interval; default the median time step.
    min_coverage : float
        A box needs at least this fraction of its expected points (boxes in gaps are skipped).

    Returns
    -------
    SingleEvent or None
        None when no dip reaches the threshold, or when a second, separate one does too (that
        is a periodic search's business, not a single event).
    """
    if not 0 < min_duration_days <= max_duration_days:
        raise ValueError(
            "need 0 < min_duration_days <= max_duration_days, got "
            f"{min_duration_days!r}, {max_duration_days!r}"
        )
    t = np.asarray(time_bjd, dtype=np.float64)
    y = np.asarray(flux, dtype=np.float64)
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    order = np.argsort(t, kind="stable")
    t, y = t[order], y[order]
    if t.size < 20:
        return None
    cadence = float(np.median(np.diff(t))) if cadence_days is None else float(cadence_days)
    if not cadence > 0:
        return None
    level = float(np.median(y))
    durations = np.geomspace(min_duration_days, max_duration_days, N_DURATIONS)
    centres, widths, snrs, depths = [], [], [], []
    for duration in durations:
        means, counts = box_means(t, y, duration_days=float(duration))
        full = counts >= max(3, min_coverage * duration / cadence)
        if full.sum() < 10:
            continue
        valid = means[full]
        scatter = MAD_TO_SIGMA * float(np.median(np.abs(valid - np.median(valid))))
        if not scatter > 0:
            continue
        centres.append(t[full])
        widths.append(np.full(int(full.sum()), duration))
        depths.append(level - valid)
        snrs.append((level - valid) / scatter)
    if not snrs:
        return None
    centre, width = np.concatenate(centres), np.concatenate(widths)
    depth, snr = np.concatenate(depths), np.concatenate(snrs)
    best = int(np.argmax(snr))
    if not snr[best] >= snr_threshold:
        return None
    repeat = snr_threshold if repeat_snr_threshold is None else float(repeat_snr_threshold)
    lo, hi = _event_extent(centre, width, snr >= min(repeat, snr_threshold), best)
    # boxes that overlap no part of the event (a box partly over its dip is not a second one)
    elsewhere = (centre + 0.5 * width <= lo) | (centre - 0.5 * width >= hi)
    second = float(np.max(snr[elsewhere])) if elsewhere.any() else -math.inf
    if second >= repeat:
        return None
    return SingleEvent(
        t_mid_bjd=float(centre[best]),
        duration_hours=float(width[best] * 24.0),
        depth_ppm=float(depth[best] * 1e6),
        snr=float(snr[best]),
        second_snr=second,
    )


def _event_extent(
    centre: NDArray[np.float64], width: NDArray[np.float64], above: NDArray[np.bool_], best: int
) -> tuple[float, float]:
    """Time span (days) of the above-threshold boxes chained by overlap to box ``best``."""
    lo = float(centre[best] - 0.5 * width[best])
    hi = float(centre[best] + 0.5 * width[best])
    starts, ends = centre[above] - 0.5 * width[above], centre[above] + 0.5 * width[above]
    while True:
        touching = (starts < hi) & (ends > lo)
        new_lo, new_hi = (
            min(lo, float(starts[touching].min())),
            max(hi, float(ends[touching].max())),
        )
        if new_lo == lo and new_hi == hi:
            return lo, hi
        lo, hi = new_lo, new_hi
