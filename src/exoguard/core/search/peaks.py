"""Peaks of a BLS periodogram: refinement on a fine grid, harmonics, the period posterior.

:func:`refine_peak` re-runs BLS on a fine period x duration grid around one peak;
:func:`best_harmonic` picks among a peak and its harmonics the one with the most power;
:func:`period_posterior` turns a fine search into a period estimate and its error.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from exoguard.core.search.engine import Engine, bls_periodogram, robust_std
from exoguard.core.search.grid import SearchGrid, central_duration_days
from exoguard.core.search.results import BLSPeriodogram

__all__ = ["best_harmonic", "noise_ratio", "period_posterior", "refine_peak"]


def refine_peak(
    time_bjd: NDArray[np.float64],
    flux: NDArray[np.float64],
    flux_err: NDArray[np.float64] | None,
    periodogram: BLSPeriodogram,
    *,
    index: int | None = None,
    engine: Engine = "fast",
    n_periods: int = 60,
    n_durations: int = 17,
    phase_oversample: int = 12,
) -> BLSPeriodogram:
    """Re-run BLS on a fine grid around one peak (neighbouring grid periods, finer phases).

    Parameters
    ----------
    time_bjd, flux, flux_err : ndarray of shape (n,)
        The data the periodogram was computed on.
    periodogram : BLSPeriodogram
        The coarse search.
    index : int, optional
        Peak index (default: the highest SDE peak).
    engine : {"fast", "slow", "astropy"}
        Engine for the fine search.
    n_periods : int
        Fine periods, uniform in frequency between the peak's neighbours two grid steps away.
    n_durations : int
        Durations from half to twice the peak's duration.
    phase_oversample : int
        Phase bins across the shortest fine duration.

    Returns
    -------
    BLSPeriodogram
        Its highest-power period (``int(np.argmax(power))``) is the refined peak.
    """
    grid = periodogram.grid
    i = periodogram.best_index if index is None else int(index)
    periods = periodogram.periods_days
    lo = periods[max(i - 2, 0)]
    hi = periods[min(i + 2, periods.size - 1)]
    if hi <= lo:
        lo, hi = periods[i] * (1 - 1e-4), periods[i] * (1 + 1e-4)
    fine = 1.0 / np.linspace(1.0 / hi, 1.0 / lo, n_periods)
    p_best = float(periods[i])
    central = float(
        central_duration_days(
            p_best, star_radius_rsun=grid.star_radius_rsun, star_mass_msun=grid.star_mass_msun
        )
    )
    factor = float(periodogram.duration_days[i]) / central
    factors = np.geomspace(factor / 2.0, factor * 2.0, n_durations)
    fine_grid = SearchGrid(
        periods_days=fine,
        duration_factors=factors,
        baseline_days=grid.baseline_days,
        star_radius_rsun=grid.star_radius_rsun,
        star_mass_msun=grid.star_mass_msun,
        phase_oversample=phase_oversample,
        max_duty_cycle=grid.max_duty_cycle,
        max_duration_days=max(grid.max_duration_days, 2.0 * float(periodogram.duration_days[i])),
        kind="custom",
        oversampling=grid.oversampling,
    )
    return bls_periodogram(time_bjd, flux, flux_err, grid=fine_grid, engine=engine)


def best_harmonic(periodogram: BLSPeriodogram, *, index: int | None = None) -> int:
    """Among a peak and its harmonics (P/3, P/2, 2P, 3P), the one with the highest BLS power.

    The SDE picks the peak that stands out most from its neighbourhood, which for a noisy
    signal is sometimes P/2 or 2P; the power (half the chi-square improvement) of a box folded at
    the true period is about twice that at P/2 or 2P and three times that at P/3 or 3P, so the
    raw power settles it. (An eclipsing binary with equal eclipses keeps half its true period:
    the data cannot tell them apart without odd/even depths.)

    Parameters
    ----------
    periodogram : BLSPeriodogram
    index : int, optional
        The peak (default: the highest SDE peak).

    Returns
    -------
    int
        Index of the chosen period in the periodogram.
    """
    i = periodogram.best_index if index is None else int(index)
    periods = periodogram.periods_days
    power = periodogram.power
    best, best_power = i, float(power[i])
    for factor in (1 / 3, 1 / 2, 2.0, 3.0):
        target = periods[i] * factor
        lo = np.searchsorted(periods, target * (1 - 2e-3))
        hi = np.searchsorted(periods, target * (1 + 2e-3), side="right")
        if hi <= lo:
            continue
        j = lo + int(np.argmax(power[lo:hi]))
        if power[j] > best_power:
            best, best_power = int(j), float(power[j])
    return best


def noise_ratio(y: NDArray[np.float64], e: NDArray[np.float64]) -> float:
    """Observed robust scatter over the median quoted error (>= 1)."""
    err = np.median(e[np.isfinite(e) & (e > 0)]) if np.any(np.isfinite(e) & (e > 0)) else np.nan
    scatter = robust_std(y)
    ratio = scatter / err if np.isfinite(err) and err > 0 else 1.0
    return max(1.0, float(ratio)) if np.isfinite(ratio) else 1.0


def period_posterior(fine: BLSPeriodogram, *, noise_ratio: float = 1.0) -> tuple[float, float, int]:
    """Mean and standard deviation of the period under the profile likelihood of a fine search.

    The BLS power is a log-likelihood ratio (maximised over epoch and duration); with a flat
    prior on the fine grid, ``p(P) ~ exp((power - max) / noise_ratio^2)``, where ``noise_ratio``
    rescales the quoted errors to the observed scatter. For a low-SNR signal the mean is a far
    steadier estimate than the highest point (K00114.01 in one month: 0.03 % vs 0.1 % off).

    Parameters
    ----------
    fine : BLSPeriodogram
        A search on a fine period grid around one peak (:func:`refine_peak`).
    noise_ratio : float
        Observed scatter / quoted error (>= 1).

    Returns
    -------
    period_days, period_err_days : float
    index : int
        The fine-grid period closest to the mean (its epoch and duration go with it).
    """
    power = np.asarray(fine.power, dtype=np.float64)
    periods = fine.periods_days
    if not np.any(power > 0):
        j = int(np.argmax(power))
        return float(periods[j]), math.nan, j
    weight = np.exp((power - power.max()) / max(noise_ratio, 1.0) ** 2)
    mean = float(np.sum(weight * periods) / np.sum(weight))
    std = float(np.sqrt(np.sum(weight * (periods - mean) ** 2) / np.sum(weight)))
    j = int(np.argmin(np.abs(periods - mean)))
    return mean, std, j
