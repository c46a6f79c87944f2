"""Injecting one signal of each kind into a host (the ground truth of a sample).

Planets (batman, quadratic limb darkening; radius from a target SNR and the host's
noise, kept within the realistic ``planet_radius_rearth`` range), eclipsing binaries
(primary + secondary, grazing V shapes possible; folded at half the period when the two
eclipses look alike, as a search would), background binaries (diluted to a planet-like
target SNR), stellar variability and systematics (injected before detrending, then
detrended with the host's window) and single outliers. The light-curve physics is
:mod:`exoguard.core.inject`'s and :mod:`exoguard.core.signal_models`'s; this module draws the
parameters from :class:`~exoguard.ml.multibranch.configs.InjectionConfig`. Stars without catalog
parameters (the K2 hosts) use the ``star_density_solar`` prior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from exoguard.core.detrend import detrend
from exoguard.core.inject import (
    draw_ephemeris,
    inject_eclipsing_binary,
    inject_outlier,
    inject_step,
    inject_transit,
    log_uniform,
    transit_mask,
)
from exoguard.core.lightcurve import LightCurve
from exoguard.core.signal_models import a_rs_from_density, transit_duration_hours
from exoguard.ml.multibranch.configs import (
    InjectionConfig,
    Range,
)
from exoguard.ml.multibranch.hosts import Host
from exoguard.ml.multibranch.inputs import (
    StarRow,
)
from exoguard.ml.multibranch.scenarios import (
    few_event_ephemeris,
)

R_EARTH_PER_R_SUN = 109.076
LOGG_SUN_CGS = 4.438


def draw_from_range(rng: np.random.Generator, r: Range) -> float:
    """A value drawn from ``r`` (log-uniform when ``r.log``, else uniform)."""
    if r.log:
        return log_uniform(rng, r.lo, r.hi)
    return float(rng.uniform(r.lo, r.hi))


@dataclass(frozen=True)
class Injection:
    """What one sample holds (ground truth for the record)."""

    kind: str
    period_days: float = math.nan
    t0_bjd: float = math.nan
    duration_hours: float = math.nan
    depth_ppm: float = math.nan
    expected_snr: float = math.nan
    radius_ratio: float = math.nan
    planet_radius_rearth: float = math.nan
    impact: float = math.nan
    dilution: float = math.nan
    surface_brightness_ratio: float = math.nan
    half_period: bool = False
    #: Injected events (transits, eclipses, dips) with data in the span (NaN: none injected).
    n_events: float = math.nan
    #: Drawn as a one- or two-event sample (``few_transit_fraction``).
    few_events: bool = False
    #: Signals on the star: 2 with a second planet or a binary's secondary candidate.
    n_signals: int = 1
    #: Period of the second candidate on the star (NaN when alone).
    companion_period_days: float = math.nan
    #: What the multi-planet search counts on the star (a secondary at the same period
    #: is an alias and does not count).
    n_candidates_on_host: int = 1


PARAM_COLUMNS = tuple(Injection.__dataclass_fields__)


def _period_range(host: Host, inj: InjectionConfig) -> tuple[float, float]:
    hi = min(inj.period_days.hi, host.raw.baseline_days / max(inj.min_transits, 1))
    lo = min(inj.period_days.lo, 0.5 * hi)
    return lo, hi


def _points_in_transit(t: np.ndarray, period: float, t0: float, dur_h: float) -> int:
    return int(
        transit_mask(t, period_days=period, t0_bjd=t0, duration_hours=dur_h, factor=1.0).sum()
    )


def host_density_solar(star: StarRow) -> float:
    """Mean density of the host from its catalog logg and radius (NaN when unknown)."""
    rho = 10.0 ** (star.logg_cgs - LOGG_SUN_CGS) / star.radius_rsun
    return float(rho) if math.isfinite(rho) and rho > 0 else math.nan


def _eclipse_geometry(
    host: Host,
    inj: InjectionConfig,
    rng: np.random.Generator,
    *,
    density_solar: float | None = None,
    few_events: int = 0,
) -> tuple[float, float, float]:
    if few_events:
        period, t0 = few_event_ephemeris(host.raw.time_bjd, n_events=few_events, rng=rng)
    else:
        lo, hi = _period_range(host, inj)
        period, t0 = draw_ephemeris(
            rng, t_first_bjd=host.raw.time_bjd[0], min_period_days=lo, max_period_days=hi
        )
    rho = draw_from_range(rng, inj.star_density_solar) if density_solar is None else density_solar
    a_rs = a_rs_from_density(period, rho_star_solar=rho)
    return period, t0, a_rs


def _target_density(host: Host, inj: InjectionConfig, rng: np.random.Generator) -> float:
    """The target star's density with the scatter of catalog values; the prior when the
    star is unknown."""
    rho = host_density_solar(host.star_row)
    if not math.isfinite(rho):
        return draw_from_range(rng, inj.star_density_solar)
    return float(rho * math.exp(rng.normal(0.0, inj.density_scatter_dex * math.log(10))))


def inject_planet(
    host: Host,
    inj: InjectionConfig,
    rng: np.random.Generator,
    *,
    few_events: int = 0,
    base: LightCurve | None = None,
) -> tuple[LightCurve, Injection] | None:
    """A transiting planet on the target (batman), its radius set by a drawn SNR and
    the host's noise; None when the draw is unusable (too few points in transit, radius
    outside ``planet_radius_rearth``). ``base``: inject into this light curve instead of
    the host's flat one (a second planet)."""
    # a planet orbits the target: its duration follows the target star's density
    period, t0, a_rs = _eclipse_geometry(
        host, inj, rng, density_solar=_target_density(host, inj, rng), few_events=few_events
    )
    b = draw_from_range(rng, inj.impact)
    u = (draw_from_range(rng, inj.limb_u1), draw_from_range(rng, inj.limb_u2))
    snr = draw_from_range(rng, inj.snr)
    t = host.raw.time_bjd
    # duration and points in transit for a small planet; the depth follows from the SNR
    dur = transit_duration_hours(period_days=period, a_rs=a_rs, rp_rs=0.05, impact=b)
    n_in = _points_in_transit(t, period, t0, dur) if dur > 0 else 0
    if n_in < 4:
        return None
    depth = snr * host.noise / math.sqrt(n_in)
    ld = 1.0 - u[0] / 3.0 - u[1] / 6.0  # mean disk brightness over the centre's
    k = math.sqrt(depth * ld)
    r_star = host.star_row.radius_rsun if math.isfinite(host.star_row.radius_rsun) else 1.0
    rp = k * r_star * R_EARTH_PER_R_SUN
    if not (inj.planet_radius_rearth.lo <= rp <= inj.planet_radius_rearth.hi) or k > 0.35:
        return None
    flat = inject_transit(
        host.flat if base is None else base,
        period_days=period,
        t0_bjd=t0,
        rp_rs=k,
        a_rs=a_rs,
        impact=b,
        u=u,
    )
    dur = transit_duration_hours(period_days=period, a_rs=a_rs, rp_rs=k, impact=b)
    return flat, Injection(
        kind="planet",
        period_days=period,
        t0_bjd=t0,
        duration_hours=dur,
        depth_ppm=depth * 1e6,
        expected_snr=snr,
        radius_ratio=k,
        planet_radius_rearth=rp,
        impact=b,
    )


