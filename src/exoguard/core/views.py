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
from numpy.typing import NDArray

from exoguard.core.binning import (
    bin_median,
    bin_values,
    centre_bins,
    fill_empty,
    normalise_view,
    view_depth,
)
from exoguard.core.lightcurve import FloatArray, LightCurve, fold_phase_days
from exoguard.errors import ValidationError

GLOBAL_BINS = 2001
LOCAL_BINS = 201
LOCAL_N_DURATIONS = 4.0
LOCAL_BIN_WIDTH_FACTOR = 0.16
IMAGE_PHASE_BINS = 64
IMAGE_TRANSITS = 32
TIME_SERIES_BINS = 2048


def _check_ephemeris(period_days: float, duration_hours: float | None) -> None:
    if not (np.isfinite(period_days) and period_days > 0):
        raise ValueError(f"period_days must be positive, got {period_days}")
    if duration_hours is not None and not (np.isfinite(duration_hours) and duration_hours > 0):
        raise ValueError(f"duration_hours must be positive, got {duration_hours}")


def _local_half_width(period_days: float, duration_hours: float, n_durations: float) -> float:
    if not n_durations > 0:
        raise ValueError(f"n_durations must be positive, got {n_durations}")
    return min(0.5 * period_days, 0.5 * n_durations * duration_hours / 24.0)


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
        """Binned (un-normalised) local window: values, counts, half width (days)."""
        half = _local_half_width(self.period_days, self.duration_hours, self.n_durations)
        phase = fold_phase_days(lc.time_bjd, period_days=self.period_days, t0_bjd=t0_bjd)
        flux = lc.flux
        if select is not None:
            phase, flux = phase[select], flux[select]
        factor = self.bin_width_factor
        width = None if factor is None else factor * self.duration_hours / 24.0
        values, counts = bin_values(
            phase, flux, lo=-half, hi=half, n_bins=self.n_bins, bin_width=width
        )
        return values, counts, half

    def centre(self, half: float) -> NDArray[np.bool_]:
        return centre_bins(-half, half, self.n_bins, 0.5 * self.duration_hours / 24.0)


def _no_data(lc: LightCurve, half: float, period_days: float, t0_bjd: float) -> ValidationError:
    return ValidationError(
        f"{lc.target_id}: no data within ±{half:.3f} d of the transits "
        f"(P={period_days} d, t0={t0_bjd})"
    )


# ---------------------------------------------------------------------- single views
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
    return _global(
        lc, period_days=period_days, t0_bjd=t0_bjd, duration_hours=duration_hours, n_bins=n_bins
    )[0]


def _global(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float | None,
    n_bins: int,
) -> tuple[FloatArray, NDArray[np.int64]]:
    """Normalised global view and the point count of each bin."""
    half = 0.5 * period_days
    phase = fold_phase_days(lc.time_bjd, period_days=period_days, t0_bjd=t0_bjd)
    values, counts = bin_median(phase, lc.flux, lo=-half, hi=half, n_bins=n_bins)
    centre = (
        None
        if duration_hours is None
        else centre_bins(-half, half, n_bins, 0.5 * duration_hours / 24.0)
    )
    return normalise_view(fill_empty(values), centre=centre)[0], counts


@dataclass(frozen=True, eq=False)
class LocalViews:
    """The local-type views of one candidate, all divided by one depth.

    Attributes
    ----------
    local, odd, even, secondary : ndarray, shape (n_bins,)
        Local view of all transits, of the odd and of the even epochs (epoch parity;
        epoch 0 is even), and the local-sized window at phase 0.5. A parity or a
        secondary window without data is all zeros.
    level, depth_scale : float
        Relative flux of 0 and of -1 (the local view's median and depth, or
        ``depth_scale`` when given).
    coverage : dict
        Fraction of non-empty bins (before interpolation) of each view, keyed
        ``"local_view"``, ``"odd_view"``, ``"even_view"``, ``"secondary_view"``.
    """

    local: FloatArray
    odd: FloatArray
    even: FloatArray
    secondary: FloatArray
    level: float
    depth_scale: float
    coverage: dict[str, float]


