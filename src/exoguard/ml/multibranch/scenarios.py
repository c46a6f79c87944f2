"""What users' light curves hold beside one periodic signal: few events, a second signal.

Used by :mod:`exoguard.ml.multibranch.samples` while it draws an injected sample.

Few events
----------
A share ``few_transit_fraction`` of the planets, eclipsing and background binaries and
systematics has only one or two events in the host's span: a period longer than the
span (one event) or between half the span and the span (two events). A search cannot
measure such a period; the sample keeps the ephemeris the coarse search reports (often
an alias), provided one of its epochs lands on an injected event. Systematics of this
look are one or two isolated dips: a sudden pixel-sensitivity dropout (a sharp drop and
an exponential recovery) or a symmetric dip, with a planet-like SNR.

Second signal
-------------
A share ``multi_signal_fraction`` of the samples has a second signal on the same star:
a second transiting planet (for planets, background binaries and the false alarms), or
for an eclipsing binary on the target its secondary eclipse, which a multi-planet search
reports as a second candidate at the same period (flagged as an alias of the primary, so
it does not count in ``n_candidates_on_host`` but gives ``nearest_period_ratio`` 1).
The sample is about the first signal and carries its label. As at inference
(:func:`exoguard.ml.multibranch.classify.other_transits`), the companion's transits that
overlap the candidate's own are cut from its diagnostics and views.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from exoguard.core.inject import log_uniform, transit_mask
from exoguard.core.lightcurve import LightCurve

#: Periods within this relative distance of n or 1/n (n <= 4) of the candidate's are not
#: drawn for a companion planet: the two signals would read as one (an alias).
COMMENSURATE_TOLERANCE = 0.02
#: A second planet's period differs from the candidate's by at least this ratio (closer
#: pairs are dynamically unstable; Kepler's multis rarely go below 1.2).
MIN_COMPANION_PERIOD_RATIO = 1.2
#: Kinds that may be drawn with one or two events in the span.
FEW_EVENT_KINDS: tuple[str, ...] = ("planet", "eb", "beb", "systematic")


@dataclass(frozen=True)
class Ephemeris:
    """A linear ephemeris (what :func:`exoguard.ml.multibranch.classify.other_transits` reads)."""

    period_days: float
    t0_bjd: float
    duration_hours: float


def few_event_ephemeris(
    time_bjd: np.ndarray, *, n_events: int, rng: np.random.Generator, max_span_factor: float = 3.0
) -> tuple[float, float]:
    """``(period_days, t0_bjd)`` with exactly ``n_events`` (1 or 2) epochs in the span.

    Parameters
    ----------
    time_bjd : ndarray, shape (n,)
        Times of the host (BJD_TDB, days), ascending.
    n_events : {1, 2}
    rng : numpy.random.Generator
    max_span_factor : float
        One event: the period is log-uniform in ``[span, max_span_factor × span]``.
        Two events: uniform in ``(span / 2, span)``.
    """
    if n_events not in (1, 2):
        raise ValueError(f"n_events must be 1 or 2, got {n_events}")
    start, end = float(time_bjd[0]), float(time_bjd[-1])
    span = max(end - start, 1e-3)
    if n_events == 1:
        period = log_uniform(rng, span, max_span_factor * span)
        t0 = float(rng.uniform(start, end))
    else:
        period = float(rng.uniform(0.55 * span, 0.98 * span))
        t0 = float(rng.uniform(start, end - period))
    return period, t0


def events_in_span(
    time_bjd: np.ndarray, *, period_days: float, t0_bjd: float, duration_hours: float
) -> int:
    """Number of epochs with at least one point within the transit (NaN inputs: 0)."""
    if not (
        math.isfinite(period_days)
        and period_days > 0
        and math.isfinite(t0_bjd)
        and math.isfinite(duration_hours)
        and duration_hours > 0
    ):
        return 0
    inside = transit_mask(
        time_bjd, period_days=period_days, t0_bjd=t0_bjd, duration_hours=duration_hours, factor=1.0
    )
    if not inside.any():
        return 0
    epochs = np.round((time_bjd[inside] - t0_bjd) / period_days)
    return int(np.unique(epochs).size)


def lands_on_event(
    candidate: Ephemeris, event_times_bjd: np.ndarray, *, span: tuple[float, float]
) -> bool:
    """True when an epoch of ``candidate`` within ``span`` is within half its duration
    (at least 1 h) of one of ``event_times_bjd``."""
    if not (candidate.period_days > 0 and math.isfinite(candidate.t0_bjd)):
        return False
    tol = max(0.5 * candidate.duration_hours, 1.0) / 24.0
    for t in np.asarray(event_times_bjd, dtype=float):
        if not span[0] - tol <= t <= span[1] + tol:
            continue
        n = round((t - candidate.t0_bjd) / candidate.period_days)
        if abs(candidate.t0_bjd + n * candidate.period_days - t) <= tol:
            return True
    return False


def epochs_in_span(period_days: float, t0_bjd: float, span: tuple[float, float]) -> np.ndarray:
    """Mid-times (BJD_TDB) of the epochs of an ephemeris within ``span``."""
    n_lo = math.ceil((span[0] - t0_bjd) / period_days)
    n_hi = math.floor((span[1] - t0_bjd) / period_days)
    return t0_bjd + period_days * np.arange(n_lo, n_hi + 1)


def commensurate(a_days: float, b_days: float, *, tol: float = COMMENSURATE_TOLERANCE) -> bool:
    """True when the two periods cannot be two planets' as a search reports them: their
    ratio is below :data:`MIN_COMPANION_PERIOD_RATIO` or within ``tol`` (relative) of
    2..4 (an alias); also True for a period that is not finite and positive."""
    hi, lo = max(a_days, b_days), min(a_days, b_days)
    if not (math.isfinite(hi) and math.isfinite(lo) and lo > 0):
        return True
    if hi / lo < MIN_COMPANION_PERIOD_RATIO:
        return True
    n = round(hi / lo)
    return 2 <= n <= 4 and abs(hi / lo - n) <= tol * n


def inject_dips(
    raw: LightCurve,
    *,
    n_events: int,
    snr: float,
    noise: float,
    rng: np.random.Generator,
) -> tuple[LightCurve, np.ndarray, float, float]:
    """One or two isolated instrumental dips in ``raw`` (before detrending).

    Each dip is either a sudden pixel-sensitivity dropout (drop in one cadence, recovery
    with an e-folding time of 1-8 h) or a symmetric Gaussian dip (sigma 0.5-4 h). The
    depth gives the dips an SNR of ``snr`` against the point-to-point ``noise``.

    Returns
    -------
    lc : LightCurve
    times_bjd : ndarray, shape (n_events,)
        Where the dips are (their minimum).
    depth_ppm : float
    width_hours : float
        The dip's characteristic width (recovery time or 2.35 sigma).
    """
    t = raw.time_bjd
    lo, hi = float(t[0]), float(t[-1])
    times = np.sort(rng.uniform(lo + 0.05 * (hi - lo), hi - 0.05 * (hi - lo), size=n_events))
    spsd = bool(rng.uniform() < 0.5)
    width_h = float(rng.uniform(1.0, 8.0)) if spsd else float(2.35 * rng.uniform(0.5, 4.0))
    cadence_h = (raw.cadence_s / 3600.0) if math.isfinite(raw.cadence_s) else 0.5
    n_in = max(width_h / max(cadence_h, 1e-3), 1.0) * n_events
    depth = snr * noise / math.sqrt(n_in)
    model = np.ones(t.size)
    for tc in times:
        dt_h = (t - tc) * 24.0
        if spsd:
            shape = np.where(dt_h >= 0, np.exp(-np.clip(dt_h, 0, None) / width_h), 0.0)
        else:
            shape = np.exp(-0.5 * (dt_h / (width_h / 2.35)) ** 2)
        model -= depth * shape
    out = raw.with_flux(raw.flux * model)
    return out, times, depth * 1e6, width_h
