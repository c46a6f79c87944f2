"""Light-curve panels of the vetting report: detrending, periodogram, folded and binned views.

The report shows fluxes in physical units (ppm of the out-of-transit level) around the
candidate's own ephemeris, so the folding and binning here work on days and ppm; the model
inputs of `exoguard.core.views` are normalised differently and are not what a vetter reads.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from exoguard.core.lightcurve import LightCurve, fold_phase_days
from exoguard.core.transit_measures import transit_mask
from exoguard.reports.model import Diagnostics, ReportCurves, finite_or_none

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

__all__ = [
    "BinnedView",
    "DepthEstimate",
    "binned",
    "build_curves",
    "complete_diagnostics",
    "depth_estimate",
    "sde_at_period",
]

#: Above this many points the periodogram runs on a light curve binned to `PERIODOGRAM_BIN_S`.
PERIODOGRAM_MAX_POINTS = 25_000
PERIODOGRAM_BIN_S = 600.0
#: The periodogram grid is thinned to at most this many trial periods.
PERIODOGRAM_MAX_PERIODS = 8_000
#: Relative half-width of the full-resolution windows around the period and its aliases.
PERIODOGRAM_FINE_FRACTION = 0.004
#: Without an explicit range the periodogram stops at max(this x period, the next constant).
PERIODOGRAM_PERIOD_SPAN = 5.0
PERIODOGRAM_MIN_MAX_PERIOD_DAYS = 50.0


@dataclass(frozen=True)
class BinnedView:
    """Binned flux: bin centres (x units of the caller) and the median flux per bin (ppm)."""

    x: FloatArray
    y: FloatArray
    count: NDArray[np.int64]


@dataclass(frozen=True)
class DepthEstimate:
    """Mean depth (ppm, positive = dimming) of the central half of the transits, and its error."""

    depth_ppm: float
    err_ppm: float
    n_points: int


def to_ppm(flux: ArrayLike) -> FloatArray:
    """Relative flux (~1) as ppm deviation from 1."""
    return (np.asarray(flux, dtype=np.float64) - 1.0) * 1e6


def binned(
    x: ArrayLike, y: ArrayLike, *, lo: float, hi: float, n_bins: int, min_count: int = 1
) -> BinnedView:
    """Median of `y` in `n_bins` equal bins of `x` over [lo, hi); sparse bins dropped.

    The medians come from `exoguard.core.binning.bin_median` (the binning of the model views).
    """
    if n_bins < 1 or not hi > lo:
        raise ValueError(f"need n_bins >= 1 and hi > lo; got n_bins={n_bins}, [{lo}, {hi}]")
    from exoguard.core.binning import bin_median

    med, count = bin_median(x, y, lo=lo, hi=hi, n_bins=n_bins)
    edges = np.linspace(lo, hi, n_bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    ok = (count >= min_count) & np.isfinite(med)
    return BinnedView(centres[ok], np.asarray(med[ok], dtype=np.float64), count[ok])


def depth_estimate(
    flux_ppm: ArrayLike, in_core: ArrayLike, out_of_transit: ArrayLike
) -> DepthEstimate | None:
    """Depth from mean in-core flux versus the out-of-transit mean; None if no points."""
    f = np.asarray(flux_ppm, dtype=np.float64)
    inside = f[np.asarray(in_core, dtype=bool) & np.isfinite(f)]
    outside = f[np.asarray(out_of_transit, dtype=bool) & np.isfinite(f)]
    if inside.size < 2 or outside.size < 10:
        return None
    scatter = 1.4826 * float(np.median(np.abs(outside - np.median(outside))))
    depth = float(np.mean(outside) - np.mean(inside))
    err = float(np.sqrt(scatter**2 / inside.size + scatter**2 / outside.size))
    return DepthEstimate(depth_ppm=depth, err_ppm=err, n_points=int(inside.size))


def _bin_lightcurve(lc: LightCurve, bin_s: float) -> LightCurve:
    """Mean flux in time bins of `bin_s` seconds (for a faster periodogram)."""
    t = lc.time_bjd
    idx = np.floor((t - t[0]) * 86400.0 / bin_s).astype(np.int64)
    _, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
    time = np.bincount(inverse, weights=t) / counts
    flux = np.bincount(inverse, weights=lc.flux) / counts
    err = np.sqrt(np.bincount(inverse, weights=lc.flux_err**2)) / counts
    seg = np.rint(np.bincount(inverse, weights=lc.segment) / counts).astype(np.int64)
    return lc.replace(time_bjd=time, flux=flux, flux_err=err, segment=seg, cadence_s=bin_s)


def build_curves(
    lc: LightCurve,
    diagnostics: Diagnostics,
    *,
    min_period_days: float | None = None,
    max_period_days: float | None = None,
    with_periodogram: bool = True,
    oversampling: float = 2.0,
) -> ReportCurves:
    """Detrend `lc` (the candidate's transits masked) and compute its BLS periodogram.

    Parameters
    ----------
    lc : LightCurve
        The cleaned, normalised light curve of the candidate's star.
    diagnostics : Diagnostics
        The candidate's ephemeris (period, t0, duration) masks its transits out of the trend
        fit and widens the detrending window to at least three durations.
    min_period_days, max_period_days : float, optional
        Periodogram range (default 0.5 d to half the baseline, widened to hold the period).
    with_periodogram : bool
        Skip the BLS search when False.
    oversampling : float
        Ofir oversampling of the periodogram's period grid.

    Returns
    -------
    ReportCurves
    """
    from exoguard.core.detrend import DEFAULT_MAX_DURATION_HOURS, default_window_days, detrend

    notes: list[str] = []
    mask = None
    window = default_window_days(DEFAULT_MAX_DURATION_HOURS)
    if diagnostics.has_ephemeris:
        assert diagnostics.period_days is not None and diagnostics.t0_bjd is not None
        assert diagnostics.duration_hours is not None
        mask = transit_mask(
            lc.time_bjd,
            period_days=diagnostics.period_days,
            t0_bjd=diagnostics.t0_bjd,
            duration_days=diagnostics.duration_hours / 24.0,
            width_factor=1.5,
        )
        window = max(window, 3.0 * diagnostics.duration_hours / 24.0)
        if mask.mean() > 0.5:  # nonsense ephemeris for this light curve: fit everything
            mask = None
    flat, trend = detrend(lc, window_days=window, mask=mask)
    notes.append(
        f"detrended with a {window:.2f}-d biweight"
        + (", transits masked" if mask is not None else "")
    )

    periods: FloatArray | None = None
    power: FloatArray | None = None
    thinned = False
    if with_periodogram:
        periods, power, thinned, note = _periodogram(
            flat,
            diagnostics,
            min_period_days=min_period_days,
            max_period_days=max_period_days,
            oversampling=oversampling,
        )
        if note:
            notes.append(note)
    return ReportCurves(
        time_bjd=np.asarray(lc.time_bjd, dtype=np.float64),
        raw_flux=np.asarray(lc.flux, dtype=np.float64),
        detrended_flux=np.asarray(flat.flux, dtype=np.float64),
        trend=np.asarray(trend, dtype=np.float64),
        periods_days=periods,
        power=power,
        power_label="BLS SDE (thinned grid)" if thinned else "BLS SDE",
        periodogram_thinned=thinned,
        notes=tuple(notes),
    )


def _periodogram(
    flat: LightCurve,
    diagnostics: Diagnostics,
    *,
    min_period_days: float | None,
    max_period_days: float | None,
    oversampling: float,
) -> tuple[FloatArray | None, FloatArray | None, bool, str]:
    from exoguard.core.search import bls_periodogram, make_grid
    from exoguard.errors import ValidationError

    data = flat
    if flat.n_points > PERIODOGRAM_MAX_POINTS:
        data = _bin_lightcurve(flat, PERIODOGRAM_BIN_S)
    baseline = data.baseline_days
    period = diagnostics.period_days
    lo = 0.5 if min_period_days is None else min_period_days
    hi = 0.5 * baseline if max_period_days is None else max_period_days
    if period is not None:
        if max_period_days is None:
            # Long baselines: periods far beyond the candidate's aliases only cost time.
            hi = min(hi, max(PERIODOGRAM_PERIOD_SPAN * period, PERIODOGRAM_MIN_MAX_PERIOD_DAYS))
        lo = min(lo, 0.8 * period)
        hi = max(hi, min(1.2 * period, baseline))
    lo = max(lo, 0.2)
    if not hi > lo:
        return None, None, False, f"no periodogram: baseline {baseline:.1f} d too short"
    try:
        grid = make_grid(
            data.time_bjd,
            min_period_days=lo,
            max_period_days=hi,
            star_radius_rsun=diagnostics.star_radius_rsun,
            oversampling=oversampling,
        )
        coarse = grid.n_periods > PERIODOGRAM_MAX_PERIODS
        if coarse:
            # A display, not a detection: thin the grid, but keep it at full resolution
            # around the candidate's period and its aliases so that their peaks are exact.
            periods = grid.periods_days
            keep = np.zeros(periods.size, dtype=bool)
            keep[:: math.ceil(periods.size / PERIODOGRAM_MAX_PERIODS)] = True
            if period is not None:
                for alias in (0.5 * period, period, 2.0 * period):
                    keep |= np.abs(periods / alias - 1.0) < PERIODOGRAM_FINE_FRACTION
            grid = grid.subset(periods[keep])
        result = bls_periodogram(data.time_bjd, data.flux, data.flux_err, grid=grid)
    except (ValidationError, ValueError) as exc:
        log.info("periodogram skipped: %s", exc)
        return None, None, False, f"no periodogram: {exc}"
    note = f"BLS periodogram, {grid.n_periods} periods {lo:.2f}-{hi:.1f} d"
    if coarse:
        note += " (thinned away from the candidate)"
    if data is not flat:
        note += f" on {PERIODOGRAM_BIN_S / 60:.0f}-min bins"
    return (
        np.asarray(result.periods_days, dtype=np.float64),
        np.asarray(result.spectrum, dtype=np.float64),
        coarse,
        note,
    )


def sde_at_period(
    curves: ReportCurves, period_days: float, *, tolerance: float = 0.005
) -> float | None:
    """The highest periodogram value within ``tolerance`` (relative) of `period_days`."""
    if curves.periods_days is None or curves.power is None:
        return None
    near = np.abs(curves.periods_days / period_days - 1.0) <= tolerance
    if not near.any():
        return None
    return float(np.max(curves.power[near]))


def complete_diagnostics(diagnostics: Diagnostics, curves: ReportCurves) -> Diagnostics:
    """Fill the unknown diagnostics by measuring them on the detrended light curve.

    Known values (the catalog's or the search's) are kept; only missing ones are measured,
    with `exoguard.core.diagnostics.diagnose_transit` at the stored ephemeris, and the SDE is
    read off the periodogram at the candidate's period.
    """
    if not diagnostics.has_ephemeris:
        return diagnostics
    from exoguard.core.diagnostics import diagnose_transit
    from exoguard.errors import ExoguardError

    assert diagnostics.period_days is not None and diagnostics.t0_bjd is not None
    assert diagnostics.duration_hours is not None
    updates: dict[str, Any] = {}
    if diagnostics.sde is None and not curves.periodogram_thinned:
        sde = sde_at_period(curves, diagnostics.period_days)
        if sde is not None and math.isfinite(sde):
            updates["sde"] = sde
    try:
        measured = diagnose_transit(
            curves.time_bjd,
            curves.detrended_flux,
            None,
            period_days=diagnostics.period_days,
            t0_bjd=diagnostics.t0_bjd,
            duration_days=diagnostics.duration_hours / 24.0,
            star_radius_rsun=diagnostics.star_radius_rsun,
        ).to_dict()
    except (ExoguardError, ValueError, FloatingPointError) as exc:
        log.info("diagnostics not measured: %s", exc)
        measured = {}
    for name in _MEASURED:
        value = finite_or_none(measured.get(name))
        if getattr(diagnostics, name) is None and value is not None:
            updates[name] = int(value) if name == "n_transits" else value
    if diagnostics.shape is None and measured.get("shape") in ("U", "V"):
        updates["shape"] = str(measured["shape"])
    return replace(diagnostics, **updates) if updates else diagnostics


#: Diagnostics `complete_diagnostics` may measure.
_MEASURED = (
    "depth_ppm",
    "depth_err_ppm",
    "snr",
    "n_transits",
    "odd_even_sigma",
    "secondary_depth_ppm",
    "secondary_sigma",
    "secondary_phase",
    "ingress_fraction",
    "duration_ratio",
)


# ------------------------------------------------------------------ views of the pages
def _floats(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).ravel()


def _same_length(**arrays: FloatArray) -> None:
    sizes = {name: arr.size for name, arr in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"arrays must have the same length, got {sizes}")


def bin_series(x: ArrayLike, y: ArrayLike, *, n_bins: int) -> tuple[FloatArray, FloatArray]:
    """Mean of `y` in `n_bins` equal-width bins of `x` (empty bins dropped), for display.

    The binned curves of the pages' interactive charts; the PDF panels use `binned` (medians
    over fixed edges, the binning of the model views).
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    xa, ya = _floats(x), _floats(y)
    _same_length(x=xa, y=ya)
    ok = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[ok], ya[ok]
    if xa.size == 0:
        return np.empty(0), np.empty(0)
    lo, hi = float(xa.min()), float(xa.max())
    if hi <= lo:
        return np.array([lo]), np.array([float(ya.mean())])
    idx = np.minimum(((xa - lo) / (hi - lo) * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    sums_x = np.bincount(idx, weights=xa, minlength=n_bins)
    sums_y = np.bincount(idx, weights=ya, minlength=n_bins)
    keep = counts > 0
    return sums_x[keep] / counts[keep], sums_y[keep] / counts[keep]


def transit_times(
    *, t0_bjd: float, period_days: float, t_min_bjd: float, t_max_bjd: float
) -> FloatArray:
    """Mid-transit times ``t0 + k P`` inside ``[t_min, t_max]`` (BJD_TDB, days)."""
    if not (math.isfinite(period_days) and period_days > 0):
        raise ValueError(f"period_days must be a positive finite number, got {period_days}")
    k0 = math.ceil((t_min_bjd - t0_bjd) / period_days)
    k1 = math.floor((t_max_bjd - t0_bjd) / period_days)
    if k1 < k0:
        return np.empty(0)
    return t0_bjd + period_days * np.arange(k0, k1 + 1, dtype=np.float64)


def fold_and_bin(
    *,
    time_bjd: ArrayLike,
    flux: ArrayLike,
    period_days: float,
    t0_bjd: float,
    window_days: float | None = None,
    n_bins: int = 201,
) -> dict[str, FloatArray]:
    """Phase-fold a light curve for display: points and binned means, time from mid-transit.

    Returns ``phase_days``/``flux`` of the points (inside ``±window_days`` when given) and
    ``bin_phase_days``/``bin_flux`` of `n_bins` equal-width bins.
    """
    t, f = _floats(time_bjd), _floats(flux)
    _same_length(time_bjd=t, flux=f)
    ok = np.isfinite(t) & np.isfinite(f)
    phase = fold_phase_days(t[ok], period_days=period_days, t0_bjd=t0_bjd)
    fl = f[ok]
    if window_days is not None:
        inside = np.abs(phase) <= window_days
        phase, fl = phase[inside], fl[inside]
    bx, by = bin_series(phase, fl, n_bins=n_bins)
    return {"phase_days": phase, "flux": fl, "bin_phase_days": bx, "bin_flux": by}


def phase_fraction(*, time_bjd: ArrayLike, period_days: float, t0_bjd: float) -> FloatArray:
    """Orbital phase in ``[0, 1)`` with the primary transit at 0 (secondary near 0.5)."""
    t = _floats(time_bjd)
    return np.asarray(np.mod((t - t0_bjd) / period_days, 1.0), dtype=np.float64)
