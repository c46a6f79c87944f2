"""Phase-folded views for the neural classifier and the pages (pure numpy).

Conventions (after AstroNet, Shallue & Vanderburg 2018):

* phase is the time from the nearest transit centre in days, in ``[-P/2, P/2)``;
* **global view**: ``n_bins = 2001`` bins of width ``P / n_bins`` over the whole period;
* **local view**: ``n_bins = 201`` bins over a window of ``n_durations`` transit
  durations in total, centred on the transit (default 4, i.e. ±2 durations; AstroNet
  used ±4), clipped to ±P/2;
* **odd/even views**: local views of the odd and of the even transit epochs
  (epoch = ``round((t - t0) / P)``);
* **secondary view**: a local-sized window centred on phase 0.5;
* **phase × transit image**: ``n_transits = 32`` rows (transit epochs in time order;
  consecutive epochs share a row when there are more than 32) × ``n_phase_bins = 64``
  phase bins over the local window;
* each bin holds the **median** of its points. Global bins do not overlap (width
  P/2001); local-type bins (local, odd/even, secondary, image columns) are 0.16
  durations wide as in AstroNet, so they overlap and smooth (``bin_width_factor=None``
  for non-overlapping bins). Empty bins are linearly interpolated from their
  neighbours, so no view holds NaN (image rows with no data at all are 0);
* normalisation: subtract the median, divide by the depth, so that the median is 0
  and the transit bottom is -1. The depth is ``-min`` of the view within ±duration/2
  of the transit centre (AstroNet: the global minimum; we use the global minimum when
  the transit window shows no dip). In a ``ViewSet`` the odd/even, secondary and image
  views are divided by the local view's depth, so their depths compare directly
  (an even view at -0.5 means half the depth; a secondary at -0.1 a tenth).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from exoguard.core.lightcurve import FloatArray, LightCurve, fold_phase_days
from exoguard.errors import ValidationError

GLOBAL_BINS = 2001
LOCAL_BINS = 201
LOCAL_N_DURATIONS = 4.0
LOCAL_BIN_WIDTH_FACTOR = 0.16
IMAGE_PHASE_BINS = 64
IMAGE_TRANSITS = 32
TIME_SERIES_BINS = 2048


# ---------------------------------------------------------------------- binning
def bin_median(
    x: ArrayLike, y: ArrayLike, *, lo: float, hi: float, n_bins: int
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Median of ``y`` in ``n_bins`` equal bins of ``x`` over ``[lo, hi)``.

    Vectorised: one sort by (bin, value) and ``bincount``; O(n log n). The sort key is
    ``bin + 0.5 * (y - min) / (max - min)``, a single float ``argsort`` (about 3× faster
    than ``lexsort`` of the two columns); the order is the same up to values closer than
    ``(max - min) * 2**-40``, which leaves the medians unchanged at that level.

    Returns
    -------
    medians : ndarray, shape (n_bins,)
        NaN where a bin is empty.
    counts : ndarray, shape (n_bins,)
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    if not hi > lo:
        raise ValueError(f"the bin range must have hi > lo, got [{lo}, {hi})")
    xv = np.asarray(x, dtype=np.float64)
    yv = np.asarray(y, dtype=np.float64)
    idx = np.floor((xv - lo) * (n_bins / (hi - lo))).astype(np.int64)
    ok = (idx >= 0) & (idx < n_bins) & np.isfinite(yv)
    idx, yv = idx[ok], yv[ok]
    counts = np.bincount(idx, minlength=n_bins).astype(np.int64)
    out = np.full(n_bins, np.nan)
    if idx.size == 0:
        return out, counts
    ymin = float(yv.min())
    span = float(yv.max()) - ymin
    key = idx + 0.5 * (yv - ymin) / span if span > 0 else idx.astype(np.float64)
    ys = yv[np.argsort(key)]
    starts = np.cumsum(counts) - counts
    has = counts > 0
    lo_i = starts[has] + (counts[has] - 1) // 2
    hi_i = starts[has] + counts[has] // 2
    out[has] = 0.5 * (ys[lo_i] + ys[hi_i])
    return out, counts


def bin_median_slow(
    x: ArrayLike, y: ArrayLike, *, lo: float, hi: float, n_bins: int
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Reference for :func:`bin_median`: a Python loop over bins."""
    xv = np.asarray(x, dtype=np.float64)
    yv = np.asarray(y, dtype=np.float64)
    edges = lo + (hi - lo) * np.arange(n_bins + 1) / n_bins
    out = np.full(n_bins, np.nan)
    counts = np.zeros(n_bins, dtype=np.int64)
    for i in range(n_bins):
        sel = (xv >= edges[i]) & (xv < edges[i + 1]) & np.isfinite(yv)
        counts[i] = int(sel.sum())
        if counts[i]:
            out[i] = float(np.median(yv[sel]))
    return out, counts


