"""Plain data behind every report: what a vetting report of one candidate shows.

These dataclasses hold numbers and strings only (no ORM rows, no sessions), so the CSV, PDF
and share-page renderers are testable without a database. `exoguard.reports.service`
builds them from stored rows and a re-read light curve.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from exoguard.vetting.state import CandidateState

FloatArray = NDArray[np.float64]

#: The most candidates one PDF report may hold (one page each, drawn in the request).
MAX_REPORT_CANDIDATES = 50

__all__ = [
    "MAX_REPORT_CANDIDATES",
    "CandidateReport",
    "Diagnostics",
    "ReportCurves",
    "ShapContribution",
    "Verdict",
    "VoteSummary",
    "finite_or_none",
]


def finite_or_none(value: Any) -> float | None:
    """`value` as a float, or None when it is missing, not a number, NaN or infinite."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Diagnostics:
    """The transit fit and vetting diagnostics of one signal (None where unknown).

    Units are in the names; `shape` is the transit shape of the search (``"U"`` flat-bottomed,
    ``"V"``), `ingress_fraction` the trapezoid ingress over the total duration (0-0.5),
    `secondary_phase` the phase of the strongest dip near 0.5, `duration_ratio` the observed
    duration over the duration expected for a central transit of the stated star.
    """

    period_days: float | None = None
    period_err_days: float | None = None
    t0_bjd: float | None = None
    duration_hours: float | None = None
    depth_ppm: float | None = None
    depth_err_ppm: float | None = None
    snr: float | None = None
    sde: float | None = None
    n_transits: int | None = None
    odd_even_sigma: float | None = None
    secondary_depth_ppm: float | None = None
    secondary_sigma: float | None = None
    secondary_phase: float | None = None
    shape: str | None = None
    ingress_fraction: float | None = None
    duration_ratio: float | None = None
    impact: float | None = None
    planet_radius_rearth: float | None = None
    equilibrium_temp_k: float | None = None
    insolation_earth: float | None = None
    star_teff_k: float | None = None
    star_logg_cgs: float | None = None
    star_radius_rsun: float | None = None
    star_mag: float | None = None
    flags: tuple[str, ...] = ()

    @property
    def has_ephemeris(self) -> bool:
        """Whether period, epoch and duration are all known (needed to fold a light curve)."""
        return (
            self.period_days is not None
            and self.period_days > 0
            and self.t0_bjd is not None
            and self.duration_hours is not None
            and self.duration_hours > 0
        )


@dataclass(frozen=True)
class Verdict:
    """One model's call on the candidate."""

    label: str  # planet | false_positive | candidate
    probability: float  # P(planet), 0..1
    uncertainty: float  # spread of the probability (1 sigma)
    model_version: str
    created_at: datetime | None = None
    canary: bool = False

    @property
    def words(self) -> str:
        """The verdict in plain words."""
        return {
            "planet": "likely planet",
            "false_positive": "likely false positive",
            "candidate": "undecided candidate",
        }.get(self.label, self.label)


@dataclass(frozen=True)
class ShapContribution:
    """One feature's SHAP contribution to the model output (log-odds or probability units)."""

    feature: str
    contribution: float
    value: float | None = None


@dataclass(frozen=True)
class VoteSummary:
    """The human vetting of the candidate (the latest queue item)."""

    n_planet: int = 0
    n_false_positive: int = 0
    status: str | None = None  # open | settled | None when never queued
    consensus_label: str | None = None
    consensus_share: float | None = None
    mean_confidence: float | None = None

    @property
    def n_votes(self) -> int:
        return self.n_planet + self.n_false_positive


