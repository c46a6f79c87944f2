"""Injected signals for injection-recovery tests and the neural training set.

* ``inject_transit``: a limb-darkened planetary transit (batman-package, Kreidberg
  2015), supersampled over the exposure for long cadences;
* ``inject_eclipsing_binary``: primary + secondary eclipses of two luminous stars
  (V-shaped when grazing, odd/even depth difference when folded at half the period),
  optionally diluted: ``inject_background_binary``;
* non-transiting signals: ``inject_sinusoid`` (stellar variability), ``inject_step``
  (a sudden drop with optional exponential recovery, like a sudden pixel sensitivity
  dropout), ``inject_outlier`` (a few low points);
* ``log_uniform`` and ``draw_ephemeris``: the random draws of the one injection sampler,
  the neural training set's (:mod:`exoguard.ml.multibranch.injections`, whose kinds and
  priors come from its config);
* ``mask_transits``: the boolean in-transit mask used by detrending and the search.

Every injection multiplies the flux by a model normalised to 1 out of transit, so
depths are relative to the (normalised) stellar flux. Randomness only through an
``rng: np.random.Generator`` argument.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exoguard.core.lightcurve import FloatArray, LightCurve, fold_phase_days

#: Exposures longer than this are supersampled (batman ``supersample_factor``).
SUPERSAMPLE_ABOVE_S = 300.0
#: Target spacing of the sub-exposures, seconds (Kepler long cadence → 15 samples).
SUPERSAMPLE_STEP_S = 120.0
DEFAULT_U = (0.4, 0.25)
_G = 6.674e-11
_RHO_SUN = 1408.0  # kg m^-3


# ---------------------------------------------------------------------- geometry
def u_from_q(q1: float, q2: float) -> tuple[float, float]:
    """Quadratic limb darkening (u1, u2) from Kipping's (2013) q1, q2 in [0, 1]."""
    if not (0 <= q1 <= 1 and 0 <= q2 <= 1):
        raise ValueError(f"q1 and q2 must be in [0, 1], got {q1}, {q2}")
    s = math.sqrt(q1)
    return 2 * s * q2, s * (1 - 2 * q2)


def a_rs_from_density(period_days: float, *, rho_star_solar: float = 1.0) -> float:
    """Scaled semi-major axis a/R* from Kepler's third law and the stellar density."""
    p_s = period_days * 86400.0
    return float((_G * rho_star_solar * _RHO_SUN * p_s**2 / (3 * math.pi)) ** (1 / 3))


def inclination_deg(*, a_rs: float, impact: float) -> float:
    """Orbital inclination (degrees) for impact parameter ``b = a cos i`` (circular)."""
    if a_rs <= 0 or impact < 0 or impact > a_rs:
        raise ValueError(f"need a_rs > 0 and 0 <= impact <= a_rs, got {a_rs}, {impact}")
    return math.degrees(math.acos(impact / a_rs))


def transit_duration_hours(
    *, period_days: float, a_rs: float, rp_rs: float, impact: float
) -> float:
    """Full duration T14 (first to fourth contact) of a circular orbit, hours (Winn 2010).

    Zero when the companion never crosses the disk (``impact >= 1 + rp_rs``).
    """
    if impact >= 1 + rp_rs:
        return 0.0
    if not 0 <= impact <= a_rs:
        raise ValueError(f"need 0 <= impact <= a_rs, got impact {impact} with a_rs {a_rs}")
    inc = math.acos(impact / a_rs)
    arg = math.sqrt((1 + rp_rs) ** 2 - impact**2) / (a_rs * math.sin(inc))
    return float(period_days / math.pi * math.asin(min(1.0, arg)) * 24.0)


def _resolve_impact(
    a_rs: float,
    inc_deg: float | None,
    impact: float | None,
    rng: np.random.Generator | None,
    *,
    max_impact: float = 0.9,
) -> float:
    if inc_deg is not None and impact is not None:
        raise ValueError("give inc_deg or impact, not both")
    if inc_deg is not None:
        return float(a_rs * math.cos(math.radians(inc_deg)))
    if impact is not None:
        return float(impact)
    return float(rng.uniform(0.0, max_impact)) if rng is not None else 0.0