def local_views(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    n_bins: int = LOCAL_BINS,
    n_durations: float = LOCAL_N_DURATIONS,
    bin_width_factor: float | None = LOCAL_BIN_WIDTH_FACTOR,
    depth_scale: float | None = None,
) -> LocalViews:
    """Local, odd, even and secondary views: ``n_durations`` durations wide in total
    (±2 by default), the secondary centred on phase 0.5.

    Parameters
    ----------
    bin_width_factor : float or None
        Bin width in durations (0.16, AstroNet's: bins overlap and smooth); ``None``
        for non-overlapping bins.
    depth_scale : float, optional
        Divide every view by this depth (relative flux) instead of the local view's.

    Raises
    ------
    ValidationError
        If no point falls within the local window of the transits.
    """
    _check_ephemeris(period_days, duration_hours)
    spec = _Local(period_days, duration_hours, n_bins, n_durations, bin_width_factor)
    values, counts, half = spec.raw(lc, t0_bjd)
    if counts.sum() == 0:
        raise _no_data(lc, half, period_days, t0_bjd)
    local, level, scale = normalise_view(
        fill_empty(values), depth_scale=depth_scale, centre=spec.centre(half)
    )
    coverage = {"local_view": float(np.mean(counts > 0))}
    parity = np.round((lc.time_bjd - t0_bjd) / period_days).astype(np.int64) % 2
    others: dict[str, FloatArray] = {}
    for name, centre_bjd, select in (
        ("odd_view", t0_bjd, parity == 1),
        ("even_view", t0_bjd, parity == 0),
        ("secondary_view", t0_bjd + 0.5 * period_days, None),
    ):
        values, counts, _ = spec.raw(lc, centre_bjd, select)
        coverage[name] = float(np.mean(counts > 0))
        others[name] = (
            np.zeros(n_bins)
            if counts.sum() == 0
            else normalise_view(fill_empty(values), depth_scale=scale)[0]
        )
    return LocalViews(
        local=local,
        odd=others["odd_view"],
        even=others["even_view"],
        secondary=others["secondary_view"],
        level=level,
        depth_scale=scale,
        coverage=coverage,
    )


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
        spec = _Local(period_days, duration_hours, n_phase_bins, n_durations, bin_width_factor)
        local, _, _ = spec.raw(lc, t0_bjd)
        filled = fill_empty(local)
        level = float(np.median(filled)) if level is None else level
        depth_scale = view_depth(filled, spec.centre(half)) if depth_scale is None else depth_scale
    epoch = np.round((lc.time_bjd[inside] - t0_bjd) / period_days).astype(np.int64)
    span = int(epoch.max() - epoch.min()) + 1
    rel = epoch - epoch.min()
    row = rel if span <= n_transits else (rel * n_transits) // span
    ph, fl = phase[inside], lc.flux[inside]
    width = None if bin_width_factor is None else bin_width_factor * duration_hours / 24.0
    for r in np.unique(row):
        sel = row == r
        values, counts = bin_values(
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
    ephemeris = {"period_days": period_days, "t0_bjd": t0_bjd, "duration_hours": duration_hours}
    local = local_views(
        lc,
        **ephemeris,
        n_bins=local_bins,
        n_durations=n_durations,
        bin_width_factor=bin_width_factor,
    )
    glob, g_counts = _global(lc, **ephemeris, n_bins=global_bins)
    image = phase_transit_image(
        lc,
        **ephemeris,
        n_phase_bins=n_phase_bins,
        n_transits=n_transits,
        n_durations=n_durations,
        bin_width_factor=bin_width_factor,
        depth_scale=local.depth_scale,
        level=local.level,
    )
    return ViewSet(
        global_view=glob,
        local_view=local.local,
        odd_view=local.odd,
        even_view=local.even,
        secondary_view=local.secondary,
        phase_transit_image=image,
        depth_scale=local.depth_scale,
        level=local.level,
        period_days=float(period_days),
        t0_bjd=float(t0_bjd),
        duration_hours=float(duration_hours),
        coverage={"global_view": float(np.mean(g_counts > 0)), **local.coverage},
    )
