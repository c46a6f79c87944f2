"""Iterative multi-planet transit search on a LightCurve.

One pass: detrend (wotan biweight, window three times the longest duration searched, found
transits masked from the trend fit), run BLS on the grid, take the highest SDE peak (or the
harmonic of it with more power: :func:`best_harmonic`), refine it on a fine period x duration
grid around the peak (the period is the mean of its profile likelihood:
:func:`period_posterior`), measure its diagnostics, then mask its transits (twice the duration)
and start the next pass. The search stops after ``max_planets`` candidates, when the highest peak
has ``SDE < sde_threshold`` or its transit ``SNR < snr_threshold``, or when too few points are
left.

Afterwards every candidate whose period is a small-integer ratio of a stronger one's (and whose
transits line up with it) is flagged ``alias_of`` that one; the same period at another phase
(typically a secondary eclipse) is flagged ``1:1``.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field

from exoguard.core.lightcurve import LightCurve
from exoguard.core.search.aliases import flag_aliases
from exoguard.core.search.engine import ENGINES, Engine
from exoguard.core.search.grid import (
    PERIOD_GRID_KINDS,
    PeriodGridKind,
    SearchGrid,
    make_grid,
)
from exoguard.core.search.passes import (
    DetrendedCurve,
    PassConfig,
    Passes,
    StageTimer,
    run_passes,
    single_event,
)
from exoguard.core.search.peaks import best_harmonic, period_posterior, refine_peak
from exoguard.core.search.results import BLSPeriodogram, TransitCandidate
from exoguard.core.search.single import SingleEvent
from exoguard.core.search.star import StarParams
from exoguard.errors import ValidationError

__all__ = [
    "DEFAULT_MAX_PLANETS",
    "DetrendedCurve",
    "DEFAULT_SDE_THRESHOLD",
    "DEFAULT_SNR_THRESHOLD",
    "SearchResult",
    "best_harmonic",
    "flag_aliases",
    "period_posterior",
    "refine_peak",
    "search_lightcurve",
    "search_transits",
]

#: Default detection thresholds. The SDE is that of the robustly standardised SNR spectrum
#: (:func:`exoguard.core.search.engine.sde_spectrum`); on the bundled Kepler and TESS light
#: curves the highest noise peak (after the real signals are masked) reaches 3-6.3, while the
#: weakest catalogued signal with three or more transits (K00114.01 in one short-cadence month)
#: reaches 7.0. The SNR gate uses the white-noise transit SNR (errors scaled to the observed
#: scatter), the same quantity as the BLS SNR; the reported ``snr`` also includes red noise.
DEFAULT_SDE_THRESHOLD = 6.5
DEFAULT_SNR_THRESHOLD = 7.0
#: Search passes (one candidate each) at most, unless asked otherwise.
DEFAULT_MAX_PLANETS = 5
MIN_WINDOW_DAYS = 0.5


@dataclass(frozen=True)
class SearchResult:
    """Everything one multi-planet search produced.

    Attributes
    ----------
    candidates : tuple of TransitCandidate
        In the order found (strongest first).
    periodograms : tuple of BLSPeriodogram
        One per pass, including the last pass (whose peak did not pass the thresholds, unless
        the search stopped at ``max_planets``).
    grid : SearchGrid
        The period x duration grid.
    window_days : float
        Biweight window used for detrending (NaN when not detrended).
    stop_reason : str
        Why the search stopped.
    elapsed_s : float
        Wall time, seconds.
    target_id, mission : str
    n_points : int
        Points in the light curve.
    single_event : SingleEvent or None
        When no candidate was found: the one box-shaped dip of SNR >= 10
        (``SINGLE_EVENT_SNR_THRESHOLD``, or ``snr_threshold`` if higher) with no second one
        of SNR >= ``snr_threshold`` (a period needs two transits), if the light curve holds
        one.
    stage_s : dict of str to float
        Wall time (seconds) spent in each stage: ``detrend`` (every pass), ``bls`` (the full-grid
        periodograms), ``refine`` (fine grids around the peaks), ``diagnostics`` (transit fits
        and vetting statistics) and ``single_event`` (the single-transit search).
    last_detrended : DetrendedCurve or None
        The last pass's detrended light curve and the mask of its trend fit (None when the
        search did not detrend); after a pass that found nothing, every candidate's transits
        are masked in it, as the network's inputs want them.
    """

    candidates: tuple[TransitCandidate, ...]
    periodograms: tuple[BLSPeriodogram, ...]
    grid: SearchGrid
    window_days: float
    stop_reason: str
    elapsed_s: float
    target_id: str
    mission: str
    n_points: int
    single_event: SingleEvent | None = None
    stage_s: dict[str, float] = field(default_factory=dict)
    last_detrended: DetrendedCurve | None = None


def default_window_days(grid: SearchGrid) -> float:
    """Three times the longest duration searched, at least half a day."""
    return max(3.0 * grid.longest_duration_days, MIN_WINDOW_DAYS)


def _validate(lc: LightCurve, engine: str, period_grid: str, max_planets: int) -> None:
    if not isinstance(lc, LightCurve):
        raise TypeError(
            "search_transits expects an exoguard LightCurve; read files with "
            "exoguard.read_lightcurve(path) first"
        )
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if period_grid not in PERIOD_GRID_KINDS:
        raise ValueError(f"period_grid must be one of {PERIOD_GRID_KINDS}, got {period_grid!r}")
    if max_planets < 1:
        raise ValueError(f"max_planets must be >= 1, got {max_planets}")
    if lc.n_points < 50:
        raise ValidationError(f"need at least 50 points to search, got {lc.n_points}")


def search_lightcurve(
    lc: LightCurve,
    *,
    min_period_days: float | None = None,
    max_period_days: float | None = None,
    max_planets: int = DEFAULT_MAX_PLANETS,
    sde_threshold: float = DEFAULT_SDE_THRESHOLD,
    snr_threshold: float = DEFAULT_SNR_THRESHOLD,
    engine: Engine = "fast",
    period_grid: PeriodGridKind = "ofir",
    oversampling: float = 3.0,
    star: StarParams | None = None,
    min_transits: int = 3,
    detrend: bool = True,
    window_days: float | None = None,
    max_duration_hours: float = 16.0,
    progress: Callable[[int, int], None] | None = None,
    stage_clock: Callable[[], float] = _time.perf_counter,
) -> SearchResult:
    """Iterative BLS search for several planets; returns candidates and every periodogram.

    Parameters
    ----------
    lc : LightCurve
        Cleaned light curve (as :func:`exoguard.read_lightcurve` returns; not yet detrended).
    min_period_days, max_period_days : float, optional
        Period range; default 0.5 d to half the baseline (two transits).
    max_planets : int
        Stop after this many candidates.
    sde_threshold, snr_threshold : float
        A peak becomes a candidate when its SDE and its white-noise transit SNR reach these.
    engine : {"fast", "slow", "astropy"}
        BLS engine (``"slow"`` only for tiny inputs).
    period_grid : {"ofir", "autoperiod"}
        Period sampling (see :func:`exoguard.core.search.grid.make_grid`).
    oversampling : float
        Ofir oversampling factor (or autoperiod frequency factor).
    star : StarParams, optional
        The host star (radius and mass set the durations; the Sun when unknown).
    min_transits : int
        Candidates with fewer transits with data are flagged ``few_transits``.
    detrend : bool
        Detrend with wotan's biweight (False when ``lc`` is already flat).
    window_days : float, optional
        Biweight window; default three times the longest duration searched (>= 0.5 d).
    max_duration_hours : float
        Longest duration searched.
    progress : callable, optional
        ``progress(done, total)`` in trial periods (total = ``max_planets`` passes; the last call
        has ``done == total``).
    stage_clock : callable
        Clock of ``SearchResult.stage_s`` (seconds): wall time by default;
        ``time.process_time`` gives CPU time, which other processes on a busy machine do not
        inflate.

    Returns
    -------
    SearchResult
    """
    _validate(lc, engine, period_grid, max_planets)
    start = _time.perf_counter()
    # Unknown star: what the file's header says (KIC/TIC values), else the Sun.
    star = star or StarParams.from_mapping(lc.star_params)
    grid = make_grid(
        lc.time_bjd,
        min_period_days=min_period_days,
        max_period_days=max_period_days,
        star_radius_rsun=star.effective_radius_rsun,
        star_mass_msun=star.effective_mass_msun,
        oversampling=oversampling,
        max_duration_hours=max_duration_hours,
        kind=period_grid,
    )
    cfg = PassConfig(
        grid=grid,
        star=star,
        engine=engine,
        detrend=detrend,
        window_days=default_window_days(grid) if window_days is None else float(window_days),
        sde_threshold=sde_threshold,
        snr_threshold=snr_threshold,
        min_transits=min_transits,
        cadence_days=lc.cadence_s / 86400.0 if math.isfinite(lc.cadence_s) else None,
    )
    timer = StageTimer(stage_clock)
    total = max_planets * grid.n_periods
    passes = run_passes(lc, cfg, timer, max_planets=max_planets, progress=progress)
    with timer.stage("single_event"):
        single = None if passes.found else single_event(passes.flat, cfg)
    if progress is not None:
        progress(total, total)
    return _result(lc, cfg, passes, single, stage_s=timer.stage_s, start=start)


def _result(
    lc: LightCurve,
    cfg: PassConfig,
    passes: Passes,
    single: SingleEvent | None,
    *,
    stage_s: dict[str, float],
    start: float,
) -> SearchResult:
    """The search's result: candidates flagged for aliases, wall time since ``start``."""
    return SearchResult(
        candidates=tuple(flag_aliases(passes.found)),
        periodograms=tuple(passes.periodograms),
        grid=cfg.grid,
        window_days=cfg.window_days if cfg.detrend else math.nan,
        stop_reason=passes.stop_reason,
        elapsed_s=_time.perf_counter() - start,
        target_id=lc.target_id,
        mission=lc.mission,
        n_points=lc.n_points,
        single_event=single,
        stage_s=stage_s,
        last_detrended=passes.last_detrended,
    )