def _supersampling(cadence_s: float) -> tuple[int, float]:
    if not np.isfinite(cadence_s) or cadence_s <= SUPERSAMPLE_ABOVE_S:
        return 1, 0.0
    return int(math.ceil(cadence_s / SUPERSAMPLE_STEP_S)), cadence_s / 86400.0


def _batman_params(
    *, period_days: float, rp_rs: float, a_rs: float, inc_deg: float, u: tuple[float, float]
) -> Any:
    import batman  # lazy: compiled extension, only needed here

    p = batman.TransitParams()
    p.t0 = 0.0
    p.per = float(period_days)
    p.rp = float(rp_rs)
    p.a = float(a_rs)
    p.inc = float(inc_deg)
    p.ecc = 0.0
    p.w = 90.0
    p.limb_dark = "quadratic"
    p.u = [float(u[0]), float(u[1])]
    p.fp = 1.0
    p.t_secondary = 0.5 * float(period_days)
    return p


def transit_model(
    time_bjd: NDArray[np.float64],
    *,
    period_days: float,
    t0_bjd: float,
    rp_rs: float,
    a_rs: float,
    inc_deg: float,
    u: tuple[float, float] = DEFAULT_U,
    cadence_s: float = float("nan"),
) -> FloatArray:
    """batman quadratic limb-darkened transit, 1 out of transit.

    Parameters
    ----------
    time_bjd : ndarray, shape (n,)
        Mid-exposure times, BJD_TDB.
    cadence_s : float
        Exposure length; above 300 s the model is integrated over the exposure
        (``ceil(cadence_s / 120)`` sub-samples: 15 for Kepler long cadence).

    Returns
    -------
    ndarray, shape (n,)
    """
    _check_positive(period_days=period_days, rp_rs=rp_rs, a_rs=a_rs)
    params = _batman_params(period_days=period_days, rp_rs=rp_rs, a_rs=a_rs, inc_deg=inc_deg, u=u)
    return _evaluate(params, np.asarray(time_bjd, dtype=np.float64), t0_bjd, cadence_s, "primary")


def _evaluate(
    params: Any, time_bjd: FloatArray, t_centre: float, cadence_s: float, transittype: str
) -> FloatArray:
    """batman on the points near the events only (the rest is 1 for a primary, 1 + fp
    for a secondary); exact, and ~P/T14 times faster than on every point."""
    import batman

    per = float(params.per)
    a_rs = float(params.a)
    rp = float(params.rp)
    b = a_rs * math.cos(math.radians(float(params.inc)))
    t14_days = transit_duration_hours(period_days=per, a_rs=a_rs, rp_rs=rp, impact=b) / 24.0
    exposure_days = cadence_s / 86400.0 if np.isfinite(cadence_s) else 0.0
    half_window = 0.5 * t14_days * 1.05 + exposure_days + 1e-4
    centre = t_centre if transittype == "primary" else t_centre + 0.5 * per
    near = np.abs(fold_phase_days(time_bjd, period_days=per, t0_bjd=centre)) < half_window
    baseline = 1.0 if transittype == "primary" else 1.0 + float(params.fp)
    out = np.full(time_bjd.shape, baseline)
    if near.any() and t14_days > 0:
        factor, exp_time = _supersampling(cadence_s)
        t_rel = time_bjd[near] - t_centre  # keep precision near t0
        model = batman.TransitModel(
            params, t_rel, transittype=transittype, supersample_factor=factor, exp_time=exp_time
        )
        out[near] = model.light_curve(params)
    return out


def _occulted_companion_fraction(
    time_bjd: NDArray[np.float64],
    *,
    period_days: float,
    t0_bjd: float,
    radius_ratio: float,
    a_rs: float,
    inc_deg: float,
    cadence_s: float,
) -> FloatArray:
    """Visible fraction (0..1) of a uniform companion disk behind the primary."""
    params = _batman_params(
        period_days=period_days, rp_rs=radius_ratio, a_rs=a_rs, inc_deg=inc_deg, u=(0.0, 0.0)
    )
    t = np.asarray(time_bjd, dtype=np.float64)
    flux = _evaluate(params, t, t0_bjd, cadence_s, "secondary")
    # batman's secondary model: 1 + fp out of eclipse, 1 in full eclipse (fp = 1 here)
    return np.clip(flux - 1.0, 0.0, 1.0)


