"""What the preprocessing service takes and gives: search options, a searched light curve,
and the result of the preprocess job."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exoguard.errors import ValidationError

if TYPE_CHECKING:
    import pandas as pd

    from exoguard.ml.service import LightCurveInputs

#: Search options a preprocess request may set.
SEARCH_OPTIONS = ("min_period_days", "max_period_days", "max_planets")


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """The search options of a preprocess request (None: the search's default)."""

    min_period_days: float | None = None
    max_period_days: float | None = None
    max_planets: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The options that are set, as stored with a job or survey (search keywords)."""
        values = (self.min_period_days, self.max_period_days, self.max_planets)
        return {
            name: value
            for name, value in zip(SEARCH_OPTIONS, values, strict=True)
            if value is not None
        }


def check_options(options: Mapping[str, Any]) -> SearchOptions:
    """The search options of a preprocess request, validated (unknown names refused)."""
    unknown = set(options) - set(SEARCH_OPTIONS)
    if unknown:
        raise ValidationError(
            f"unknown preprocess option(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(SEARCH_OPTIONS)}"
        )
    periods: dict[str, float] = {}
    for name in ("min_period_days", "max_period_days"):
        if options.get(name) is not None:
            value = float(options[name])
            if not (math.isfinite(value) and value > 0):
                raise ValidationError(f"{name} must be a positive number of days; got {value}")
            periods[name] = value
    if (
        "min_period_days" in periods
        and "max_period_days" in periods
        and periods["min_period_days"] >= periods["max_period_days"]
    ):
        raise ValidationError("min_period_days must be smaller than max_period_days")
    max_planets = None
    if options.get("max_planets") is not None:
        max_planets = int(options["max_planets"])
        if not 1 <= max_planets <= 10:
            raise ValidationError(f"max_planets must be between 1 and 10; got {max_planets}")
    return SearchOptions(
        min_period_days=periods.get("min_period_days"),
        max_period_days=periods.get("max_period_days"),
        max_planets=max_planets,
    )


@dataclass(frozen=True, eq=False, slots=True)
class SearchedLightCurve:
    """A light curve searched for transits.

    Attributes
    ----------
    frame
        One harmonised row per candidate.
    features
        Per-candidate features (JSON-safe), in the order of ``frame``.
    inputs
        The light curve and candidates for the network's light-curve branches.
    single_event
        When nothing periodic was found, the one transit-like event the light curve holds
        (``SingleEvent.to_dict()``), if any.
    """

    frame: pd.DataFrame
    features: list[dict[str, Any]]
    inputs: LightCurveInputs
    single_event: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class PreprocessResult:
    """What the preprocess job did (its JSON result: :meth:`to_dict`)."""

    dataset_id: str
    kind: str
    candidate_ids: list[int]
    written: dict[str, int]
    n_predictions: int
    n_planet_verdicts: int
    predictions: list[dict[str, Any]]
    note: str | None = None
    single_event: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The job result: at most 1000 candidate ids and predictions; ``note`` and
        ``single_event`` only when set."""
        out: dict[str, Any] = {
            "dataset_id": self.dataset_id,
            "kind": self.kind,
            "n_candidates": len(self.candidate_ids),
            "candidate_ids": self.candidate_ids[:1000],
            "written": self.written,
            "n_predictions": self.n_predictions,
            "n_planet_verdicts": self.n_planet_verdicts,
            "predictions": self.predictions[:1000],
        }
        if self.note:
            out["note"] = self.note
        if self.single_event is not None:
            # no candidate: a lone dip cannot give a period, but the user should hear of it
            out["single_event"] = self.single_event
        return out
