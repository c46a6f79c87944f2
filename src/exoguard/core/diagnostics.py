"""Vetting diagnostics of one transit signal in a detrended light curve.

Given a detrended light curve and an ephemeris (period, mid-transit epoch, duration) this module
measures what a vetter looks at first (cf. the Kepler Data Validation report):

* the box depth (ppm) and its error, and the SNR. Errors are the pipeline ``flux_err`` scaled
  up to the robust out-of-transit scatter when that is larger (pipelines often underestimate it),
  then multiplied by the red-noise factor ``beta >= 1`` of Pont, Zucker & Queloz (2006) / Winn et
  al. (2008): the scatter of the out-of-transit flux binned on the transit duration over what
  white noise would give. ``snr_white`` leaves ``beta`` out;
* the number of transits with data;
* odd/even depth difference in sigma (an eclipsing binary at twice the period shows two depths);
* the deepest secondary eclipse near phase 0.5 (phases 0.35-0.65 by default, so that eccentric
  orbits are covered), its depth and significance;
* the transit shape from a trapezoid fit: the ingress (+ egress) fraction of the total duration is
  ~0.1 for a planet (U shape) and 0.5 for a grazing eclipse (V shape);
* the duration relative to that of a central transit of the star (``duration_ratio``; a value
  well above 1 points to a larger star than assumed or to a blended binary).

Every depth error (transit, odd/even, secondary) includes ``beta``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from exoguard.core.lightcurve import FloatArray, fold_phase_days
from exoguard.core.noise import noise_scale, red_noise_factor
from exoguard.core.transit_measures import (
    box_depth,
    count_transits,
    odd_even_depths,
    secondary_eclipse,
    transit_mask,
)
from exoguard.core.trapezoid import fit_trapezoid

__all__ = ["TransitDiagnostics", "diagnose_transit"]


#: Ingress fraction (ingress / total duration) above which a transit is called V-shaped.
V_SHAPE_INGRESS_FRACTION = 0.35
#: Below this SNR the shape is not judged.
MIN_SNR_FOR_SHAPE = 10.0


@dataclass(frozen=True)
class TransitDiagnostics:
    """Diagnostics of one transit signal (see the module docstring).

    Attributes
    ----------
    period_days, t0_bjd, duration_hours : float
        The ephemeris measured (``t0_bjd``/``duration_hours`` refined by the trapezoid fit when
        it converged).
    depth_ppm, depth_err_ppm : float
        Box depth (mean in-transit deficit over the full duration) and 1-sigma error.
    snr : float
        ``depth / depth_err`` (errors scaled to the observed scatter and by ``red_noise_factor``).
    snr_white : float
        The same without the red-noise factor.
    red_noise_factor : float
        ``beta >= 1`` (see :func:`red_noise_factor`).
    n_transits : int
        Transits with data (at least a quarter of the expected cadences present).
    n_transits_in_span : int
        Epochs between the first and last point (gaps included).
    n_in_transit : int
        Points inside transits.
    depth_odd_ppm, depth_even_ppm, odd_even_sigma : float
        Odd/even depths and their difference in sigma (NaN without both parities).
    secondary_depth_ppm, secondary_depth_err_ppm, secondary_sigma, secondary_phase : float
        The most significant dip near phase 0.5 (see :func:`secondary_eclipse`).
    trapezoid_depth_ppm, ingress_fraction : float
        Trapezoid-fit depth and ingress / total duration (0-0.5).
    shape : str
        ``"U"`` (flat-bottomed), ``"V"`` (ingress fraction >= 0.35) or ``"unknown"`` (SNR < 10 or
        no fit).
    inner_depth_ratio : float
        Box depth over the inner half of the duration divided by the full-box depth (~1 for U,
        ~1.5 for V).
    expected_duration_hours : float
        Duration of a central transit of the (assumed) star at this period.
    duration_ratio : float
        ``duration_hours / expected_duration_hours``.
    """

    period_days: float
    t0_bjd: float
    duration_hours: float
    depth_ppm: float
    depth_err_ppm: float
    snr: float
    snr_white: float
    red_noise_factor: float
    n_transits: int
    n_transits_in_span: int
    n_in_transit: int
    depth_odd_ppm: float
    depth_even_ppm: float
    odd_even_sigma: float
    secondary_depth_ppm: float
    secondary_depth_err_ppm: float
    secondary_sigma: float
    secondary_phase: float
    trapezoid_depth_ppm: float
    ingress_fraction: float
    shape: str
    inner_depth_ratio: float
    expected_duration_hours: float
    duration_ratio: float

    def to_dict(self) -> dict[str, Any]:
        """All fields as a plain dict."""
        return asdict(self)


def _refine(
    t: FloatArray,
    y: FloatArray,
    sigma: FloatArray,
    *,
    period_days: float,
    t0_bjd: float,
    duration_days: float,
    depth: float,
    exposure_days: float,
) -> tuple[dict[str, float], float, float]:
    """Trapezoid fit near the transits; the fit, and the mid-time and duration it gives
    when it converged to a plausible shape (within a factor 2 of the duration, centre
    within half a duration), else the ones given."""
    phase = fold_phase_days(t, period_days=period_days, t0_bjd=t0_bjd)
    near = np.abs(phase) < 1.5 * duration_days
    trap = fit_trapezoid(
        phase[near],
        y[near],
        sigma[near],
        depth=max(depth, 1e-6) if np.isfinite(depth) else 1e-4,
        duration_days=duration_days,
        exposure_days=exposure_days,
    )
    fit_ok = (
        trap["success"] > 0
        and np.isfinite(trap["duration_days"])
        and 0.5 * duration_days <= trap["duration_days"] <= 2.0 * duration_days
        and abs(trap["t_offset_days"]) < 0.5 * duration_days
    )
    if fit_ok:
        return trap, t0_bjd + trap["t_offset_days"], trap["duration_days"]
    return trap, t0_bjd, duration_days


def transit_shape(ingress_fraction: float, snr: float) -> str:
    """``"V"`` (ingress fraction >= 0.35), ``"U"``, or ``"unknown"`` below SNR 10 or
    without a fit."""
    if not (np.isfinite(ingress_fraction) and np.isfinite(snr)) or snr < MIN_SNR_FOR_SHAPE:
        return "unknown"
    return "V" if ingress_fraction >= V_SHAPE_INGRESS_FRACTION else "U"


def _scaled_noise(
    t: FloatArray,
    y: FloatArray,
    flux_err: FloatArray | None,
    *,
    period_days: float,
    t0_bjd: float,
    duration_days: float,
) -> tuple[FloatArray, float]:
    """Per-point sigma (out of 1.5 durations), inflated by the red-noise factor; and it."""
    in_wide = transit_mask(
        t, period_days=period_days, t0_bjd=t0_bjd, duration_days=1.5 * duration_days
    )
    sigma = noise_scale(
        y, np.full(y.shape, np.nan) if flux_err is None else np.asarray(flux_err), ~in_wide
    )
    beta = red_noise_factor(t, y, sigma, ~in_wide, duration_days=duration_days)
    return sigma * beta, beta


def _local_baseline(
    t: FloatArray, *, period_days: float, t0_bjd: float, duration_days: float
) -> np.ndarray:
    """Points 0.75-2.5 durations from mid-transit; all out-of-transit ones when < 10."""
    phase = fold_phase_days(t, period_days=period_days, t0_bjd=t0_bjd)
    local = (np.abs(phase) > 0.75 * duration_days) & (np.abs(phase) < 2.5 * duration_days)
    if local.sum() >= 10:
        return local
    return ~transit_mask(
        t, period_days=period_days, t0_bjd=t0_bjd, duration_days=1.5 * duration_days
    )


def _expected_duration_days(
    period_days: float, *, star_radius_rsun: float | None, star_mass_msun: float | None
) -> float:
    """Central-transit duration for the star (the Sun where a parameter is unknown)."""
    # Imported here: the search package imports this module for its result objects.
    from exoguard.core.search.grid import central_duration_days

    return float(
        central_duration_days(
            period_days,
            star_radius_rsun=1.0 if star_radius_rsun is None else star_radius_rsun,
            star_mass_msun=1.0 if star_mass_msun is None else star_mass_msun,
        )
    )


def _event_checks(
    t: FloatArray,
    y: FloatArray,
    sigma: FloatArray,
    baseline: np.ndarray,
    *,
    period_days: float,
    t0_bjd: float,
    duration_days: float,
    cadence_days: float,
    secondary_phase_range: tuple[float, float],
) -> dict[str, Any]:
    """Transit counts, odd/even depths and the secondary eclipse, as diagnostics fields."""
    n_with, n_span = count_transits(
        t,
        period_days=period_days,
        t0_bjd=t0_bjd,
        duration_days=duration_days,
        cadence_days=cadence_days,
    )
    d_odd, _, d_even, _, oe_sigma = odd_even_depths(
        t, y, sigma, period_days=period_days, t0_bjd=t0_bjd, duration_days=duration_days,
        baseline=baseline,
    )  # fmt: skip
    s_depth, s_err, s_sigma, s_phase = secondary_eclipse(
        t, y, sigma, period_days=period_days, t0_bjd=t0_bjd, duration_days=duration_days,
        phase_range=secondary_phase_range,
    )  # fmt: skip
    return {
        "n_transits": int(n_with),
        "n_transits_in_span": int(n_span),
        "depth_odd_ppm": float(d_odd * 1e6),
        "depth_even_ppm": float(d_even * 1e6),
        "odd_even_sigma": float(oe_sigma),
        "secondary_depth_ppm": float(s_depth * 1e6),
        "secondary_depth_err_ppm": float(s_err * 1e6),
        "secondary_sigma": float(s_sigma),
        "secondary_phase": float(s_phase),
    }


def _median_step_days(t: FloatArray) -> float:
    """The median positive time step (the cadence when none is given); 0 without one."""
    dt = np.diff(t)
    dt = dt[dt > 0]
    return float(np.median(dt)) if dt.size else 0.0


def _refine_from_box(
    t: FloatArray,
    y: FloatArray,
    sigma: FloatArray,
    *,
    period_days: float,
    t0_bjd: float,
    duration_days: float,
    exposure_days: float,
) -> tuple[dict[str, float], float, float]:
    """:func:`_refine` started from the box depth of the given ephemeris (out of transit:
    beyond 1.5 durations)."""
    box_depth0, _, _ = box_depth(
        y,
        sigma,
        transit_mask(t, period_days=period_days, t0_bjd=t0_bjd, duration_days=duration_days),
        ~transit_mask(t, period_days=period_days, t0_bjd=t0_bjd, duration_days=1.5 * duration_days),
    )
    return _refine(
        t, y, sigma, period_days=period_days, t0_bjd=t0_bjd, duration_days=duration_days,
        depth=box_depth0, exposure_days=exposure_days,
    )  # fmt: skip


def diagnose_transit(
    time_bjd: FloatArray,
    flux: FloatArray,
    flux_err: FloatArray | None,
    *,
    period_days: float,
    t0_bjd: float,
    duration_days: float,
    star_radius_rsun: float | None = None,
    star_mass_msun: float | None = None,
    cadence_days: float | None = None,
    secondary_phase_range: tuple[float, float] = (0.35, 0.65),
    refine: bool = True,
) -> TransitDiagnostics:
    """Measure the vetting diagnostics of one transit signal.

    Parameters
    ----------
    time_bjd : ndarray of shape (n,)
        Times, BJD_TDB, ascending.
    flux : ndarray of shape (n,)
        Detrended relative flux (~1 out of transit).
    flux_err : ndarray of shape (n,), optional
        1-sigma errors (the robust scatter when missing).
    period_days, t0_bjd, duration_days : float
        Ephemeris (from the BLS search).
    star_radius_rsun, star_mass_msun : float, optional
        The star, for the expected duration (Sun when unknown).
    cadence_days : float, optional
        Exposure time (median time step when not given).
    secondary_phase_range : (float, float)
        Phases searched for a secondary eclipse.
    refine : bool
        Fit a trapezoid and use its centre and duration for the other measurements.

    Returns
    -------
    TransitDiagnostics
    """
    t = np.asarray(time_bjd, dtype=np.float64)
    y = np.asarray(flux, dtype=np.float64)
    if cadence_days is None:
        cadence_days = _median_step_days(t)
    sigma, beta = _scaled_noise(
        t, y, flux_err, period_days=period_days, t0_bjd=t0_bjd, duration_days=duration_days
    )
    trap: dict[str, float] = {"depth": math.nan, "ingress_fraction": math.nan, "success": 0.0}
    if refine:
        trap, t0_bjd, duration_days = _refine_from_box(
            t, y, sigma, period_days=period_days, t0_bjd=t0_bjd, duration_days=duration_days,
            exposure_days=cadence_days,
        )  # fmt: skip
    baseline = _local_baseline(
        t, period_days=period_days, t0_bjd=t0_bjd, duration_days=duration_days
    )
    inside = transit_mask(t, period_days=period_days, t0_bjd=t0_bjd, duration_days=duration_days)
    depth, depth_err, n_in = box_depth(y, sigma, inside, baseline)
    inner = transit_mask(
        t, period_days=period_days, t0_bjd=t0_bjd, duration_days=0.5 * duration_days
    )
    inner_depth, _, _ = box_depth(y, sigma, inner, baseline)
    checks = _event_checks(
        t, y, sigma, baseline, period_days=period_days, t0_bjd=t0_bjd,
        duration_days=duration_days, cadence_days=cadence_days,
        secondary_phase_range=secondary_phase_range,
    )  # fmt: skip
    snr = depth / depth_err if depth_err > 0 and np.isfinite(depth) else math.nan
    ingress = trap.get("ingress_fraction", math.nan)
    expected = _expected_duration_days(
        period_days, star_radius_rsun=star_radius_rsun, star_mass_msun=star_mass_msun
    )
    return TransitDiagnostics(
        period_days=float(period_days),
        t0_bjd=float(t0_bjd),
        duration_hours=float(duration_days * 24.0),
        depth_ppm=float(depth * 1e6),
        depth_err_ppm=float(depth_err * 1e6),
        snr=float(snr),
        snr_white=float(snr * beta),
        red_noise_factor=float(beta),
        n_in_transit=int(n_in),
        **checks,
        trapezoid_depth_ppm=float(trap.get("depth", math.nan) * 1e6),
        ingress_fraction=float(ingress),
        shape=transit_shape(ingress, snr),
        inner_depth_ratio=float(inner_depth / depth) if depth > 0 else math.nan,
        expected_duration_hours=expected * 24.0,
        duration_ratio=float(duration_days / expected) if expected > 0 else math.nan,
    )
