"""Missing inputs, handled physically and honestly.

Users bring rows with different fields: a full KOI row, a TCE table (transit fields and the
star), a TOI row (no SNR, no fitted impact), a light curve with no known star, a manual entry
with three numbers. This module

* derives what physics allows (:func:`derive_missing`, via :mod:`exoguard.core.physics`):
  planet radius from depth and R*; Teq and insolation from Teff, logg, R* and the period;
* names the realistic **missingness patterns** (:data:`PATTERNS`): the raw fields each one has;
* routes every row to the pattern it can serve (:func:`route_patterns`);
* masks training rows to a pattern (:func:`mask_to_pattern`), so one model per pattern is
  trained on exactly what users of that pattern give, and an absent field is never a feature
  of the model that scores the row (it contributes nothing to the explanation).

The ``complete`` pattern is the catalog model itself: it is chosen for rows that give the
transit with a fitted impact parameter and a model SNR (a KOI-like table), and scores their
other gaps as it was trained to (in the KOI table a star without parameters is itself
evidence). Every other row takes the pattern with the most fields that it gives in full.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from exoguard.catalogs.schema import STAR_COLUMNS
from exoguard.core import physics
from exoguard.ml.features import BASE_FEATURES, numeric_column

#: Raw input fields: the harmonised physical columns that can be model inputs (the base
#: features of :mod:`exoguard.ml.features`).
RAW_FIELDS: Final[tuple[str, ...]] = BASE_FEATURES
_STAR = STAR_COLUMNS
_TRANSIT = ("period_days", "duration_hours", "depth_ppm")

#: Pattern name → the raw fields it has, richest first (routing takes the first that fits).
PATTERNS: Final[dict[str, tuple[str, ...]]] = {
    # a full KOI-like row
    "complete": RAW_FIELDS,
    # a threshold-crossing-event table, or a light-curve search on a catalogued star
    "tce": (*_TRANSIT, "transit_snr", *_STAR),
    # a catalog table without SNR or fitted impact (the TOI table)
    "table_no_snr": (*_TRANSIT, *_STAR),
    # a light curve of an unknown star: what the transit search measures
    "lightcurve": (*_TRANSIT, "transit_snr"),
    # a manual entry with three numbers
    "manual": _TRANSIT,
    # a planet table with a radius but no depth or duration (the K2 table's default columns)
    "period_radius_star": ("period_days", "planet_radius_rearth", *_STAR[:3]),
    # last resort: the period alone
    "period": ("period_days",),
}
PATTERN_NAMES: Final[tuple[str, ...]] = tuple(PATTERNS)
#: What each pattern's model judges from, in words a user reads beside the verdict.
PATTERN_WORDS: Final[dict[str, str]] = {
    "complete": "every catalog field",
    "tce": "the transit, its signal-to-noise ratio and the star",
    "table_no_snr": "the transit and the star",
    "lightcurve": "the transit and its signal-to-noise ratio (the star is unknown)",
    "manual": "period, duration and depth only",
    "period_radius_star": "the period, the planet radius and the star",
    "period": "the period only",
}


def _off_words(o: dict[str, Any]) -> str:
    if o.get("feature") == "mission":
        return f"the {str(o['value']).upper()} mission (the model has no training rows of it)"
    lo, hi = (float(v) for v in (o.get("training_range") or (math.nan, math.nan)))
    return f"{o['feature']} {float(o['value']):.3g} (trained on {lo:.3g} to {hi:.3g})"


def basis_sentences(basis: dict[str, Any] | None) -> list[str]:
    """Plain sentences for a verdict's basis (pattern, light curve, inputs off the map)."""
    if not basis or not basis.get("pattern"):
        return []
    pattern = str(basis["pattern"])
    words = PATTERN_WORDS.get(pattern, pattern)
    lc = " and the light curve itself" if basis.get("light_curve") else ""
    out = [f"Judged from {words}{lc}; fields not given play no part."]
    parts = basis.get("components") or {}
    if {"network", "gbm"} <= set(parts) and abs(parts["network"] - parts["gbm"]) >= 0.3:
        out.append(
            f"The network that reads the light curve says {100 * parts['network']:.0f} % planet, "
            f"the model of the catalog fields {100 * parts['gbm']:.0f} %: they disagree, so "
            "the verdict is uncertain."
        )
    off = basis.get("out_of_range") or []
    if isinstance(off, list) and off:
        items = [_off_words(o) for o in off if isinstance(o, dict)]
        out.append(
            "Outside what the model was trained on: " + "; ".join(items) + ". Treated as uncertain."
        )
    return out