def bin_median_overlapping(
    x: ArrayLike, y: ArrayLike, *, lo: float, hi: float, n_bins: int, bin_width: float
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Median of ``y`` in ``n_bins`` bins centred evenly over ``[lo, hi)``, each
    ``bin_width`` wide (bins may overlap, as AstroNet's local view).

    One sort, then a ``searchsorted`` for every bin's edges and a median per bin.

    Returns
    -------
    medians : ndarray, shape (n_bins,)
        NaN where a bin is empty.
    counts : ndarray, shape (n_bins,)
    """
    if n_bins < 1 or not bin_width > 0 or not hi > lo:
        raise ValueError("need n_bins >= 1, bin_width > 0 and hi > lo")
    xv = np.asarray(x, dtype=np.float64)
    yv = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(xv) & np.isfinite(yv) & (xv >= lo - bin_width) & (xv < hi + bin_width)
    order = np.argsort(xv[ok], kind="stable")
    xs, ys = xv[ok][order], yv[ok][order]
    centres = lo + (np.arange(n_bins) + 0.5) * (hi - lo) / n_bins
    left = np.searchsorted(xs, np.maximum(centres - 0.5 * bin_width, lo), side="left")
    right = np.searchsorted(xs, np.minimum(centres + 0.5 * bin_width, hi), side="left")
    counts = (right - left).astype(np.int64)
    out = np.full(n_bins, np.nan)
    for i in np.flatnonzero(counts):
        out[i] = np.median(ys[left[i] : right[i]])
    return out, counts


def _bin(
    x: ArrayLike, y: ArrayLike, *, lo: float, hi: float, n_bins: int, bin_width: float | None
) -> tuple[FloatArray, NDArray[np.int64]]:
    if bin_width is None or bin_width <= (hi - lo) / n_bins * (1 + 1e-9):
        return bin_median(x, y, lo=lo, hi=hi, n_bins=n_bins)
    return bin_median_overlapping(x, y, lo=lo, hi=hi, n_bins=n_bins, bin_width=bin_width)


def fill_empty(values: ArrayLike) -> FloatArray:
    """Linear interpolation over NaN entries (ends take the nearest value; all-NaN → 0)."""
    v = np.array(values, dtype=np.float64)
    ok = np.isfinite(v)
    if ok.all():
        return v
    if not ok.any():
        return np.zeros_like(v)
    pos = np.arange(v.size)
    v[~ok] = np.interp(pos[~ok], pos[ok], v[ok])
    return v


def _depth_scale(view: FloatArray, centre: NDArray[np.bool_] | None) -> float:
    """Depth below the median used to normalise (see module docstring)."""
    v = view - np.median(view)
    noise = 1.4826 * float(np.median(np.abs(v - np.median(v))))
    global_min = float(np.min(v))
    if centre is not None and centre.any():
        dip = -float(np.min(v[centre]))
        if dip > 3.0 * noise and dip > 0:
            return dip
    if global_min < 0:
        return -global_min
    return noise if noise > 0 else 1.0


def normalise_view(
    view: ArrayLike, *, depth_scale: float | None = None, centre: ArrayLike | None = None
) -> tuple[FloatArray, float, float]:
    """``(view - median) / depth``.

    Parameters
    ----------
    view : array
        Binned relative flux (NaN-free).
    depth_scale : float, optional
        Divide by this (relative flux) instead of the view's own depth.
    centre : bool array, optional
        Bins of the transit window, where the depth is measured.

    Returns
    -------
    normalised : ndarray
    level : float
        The median subtracted.
    depth_scale : float
        The depth divided by (relative flux units).
    """
    v = np.asarray(view, dtype=np.float64)
    level = float(np.median(v))
    c = None if centre is None else np.asarray(centre, dtype=bool)
    scale = _depth_scale(v, c) if depth_scale is None else float(depth_scale)
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"depth_scale must be positive, got {scale}")
    return (v - level) / scale, level, scale


def _check_ephemeris(period_days: float, duration_hours: float | None) -> None:
    if not (np.isfinite(period_days) and period_days > 0):
        raise ValueError(f"period_days must be positive, got {period_days}")
    if duration_hours is not None and not (np.isfinite(duration_hours) and duration_hours > 0):
        raise ValueError(f"duration_hours must be positive, got {duration_hours}")


def _local_half_width(period_days: float, duration_hours: float, n_durations: float) -> float:
    if not n_durations > 0:
        raise ValueError(f"n_durations must be positive, got {n_durations}")
    return min(0.5 * period_days, 0.5 * n_durations * duration_hours / 24.0)


def _centre_bins(lo: float, hi: float, n_bins: int, half_days: float) -> NDArray[np.bool_]:
    centres = lo + (np.arange(n_bins) + 0.5) * (hi - lo) / n_bins
    return np.asarray(np.abs(centres) <= max(half_days, (hi - lo) / n_bins), dtype=bool)


# ---------------------------------------------------------------------- raw views
def _local_raw(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    n_bins: int,
    n_durations: float,
    bin_width_factor: float | None,
    select: NDArray[np.bool_] | None = None,
) -> tuple[FloatArray, NDArray[np.int64], float]:
    """Binned (un-normalised) local window: values, counts, half width (days)."""
    half = _local_half_width(period_days, duration_hours, n_durations)
    phase = fold_phase_days(lc.time_bjd, period_days=period_days, t0_bjd=t0_bjd)
    flux = lc.flux
    if select is not None:
        phase, flux = phase[select], flux[select]
    width = None if bin_width_factor is None else bin_width_factor * duration_hours / 24.0
    values, counts = _bin(phase, flux, lo=-half, hi=half, n_bins=n_bins, bin_width=width)
    return values, counts, half


@dataclass(frozen=True)
class _Local:
    """The binning of local-type views (one place for their shared parameters)."""

    period_days: float
    duration_hours: float
    n_bins: int
    n_durations: float
    bin_width_factor: float | None

    def raw(
        self, lc: LightCurve, t0_bjd: float, select: NDArray[np.bool_] | None = None
    ) -> tuple[FloatArray, NDArray[np.int64], float]:
        return _local_raw(
            lc,
            period_days=self.period_days,
            t0_bjd=t0_bjd,
            duration_hours=self.duration_hours,
            n_bins=self.n_bins,
            n_durations=self.n_durations,
            bin_width_factor=self.bin_width_factor,
            select=select,
        )

    def centre(self, half: float) -> NDArray[np.bool_]:
        return _centre_bins(-half, half, self.n_bins, 0.5 * self.duration_hours / 24.0)


def _no_data(lc: LightCurve, half: float, period_days: float, t0_bjd: float) -> ValidationError:
    return ValidationError(
        f"{lc.target_id}: no data within ±{half:.3f} d of the transits "
        f"(P={period_days} d, t0={t0_bjd})"
    )


def global_view(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float | None = None,
    n_bins: int = GLOBAL_BINS,
) -> FloatArray:
    """Whole-period phase-folded view.

    Parameters
    ----------
    lc : LightCurve
        Detrended light curve.
    period_days, t0_bjd : float
        Ephemeris (BJD_TDB).
    duration_hours : float, optional
        Transit duration: the depth used to normalise is measured within ±duration/2
        (without it, the global minimum, as AstroNet).
    n_bins : int
        Number of non-overlapping bins over ``[-P/2, P/2)``.

    Returns
    -------
    ndarray, shape (n_bins,)
        Median 0, transit bottom -1, no NaN.

    Raises
    ------
    ValidationError
        If the light curve has no point.
    """
    _check_ephemeris(period_days, duration_hours)
    if lc.n_points == 0:
        raise ValidationError("cannot build a view of an empty light curve")
    values, _ = _global_raw(lc, period_days=period_days, t0_bjd=t0_bjd, n_bins=n_bins)
    half = 0.5 * period_days
    centre = (
        None
        if duration_hours is None
        else _centre_bins(-half, half, n_bins, 0.5 * duration_hours / 24.0)
    )
    return normalise_view(fill_empty(values), centre=centre)[0]


def _global_raw(
    lc: LightCurve, *, period_days: float, t0_bjd: float, n_bins: int
) -> tuple[FloatArray, NDArray[np.int64]]:
    half = 0.5 * period_days
    phase = fold_phase_days(lc.time_bjd, period_days=period_days, t0_bjd=t0_bjd)
    return bin_median(phase, lc.flux, lo=-half, hi=half, n_bins=n_bins)


def local_view(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    n_bins: int = LOCAL_BINS,
    n_durations: float = LOCAL_N_DURATIONS,
    bin_width_factor: float | None = LOCAL_BIN_WIDTH_FACTOR,
    depth_scale: float | None = None,
) -> FloatArray:
    """View of the transit: ``n_durations`` durations wide in total (±2 by default).

    Parameters
    ----------
    bin_width_factor : float or None
        Bin width in durations (0.16, AstroNet's: bins overlap and smooth); ``None``
        for non-overlapping bins.
    depth_scale : float, optional
        Divide by this depth (relative flux) instead of the view's own.

    Returns
    -------
    ndarray, shape (n_bins,)
        Median 0, transit bottom -1 (or divided by ``depth_scale``), no NaN.

    Raises
    ------
    ValidationError
        If no point falls within the window.
    """
    _check_ephemeris(period_days, duration_hours)
    spec = _Local(period_days, duration_hours, n_bins, n_durations, bin_width_factor)
    values, counts, half = spec.raw(lc, t0_bjd)
    if counts.sum() == 0:
        raise _no_data(lc, half, period_days, t0_bjd)
    return normalise_view(fill_empty(values), depth_scale=depth_scale, centre=spec.centre(half))[0]


def odd_even_views(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    n_bins: int = LOCAL_BINS,
    n_durations: float = LOCAL_N_DURATIONS,
    bin_width_factor: float | None = LOCAL_BIN_WIDTH_FACTOR,
    depth_scale: float | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Local views of the odd and the even transits (epoch parity; epoch 0 is even).

    Both are divided by one depth (``depth_scale``, or the local view's of all
    transits), so a depth difference shows. A parity without data gives zeros.

    Returns
    -------
    odd, even : ndarray, shape (n_bins,)
    """
    _check_ephemeris(period_days, duration_hours)
    spec = _Local(period_days, duration_hours, n_bins, n_durations, bin_width_factor)
    if depth_scale is None:
        values, counts, half = spec.raw(lc, t0_bjd)
        if counts.sum() == 0:
            raise _no_data(lc, half, period_days, t0_bjd)
        depth_scale = _depth_scale(fill_empty(values), spec.centre(half))
    epoch = np.round((lc.time_bjd - t0_bjd) / period_days).astype(np.int64)
    out = []
    for parity in (1, 0):
        values, counts, _ = spec.raw(lc, t0_bjd, (epoch % 2) == parity)
        if counts.sum() == 0:
            out.append(np.zeros(n_bins))
        else:
            out.append(normalise_view(fill_empty(values), depth_scale=depth_scale)[0])
    return out[0], out[1]


def secondary_view(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    n_bins: int = LOCAL_BINS,
    n_durations: float = LOCAL_N_DURATIONS,
    bin_width_factor: float | None = LOCAL_BIN_WIDTH_FACTOR,
    depth_scale: float | None = None,
) -> FloatArray:
    """Local-sized view centred on phase 0.5 (secondary eclipse); zeros without data.

    Divided by ``depth_scale`` when given (the primary depth, as in a ``ViewSet``);
    otherwise by the primary transit's depth measured from the same light curve.
    """
    _check_ephemeris(period_days, duration_hours)
    spec = _Local(period_days, duration_hours, n_bins, n_durations, bin_width_factor)
    values, counts, half = spec.raw(lc, t0_bjd + 0.5 * period_days)
    if counts.sum() == 0:
        return np.zeros(n_bins)
    if depth_scale is None:
        primary, p_counts, _ = spec.raw(lc, t0_bjd)
        if p_counts.any():
            depth_scale = _depth_scale(fill_empty(primary), spec.centre(half))
    return normalise_view(fill_empty(values), depth_scale=depth_scale)[0]


def phase_transit_image(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    n_phase_bins: int = IMAGE_PHASE_BINS,
    n_transits: int = IMAGE_TRANSITS,
    n_durations: float = LOCAL_N_DURATIONS,
    bin_width_factor: float | None = LOCAL_BIN_WIDTH_FACTOR,
    depth_scale: float | None = None,
    level: float | None = None,
) -> FloatArray:
    """2-D image: transit epochs (rows, time order) × phase bins over the local window.

    With more epochs than ``n_transits`` (counting from the first to the last epoch
    with data), consecutive epochs share a row; with fewer, they fill the first rows.
    Rows with no data are 0; empty cells inside a row are interpolated along phase.

    Parameters
    ----------
    depth_scale, level : float, optional
        Normalisation ``(flux - level) / depth_scale``; by default from the local
        view of all transits at the image's phase resolution.

    Returns
    -------
    ndarray, shape (n_transits, n_phase_bins)
        Median 0, transit bottom about -1.
    """
    _check_ephemeris(period_days, duration_hours)
    if n_phase_bins < 2 or n_transits < 1:
        raise ValueError("n_phase_bins must be >= 2 and n_transits >= 1")
    half = _local_half_width(period_days, duration_hours, n_durations)
    phase = fold_phase_days(lc.time_bjd, period_days=period_days, t0_bjd=t0_bjd)
    margin = 0.0 if bin_width_factor is None else bin_width_factor * duration_hours / 48.0
    inside = np.abs(phase) < half + margin
    image = np.zeros((n_transits, n_phase_bins))
    if not inside.any():
        return image
    if level is None or depth_scale is None:
        local, counts, _ = _local_raw(
            lc,
            period_days=period_days,
            t0_bjd=t0_bjd,
            duration_hours=duration_hours,
            n_bins=n_phase_bins,
            n_durations=n_durations,
            bin_width_factor=bin_width_factor,
        )
        filled = fill_empty(local)
        centre = _centre_bins(-half, half, n_phase_bins, 0.5 * duration_hours / 24.0)
        level = float(np.median(filled)) if level is None else level
        depth_scale = _depth_scale(filled, centre) if depth_scale is None else depth_scale
    epoch = np.round((lc.time_bjd[inside] - t0_bjd) / period_days).astype(np.int64)
    span = int(epoch.max() - epoch.min()) + 1
    rel = epoch - epoch.min()
    row = rel if span <= n_transits else (rel * n_transits) // span
    ph, fl = phase[inside], lc.flux[inside]
    width = None if bin_width_factor is None else bin_width_factor * duration_hours / 24.0
    for r in np.unique(row):
        sel = row == r
        values, counts = _bin(
            ph[sel], fl[sel], lo=-half, hi=half, n_bins=n_phase_bins, bin_width=width
        )
        if counts.any():
            image[r] = (fill_empty(values) - level) / depth_scale
    return image


def time_series_view(
    lc: LightCurve, *, n_bins: int = TIME_SERIES_BINS
) -> tuple[FloatArray, NDArray[np.bool_]]:
    """The light curve binned in time, for a sequence model.

    Returns
    -------
    values : ndarray, shape (n_bins,)
        Median (relative flux - 1) per time bin divided by the robust scatter of the
        bins; empty bins 0.
    valid : bool ndarray, shape (n_bins,)
        True where a bin holds data (an attention mask).
    """
    if lc.n_points == 0:
        raise ValidationError("cannot build a view of an empty light curve")
    t = lc.time_bjd
    span = max(float(t[-1] - t[0]), 1e-9)
    values, counts = bin_median(
        t, lc.flux, lo=float(t[0]), hi=float(t[0]) + span * (1 + 1e-9), n_bins=n_bins
    )
    valid = counts > 0
    out = np.zeros(n_bins)
    if valid.any():
        v = values[valid] - 1.0
        scale = 1.4826 * float(np.median(np.abs(v - np.median(v))))
        out[valid] = v / (scale if scale > 0 else 1.0)
    return out, valid


# ---------------------------------------------------------------------- all at once
@dataclass(frozen=True, eq=False)
class ViewSet:
    """Every view of one candidate, on one depth scale.

    Attributes
    ----------
    global_view : ndarray, shape (2001,)
    local_view : ndarray, shape (201,)
    odd_view, even_view, secondary_view : ndarray, shape (201,)
    phase_transit_image : ndarray, shape (32, 64)
    depth_scale : float
        Relative flux of -1 in the local view (the transit depth); the depth in ppm
        of a view value ``v`` is ``-v * depth_scale * 1e6``.
    level : float
        Relative flux of 0 (the local view's median): ``flux = level - v * depth_scale``.
    period_days, t0_bjd, duration_hours : float
        The ephemeris used.
    coverage : dict
        Fraction of non-empty bins (before interpolation) of the global, local, odd,
        even and secondary views.
    """

    global_view: FloatArray
    local_view: FloatArray
    odd_view: FloatArray
    even_view: FloatArray
    secondary_view: FloatArray
    phase_transit_image: FloatArray
    depth_scale: float
    level: float
    period_days: float
    t0_bjd: float
    duration_hours: float
    coverage: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Views as lists (JSON-ready) plus the scalars."""
        return {
            "global_view": self.global_view.tolist(),
            "local_view": self.local_view.tolist(),
            "odd_view": self.odd_view.tolist(),
            "even_view": self.even_view.tolist(),
            "secondary_view": self.secondary_view.tolist(),
            "phase_transit_image": self.phase_transit_image.tolist(),
            "depth_scale": self.depth_scale,
            "level": self.level,
            "period_days": self.period_days,
            "t0_bjd": self.t0_bjd,
            "duration_hours": self.duration_hours,
            "coverage": dict(self.coverage),
        }


def make_views(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    global_bins: int = GLOBAL_BINS,
    local_bins: int = LOCAL_BINS,
    n_durations: float = LOCAL_N_DURATIONS,
    bin_width_factor: float | None = LOCAL_BIN_WIDTH_FACTOR,
    n_phase_bins: int = IMAGE_PHASE_BINS,
    n_transits: int = IMAGE_TRANSITS,
) -> ViewSet:
    """All views of one candidate (see the module docstring for the conventions).

    Raises
    ------
    ValidationError
        If no point falls within the local window of the transits.
    """
    _check_ephemeris(period_days, duration_hours)
    if lc.n_points == 0:
        raise ValidationError("cannot build views of an empty light curve")
    spec = _Local(period_days, duration_hours, local_bins, n_durations, bin_width_factor)
    local_raw, local_counts, half = spec.raw(lc, t0_bjd)
    if local_counts.sum() == 0:
        raise _no_data(lc, half, period_days, t0_bjd)
    local, level, scale = normalise_view(fill_empty(local_raw), centre=spec.centre(half))

    g_raw, g_counts = _global_raw(lc, period_days=period_days, t0_bjd=t0_bjd, n_bins=global_bins)
    g_half = 0.5 * period_days
    g_centre = _centre_bins(-g_half, g_half, global_bins, 0.5 * duration_hours / 24.0)
    glob = normalise_view(fill_empty(g_raw), centre=g_centre)[0]

    epoch = np.round((lc.time_bjd - t0_bjd) / period_days).astype(np.int64)
    parity_views = []
    coverage = {
        "global_view": float(np.mean(g_counts > 0)),
        "local_view": float(np.mean(local_counts > 0)),
    }
    for name, parity in (("odd_view", 1), ("even_view", 0)):
        values, counts, _ = spec.raw(lc, t0_bjd, (epoch % 2) == parity)
        coverage[name] = float(np.mean(counts > 0))
        parity_views.append(
            np.zeros(local_bins)
            if counts.sum() == 0
            else normalise_view(fill_empty(values), depth_scale=scale)[0]
        )
    sec_raw, sec_counts, _ = spec.raw(lc, t0_bjd + 0.5 * period_days)
    coverage["secondary_view"] = float(np.mean(sec_counts > 0))
    secondary = (
        np.zeros(local_bins)
        if sec_counts.sum() == 0
        else normalise_view(fill_empty(sec_raw), depth_scale=scale)[0]
    )
    image = phase_transit_image(
        lc,
        period_days=period_days,
        t0_bjd=t0_bjd,
        duration_hours=duration_hours,
        n_phase_bins=n_phase_bins,
        n_transits=n_transits,
        n_durations=n_durations,
        bin_width_factor=bin_width_factor,
        depth_scale=scale,
        level=level,
    )
    return ViewSet(
        global_view=glob,
        local_view=local,
        odd_view=parity_views[0],
        even_view=parity_views[1],
        secondary_view=secondary,
        phase_transit_image=image,
        depth_scale=scale,
        level=level,
        period_days=float(period_days),
        t0_bjd=float(t0_bjd),
        duration_hours=float(duration_hours),
        coverage=coverage,
    )
