"""Injection-recovery: how many injected transits each engine gets back.

Limb-darkened transits (batman, via :func:`exoguard.core.inject.inject_transit`) are injected
into real light curves over a period x planet-radius grid; each injected light curve is searched
by each engine set-up with the same thresholds, and a signal counts as recovered when a
candidate's period is within ``period_tolerance`` (relative) of the injected one and its epoch
falls within one injected duration of an injected transit. Candidates at 2P or P/2 are recorded
as ``alias`` (not recovered).

Engine set-ups (``ENGINE_SETUPS``): ``"fast"`` is our kernel on the Ofir grid, ``"astropy"``
astropy's BoxLeastSquares on its ``autoperiod`` grid (``frequency_factor`` 1), ``"astropy-ofir"``
astropy on our grid.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from exoguard.core.lightcurve import LightCurve
from exoguard.core.search.multi import (
    DEFAULT_SDE_THRESHOLD,
    DEFAULT_SNR_THRESHOLD,
    search_lightcurve,
)
from exoguard.core.search.results import TransitCandidate
from exoguard.core.search.star import R_EARTH_PER_R_SUN, StarParams

__all__ = [
    "ENGINE_SETUPS",
    "InjectionTrial",
    "completeness_table",
    "injection_recovery",
]

#: name -> (engine, period grid)
ENGINE_SETUPS: dict[str, tuple[str, str]] = {
    "fast": ("fast", "ofir"),
    "astropy": ("astropy", "autoperiod"),
    "astropy-ofir": ("astropy", "ofir"),
}


@dataclass(frozen=True)
class InjectionTrial:
    """One injected signal searched by one engine set-up.

    Attributes
    ----------
    source : str
        The light curve (target id).
    engine : str
        Key of ``ENGINE_SETUPS``.
    period_days, radius_rearth, rp_rs, impact, t0_bjd : float
        What was injected.
    expected_depth_ppm : float
        ``rp_rs^2`` in ppm (limb darkening makes the real depth somewhat larger).
    recovered : bool
        A candidate matched period and epoch.
    alias : bool
        A candidate matched 2P or P/2 instead.
    found_period_days, found_sde, found_snr : float
        The matching candidate (or the first candidate; NaN when none).
    n_candidates : int
        Candidates the search returned.
    elapsed_s : float
        Search wall time.
    """

    source: str
    engine: str
    period_days: float
    radius_rearth: float
    rp_rs: float
    impact: float
    t0_bjd: float
    expected_depth_ppm: float
    recovered: bool
    alias: bool
    found_period_days: float
    found_sde: float
    found_snr: float
    n_candidates: int
    elapsed_s: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (NaN kept)."""
        return asdict(self)


def _match(
    candidates: Sequence[TransitCandidate],
    *,
    period_days: float,
    t0_bjd: float,
    duration_days: float,
    tolerance: float,
) -> tuple[TransitCandidate | None, bool]:
    for cand in candidates:
        if abs(cand.period_days / period_days - 1.0) <= tolerance:
            offset = (cand.t0_bjd - t0_bjd) / period_days
            if abs(offset - round(offset)) * period_days <= max(duration_days, 0.05):
                return cand, False
    for cand in candidates:
        for ratio in (2.0, 0.5):
            if abs(cand.period_days / (ratio * period_days) - 1.0) <= tolerance:
                return cand, True
    return None, False


def injection_recovery(
    lightcurves: Sequence[LightCurve],
    *,
    periods_days: Sequence[float],
    radii_rearth: Sequence[float],
    engines: Sequence[str] = ("fast", "astropy"),
    rng: np.random.Generator,
    star: StarParams | None = None,
    sde_threshold: float = DEFAULT_SDE_THRESHOLD,
    snr_threshold: float = DEFAULT_SNR_THRESHOLD,
    max_planets: int = 2,
    max_impact: float = 0.7,
    period_tolerance: float = 0.01,
    progress: Callable[[int, int], None] | None = None,
) -> list[InjectionTrial]:
    """Inject transits on a period x radius grid and search each result with every engine.

    Parameters
    ----------
    lightcurves : sequence of LightCurve
        Real light curves (cleaned, not detrended).
    periods_days, radii_rearth : sequence of float
        The grid (every combination is injected once into every light curve).
    engines : sequence of str
        Keys of ``ENGINE_SETUPS``.
    rng : numpy.random.Generator
        Draws the epoch (uniform over one period after the start) and impact parameter
        (uniform in ``[0, max_impact]``) of every injection; both engines search the same
        injected light curve.
    star : StarParams, optional
        Host star for ``rp_rs = R_p / R*`` and ``a/R*`` (the Sun when unknown).
    sde_threshold, snr_threshold : float
        The same detection thresholds for every engine.
    max_planets : int
        Candidates per search (a real planet in the light curve may take the first slot).
    period_tolerance : float
        Relative period match for a recovery.
    progress : callable, optional
        ``progress(done, total)`` in searches.

    Returns
    -------
    list of InjectionTrial
    """
    unknown = [e for e in engines if e not in ENGINE_SETUPS]
    if unknown:
        raise ValueError(f"engines must be among {tuple(ENGINE_SETUPS)}, got {unknown}")
    if not periods_days or not radii_rearth:
        raise ValueError("give at least one period and one radius")
    star = star or StarParams()
    total = len(lightcurves) * len(periods_days) * len(radii_rearth) * len(engines)
    trials: list[InjectionTrial] = []
    for lc in lightcurves:
        for period in periods_days:
            for radius in radii_rearth:
                injection = _inject(
                    lc, float(period), float(radius), star=star, rng=rng, max_impact=max_impact
                )
                for name in engines:
                    trials.append(
                        _search_trial(
                            injection,
                            name,
                            star=star,
                            max_planets=max_planets,
                            sde_threshold=sde_threshold,
                            snr_threshold=snr_threshold,
                            period_tolerance=period_tolerance,
                        )
                    )
                    if progress is not None:
                        progress(len(trials), total)
    return trials