#: Fields that physics derives, and the fields each derivation needs.
DERIVABLE: Final[dict[str, tuple[str, ...]]] = {
    "planet_radius_rearth": ("depth_ppm", "star_radius_rsun"),
    "equilibrium_temp_k": ("star_teff_k", "period_days", "star_logg_cgs", "star_radius_rsun"),
    "insolation_earth": ("star_teff_k", "period_days", "star_logg_cgs", "star_radius_rsun"),
}

#: Raw inputs behind each model feature (``exoguard.ml.features``). Features that compare the
#: depth with a *fitted* planet radius need the radius as a given field: derived from the
#: depth they would be identically 1.
FEATURE_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    "period_days": ("period_days",),
    "duration_hours": ("duration_hours",),
    "depth_ppm": ("depth_ppm",),
    "impact": ("impact",),
    "planet_radius_rearth": ("planet_radius_rearth",),
    "equilibrium_temp_k": ("equilibrium_temp_k",),
    "insolation_earth": ("insolation_earth",),
    "transit_snr": ("transit_snr",),
    "star_teff_k": ("star_teff_k",),
    "star_logg_cgs": ("star_logg_cgs",),
    "star_radius_rsun": ("star_radius_rsun",),
    "star_mag": ("star_mag",),
    "n_candidates_on_host": (),
    "log10_period_days": ("period_days",),
    "log10_depth_ppm": ("depth_ppm",),
    "star_density_solar": ("star_logg_cgs", "star_radius_rsun"),
    "a_over_rstar": ("period_days", "star_logg_cgs", "star_radius_rsun"),
    "duration_expected_hours": ("period_days", "star_logg_cgs", "star_radius_rsun"),
    "duration_ratio": ("duration_hours", "period_days", "star_logg_cgs", "star_radius_rsun"),
    "radius_ratio": ("planet_radius_rearth!", "star_radius_rsun"),
    "depth_ratio": ("depth_ppm", "planet_radius_rearth!", "star_radius_rsun"),
    "duration_over_period": ("duration_hours", "period_days"),
    "abs_log_duration_ratio": (
        "duration_hours",
        "period_days",
        "star_logg_cgs",
        "star_radius_rsun",
    ),
    "abs_log_depth_ratio": ("depth_ppm", "planet_radius_rearth!", "star_radius_rsun"),
    "impact_estimate": (
        "depth_ppm",
        "duration_hours",
        "period_days",
        "star_logg_cgs",
        "star_radius_rsun",
    ),
    "duration_excess": (
        "depth_ppm",
        "duration_hours",
        "period_days",
        "star_logg_cgs",
        "star_radius_rsun",
    ),
    "planet_radius_excess_rearth": ("planet_radius_rearth",),
    "nearest_period_ratio": ("period_days",),
}


def derivable_fields(fields: Sequence[str]) -> set[str]:
    """``fields`` plus what :func:`derive_missing` can compute from them."""
    have = set(fields)
    return have | {f for f, needs in DERIVABLE.items() if set(needs) <= have}


def pattern_features(pattern: str, features: Sequence[str]) -> tuple[str, ...]:
    """The subset of ``features`` a model of ``pattern`` can use, in the given order.

    A feature is usable when every raw input behind it is a field of the pattern or
    derivable from its fields; inputs marked ``!`` must be given, not derived.
    """
    fields = _pattern(pattern)
    given = set(fields)
    have = derivable_fields(fields)
    out = []
    for name in features:
        needs = FEATURE_INPUTS[name]
        if all((n[:-1] in given) if n.endswith("!") else (n in have) for n in needs):
            out.append(name)
    return tuple(out)


def _pattern(name: str) -> tuple[str, ...]:
    try:
        return PATTERNS[name]
    except KeyError:
        raise ValueError(
            f"unknown missingness pattern {name!r}; choose one of {', '.join(PATTERNS)}"
        ) from None