def _check_positive(**values: float) -> None:
    for name, v in values.items():
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be positive and finite, got {v}")


def _apply(lc: LightCurve, model: FloatArray, note: str) -> LightCurve:
    return lc.with_flux(lc.flux * model, lc.flux_err * model, note=note)


# ---------------------------------------------------------------------- injections
def inject_transit(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    rp_rs: float,
    a_rs: float,
    inc_deg: float | None = None,
    impact: float | None = None,
    u: tuple[float, float] = DEFAULT_U,
    rng: np.random.Generator | None = None,
) -> LightCurve:
    """Multiply the flux by a planetary transit model.

    Parameters
    ----------
    lc : LightCurve
        Normalised light curve.
    period_days, t0_bjd : float
        Ephemeris (BJD_TDB).
    rp_rs, a_rs : float
        Planet radius and semi-major axis in stellar radii.
    inc_deg, impact : float, optional
        Give one. With neither, the impact is drawn from U(0, 0.9) with ``rng``, or 0
        without ``rng``.
    u : (u1, u2)
        Quadratic limb darkening (see ``u_from_q`` for Kipping's q1, q2).

    Returns
    -------
    LightCurve
        Same points, flux and flux_err multiplied by the model; a note records it.

    Examples
    --------
    >>> import numpy as np
    >>> from exoguard.core.lightcurve import LightCurve
    >>> t = 2455000 + np.arange(5000) * 0.00139
    >>> lc = LightCurve.from_arrays(t, np.ones(5000), np.full(5000, 1e-4))
    >>> out = inject_transit(lc, period_days=2.0, t0_bjd=2455001.0, rp_rs=0.1, a_rs=8.0,
    ...                      impact=0.0, u=(0.0, 0.0))
    >>> print(round(1 - float(out.flux.min()), 4))
    0.01
    """
    _check_positive(period_days=period_days, rp_rs=rp_rs, a_rs=a_rs)
    b = _resolve_impact(a_rs, inc_deg, impact, rng)
    inc = inclination_deg(a_rs=a_rs, impact=b)
    model = transit_model(
        lc.time_bjd,
        period_days=period_days,
        t0_bjd=t0_bjd,
        rp_rs=rp_rs,
        a_rs=a_rs,
        inc_deg=inc,
        u=u,
        cadence_s=lc.cadence_s,
    )
    note = (
        f"injected transit: P={period_days:.6g} d, t0={t0_bjd:.6f}, rp_rs={rp_rs:.4g}, "
        f"a_rs={a_rs:.4g}, b={b:.3f}, u=({u[0]:.3f}, {u[1]:.3f})"
    )
    return _apply(lc, model, note)


def eclipsing_binary_model(
    time_bjd: NDArray[np.float64],
    *,
    period_days: float,
    t0_bjd: float,
    radius_ratio: float,
    a_rs: float,
    impact: float,
    surface_brightness_ratio: float,
    u: tuple[float, float] = DEFAULT_U,
    dilution: float = 1.0,
    cadence_s: float = float("nan"),
) -> FloatArray:
    """Normalised flux of an eclipsing binary (circular orbit), 1 out of eclipse.

    The companion (radius ``radius_ratio`` × the primary's, surface brightness
    ``surface_brightness_ratio`` × the primary's, uniform disk) eclipses the
    limb-darkened primary at ``t0`` and is eclipsed half a period later:
    ``F = (F_primary + J k² F_companion) / (1 + J k²)``, then diluted:
    ``1 - dilution × (1 - F)`` (``dilution`` = share of the aperture's light from the
    binary; 1 for the target itself).
    """
    _check_positive(period_days=period_days, radius_ratio=radius_ratio, a_rs=a_rs)
    if not 0 < dilution <= 1:
        raise ValueError(f"dilution must be in (0, 1], got {dilution}")
    if surface_brightness_ratio < 0:
        raise ValueError("surface_brightness_ratio must be >= 0")
    inc = inclination_deg(a_rs=a_rs, impact=impact)
    primary = transit_model(
        time_bjd,
        period_days=period_days,
        t0_bjd=t0_bjd,
        rp_rs=radius_ratio,
        a_rs=a_rs,
        inc_deg=inc,
        u=u,
        cadence_s=cadence_s,
    )
    lum2 = surface_brightness_ratio * radius_ratio**2
    companion = _occulted_companion_fraction(
        time_bjd,
        period_days=period_days,
        t0_bjd=t0_bjd,
        radius_ratio=radius_ratio,
        a_rs=a_rs,
        inc_deg=inc,
        cadence_s=cadence_s,
    )
    total = (primary + lum2 * companion) / (1.0 + lum2)
    return np.asarray(1.0 - dilution * (1.0 - total), dtype=np.float64)