def inject_binary(
    host: Host,
    inj: InjectionConfig,
    rng: np.random.Generator,
    *,
    background: bool,
    few_events: int = 0,
) -> tuple[LightCurve, Injection] | None:
    """An eclipsing binary on the target (``background=False``) or a background
    binary diluted to a planet-like SNR; None when the draw is unusable."""
    # an eclipsing binary on the target: the target's density times (1 + mass ratio); a
    # background binary is another star altogether (the prior)
    rho = None if background else _target_density(host, inj, rng) * (1 + rng.uniform(0.1, 1.0))
    period, t0, a_rs = _eclipse_geometry(host, inj, rng, density_solar=rho, few_events=few_events)
    k = draw_from_range(rng, inj.eb_radius_ratio)
    b = float(rng.uniform(0.0, 1.0 + 0.8 * k))
    sb = draw_from_range(rng, inj.eb_surface_brightness_ratio)
    u = (draw_from_range(rng, inj.limb_u1), draw_from_range(rng, inj.limb_u2))
    if not a_rs > 1.0 + k:  # the two stars would overlap: not a detached binary
        return None
    dur = transit_duration_hours(period_days=period, a_rs=a_rs, rp_rs=k, impact=b)
    if not dur > 0:
        return None
    n_in = _points_in_transit(host.raw.time_bjd, period, t0, dur)
    if n_in < 4:
        return None
    dilution = 1.0
    if background:
        # undiluted eclipse depth, measured on a fine grid around t0
        from exoguard.core.signal_models import eclipsing_binary_model

        tt = t0 + np.linspace(-0.5, 0.5, 201) * dur / 24.0
        full = 1.0 - float(
            np.min(
                eclipsing_binary_model(
                    tt,
                    period_days=period,
                    t0_bjd=t0,
                    radius_ratio=k,
                    a_rs=a_rs,
                    impact=b,
                    surface_brightness_ratio=sb,
                    u=u,
                )
            )
        )
        if not full > 0:
            return None
        target = draw_from_range(rng, inj.snr) * host.noise / math.sqrt(n_in)
        dilution = target / full
        lo, hi = inj.beb_dilution.lo, max(inj.beb_dilution.hi, 0.5)
        if not lo <= dilution <= hi:
            return None
    flat = inject_eclipsing_binary(
        host.flat,
        period_days=period,
        t0_bjd=t0,
        radius_ratio=k,
        a_rs=a_rs,
        impact=b,
        surface_brightness_ratio=sb,
        u=u,
        dilution=dilution,
    )
    depth = 1.0 - float(np.min(flat.flux / host.flat.flux))
    # a search folds two similar eclipses at half the period
    half = bool(sb > 0.6 and rng.uniform() < 0.5) and not few_events
    return flat, Injection(
        kind="beb" if background else "eb",
        period_days=period / 2 if half else period,
        t0_bjd=t0,
        duration_hours=dur,
        depth_ppm=depth * 1e6,
        expected_snr=depth / host.noise * math.sqrt(n_in),
        radius_ratio=k,
        impact=b,
        dilution=dilution,
        surface_brightness_ratio=sb,
        half_period=half,
    )


