"""One pass of the multi-planet search, stage by stage (see
:func:`exoguard.core.search.multi.search_lightcurve`).

detrend (found transits masked from the trend fit) → BLS on the grid → refine the peak →
diagnostics → a candidate, and its transits masked for the next pass.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from exoguard.core.detrend import detrend as detrend_lc
from exoguard.core.diagnostics import TransitDiagnostics, diagnose_transit
from exoguard.core.lightcurve import LightCurve
from exoguard.core.search.engine import Engine, bls_periodogram
from exoguard.core.search.grid import SearchGrid
from exoguard.core.search.peaks import best_harmonic, noise_ratio, period_posterior, refine_peak
from exoguard.core.search.results import BLSPeriodogram, TransitCandidate
from exoguard.core.search.single import (
    SINGLE_EVENT_SNR_THRESHOLD,
    SingleEvent,
    strongest_single_event,
)
from exoguard.core.search.star import StarParams
from exoguard.core.transit_measures import transit_mask
from exoguard.errors import ValidationError

log = logging.getLogger(__name__)

#: Found transits are masked over this many durations before the next pass.
MASK_WIDTH_FACTOR = 2.0


@dataclass(frozen=True)
class PassConfig:
    """What every pass of one search shares (see :func:`search_lightcurve`)."""

    grid: SearchGrid
    star: StarParams
    engine: Engine
    detrend: bool
    window_days: float
    sde_threshold: float
    snr_threshold: float
    min_transits: int
    cadence_days: float | None


class StageTimer:
    """Seconds per stage of ``SearchResult.stage_s``, read on ``clock``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.stage_s = dict.fromkeys(
            ("detrend", "bls", "refine", "diagnostics", "single_event"), 0.0
        )

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        mark = self.clock()
        try:
            yield
        finally:
            self.stage_s[name] += self.clock() - mark


@dataclass(frozen=True)
class DetrendedCurve:
    """A light curve as the search detrended it, for whoever needs that same curve again.

    Attributes
    ----------
    source : LightCurve
        The light curve searched (the very object).
    flat : LightCurve
        ``source`` divided by its trend.
    window_days : float
        The biweight window.
    mask : ndarray of bool, shape (n_points,)
        The points left out of the trend fit (found transits).
    """

    source: LightCurve
    flat: LightCurve
    window_days: float
    mask: np.ndarray

    def flat_for(
        self, lc: LightCurve, *, window_days: float, mask: np.ndarray
    ) -> LightCurve | None:
        """``flat`` when it is ``detrend(lc, window_days=..., mask=...)``, else None."""
        if lc is not self.source or window_days != self.window_days:
            return None
        return self.flat if np.array_equal(mask, self.mask) else None


@dataclass
class Passes:
    """What the passes found: candidates, periodograms, the last flattened light curve
    (searched for a single event when nothing was found), the last detrended curve with its
    mask (None without detrending) and why they stopped."""

    found: list[TransitCandidate]
    periodograms: list[BLSPeriodogram]
    flat: LightCurve
    stop_reason: str
    last_detrended: DetrendedCurve | None = None


@dataclass(frozen=True)
class Peak:
    """A periodogram peak refined on the fine grid (:func:`refine`)."""

    index: int
    sde: float
    power: float
    period_days: float
    period_err_days: float
    t0_bjd: float
    duration_days: float