def inject_eclipsing_binary(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    radius_ratio: float,
    a_rs: float,
    impact: float,
    surface_brightness_ratio: float,
    u: tuple[float, float] = DEFAULT_U,
    dilution: float = 1.0,
) -> LightCurve:
    """Multiply the flux by ``eclipsing_binary_model`` (primary + secondary eclipse).

    ``impact > 1 - radius_ratio`` gives grazing, V-shaped eclipses. Folded at half the
    period, unequal primary and secondary eclipses show as an odd/even difference.
    """
    model = eclipsing_binary_model(
        lc.time_bjd,
        period_days=period_days,
        t0_bjd=t0_bjd,
        radius_ratio=radius_ratio,
        a_rs=a_rs,
        impact=impact,
        surface_brightness_ratio=surface_brightness_ratio,
        u=u,
        dilution=dilution,
        cadence_s=lc.cadence_s,
    )
    note = (
        f"injected eclipsing binary: P={period_days:.6g} d, t0={t0_bjd:.6f}, "
        f"k={radius_ratio:.3f}, a_rs={a_rs:.4g}, b={impact:.3f}, "
        f"J={surface_brightness_ratio:.3f}, dilution={dilution:.4g}"
    )
    return _apply(lc, model, note)


def inject_background_binary(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    radius_ratio: float,
    a_rs: float,
    impact: float,
    surface_brightness_ratio: float,
    dilution: float,
    u: tuple[float, float] = DEFAULT_U,
) -> LightCurve:
    """A background eclipsing binary whose light is ``dilution`` of the aperture's.

    Its eclipses are shallow (depth × dilution) and keep the binary's shape.
    """
    if not 0 < dilution < 1:
        raise ValueError(f"dilution of a background binary must be in (0, 1), got {dilution}")
    return inject_eclipsing_binary(
        lc,
        period_days=period_days,
        t0_bjd=t0_bjd,
        radius_ratio=radius_ratio,
        a_rs=a_rs,
        impact=impact,
        surface_brightness_ratio=surface_brightness_ratio,
        u=u,
        dilution=dilution,
    )


def inject_sinusoid(
    lc: LightCurve,
    *,
    period_days: float,
    amplitude_ppm: float,
    phase_rad: float | None = None,
    rng: np.random.Generator | None = None,
) -> LightCurve:
    """Multiply by ``1 + A sin(2π t / P + φ)`` (rotational or pulsational variability).

    ``phase_rad`` defaults to a draw from U(0, 2π) with ``rng`` (0 without).
    """
    _check_positive(period_days=period_days, amplitude_ppm=amplitude_ppm)
    if phase_rad is None:
        phase_rad = float(rng.uniform(0, 2 * math.pi)) if rng is not None else 0.0
    t = lc.time_bjd - lc.time_bjd[0] if lc.n_points else lc.time_bjd
    model = 1.0 + amplitude_ppm * 1e-6 * np.sin(2 * math.pi * t / period_days + phase_rad)
    note = f"injected sinusoid: P={period_days:.6g} d, A={amplitude_ppm:.4g} ppm"
    return _apply(lc, model, note)