def redetrend(host: Host, raw: LightCurve) -> LightCurve:
    """``raw`` detrended with the host's window (after a signal injected before
    detrending)."""
    flat, _ = detrend(raw, window_days=host.window_days)
    return flat


def inject_variability(
    host: Host, inj: InjectionConfig, rng: np.random.Generator
) -> tuple[LightCurve, Injection]:
    """A spotted star's variability (fundamental plus harmonics), then detrended."""
    period = draw_from_range(rng, inj.variability_period_days)
    amp = draw_from_range(rng, inj.variability_amplitude_ppm) * 1e-6
    t = host.raw.time_bjd - host.raw.time_bjd[0]
    phase = rng.uniform(0, 2 * math.pi, size=3)
    # a spotted star: fundamental plus harmonics, slowly evolving amplitude
    h2, h3 = rng.uniform(0, 0.5), rng.uniform(0, 0.25)
    envelope = 1.0 + 0.3 * np.sin(2 * math.pi * t / (period * rng.uniform(5, 20)) + phase[0])
    model = 1.0 + amp * envelope * (
        np.sin(2 * math.pi * t / period + phase[0])
        + h2 * np.sin(4 * math.pi * t / period + phase[1])
        + h3 * np.sin(6 * math.pi * t / period + phase[2])
    )
    raw = host.raw.with_flux(host.raw.flux * model)
    return redetrend(host, raw), Injection(
        kind="variability", period_days=period, depth_ppm=amp * 1e6
    )


def inject_systematic(
    host: Host, inj: InjectionConfig, rng: np.random.Generator
) -> tuple[LightCurve, Injection]:
    """Steps with exponential recovery and, half the time, periodic glitches; then
    detrended."""
    raw = host.raw
    n_steps = int(rng.integers(1, 4))
    size = 0.0
    for _ in range(n_steps):
        size = log_uniform(rng, 100, 3000)
        raw = inject_step(raw, size_ppm=size, rng=rng, recovery_days=float(rng.uniform(0.05, 1.0)))
    if rng.uniform() < 0.5:
        # periodic momentum-dump-like glitches: short dips at a fixed cadence
        period = float(rng.uniform(2.0, 4.0))
        t0 = float(raw.time_bjd[0] + rng.uniform(0, period))
        m = transit_mask(
            raw.time_bjd,
            period_days=period,
            t0_bjd=t0,
            duration_hours=float(rng.uniform(0.5, 2.0)),
            factor=1.0,
        )
        glitch = log_uniform(rng, 100, 2000) * 1e-6
        raw = raw.with_flux(raw.flux * np.where(m, 1.0 - glitch, 1.0))
    return redetrend(host, raw), Injection(kind="systematic", depth_ppm=size)


def inject_outliers(
    host: Host, inj: InjectionConfig, rng: np.random.Generator
) -> tuple[LightCurve, Injection]:
    """One to three groups of single low outliers."""
    flat = host.flat
    depth = 0.0
    for _ in range(int(rng.integers(1, 4))):
        depth = log_uniform(rng, 300, 10_000)
        flat = inject_outlier(flat, depth_ppm=depth, n_points=int(rng.integers(1, 4)), rng=rng)
    return flat, Injection(kind="outlier", depth_ppm=depth)
