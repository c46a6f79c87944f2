"""What the search knows about the host star (all optional; the Sun's density when unknown)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from exoguard.core.search.grid import G_SI, M_SUN_KG, R_SUN_M

__all__ = ["StarParams"]

R_EARTH_PER_R_SUN = 109.076
T_SUN_K = 5772.0
AU_M = 1.495_978_707e11


def _finite(x: float | None) -> float:
    return float(x) if x is not None and math.isfinite(float(x)) else math.nan


@dataclass(frozen=True)
class StarParams:
    """Host-star parameters. NaN (or None) where unknown.

    Parameters
    ----------
    radius_rsun : float, optional
        Stellar radius, solar radii.
    mass_msun : float, optional
        Stellar mass, solar masses; derived from ``logg_cgs`` and the radius when only those
        are known.
    teff_k : float, optional
        Effective temperature, K.
    logg_cgs : float, optional
        Surface gravity, log10(cm s^-2).
    mag : float, optional
        Apparent magnitude in the mission band (Kepler or TESS).
    """

    radius_rsun: float | None = None
    mass_msun: float | None = None
    teff_k: float | None = None
    logg_cgs: float | None = None
    mag: float | None = None

    def __post_init__(self) -> None:
        for name in ("radius_rsun", "mass_msun", "teff_k", "logg_cgs", "mag"):
            object.__setattr__(self, name, _finite(getattr(self, name)))
        for name in ("radius_rsun", "mass_msun", "teff_k"):
            value = getattr(self, name)
            if math.isfinite(value) and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> StarParams:
        """From ``LightCurve.star_params`` (radius_rsun, teff_k, logg_cgs, mag); others NaN."""
        known = {
            k: values[k]
            for k in ("radius_rsun", "mass_msun", "teff_k", "logg_cgs", "mag")
            if k in values
        }
        return cls(**known)

    @property
    def known_radius(self) -> bool:
        """Whether the radius is known."""
        return math.isfinite(self.radius_rsun or math.nan)

    @property
    def effective_radius_rsun(self) -> float:
        """The radius, or 1 (the Sun) when unknown."""
        r = self.radius_rsun
        return float(r) if r is not None and math.isfinite(r) else 1.0

    @property
    def effective_mass_msun(self) -> float:
        """The mass; else from logg and the radius; else 1 (the Sun)."""
        m = self.mass_msun
        if m is not None and math.isfinite(m):
            return float(m)
        g = self.logg_cgs
        r = self.radius_rsun
        if g is not None and r is not None and math.isfinite(g) and math.isfinite(r):
            g_si = 10.0 ** (g - 2.0)
            return float(g_si * (r * R_SUN_M) ** 2 / G_SI / M_SUN_KG)
        return 1.0

    def semi_major_axis_au(self, period_days: float) -> float:
        """Orbital semi-major axis (AU) for a period, from Kepler's third law."""
        p_s = period_days * 86_400.0
        a = (G_SI * self.effective_mass_msun * M_SUN_KG * p_s**2 / (4.0 * math.pi**2)) ** (1 / 3)
        return float(a / AU_M)

    def planet_radius_rearth(self, depth_ppm: float) -> float:
        """``sqrt(depth) * R*`` in Earth radii; NaN when the radius is unknown or depth <= 0."""
        r = self.radius_rsun
        if r is None or not math.isfinite(r) or not depth_ppm > 0:
            return math.nan
        return float(math.sqrt(depth_ppm * 1e-6) * r * R_EARTH_PER_R_SUN)

    def equilibrium_temp_k(self, period_days: float) -> float:
        """Zero-albedo, full-redistribution equilibrium temperature; NaN without Teff and R*."""
        t, r = self.teff_k, self.radius_rsun
        if t is None or r is None or not (math.isfinite(t) and math.isfinite(r)):
            return math.nan
        a_m = self.semi_major_axis_au(period_days) * AU_M
        return float(t * math.sqrt(r * R_SUN_M / (2.0 * a_m)))

    def insolation_earth(self, period_days: float) -> float:
        """Insolation relative to the Earth's; NaN without Teff and R*."""
        t, r = self.teff_k, self.radius_rsun
        if t is None or r is None or not (math.isfinite(t) and math.isfinite(r)):
            return math.nan
        lum = r**2 * (t / T_SUN_K) ** 4
        return float(lum / self.semi_major_axis_au(period_days) ** 2)
