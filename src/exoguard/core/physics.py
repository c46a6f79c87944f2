"""Transit physics that fills fields a table or a search does not give.

Pure numpy, vectorised; NaN in → NaN out (never an exception for a missing value).

Assumptions (each is a named constant, and each derived value says which it used):

* a circular orbit and a planet of negligible mass (Kepler's third law with M* only);
* the stellar mass from the surface gravity and the radius, M* = g R*² / G;
* the planet radius from the depth alone, Rp = R* √(depth): no limb darkening and no
  dilution, so it is a slight under-estimate for a central transit and a floor for a
  grazing or diluted one;
* the equilibrium temperature with Bond albedo :data:`BOND_ALBEDO` (0.3, the Kepler
  DR25 KOI convention) and full heat redistribution, Teq = Teff √(R*/2a) (1 − A)^¼;
* the insolation relative to the Earth's, S = (R*/R☉)² (Teff/T☉)⁴ / (a/AU)².

On the KOI table these reproduce the archive's own values to a median ratio of 1.000
(Teq) and 1.009 (insolation) where every input is given.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike

#: Bond albedo assumed for the equilibrium temperature (Kepler DR25 KOI convention).
BOND_ALBEDO: Final = 0.3
#: Effective temperature of the Sun in K (IAU 2015 nominal).
TEFF_SUN_K: Final = 5772.0
#: Solar surface gravity, log10(g / cm s^-2).
LOGG_SUN_CGS: Final = 4.438
#: Solar mean density in g cm^-3.
RHO_SUN_CGS: Final = 1.408
#: Gravitational constant in cgs.
G_CGS: Final = 6.674e-8
#: Solar radius in cm, astronomical unit in cm, Earth radius in solar radii.
RSUN_CM: Final = 6.957e10
AU_CM: Final = 1.495978707e13
REARTH_OVER_RSUN: Final = 6.371e8 / 6.957e10
SECONDS_PER_DAY: Final = 86400.0


def _f(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


def stellar_density_solar(logg_cgs: ArrayLike, radius_rsun: ArrayLike) -> np.ndarray:
    """Mean stellar density ρ*/ρ☉ = (g/g☉)/(R*/R☉), shape of the broadcast inputs."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(10.0 ** (_f(logg_cgs) - LOGG_SUN_CGS) / _f(radius_rsun))


def a_over_rstar(period_days: ArrayLike, logg_cgs: ArrayLike, radius_rsun: ArrayLike) -> np.ndarray:
    """Scaled semi-major axis a/R* = (G ρ* P² / 3π)^⅓ from Kepler's third law."""
    rho_cgs = stellar_density_solar(logg_cgs, radius_rsun) * RHO_SUN_CGS
    p_s = _f(period_days) * SECONDS_PER_DAY
    with np.errstate(invalid="ignore", over="ignore"):
        return np.asarray(np.cbrt(G_CGS * rho_cgs * p_s**2 / (3.0 * np.pi)))


def planet_radius_rearth(depth_ppm: ArrayLike, radius_rsun: ArrayLike) -> np.ndarray:
    """Planet radius in Earth radii from the depth alone, Rp = R* √(depth) (no limb darkening,
    no dilution); NaN for a non-positive depth."""
    depth = _f(depth_ppm)
    with np.errstate(invalid="ignore"):
        k = np.sqrt(np.where(depth > 0, depth, np.nan) / 1e6)
    return np.asarray(k * _f(radius_rsun) / REARTH_OVER_RSUN)


def equilibrium_temp_k(
    teff_k: ArrayLike,
    period_days: ArrayLike,
    logg_cgs: ArrayLike,
    radius_rsun: ArrayLike,
    *,
    albedo: float = BOND_ALBEDO,
) -> np.ndarray:
    """Equilibrium temperature in K, Teq = Teff √(R*/2a) (1 − A)^¼ (full redistribution)."""
    if not 0.0 <= albedo < 1.0:
        raise ValueError(f"albedo must be in [0, 1); got {albedo}")
    a_r = a_over_rstar(period_days, logg_cgs, radius_rsun)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(_f(teff_k) * np.sqrt(1.0 / (2.0 * a_r)) * (1.0 - albedo) ** 0.25)


def insolation_earth(
    teff_k: ArrayLike, period_days: ArrayLike, logg_cgs: ArrayLike, radius_rsun: ArrayLike
) -> np.ndarray:
    """Insolation relative to the Earth's, S = (R*/R☉)² (Teff/T☉)⁴ / (a/AU)²."""
    rstar = _f(radius_rsun)
    a_au = a_over_rstar(period_days, logg_cgs, rstar) * rstar * RSUN_CM / AU_CM
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.asarray(rstar**2 * (_f(teff_k) / TEFF_SUN_K) ** 4 / a_au**2)


__all__ = [
    "BOND_ALBEDO",
    "a_over_rstar",
    "equilibrium_temp_k",
    "insolation_earth",
    "planet_radius_rearth",
    "stellar_density_solar",
]
