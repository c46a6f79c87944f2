"""Result objects of the transit search: a BLS periodogram and a transit candidate."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exoguard.core.diagnostics import TransitDiagnostics
from exoguard.core.schema import HARMONISED_COLUMNS
from exoguard.core.search.grid import SearchGrid
from exoguard.core.search.star import StarParams

__all__ = ["BLSPeriodogram", "TransitCandidate"]


@dataclass(frozen=True)
class BLSPeriodogram:
    """A BLS periodogram: the best box at every trial period, and its SDE.

    Attributes
    ----------
    periods_days : ndarray of shape (n_periods,)
        Trial periods, ascending, days.
    power : ndarray of shape (n_periods,)
        Best log-likelihood ratio (half the chi-square improvement of a box over a constant) at
        each period; for ``engine="astropy"`` astropy's ``"likelihood"`` objective.
    depth, depth_err : ndarray of shape (n_periods,)
        Fractional depth (out-of-transit minus in-transit mean flux) of the best box and its
        1-sigma error.
    snr : ndarray of shape (n_periods,)
        ``depth / depth_err``.
    t0_bjd : ndarray of shape (n_periods,)
        Mid-transit time of the best box (the first one after the start of the data), in the time
        scale of the input (BJD_TDB for a LightCurve).
    duration_days : ndarray of shape (n_periods,)
        Duration of the best box, days.
    spectrum : ndarray of shape (n_periods,)
        The SNR spectrum after subtracting a running median (in ``f^(1/3)``, the coordinate in
        which transit peaks have constant width), standardised to zero mean and unit standard
        deviation: its value at a period is that period's SDE.
    sde : float
        Signal detection efficiency of the highest peak, ``max(spectrum)``.
    best_index : int
        Index of the highest peak of ``spectrum``.
    engine : str
        ``"fast"``, ``"slow"`` or ``"astropy"``.
    grid : SearchGrid
        The grid searched.
    elapsed_s : float
        Wall time of the search (seconds).
    n_points : int
        Points searched.
    coarse_stride : int
        1 when every period of ``grid`` was evaluated; otherwise the stride of the first stage
        of a coarse-to-fine search (:mod:`exoguard.core.search.coarse`), and ``periods_days``
        holds the periods evaluated, a subset of the grid's.
    """

    periods_days: NDArray[np.float64]
    power: NDArray[np.float64]
    depth: NDArray[np.float64]
    depth_err: NDArray[np.float64]
    snr: NDArray[np.float64]
    t0_bjd: NDArray[np.float64]
    duration_days: NDArray[np.float64]
    spectrum: NDArray[np.float64]
    sde: float
    best_index: int
    engine: str
    grid: SearchGrid
    elapsed_s: float
    n_points: int
    coarse_stride: int = 1

    @property
    def period_days(self) -> float:
        """Period of the highest peak, days."""
        return float(self.periods_days[self.best_index])

    @property
    def t0(self) -> float:
        """Mid-transit time at the highest peak."""
        return float(self.t0_bjd[self.best_index])

    @property
    def duration(self) -> float:
        """Duration at the highest peak, days."""
        return float(self.duration_days[self.best_index])

    @property
    def best_depth(self) -> float:
        """Fractional depth at the highest peak."""
        return float(self.depth[self.best_index])

    @property
    def best_snr(self) -> float:
        """Depth SNR at the highest peak."""
        return float(self.snr[self.best_index])

    @property
    def periods_per_second(self) -> float:
        """Search speed (trial periods per wall-clock second)."""
        return float(self.periods_days.size / max(self.elapsed_s, 1e-9))

    def top_peaks(self, n: int = 5, *, exclude_fraction: float = 2e-3) -> list[int]:
        """Indices of the ``n`` highest distinct peaks of ``spectrum``.

        Peaks closer than ``exclude_fraction`` (relative period) to a higher one are skipped.
        """
        order = np.argsort(self.spectrum)[::-1]
        chosen: list[int] = []
        for idx in order:
            p = self.periods_days[idx]
            if all(abs(p - self.periods_days[j]) > exclude_fraction * p for j in chosen):
                chosen.append(int(idx))
            if len(chosen) >= n:
                break
        return chosen


def _json_float(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(float(x)) else None


@dataclass(frozen=True)
class TransitCandidate:
    """One periodic transit signal found by :func:`exoguard.core.search.search_transits`.

    Attributes
    ----------
    object_id : str
        ``"<target>.01"``, ``.02`` ... in the order found (strongest first).
    host_id : str
        The light curve's target id (e.g. ``"KIC 10797460"``).
    mission : str
        ``"kepler"``, ``"k2"``, ``"tess"`` or ``"other"``.
    rank : int
        1 for the first signal found.
    period_days, t0_bjd, duration_hours : float
        Ephemeris after refinement (``t0_bjd`` is a mid-transit time, BJD_TDB).
    period_err_days : float
        1-sigma width of the period's profile likelihood (NaN when unknown).
    sde : float
        Signal detection efficiency at the candidate's period in the search that found it.
    power : float
        BLS log-likelihood ratio at the peak.
    diagnostics : TransitDiagnostics
        Depth, SNR, odd/even, secondary, shape, duration ratio ... (see
        :mod:`exoguard.core.diagnostics`).
    alias_of : str or None
        ``object_id`` of a stronger candidate whose period is a small-integer ratio of this one
        (P/2, 2P, 3P, 2P/3 ...), or which has the same period with the transit at another phase.
    alias_ratio : str or None
        ``"2:1"`` (this period is twice the other), ``"1:2"``, ``"1:1"`` (same period,
        different phase: often a secondary eclipse) ...
    single_transit : bool
        Fewer than two transits with data.
    few_transits : bool
        Fewer than ``min_transits`` (default 3) transits with data.
    engine : str
        The BLS engine that found it.
    star : StarParams
        The star assumed (NaN fields when unknown).
    sources : tuple of str
        The files searched.
    """

    object_id: str
    host_id: str
    mission: str
    rank: int
    period_days: float
    period_err_days: float
    t0_bjd: float
    duration_hours: float
    sde: float
    power: float
    diagnostics: TransitDiagnostics
    alias_of: str | None = None
    alias_ratio: str | None = None
    single_transit: bool = False
    few_transits: bool = False
    engine: str = "fast"
    star: StarParams = field(default_factory=StarParams)
    sources: tuple[str, ...] = ()

    @property
    def depth_ppm(self) -> float:
        """Box depth, ppm."""
        return self.diagnostics.depth_ppm

    @property
    def depth_err_ppm(self) -> float:
        """1-sigma error of the depth, ppm."""
        return self.diagnostics.depth_err_ppm

    @property
    def snr(self) -> float:
        """Transit SNR (depth over its error)."""
        return self.diagnostics.snr

    @property
    def n_transits(self) -> int:
        """Transits with data."""
        return self.diagnostics.n_transits

    @property
    def planet_radius_rearth(self) -> float:
        """``sqrt(depth) * R*`` (Earth radii); NaN when the stellar radius is unknown."""
        return self.star.planet_radius_rearth(self.depth_ppm)

    def with_alias(self, alias_of: str | None, ratio: str | None) -> TransitCandidate:
        """A copy flagged as an alias (or not)."""
        return replace(self, alias_of=alias_of, alias_ratio=ratio)

    def to_dict(self) -> dict[str, Any]:
        """Every field and diagnostic as JSON-ready values (None for NaN).

        Keys include ``period_days``, ``t0_bjd``, ``duration_hours``, ``depth_ppm``,
        ``depth_err_ppm``, ``snr``, ``sde``, ``n_transits``, ``odd_even_sigma``,
        ``secondary_depth_ppm``, ``secondary_sigma``, ``shape``, ``duration_ratio``,
        ``alias_of`` and ``single_transit``.
        """
        diag = self.diagnostics.to_dict()
        out: dict[str, Any] = {
            "object_id": self.object_id,
            "host_id": self.host_id,
            "mission": self.mission,
            "rank": self.rank,
            "period_days": self.period_days,
            "period_err_days": self.period_err_days,
            "t0_bjd": self.t0_bjd,
            "duration_hours": self.duration_hours,
            "depth_ppm": diag.pop("depth_ppm"),
            "depth_err_ppm": diag.pop("depth_err_ppm"),
            "snr": diag.pop("snr"),
            "sde": self.sde,
            "power": self.power,
            "n_transits": diag.pop("n_transits"),
            "odd_even_sigma": diag.pop("odd_even_sigma"),
            "secondary_depth_ppm": diag.pop("secondary_depth_ppm"),
            "secondary_sigma": diag.pop("secondary_sigma"),
            "shape": diag.pop("shape"),
            "duration_ratio": diag.pop("duration_ratio"),
            "alias_of": self.alias_of,
            "alias_ratio": self.alias_ratio,
            "single_transit": self.single_transit,
            "few_transits": self.few_transits,
            "planet_radius_rearth": self.planet_radius_rearth,
            "engine": self.engine,
        }
        for key in ("period_days", "t0_bjd", "duration_hours"):
            diag.pop(key, None)
        out.update(diag)
        out.update(
            {
                "star_radius_rsun": self.star.radius_rsun,
                "star_mass_msun": self.star.mass_msun,
                "star_teff_k": self.star.teff_k,
                "star_logg_cgs": self.star.logg_cgs,
                "star_mag": self.star.mag,
            }
        )
        return {k: (_json_float(v) if isinstance(v, float) else v) for k, v in out.items()}

    def to_harmonised(self) -> dict[str, Any]:
        """One row of the harmonised candidate schema (:mod:`exoguard.catalogs.schema`).

        Unknown values are NaN (``impact`` always: a box search does not measure it).
        """
        row: dict[str, Any] = {
            "object_id": self.object_id,
            "host_id": self.host_id,
            "mission": self.mission,
            "label": "candidate",
            "disposition": "exoguard search candidate",
            "source": ";".join(self.sources) if self.sources else "exoguard search",
            "period_days": float(self.period_days),
            "t0_bjd": float(self.t0_bjd),
            "duration_hours": float(self.duration_hours),
            "depth_ppm": float(self.depth_ppm),
            "impact": math.nan,
            "planet_radius_rearth": float(self.planet_radius_rearth),
            "equilibrium_temp_k": self.star.equilibrium_temp_k(self.period_days),
            "insolation_earth": self.star.insolation_earth(self.period_days),
            "transit_snr": float(self.snr),
            "star_teff_k": self.star.teff_k,
            "star_logg_cgs": self.star.logg_cgs,
            "star_radius_rsun": self.star.radius_rsun,
            "star_mag": self.star.mag,
        }
        return {key: row[key] for key in HARMONISED_COLUMNS}