def run_passes(
    lc: LightCurve,
    cfg: PassConfig,
    timer: StageTimer,
    *,
    max_planets: int,
    progress: Callable[[int, int], None] | None,
) -> Passes:
    """Up to ``max_planets`` passes: detrend, BLS, refine, diagnose, mask; one candidate each."""
    out = Passes(
        found=[], periodograms=[], flat=lc, stop_reason=f"reached max_planets={max_planets}"
    )
    mask = np.zeros(lc.n_points, dtype=bool)
    n_periods = cfg.grid.n_periods
    for k in range(max_planets):
        with timer.stage("detrend"):
            out.flat = flattened(lc, mask, cfg)
            if cfg.detrend:
                out.last_detrended = DetrendedCurve(lc, out.flat, cfg.window_days, mask.copy())
        keep = ~mask
        if keep.sum() < 50:
            out.stop_reason = "fewer than 50 points left after masking"
            break
        t, y, e = out.flat.time_bjd[keep], out.flat.flux[keep], out.flat.flux_err[keep]

        def _progress(done: int, n: int, offset: int = k * n_periods) -> None:
            if progress is not None:
                progress(offset + done, max_planets * n_periods)

        try:
            with timer.stage("bls"):
                pg = bls_periodogram(t, y, e, grid=cfg.grid, engine=cfg.engine, progress=_progress)
        except ValidationError as exc:
            out.stop_reason = f"search stopped: {exc}"
            break
        out.periodograms.append(pg)
        log.info(
            "%s pass %d: peak P=%.5f d SDE=%.1f SNR=%.1f (%.1f s)",
            lc.target_id, k + 1, pg.period_days, pg.sde, pg.best_snr, pg.elapsed_s,
        )  # fmt: skip
        if pg.sde < cfg.sde_threshold:
            out.stop_reason = f"highest peak SDE {pg.sde:.2f} < {cfg.sde_threshold:g}"
            break
        with timer.stage("refine"):
            peak = refine(t, y, e, pg, engine=cfg.engine)
        with timer.stage("diagnostics"):
            diag = diagnose(t, y, e, peak, cfg)
        if not diag.snr_white >= cfg.snr_threshold:
            out.stop_reason = (
                f"peak at P={peak.period_days:.5f} d has SDE {pg.sde:.2f} but SNR "
                f"{diag.snr_white:.2f} < {cfg.snr_threshold:g}"
            )
            break
        out.found.append(candidate(lc, peak, diag, cfg, rank=len(out.found) + 1))
        mask |= transit_mask(
            lc.time_bjd,
            period_days=diag.period_days,
            t0_bjd=diag.t0_bjd,
            duration_days=MASK_WIDTH_FACTOR * diag.duration_hours / 24.0,
        )
    return out


def flattened(lc: LightCurve, mask: np.ndarray, cfg: PassConfig) -> LightCurve:
    """``lc`` detrended with the transits found so far (``mask``) left out of the trend fit."""
    if not cfg.detrend:
        return lc
    flat, _ = detrend_lc(lc, window_days=cfg.window_days, mask=mask if mask.any() else None)
    return flat


def refine(
    t: np.ndarray, y: np.ndarray, e: np.ndarray, pg: BLSPeriodogram, *, engine: Engine
) -> Peak:
    """The peak (or its stronger harmonic) on a fine period x duration grid; the period is
    the mean of its profile likelihood. Falls back to the coarse peak when the fine grid has
    no power there."""
    peak = best_harmonic(pg)
    fine = refine_peak(t, y, e, pg, index=peak, engine=engine)
    period, period_err, j = period_posterior(fine, noise_ratio=noise_ratio(y, e))
    t0, duration = float(fine.t0_bjd[j]), float(fine.duration_days[j])
    if not fine.power[j] > 0:
        period, period_err, t0, duration = pg.period_days, math.nan, pg.t0, pg.duration
    return Peak(
        index=peak,
        sde=float(pg.spectrum[peak]),
        power=float(fine.power[j]),
        period_days=period,
        period_err_days=period_err,
        t0_bjd=t0,
        duration_days=duration,
    )


def diagnose(
    t: np.ndarray, y: np.ndarray, e: np.ndarray, peak: Peak, cfg: PassConfig
) -> TransitDiagnostics:
    return diagnose_transit(
        t,
        y,
        e,
        period_days=peak.period_days,
        t0_bjd=peak.t0_bjd,
        duration_days=peak.duration_days,
        star_radius_rsun=cfg.star.effective_radius_rsun,
        star_mass_msun=cfg.star.effective_mass_msun,
        cadence_days=cfg.cadence_days,
    )


def candidate(
    lc: LightCurve, peak: Peak, diag: TransitDiagnostics, cfg: PassConfig, *, rank: int
) -> TransitCandidate:
    return TransitCandidate(
        object_id=f"{lc.target_id}.{rank:02d}",
        host_id=lc.target_id,
        mission=lc.mission,
        rank=rank,
        period_days=diag.period_days,
        period_err_days=peak.period_err_days,
        t0_bjd=diag.t0_bjd,
        duration_hours=diag.duration_hours,
        sde=peak.sde,
        power=peak.power,
        diagnostics=diag,
        single_transit=diag.n_transits < 2,
        few_transits=diag.n_transits < cfg.min_transits,
        engine=cfg.engine,
        star=cfg.star,
        sources=tuple(lc.sources),
    )


def single_event(flat: LightCurve, cfg: PassConfig) -> SingleEvent | None:
    """The strongest lone transit-like dip of ``flat``, when no periodic candidate was found."""
    return strongest_single_event(
        flat.time_bjd,
        flat.flux,
        min_duration_days=cfg.grid.min_duration_days,
        max_duration_days=cfg.grid.longest_duration_days,
        snr_threshold=max(cfg.snr_threshold, SINGLE_EVENT_SNR_THRESHOLD),
        repeat_snr_threshold=cfg.snr_threshold,
        cadence_days=cfg.cadence_days,
    )
