"""Period and duration grids from physics.

The period grid follows Ofir (2014, A&A 561, A138): a transit of duration ``D`` stays in phase
over a baseline ``T`` when neighbouring trial frequencies differ by ``df ~ D / (T P)``. With the
central-transit duration of a circular orbit, ``D ∝ R* P^(1/3) / (G M*)^(1/3)``, the optimal
sampling is uniform in ``f^(1/3)``; an oversampling factor makes it denser. This is the grid that
transitleastsquares uses too.

Durations are tied to the period through the stellar density: for every trial period the grid
holds ``n_durations`` durations spaced geometrically from ``min_duration_factor`` to
``max_duration_factor`` times the central-transit duration of that period. The defaults (0.3 to
2.5) cover the 1st to 99th percentile of ``koi_duration / T_central(P, Sun)`` for the confirmed
Kepler planets (grazing transits are shorter, larger stars and eccentric orbits longer).
Durations longer than ``max_duty_cycle`` of the period are not searched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from exoguard.errors import ValidationError

__all__ = [
    "DEFAULT_MIN_PERIOD_DAYS",
    "G_SI",
    "SearchGrid",
    "autoperiod_periods",
    "central_duration_days",
    "make_grid",
    "ofir_periods",
]

G_SI = 6.674_30e-11
M_SUN_KG = 1.988_409_87e30
R_SUN_M = 6.957e8
SECONDS_PER_DAY = 86_400.0
DEFAULT_MIN_PERIOD_DAYS = 0.5

PeriodGridKind = Literal["ofir", "autoperiod"]
PERIOD_GRID_KINDS: tuple[str, ...] = ("ofir", "autoperiod")


def central_duration_days(
    period_days: NDArray[np.float64] | float,
    *,
    star_radius_rsun: float = 1.0,
    star_mass_msun: float = 1.0,
) -> NDArray[np.float64]:
    """Duration of a central transit (impact 0) on a circular orbit, small planet.

    ``T = P / pi * arcsin(R* / a)`` with ``a`` from Kepler's third law.

    Parameters
    ----------
    period_days : float or array of shape (n,)
        Orbital period(s) in days.
    star_radius_rsun, star_mass_msun : float
        Stellar radius (solar radii) and mass (solar masses).

    Returns
    -------
    ndarray of shape (n,)
        Total transit duration (first to fourth contact) in days.
    """
    period_s = np.asarray(period_days, dtype=np.float64) * SECONDS_PER_DAY
    a_m = (G_SI * star_mass_msun * M_SUN_KG * period_s**2 / (4.0 * np.pi**2)) ** (1.0 / 3.0)
    ratio = np.clip(star_radius_rsun * R_SUN_M / a_m, 0.0, 1.0)
    return np.asarray(period_s / np.pi * np.arcsin(ratio) / SECONDS_PER_DAY, dtype=np.float64)


def ofir_periods(
    baseline_days: float,
    *,
    min_period_days: float,
    max_period_days: float,
    star_radius_rsun: float = 1.0,
    star_mass_msun: float = 1.0,
    oversampling: float = 3.0,
) -> NDArray[np.float64]:
    """Trial periods uniformly spaced in ``f^(1/3)`` (Ofir 2014, eqs. 5-7).

    Parameters
    ----------
    baseline_days : float
        Time span of the data, days.
    min_period_days, max_period_days : float
        Period range, days.
    star_radius_rsun, star_mass_msun : float
        Stellar radius and mass, solar units.
    oversampling : float
        Grid points per independent frequency (Ofir's ``OS``; 3 as in TLS).

    Returns
    -------
    ndarray of shape (n_periods,)
        Periods in days, ascending.
    """
    baseline_s = baseline_days * SECONDS_PER_DAY
    radius_m = star_radius_rsun * R_SUN_M
    gm = G_SI * star_mass_msun * M_SUN_KG
    a_coef = (
        (2.0 * np.pi) ** (2.0 / 3.0)
        / np.pi
        * radius_m
        / gm ** (1.0 / 3.0)
        / (baseline_s * oversampling)
    )
    f_min = 1.0 / (max_period_days * SECONDS_PER_DAY)
    f_max = 1.0 / (min_period_days * SECONDS_PER_DAY)
    u_min, u_max = f_min ** (1.0 / 3.0), f_max ** (1.0 / 3.0)
    n = max(int(math.ceil((u_max - u_min) * 3.0 / a_coef)) + 1, 2)
    u = np.linspace(u_min, u_max, n)
    periods = 1.0 / (u**3) / SECONDS_PER_DAY
    return np.ascontiguousarray(periods[::-1], dtype=np.float64)


def autoperiod_periods(
    baseline_days: float,
    *,
    min_period_days: float,
    max_period_days: float,
    min_duration_days: float,
    frequency_factor: float = 1.0,
) -> NDArray[np.float64]:
    """astropy's ``BoxLeastSquares.autoperiod`` grid: uniform in frequency.

    ``df = frequency_factor * min_duration / baseline**2``.

    Returns
    -------
    ndarray of shape (n_periods,)
        Periods in days, ascending.
    """
    df = frequency_factor * min_duration_days / baseline_days**2
    f_min, f_max = 1.0 / max_period_days, 1.0 / min_period_days
    n = max(int(math.ceil((f_max - f_min) / df)) + 1, 2)
    freqs = f_max - df * np.arange(n)
    freqs = freqs[freqs >= f_min]
    return np.ascontiguousarray(1.0 / freqs, dtype=np.float64)


@dataclass(frozen=True)
class SearchGrid:
    """A BLS search grid: trial periods and, for each, its durations.

    Durations scale with the central-transit duration of each period: duration ``k`` at period
    ``P`` is ``duration_factors[k] * central_duration_days(P)``. The fast kernel folds each period
    into ``phase_oversample / duration_factors[0]`` bins per central duration, so every searched
    duration is a whole number of phase bins.

    Attributes
    ----------
    periods_days : ndarray of shape (n_periods,)
        Trial periods, ascending, days.
    duration_factors : ndarray of shape (n_durations,)
        Durations relative to the central-transit duration, ascending.
    baseline_days : float
        Time span of the data the grid was made for.
    star_radius_rsun, star_mass_msun : float
        The star the durations (and an Ofir grid) assume.
    phase_oversample : int
        Phase bins across the shortest duration of every period.
    max_duty_cycle : float
        Durations longer than this fraction of the period are skipped.
    max_duration_days : float
        Durations longer than this are skipped (the detrending window only preserves transits
        up to about a third of its length).
    kind : str
        ``"ofir"``, ``"autoperiod"`` or ``"custom"``.
    oversampling : float
        Ofir oversampling factor (or autoperiod frequency factor).
    """

    periods_days: NDArray[np.float64]
    duration_factors: NDArray[np.float64]
    baseline_days: float
    star_radius_rsun: float = 1.0
    star_mass_msun: float = 1.0
    phase_oversample: int = 5
    max_duty_cycle: float = 0.25
    max_duration_days: float = float("inf")
    kind: str = "ofir"
    oversampling: float = 3.0
    _central: NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        periods = np.ascontiguousarray(self.periods_days, dtype=np.float64)
        factors = np.ascontiguousarray(self.duration_factors, dtype=np.float64)
        if periods.ndim != 1 or periods.size == 0 or not np.all(np.isfinite(periods)):
            raise ValueError("periods_days must be a non-empty 1-D array of finite values")
        if np.any(periods <= 0):
            raise ValueError("periods_days must be > 0")
        if factors.ndim != 1 or factors.size == 0 or np.any(factors <= 0):
            raise ValueError("duration_factors must be a non-empty 1-D array of values > 0")
        if np.any(np.diff(factors) <= 0):
            raise ValueError("duration_factors must be strictly increasing")
        if self.phase_oversample < 1:
            raise ValueError("phase_oversample must be >= 1")
        if not 0.0 < self.max_duty_cycle < 0.5:
            raise ValueError("max_duty_cycle must lie in (0, 0.5)")
        if not self.max_duration_days > 0:
            raise ValueError("max_duration_days must be > 0")
        object.__setattr__(self, "periods_days", periods)
        object.__setattr__(self, "duration_factors", factors)
        object.__setattr__(
            self,
            "_central",
            central_duration_days(
                periods, star_radius_rsun=self.star_radius_rsun, star_mass_msun=self.star_mass_msun
            ),
        )

    @property
    def n_periods(self) -> int:
        """Number of trial periods."""
        return int(self.periods_days.size)

    @property
    def central_durations_days(self) -> NDArray[np.float64]:
        """Central-transit duration of each trial period, shape (n_periods,), days."""
        return self._central

    def duration_bins(self) -> NDArray[np.int64]:
        """Durations in phase bins (the same integers at every period), shape (n_durations,)."""
        bins = np.rint(self.phase_oversample * self.duration_factors / self.duration_factors[0])
        return np.unique(np.maximum(bins, 1).astype(np.int64))

    def n_phase_bins(self) -> NDArray[np.int64]:
        """Phase bins per period, shape (n_periods,)."""
        bin_width = self._central * self.duration_factors[0] / self.phase_oversample
        return np.maximum(np.ceil(self.periods_days / bin_width), 4).astype(np.int64)

    def max_duration_bins(self) -> NDArray[np.int64]:
        """Longest box (in phase bins) allowed at each period, shape (n_periods,).

        At least the shortest box, so that every period is searched.
        """
        nb = self.n_phase_bins()
        bin_width = self.periods_days / nb
        longest = np.minimum(self.max_duty_cycle * self.periods_days, self.max_duration_days)
        limit = np.floor(longest / bin_width * (1.0 + 1e-9)).astype(np.int64)
        return np.maximum(limit, int(self.duration_bins()[0]))

    def durations_days(self, index: int) -> NDArray[np.float64]:
        """The durations searched at period ``index`` (days), shape (<= n_durations,)."""
        nb = int(self.n_phase_bins()[index])
        period = float(self.periods_days[index])
        bins = self.duration_bins()
        bins = bins[bins <= self.max_duration_bins()[index]]
        return np.asarray(bins * period / nb, dtype=np.float64)

    @property
    def min_duration_days(self) -> float:
        """Shortest duration searched anywhere on the grid, days."""
        return float(self._central[0] * self.duration_factors[0])

    @property
    def longest_duration_days(self) -> float:
        """Longest duration searched anywhere on the grid, days."""
        longest = self._central * self.duration_factors[-1]
        longest = np.minimum(longest, self.max_duty_cycle * self.periods_days)
        return float(
            max(np.max(np.minimum(longest, self.max_duration_days)), self.min_duration_days)
        )

    def subset(self, periods_days: NDArray[np.float64]) -> SearchGrid:
        """The same durations and star on other trial periods (e.g. a fine grid near a peak)."""
        return SearchGrid(
            periods_days=np.sort(np.asarray(periods_days, dtype=np.float64)),
            duration_factors=self.duration_factors,
            baseline_days=self.baseline_days,
            star_radius_rsun=self.star_radius_rsun,
            star_mass_msun=self.star_mass_msun,
            phase_oversample=self.phase_oversample,
            max_duty_cycle=self.max_duty_cycle,
            max_duration_days=self.max_duration_days,
            kind="custom",
            oversampling=self.oversampling,
        )


def make_grid(
    time_days: NDArray[np.float64] | None = None,
    *,
    baseline_days: float | None = None,
    min_period_days: float | None = None,
    max_period_days: float | None = None,
    star_radius_rsun: float | None = None,
    star_mass_msun: float | None = None,
    oversampling: float = 3.0,
    min_duration_factor: float = 0.3,
    max_duration_factor: float = 2.5,
    n_durations: int = 10,
    phase_oversample: int = 5,
    max_duty_cycle: float = 0.25,
    max_duration_hours: float = 16.0,
    kind: PeriodGridKind = "ofir",
) -> SearchGrid:
    """Build the period x duration grid for a light curve.

    Parameters
    ----------
    time_days : ndarray of shape (n_points,), optional
        Observation times (any day-based scale); only the span is used.
    baseline_days : float, optional
        The span, when ``time_days`` is not given.
    min_period_days : float, optional
        Shortest period; default 0.5 d.
    max_period_days : float, optional
        Longest period; default half the baseline (two transits fit).
    star_radius_rsun, star_mass_msun : float, optional
        The star; the Sun when unknown. Only the density matters for the durations.
    oversampling : float
        Ofir oversampling factor (``kind="ofir"``) or astropy's ``frequency_factor``
        (``kind="autoperiod"``, where 1 is astropy's default).
    min_duration_factor, max_duration_factor : float
        Duration range relative to the central-transit duration of each period.
    n_durations : int
        Number of durations per period (geometric spacing).
    phase_oversample : int
        Phase bins across the shortest duration.
    max_duty_cycle : float
        Longest duration as a fraction of the period.
    max_duration_hours : float
        Longest duration searched at any period (hours). The default, 16 h, covers central
        transits of Sun-like stars out to about 2 years (and TOI-813 b's 13 h); the detrending
        window of :func:`exoguard.core.search.search_transits` is three times the longest
        duration searched.
    kind : {"ofir", "autoperiod"}
        Period sampling.

    Returns
    -------
    SearchGrid

    Raises
    ------
    ValidationError
        If the baseline is shorter than two minimum periods.
    ValueError
        For a parameter outside its allowed range.
    """
    if kind not in PERIOD_GRID_KINDS:
        raise ValueError(f"kind must be one of {PERIOD_GRID_KINDS}, got {kind!r}")
    baseline_days = _baseline_days(time_days, baseline_days)
    radius, mass = _star_or_sun(star_radius_rsun, star_mass_msun)
    _check_grid_options(
        oversampling=oversampling,
        min_duration_factor=min_duration_factor,
        max_duration_factor=max_duration_factor,
        n_durations=n_durations,
        max_duration_hours=max_duration_hours,
    )
    p_min, p_max = _period_range(baseline_days, min_period_days, max_period_days)
    periods = _trial_periods(
        kind,
        baseline_days,
        period_range=(p_min, p_max),
        star=(radius, mass),
        oversampling=oversampling,
        min_duration_factor=min_duration_factor,
    )
    return SearchGrid(
        periods_days=periods,
        duration_factors=(
            np.geomspace(min_duration_factor, max_duration_factor, n_durations)
            if n_durations > 1
            else np.array([min_duration_factor])
        ),
        baseline_days=float(baseline_days),
        star_radius_rsun=radius,
        star_mass_msun=mass,
        phase_oversample=int(phase_oversample),
        max_duty_cycle=max_duty_cycle,
        max_duration_days=max_duration_hours / 24.0,
        kind=kind,
        oversampling=oversampling,
    )


def _trial_periods(
    kind: PeriodGridKind,
    baseline_days: float,
    *,
    period_range: tuple[float, float],
    star: tuple[float, float],
    oversampling: float,
    min_duration_factor: float,
) -> NDArray[np.float64]:
    """The trial periods of ``kind`` between ``period_range`` (days) for the star
    (radius, mass)."""
    (p_min, p_max), (radius, mass) = period_range, star
    if kind == "ofir":
        return ofir_periods(
            baseline_days,
            min_period_days=p_min,
            max_period_days=p_max,
            star_radius_rsun=radius,
            star_mass_msun=mass,
            oversampling=oversampling,
        )
    d_min = float(
        central_duration_days(p_min, star_radius_rsun=radius, star_mass_msun=mass)
        * min_duration_factor
    )
    return autoperiod_periods(
        baseline_days,
        min_period_days=p_min,
        max_period_days=p_max,
        min_duration_days=d_min,
        frequency_factor=oversampling,
    )


def _baseline_days(time_days: NDArray[np.float64] | None, baseline_days: float | None) -> float:
    """The span of the finite ``time_days``, or ``baseline_days`` when given (> 0)."""
    if baseline_days is None:
        if time_days is None:
            raise ValueError("give time_days or baseline_days")
        t = np.asarray(time_days, dtype=np.float64)
        t = t[np.isfinite(t)]
        if t.size < 2:
            raise ValidationError("need at least two finite times to build a period grid")
        baseline_days = float(t.max() - t.min())
    if not baseline_days > 0:
        raise ValidationError(f"baseline must be > 0 days, got {baseline_days}")
    return baseline_days


def _star_or_sun(
    star_radius_rsun: float | None, star_mass_msun: float | None
) -> tuple[float, float]:
    """(radius, mass) of the star, the Sun's value for an unknown (None or NaN) one."""
    radius = (
        1.0 if star_radius_rsun is None or not np.isfinite(star_radius_rsun) else star_radius_rsun
    )
    mass = 1.0 if star_mass_msun is None or not np.isfinite(star_mass_msun) else star_mass_msun
    if radius <= 0 or mass <= 0:
        raise ValueError("star_radius_rsun and star_mass_msun must be > 0")
    return radius, mass


def _check_grid_options(
    *,
    oversampling: float,
    min_duration_factor: float,
    max_duration_factor: float,
    n_durations: int,
    max_duration_hours: float,
) -> None:
    if oversampling <= 0:
        raise ValueError("oversampling must be > 0")
    if not 0 < min_duration_factor < max_duration_factor:
        raise ValueError("need 0 < min_duration_factor < max_duration_factor")
    if n_durations < 1:
        raise ValueError("n_durations must be >= 1")
    if not max_duration_hours > 0:
        raise ValueError(f"max_duration_hours must be > 0, got {max_duration_hours}")


def _period_range(
    baseline_days: float, min_period_days: float | None, max_period_days: float | None
) -> tuple[float, float]:
    """(shortest, longest) trial period: 0.5 d and half the baseline unless given."""
    p_min = DEFAULT_MIN_PERIOD_DAYS if min_period_days is None else float(min_period_days)
    if p_min <= 0:
        raise ValueError(f"min_period_days must be > 0, got {p_min}")
    if baseline_days < 2.0 * p_min:
        raise ValidationError(
            f"the light curve spans {baseline_days:.3g} d, shorter than two minimum periods "
            f"(2 x {p_min:g} d); lower min_period_days or give a longer light curve"
        )
    p_max = baseline_days / 2.0 if max_period_days is None else float(max_period_days)
    if p_max <= p_min:
        raise ValueError(f"max_period_days ({p_max:g}) must exceed min_period_days ({p_min:g})")
    return p_min, p_max
