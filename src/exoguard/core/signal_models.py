"""Model light curves of transits and eclipsing binaries: flux arrays, 1 out of the events.

* geometry of a circular orbit: ``a_rs_from_density``, ``inclination_deg``,
  ``transit_duration_hours``; limb darkening from Kipping's q: ``u_from_q``;
* ``transit_model``: a limb-darkened planetary transit (batman-package, Kreidberg 2015),
  supersampled over the exposure for long cadences;
* ``eclipsing_binary_model``: primary + secondary eclipses of two luminous stars.

:mod:`exoguard.core.inject` multiplies a light curve by these models.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exoguard.core.lightcurve import FloatArray, fold_phase_days

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


def require_positive(**values: float) -> None:
    """Raise ``ValueError`` naming the first value that is not positive and finite."""
    for name, v in values.items():
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be positive and finite, got {v}")


# ---------------------------------------------------------------------- models
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
    require_positive(period_days=period_days, rp_rs=rp_rs, a_rs=a_rs)
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
    require_positive(period_days=period_days, radius_ratio=radius_ratio, a_rs=a_rs)
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