@dataclass(frozen=True, eq=False)
class ReportCurves:
    """The light curve and periodogram of a candidate, ready to plot.

    Parameters
    ----------
    time_bjd : ndarray, shape (n,)
        Times, BJD_TDB.
    raw_flux : ndarray, shape (n,)
        Normalised flux before detrending (relative, ~1).
    detrended_flux : ndarray, shape (n,)
        Flux divided by `trend` (relative, ~1).
    trend : ndarray, shape (n,), optional
        The trend that was divided out.
    periods_days, power : ndarray, shape (m,), optional
        The periodogram (BLS SDE spectrum by default) over trial periods in days.
    power_label : str
        Y-axis label of the periodogram.
    periodogram_thinned : bool
        The period grid was thinned away from the candidate (a long baseline): the SDE
        scale is then only indicative and is not reported as the candidate's SDE.
    notes : tuple of str
        How the curves were made (files read, detrending window, search grid).
    """

    time_bjd: FloatArray
    raw_flux: FloatArray
    detrended_flux: FloatArray
    trend: FloatArray | None = None
    periods_days: FloatArray | None = None
    power: FloatArray | None = None
    power_label: str = "BLS SDE"
    periodogram_thinned: bool = False
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = np.asarray(self.time_bjd).shape
        for name in ("raw_flux", "detrended_flux", "trend"):
            values = getattr(self, name)
            if values is not None and np.asarray(values).shape != n:
                raise ValueError(f"{name} has shape {np.asarray(values).shape}, expected {n}")
        if (self.periods_days is None) != (self.power is None):
            raise ValueError("give both periods_days and power, or neither")
        if (
            self.periods_days is not None
            and self.power is not None
            and np.asarray(self.periods_days).shape != np.asarray(self.power).shape
        ):
            raise ValueError("periods_days and power must have the same shape")

    @property
    def n_points(self) -> int:
        return int(np.asarray(self.time_bjd).size)


@dataclass(frozen=True, eq=False)
class CandidateReport:
    """Everything one page of the vetting report shows about one candidate."""

    #: The name the report shows (``exoguard.store.naming.display_name``: the archive id, the
    #: name the user typed, the catalog object a find matched), never a stored key such as
    #: ``manual-…`` or ``… [03397bd1]``.
    object_id: str
    mission: str
    host_id: str | None = None
    candidate_id: int | None = None
    catalog_label: str | None = None  # planet | false_positive | candidate (stored label)
    disposition: str | None = None  # the archive's disposition, verbatim
    source: str | None = None
    origin: str | None = None  # catalog | search | curated
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    verdict: Verdict | None = None
    shap: Sequence[ShapContribution] = ()
    shap_units: str = "log-odds"
    votes: VoteSummary = field(default_factory=VoteSummary)
    #: the candidate's state (`exoguard.vetting.state`): what the headline says
    state: CandidateState | None = None
    curves: ReportCurves | None = None
    curves_missing_reason: str = "no light curve of this star is stored (catalog row)"
    generated_at: datetime | None = None
    notes: tuple[str, ...] = ()
    #: ``CatalogMatch.summary()`` of the candidate's catalog cross-match, when it was matched
    catalog_match: str | None = None
    #: where missing stellar parameters came from, e.g. "stellar parameters from KIC ... (KOI
    #: table): star_teff_k, ..."
    stellar_note: str | None = None

    def top_shap(self, n: int = 8) -> list[ShapContribution]:
        """The `n` contributions of largest magnitude, largest first."""
        finite = [c for c in self.shap if math.isfinite(c.contribution)]
        return sorted(finite, key=lambda c: abs(c.contribution), reverse=True)[:n]

    def _summary_label(self) -> str | None:
        """planet | false_positive | candidate (uncertain) | None, from the state when known."""
        if self.state is not None:
            return {"uncertain": "candidate", "none": None}.get(self.state.key, self.state.key)
        return self.verdict.label if self.verdict else None

    def summary_row(self) -> Mapping[str, Any]:
        """The row of this candidate in the summary table of a multi-candidate report."""
        d = self.diagnostics
        return {
            "object_id": self.object_id,
            "host_id": self.host_id,
            "mission": self.mission,
            "period_days": d.period_days,
            "depth_ppm": d.depth_ppm,
            "duration_hours": d.duration_hours,
            "snr": d.snr,
            "label": self._summary_label(),
            "state": self.state.headline if self.state is not None else None,
            "probability": self.verdict.probability if self.verdict else None,
            "uncertainty": self.verdict.uncertainty if self.verdict else None,
            "consensus_label": self.votes.consensus_label,
            "n_votes": self.votes.n_votes,
        }
