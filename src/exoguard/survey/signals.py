"""What a synthetic star may carry: the survey mix (shares and ranges), the draws of a planet
or an eclipsing binary around a host, and their noise-free models (batman through
:mod:`exoguard.core.signal_models`). Used by :mod:`exoguard.survey.synthetic`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from exoguard.core.inject import log_uniform
from exoguard.core.signal_models import (
    a_rs_from_density,
    eclipsing_binary_model,
    inclination_deg,
    transit_model,
    u_from_q,
)
from exoguard.survey.hosts import Host

__all__ = ["SurveyMix", "count_transits", "draw_eb", "draw_planet", "signal_model"]


@dataclass(frozen=True)
class SurveyMix:
    """What the synthetic stars hold and how noisy they are.

    Parameters
    ----------
    planet_fraction, eb_fraction : float
        Shares of stars with an injected planet or eclipsing binary; the rest have none.
    kepler_fraction : float
        Share of stars whose host is a Kepler-227 quarter (30-min cadence) instead of a TESS
        sector (2-min cadence).
    noise_ppm_range : (float, float)
        Per-point scatter after re-noising, drawn log-uniformly (ppm of the median flux, at the
        host's cadence); a host noisier than the draw keeps its own scatter.
    period_days_range : (float, float)
        Injected periods, log-uniform (the upper end keeps at least two transits a sector).
    rp_rs_range : (float, float)
        Planet-to-star radius ratios, log-uniform (depths about 150 ppm to 1.7 %).
    """

    planet_fraction: float = 0.4
    eb_fraction: float = 0.15
    kepler_fraction: float = 0.15
    noise_ppm_range: tuple[float, float] = (300.0, 3000.0)
    period_days_range: tuple[float, float] = (0.6, 12.0)
    rp_rs_range: tuple[float, float] = (0.012, 0.13)

    def __post_init__(self) -> None:
        for name in ("planet_fraction", "eb_fraction", "kepler_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if self.planet_fraction + self.eb_fraction > 1.0:
            raise ValueError(
                "planet_fraction + eb_fraction must be <= 1, got "
                f"{self.planet_fraction + self.eb_fraction}"
            )
        for name in ("noise_ppm_range", "period_days_range", "rp_rs_range"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high, got {lo, hi}")


def count_transits(
    time_bjd: NDArray[np.float64], ok: NDArray[np.bool_], period: float, t0: float, dur_h: float
) -> tuple[int, int]:
    """(transits with data, points in transit) among the usable points."""
    t = time_bjd[ok]
    phase = np.remainder(t - t0 + 0.5 * period, period) - 0.5 * period
    inside = np.abs(phase) < 0.5 * dur_h / 24.0
    epochs = np.unique(np.rint((t[inside] - t0) / period))
    return int(epochs.size), int(inside.sum())


def draw_planet(
    rng: np.random.Generator, mix: SurveyMix, host: Host, t_start: float
) -> dict[str, float]:
    period = log_uniform(rng, *mix.period_days_range)
    a_rs = a_rs_from_density(period, rho_star_solar=host.rho_star_solar)
    rp_rs = log_uniform(rng, *mix.rp_rs_range)
    impact = float(rng.uniform(0.0, 0.85))
    u1, u2 = u_from_q(float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, 0.9)))
    t0 = t_start + float(rng.uniform(0.0, period))
    return {"period_days": period, "t0_bjd": t0, "rp_rs": rp_rs, "a_rs": a_rs,
            "impact": impact, "u1": u1, "u2": u2}  # fmt: skip


def draw_eb(
    rng: np.random.Generator, mix: SurveyMix, host: Host, t_start: float
) -> dict[str, float]:
    period = log_uniform(rng, max(mix.period_days_range[0], 0.5), mix.period_days_range[1])
    # Two stars of about the host's mass: twice the mass, the same separation law.
    a_rs = a_rs_from_density(period, rho_star_solar=2.0 * host.rho_star_solar)
    k = float(rng.uniform(0.3, 1.0))
    impact = float(rng.uniform(0.0, 0.9 * (1.0 + k)))
    u1, u2 = u_from_q(float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, 0.9)))
    t0 = t_start + float(rng.uniform(0.0, period))
    sbr = float(rng.uniform(0.05, 0.9))
    return {"period_days": period, "t0_bjd": t0, "rp_rs": k, "a_rs": a_rs, "impact": impact,
            "u1": u1, "u2": u2, "surface_brightness_ratio": sbr}  # fmt: skip


def signal_model(
    kind: str, params: dict[str, float], time_bjd: NDArray[np.float64], cadence_s: float
) -> NDArray[np.float64]:
    """The noise-free normalised flux of a drawn planet or binary at ``time_bjd``."""
    u = (params["u1"], params["u2"])
    if kind == "planet":
        return transit_model(
            time_bjd,
            period_days=params["period_days"],
            t0_bjd=params["t0_bjd"],
            rp_rs=params["rp_rs"],
            a_rs=params["a_rs"],
            inc_deg=inclination_deg(a_rs=params["a_rs"], impact=params["impact"]),
            u=u,
            cadence_s=cadence_s,
        )
    return eclipsing_binary_model(
        time_bjd,
        period_days=params["period_days"],
        t0_bjd=params["t0_bjd"],
        radius_ratio=params["rp_rs"],
        a_rs=params["a_rs"],
        impact=params["impact"],
        surface_brightness_ratio=params["surface_brightness_ratio"],
        u=u,
        cadence_s=cadence_s,
    )