@dataclass(frozen=True, eq=False)
class _Injection:
    """One transit injected into one light curve (what :class:`InjectionTrial` records)."""

    source: LightCurve
    injected: LightCurve
    period_days: float
    radius_rearth: float
    rp_rs: float
    impact: float
    t0_bjd: float
    duration_days: float


def _inject(
    lc: LightCurve,
    period_days: float,
    radius_rearth: float,
    *,
    star: StarParams,
    rng: np.random.Generator,
    max_impact: float,
) -> _Injection:
    """Inject one transit: impact uniform in ``[0, max_impact]``, then the epoch uniform over
    one period after the start (drawn from ``rng`` in that order)."""
    from exoguard.core.inject import inject_transit
    from exoguard.core.signal_models import a_rs_from_density, transit_duration_hours

    r_star = star.effective_radius_rsun
    rho = star.effective_mass_msun / r_star**3
    rp_rs = radius_rearth / (R_EARTH_PER_R_SUN * r_star)
    a_rs = a_rs_from_density(period_days, rho_star_solar=rho)
    impact = float(rng.uniform(0.0, max_impact))
    t0 = float(lc.time_bjd[0] + rng.uniform(0.0, period_days))
    injected = inject_transit(
        lc, period_days=period_days, t0_bjd=t0, rp_rs=rp_rs, a_rs=a_rs, impact=impact
    )
    duration_hours = transit_duration_hours(
        period_days=period_days, a_rs=a_rs, rp_rs=rp_rs, impact=impact
    )
    return _Injection(
        source=lc,
        injected=injected,
        period_days=period_days,
        radius_rearth=radius_rearth,
        rp_rs=rp_rs,
        impact=impact,
        t0_bjd=t0,
        duration_days=duration_hours / 24.0,
    )


def _search_trial(
    injection: _Injection,
    name: str,
    *,
    star: StarParams,
    max_planets: int,
    sde_threshold: float,
    snr_threshold: float,
    period_tolerance: float,
) -> InjectionTrial:
    """Search the injected light curve with the engine set-up ``name`` and match the signal."""
    engine, grid_kind = ENGINE_SETUPS[name]
    start = _time.perf_counter()
    result = search_lightcurve(
        injection.injected,
        max_planets=max_planets,
        sde_threshold=sde_threshold,
        snr_threshold=snr_threshold,
        engine=engine,  # type: ignore[arg-type]  # from ENGINE_SETUPS
        period_grid=grid_kind,  # type: ignore[arg-type]
        star=star,
    )
    elapsed = _time.perf_counter() - start
    match, alias = _match(
        result.candidates,
        period_days=injection.period_days,
        t0_bjd=injection.t0_bjd,
        duration_days=injection.duration_days,
        tolerance=period_tolerance,
    )
    shown = match or (result.candidates[0] if result.candidates else None)
    return InjectionTrial(
        source=injection.source.target_id,
        engine=name,
        period_days=injection.period_days,
        radius_rearth=injection.radius_rearth,
        rp_rs=injection.rp_rs,
        impact=injection.impact,
        t0_bjd=injection.t0_bjd,
        expected_depth_ppm=injection.rp_rs**2 * 1e6,
        recovered=match is not None and not alias,
        alias=alias,
        found_period_days=shown.period_days if shown else math.nan,
        found_sde=shown.sde if shown else math.nan,
        found_snr=shown.snr if shown else math.nan,
        n_candidates=len(result.candidates),
        elapsed_s=elapsed,
    )


def completeness_table(trials: Sequence[InjectionTrial]) -> list[dict[str, Any]]:
    """Recovered fraction per engine, period and radius.

    Returns
    -------
    list of dict
        Keys ``engine``, ``period_days``, ``radius_rearth``, ``n_injected``, ``n_recovered``,
        ``n_alias``, ``completeness``, ``mean_search_s``; sorted by engine, period, radius.
    """
    cells: dict[tuple[str, float, float], list[InjectionTrial]] = {}
    for trial in trials:
        cells.setdefault((trial.engine, trial.period_days, trial.radius_rearth), []).append(trial)
    rows = []
    for (engine, period, radius), group in sorted(cells.items()):
        n_rec = sum(t.recovered for t in group)
        rows.append(
            {
                "engine": engine,
                "period_days": period,
                "radius_rearth": radius,
                "n_injected": len(group),
                "n_recovered": n_rec,
                "n_alias": sum(t.alias for t in group),
                "completeness": n_rec / len(group),
                "mean_search_s": float(np.mean([t.elapsed_s for t in group])),
            }
        )
    return rows