def search_transits(
    lc: LightCurve,
    *,
    min_period_days: float | None = None,
    max_period_days: float | None = None,
    max_planets: int = DEFAULT_MAX_PLANETS,
    sde_threshold: float = DEFAULT_SDE_THRESHOLD,
    snr_threshold: float = DEFAULT_SNR_THRESHOLD,
    engine: Engine = "fast",
    period_grid: PeriodGridKind = "ofir",
    star: StarParams | None = None,
    min_transits: int = 3,
    progress: Callable[[int, int], None] | None = None,
) -> list[TransitCandidate]:
    """Find periodic transits in a light curve: detrend, BLS, refine, mask, repeat.

    Parameters
    ----------
    lc : LightCurve
        Cleaned light curve (``exoguard.read_lightcurve(...)``).
    min_period_days, max_period_days : float, optional
        Period range; default 0.5 d to half the baseline.
    max_planets : int
        At most this many candidates.
    sde_threshold, snr_threshold : float
        Detection thresholds (SDE of the BLS peak, transit SNR).
    engine : {"fast", "slow", "astropy"}
        Our numba BLS, its pure-numpy reference, or astropy's BoxLeastSquares.
    period_grid : {"ofir", "autoperiod"}
        Period sampling.
    star : StarParams, optional
        Host star (the Sun when unknown).
    min_transits : int
        Fewer transits with data flag a candidate ``few_transits``.
    progress : callable, optional
        ``progress(done, total)``.

    Returns
    -------
    list of TransitCandidate
        Strongest first; see :meth:`TransitCandidate.to_dict` and
        :meth:`TransitCandidate.to_harmonised`.

    Examples
    --------
    >>> import exoguard
    >>> lc = exoguard.read_lightcurve("tess2018206045859-s0001-0000000261136679-0120-s_lc.fits")
    ... # doctest: +SKIP
    >>> [round(c.period_days, 3) for c in exoguard.search_transits(lc)]  # doctest: +SKIP
    [6.268]
    """
    result = search_lightcurve(
        lc,
        min_period_days=min_period_days,
        max_period_days=max_period_days,
        max_planets=max_planets,
        sde_threshold=sde_threshold,
        snr_threshold=snr_threshold,
        engine=engine,
        period_grid=period_grid,
        star=star,
        min_transits=min_transits,
        progress=progress,
    )
    return list(result.candidates)