def _pick_time(lc: LightCurve, time_bjd: float | None, rng: np.random.Generator | None) -> float:
    if time_bjd is not None:
        return float(time_bjd)
    if lc.n_points == 0:
        raise ValueError("cannot place a signal in an empty light curve")
    if rng is None:
        return float(lc.time_bjd[lc.n_points // 2])
    return float(lc.time_bjd[int(rng.integers(0, lc.n_points))])


def inject_step(
    lc: LightCurve,
    *,
    size_ppm: float,
    time_bjd: float | None = None,
    recovery_days: float | None = None,
    rng: np.random.Generator | None = None,
) -> LightCurve:
    """A sudden drop of ``size_ppm`` at ``time_bjd`` until the end of that segment,
    recovering exponentially with e-folding time ``recovery_days`` when given
    (a sudden pixel sensitivity dropout). The time defaults to a random point (``rng``)
    or the middle point.
    """
    _check_positive(size_ppm=size_ppm)
    t_step = _pick_time(lc, time_bjd, rng)
    model = np.ones(lc.n_points)
    seg_at = lc.segment[np.argmin(np.abs(lc.time_bjd - t_step))] if lc.n_points else 0
    after = (lc.time_bjd >= t_step) & (lc.segment == seg_at)
    dt = lc.time_bjd[after] - t_step
    shape = np.ones(dt.size) if recovery_days is None else np.exp(-dt / recovery_days)
    model[after] -= size_ppm * 1e-6 * shape
    note = f"injected step: {size_ppm:.4g} ppm at {t_step:.5f}" + (
        f", recovery {recovery_days:.3g} d" if recovery_days is not None else ""
    )
    return _apply(lc, model, note)


def inject_outlier(
    lc: LightCurve,
    *,
    depth_ppm: float,
    time_bjd: float | None = None,
    n_points: int = 1,
    rng: np.random.Generator | None = None,
) -> LightCurve:
    """Lower ``n_points`` consecutive points (from the one nearest ``time_bjd``) by
    ``depth_ppm``: a single-event false alarm. Time: random (``rng``) or middle."""
    _check_positive(depth_ppm=depth_ppm)
    if n_points < 1:
        raise ValueError(f"n_points must be >= 1, got {n_points}")
    t = _pick_time(lc, time_bjd, rng)
    start = int(np.argmin(np.abs(lc.time_bjd - t)))
    model = np.ones(lc.n_points)
    model[start : start + n_points] -= depth_ppm * 1e-6
    note = f"injected outlier: {depth_ppm:.4g} ppm, {n_points} points at {lc.time_bjd[start]:.5f}"
    return _apply(lc, model, note)


# ---------------------------------------------------------------------- masks
def transit_mask(
    time_bjd: NDArray[np.float64],
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    factor: float = 1.5,
) -> NDArray[np.bool_]:
    """True within ``factor × duration / 2`` of every transit centre.

    Parameters
    ----------
    time_bjd : ndarray, shape (n,)
    factor : float
        Width of the mask in transit durations (1.5: the transit plus a quarter
        duration on each side).
    """
    _check_positive(period_days=period_days, duration_hours=duration_hours, factor=factor)
    phase = fold_phase_days(time_bjd, period_days=period_days, t0_bjd=t0_bjd)
    return np.asarray(np.abs(phase) < 0.5 * factor * duration_hours / 24.0, dtype=bool)


def mask_transits(
    lc: LightCurve,
    *,
    period_days: float,
    t0_bjd: float,
    duration_hours: float,
    factor: float = 1.5,
) -> NDArray[np.bool_]:
    """In-transit mask of ``lc`` (shape ``(lc.n_points,)``); see ``transit_mask``.

    Use it to re-run ``detrend(lc, mask=...)`` or to hide found planets from a search.
    """
    return transit_mask(
        lc.time_bjd,
        period_days=period_days,
        t0_bjd=t0_bjd,
        duration_hours=duration_hours,
        factor=factor,
    )


# ---------------------------------------------------------------------- random draws
def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One value log-uniform in ``[lo, hi]`` (one ``rng.uniform`` draw; ``0 < lo <= hi``)."""
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def draw_ephemeris(
    rng: np.random.Generator, *, t_first_bjd: float, min_period_days: float, max_period_days: float
) -> tuple[float, float]:
    """A random orbit: period log-uniform in ``[min_period_days, max_period_days]``, then
    the first mid-time uniform within one period of ``t_first_bjd``.

    Returns
    -------
    (period_days, t0_bjd)
    """
    period = log_uniform(rng, min_period_days, max_period_days)
    return period, float(t_first_bjd + rng.uniform(0, period))
