"""Plain words for the model's features: a phrase, a unit and a sentence using the value.

One entry per feature of `exoguard.ml.features.ALL_FEATURES` and of the network's
light-curve features (`exoguard.ml.multibranch.inputs.LC_FEATURES`); a unit test checks
that none is missing, so a new feature cannot reach the pages without words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Term:
    """How one feature reads: `phrase` (what it is), `unit`, `template` (with ``{v}``)."""

    phrase: str
    unit: str
    template: str
    #: A short topic for the one-line summary ("the transit's shape").
    topic: str
    #: The value is a log10: the sentence shows ``10**value``.
    log10: bool = False
    #: The sentence for a value of exactly 0, where the template would read oddly.
    at_zero: str | None = None


GLOSSARY: dict[str, Term] = {
    "period_days": Term("orbital period", "days", "period {v} days", "the period"),
    "log10_period_days": Term(
        "orbital period (log scale)",
        "log10 days",
        "period {v} days (log scale)",
        "the period",
        log10=True,
    ),
    "duration_hours": Term(
        "transit duration", "hours", "the transit lasts {v} hours", "the duration"
    ),
    "depth_ppm": Term("transit depth", "ppm", "the star dims by {v} ppm", "the depth"),
    "log10_depth_ppm": Term(
        "transit depth (log scale)",
        "log10 ppm",
        "the star dims by {v} ppm (log scale)",
        "the depth",
        log10=True,
    ),
    "impact": Term(
        "impact parameter (0 = crosses the star's centre)",
        "stellar radii",
        "crosses the star {v} radii from its centre",
        "the transit's shape",
    ),
    "impact_estimate": Term(
        "impact parameter implied by the shape",
        "stellar radii",
        "the shape implies a crossing {v} radii from the centre",
        "the transit's shape",
    ),
    "planet_radius_rearth": Term(
        "size of the object", "Earth radii", "an object {v} times Earth's size", "the object's size"
    ),
    "planet_radius_excess_rearth": Term(
        "size beyond the largest planets",
        "Earth radii",
        "{v} Earth radii larger than the largest planets",
        "the object's size",
        at_zero="no larger than the largest planets",
    ),
    "equilibrium_temp_k": Term(
        "temperature of the object", "K", "an object at about {v} K", "the temperature"
    ),
    "insolation_earth": Term(
        "light received, relative to Earth",
        "× Earth",
        "receives {v}× the light Earth gets",
        "the light received",
    ),
    "transit_snr": Term(
        "signal strength (signal-to-noise)",
        "",
        "the signal is {v}× the noise",
        "the signal strength",
    ),
    "star_teff_k": Term("star's temperature", "K", "a star at {v} K", "the star"),
    "star_logg_cgs": Term(
        "star's surface gravity", "log10 cm/s²", "surface gravity log g {v}", "the star"
    ),
    "star_radius_rsun": Term("star's size", "Sun radii", "a star {v}× the Sun's size", "the star"),
    "star_mag": Term("star's brightness", "magnitude", "a star of magnitude {v}", "the star"),
    "star_density_solar": Term(
        "star's density", "× Sun", "a star {v}× as dense as the Sun", "the star"
    ),
    "n_candidates_on_host": Term(
        "other candidates around the same star",
        "count",
        "candidates on this star: {v}",
        "other planets of the star",
    ),
    "a_over_rstar": Term(
        "orbit size in star radii", "stellar radii", "an orbit {v} star radii wide", "the orbit"
    ),
    "duration_expected_hours": Term(
        "duration a planet would have here",
        "hours",
        "a planet here would transit for {v} hours",
        "the duration",
    ),
    "duration_ratio": Term(
        "duration against what a planet could have",
        "×",
        "the transit lasts {v}× as long as a planet around this star would",
        "the duration",
    ),
    "abs_log_duration_ratio": Term(
        "mismatch of the duration with a planet's (log)",
        "log10",
        "the duration is off by {v}× from a planet's",
        "the duration",
        log10=True,
    ),
    "duration_excess": Term(
        "how much longer the transit is than a planet could make it",
        "×",
        "the transit lasts {v}× longer than a planet around this star could",
        "the duration",
    ),
    "duration_over_period": Term(
        "fraction of the orbit spent in transit", "", "in transit {v} of the orbit", "the duration"
    ),
    "radius_ratio": Term(
        "object size over star size",
        "",
        "the object is {v} of the star's size",
        "the object's size",
    ),
    "depth_ratio": Term(
        "depth against what the fitted size implies",
        "×",
        "the dip is {v}× as deep as the size implies",
        "the depth",
    ),
    "abs_log_depth_ratio": Term(
        "mismatch of the depth with the fitted size (log)",
        "log10",
        "the depth is off by {v}× from the size's",
        "the depth",
        log10=True,
    ),
    "nearest_period_ratio": Term(
        "period ratio to the nearest other candidate of the star",
        "×",
        "the nearest other candidate's period is {v}× this one",
        "other planets of the star",
    ),
    "red_noise_factor": Term(
        "slow wobbles in the light (red noise)",
        "×",
        "the noise is {v}× worse on transit time scales",
        "the noise",
    ),
    "log10_n_transits": Term(
        "number of transits seen (log)",
        "log10 count",
        "{v} transits seen",
        "the transits seen",
        log10=True,
    ),
    "odd_even_sigma": Term(
        "difference between odd and even transits",
        "σ",
        "odd and even dips differ by {v} σ",
        "odd and even transits",
    ),
    "secondary_sigma": Term(
        "a second dip half an orbit later", "σ", "a second dip at {v} σ", "a secondary eclipse"
    ),
    "secondary_depth_ratio": Term(
        "depth of a second dip against the main one",
        "×",
        "the second dip is {v}× the main one",
        "a secondary eclipse",
    ),
    "inner_depth_ratio": Term(
        "depth at the centre against the edges (V or U shape)",
        "×",
        "the centre is {v}× as deep as the edges",
        "the transit's shape",
    ),
    "local_coverage": Term(
        "fraction of the transit window covered by data",
        "",
        "{v} of the transit window has data",
        "the data coverage",
    ),
}


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e3 else f"{value:,.0f}"


def describe(feature: str, value: Any = None) -> str:
    """A plain sentence for one feature (with its value where known); the name if unknown."""
    term = GLOSSARY.get(feature)
    if term is None:
        return feature.replace("_", " ")
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        if term.at_zero is not None and float(value) == 0.0:
            return term.at_zero
        shown = 10.0 ** float(value) if term.log10 else float(value)
        return term.template.format(v=_fmt(shown))
    return term.phrase + (f" ({term.unit})" if term.unit else "")


def summary(contributions: Sequence[Mapping[str, Any]], *, n_top: int = 3) -> str:
    """One line naming the topics that push most towards and against planet.

    `contributions` are ``{"feature", "contribution"}`` items (log-odds; + towards planet).
    """

    def topics(sign: float) -> list[str]:
        ranked = sorted(
            (i for i in contributions if float(i["contribution"]) * sign > 0),
            key=lambda i: -abs(float(i["contribution"])),
        )
        out: list[str] = []
        for item in ranked:
            name = str(item["feature"])
            topic = GLOSSARY[name].topic if name in GLOSSARY else name.replace("_", " ")
            if topic not in out:
                out.append(topic)
        return out[:n_top]

    pro, con = topics(1.0), topics(-1.0)
    parts = []
    if pro:
        parts.append("For a planet: " + ", ".join(pro))
    if con:
        parts.append("against: " + ", ".join(con))
    return ("; ".join(parts) + ".") if parts else "No feature moved the model either way."


def explanation_words(explanation: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the candidate page shows of a SHAP explanation: words first, raw numbers after.

    Returns ``summary`` (one line of top reasons), ``direction`` (a sentence on where the
    evidence moves), ``base_log_odds`` / ``log_odds`` and ``rows`` (feature, value, plain
    words, contribution in log-odds); None without contributions.
    """
    if not explanation or not explanation.get("contributions"):
        return None
    items = list(explanation["contributions"])
    base = float(explanation.get("base_value", 0.0))
    total = explanation.get("log_odds")
    total_f = (
        float(total) if total is not None else base + sum(float(i["contribution"]) for i in items)
    )
    if total_f > base:
        direction = "The model's evidence moves from its starting point towards planet."
    elif total_f < base:
        direction = "The model's evidence moves from its starting point away from planet."
    else:
        direction = "The model's evidence ends where it started."
    return {
        "summary": summary(items),
        "direction": direction,
        "base_log_odds": base,
        "log_odds": total_f,
        "rows": [
            {
                "feature": str(i["feature"]),
                "value": i.get("value"),
                "words": describe(str(i["feature"]), i.get("value")),
                "contribution": float(i["contribution"]),
            }
            for i in items
        ],
    }