def derive_missing(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill the physically derivable fields where they are missing.

    Returns
    -------
    (DataFrame, DataFrame)
        A copy of ``frame`` with planet radius, equilibrium temperature and insolation filled
        where they were NaN and their inputs are known (given values are never changed), and
        a boolean frame (same index, one column per derivable field) that is True where a
        value was derived.
    """
    out = frame.copy()
    period = numeric_column(frame, "period_days")
    teff = numeric_column(frame, "star_teff_k")
    logg = numeric_column(frame, "star_logg_cgs")
    rstar = numeric_column(frame, "star_radius_rsun")
    computed = {
        "planet_radius_rearth": physics.planet_radius_rearth(
            numeric_column(frame, "depth_ppm"), rstar
        ),
        "equilibrium_temp_k": physics.equilibrium_temp_k(teff, period, logg, rstar),
        "insolation_earth": physics.insolation_earth(teff, period, logg, rstar),
    }
    flags = {}
    for col, values in computed.items():
        given = numeric_column(frame, col)
        fill = ~np.isfinite(given) & np.isfinite(values)
        out[col] = np.where(fill, values, given)
        flags[col] = fill
    return out, pd.DataFrame(flags, index=frame.index)


def without_search_snr(frame: pd.DataFrame, rows: np.ndarray | None = None) -> pd.DataFrame:
    """``frame`` as the catalog models see search candidates: without their SNR.

    The SNR a search measures grows with the data uploaded (one quarter: a fraction of the
    four-year SNR of the same transit); the catalog models learned the KOI table's
    full-mission SNR, in which a low SNR means "false positive". So they do not read a
    search's SNR, and its rows are scored from the transit and the star. ``rows`` (boolean,
    shape (n,)) picks the search rows; None: all of them.
    """
    out = frame.copy()
    if rows is None:
        out["transit_snr"] = np.nan
    else:
        out.loc[np.asarray(rows, dtype=bool), "transit_snr"] = np.nan
    return out


def mask_to_pattern(frame: pd.DataFrame, pattern: str) -> pd.DataFrame:
    """A copy of ``frame`` whose raw fields outside ``pattern`` are NaN, then derived again.

    This is what a user of that pattern gives: e.g. for ``tce`` the catalog planet radius,
    Teq and insolation are dropped and recomputed from the depth, the star and the period.
    """
    fields = set(_pattern(pattern))
    out = frame.copy()
    for col in RAW_FIELDS:
        if col not in fields:
            out[col] = np.nan
    return derive_missing(out)[0]


def available_fields(frame: pd.DataFrame) -> pd.DataFrame:
    """Boolean frame, one column per raw field: True where the row gives a finite value."""
    return pd.DataFrame(
        {c: np.isfinite(numeric_column(frame, c)) for c in RAW_FIELDS}, index=frame.index
    )


def rows_with_pattern(frame: pd.DataFrame, pattern: str) -> np.ndarray:
    """Boolean mask of the rows that give every field of ``pattern``, shape (n,)."""
    have = available_fields(frame)
    return np.asarray(have[list(_pattern(pattern))].all(axis=1).to_numpy(), dtype=bool)


#: Fields a row must give to be scored by the catalog model (``complete``): only a
#: KOI-like table gives a fitted impact parameter and a model SNR with the transit.
COMPLETE_REQUIRES: Final[tuple[str, ...]] = (*_TRANSIT, "impact", "transit_snr")


def route_patterns(frame: pd.DataFrame, *, patterns: Sequence[str] = PATTERN_NAMES) -> np.ndarray:
    """The pattern that scores each row, shape (n,), dtype object; a rule of the row alone.

    ``complete`` (the catalog model) takes a row that gives every field of
    :data:`COMPLETE_REQUIRES`; its other gaps are scored as the catalog model was trained
    to. Other rows take the first pattern of ``patterns`` (richest first) whose fields the
    row gives in full; a row that gives none (not even a period) takes the last pattern.
    """
    if not patterns:
        raise ValueError("route_patterns needs at least one pattern")
    have = available_fields(frame)
    n = len(frame)
    out = np.empty(n, dtype=object)
    out[:] = patterns[-1]
    assigned = np.zeros(n, dtype=bool)
    for name in patterns:
        needs = COMPLETE_REQUIRES if name == "complete" else _pattern(name)
        fits = ~assigned & have[list(needs)].all(axis=1).to_numpy()
        out[fits] = name
        assigned |= fits
    return out


__all__ = [
    "DERIVABLE",
    "COMPLETE_REQUIRES",
    "FEATURE_INPUTS",
    "PATTERNS",
    "PATTERN_NAMES",
    "RAW_FIELDS",
    "PATTERN_WORDS",
    "available_fields",
    "basis_sentences",
    "derive_missing",
    "mask_to_pattern",
    "pattern_features",
    "route_patterns",
    "rows_with_pattern",
    "without_search_snr",
]
