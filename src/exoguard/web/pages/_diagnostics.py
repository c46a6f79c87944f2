"""The diagnostics table of a candidate, as rows of words and numbers (no router here)."""

from __future__ import annotations

import math
from typing import Any

from exoguard.store.models import Candidate

#: (attribute or feature key, label, unit, digits) in display order.
_COLUMNS: tuple[tuple[str, str, str, int], ...] = (
    ("period_days", "Orbital period", "days", 7),
    ("t0_bjd", "Mid-transit epoch", "BJD", 10),
    ("duration_hours", "Transit duration", "hours", 3),
    ("depth_ppm", "Transit depth", "ppm", 4),
    ("transit_snr", "Signal-to-noise ratio", "", 3),
    ("impact", "Impact parameter", "", 3),
    ("planet_radius_rearth", "Planet radius", "Earth radii", 3),
    ("equilibrium_temp_k", "Equilibrium temperature", "K", 4),
    ("insolation_earth", "Insolation", "Earth = 1", 3),
    ("star_teff_k", "Star temperature", "K", 4),
    ("star_logg_cgs", "Star log g", "cgs", 3),
    ("star_radius_rsun", "Star radius", "Sun radii", 3),
    ("star_mag", "Star magnitude", "mag", 3),
)
_FEATURES: tuple[tuple[str, str, str, int], ...] = (
    ("depth_err_ppm", "Depth uncertainty", "ppm", 3),
    ("snr", "Search SNR", "", 3),
    ("sde", "Signal detection efficiency (SDE)", "", 3),
    ("n_transits", "Transits with data", "", 3),
    ("odd_even_sigma", "Odd/even depth difference", "σ", 3),
    ("secondary_depth_ppm", "Secondary eclipse depth", "ppm", 3),
    ("secondary_sigma", "Secondary eclipse significance", "σ", 3),
    ("shape", "Transit shape (0 = U, 1 = V)", "", 2),
    ("duration_ratio", "Duration / expected for the star", "", 3),
    ("alias_of", "Period alias of", "", 0),
    ("single_transit", "Single transit", "", 0),
)


def _format(value: Any, digits: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            return None
        if digits == 0:
            return str(value)
        if abs(number) >= 10 ** (digits + 2):
            return f"{number:,.{max(digits - 4, 1)}f}"
        return f"{number:.{digits}g}"
    text = str(value).strip()
    return text or None


def diagnostics_rows(candidate: Candidate) -> list[dict[str, str]]:
    """Label, value and unit of every known diagnostic of `candidate` (unknown ones left out)."""
    rows: list[dict[str, str]] = []
    for key, label, unit, digits in _COLUMNS:
        text = _format(getattr(candidate, key, None), digits)
        if text is not None:
            rows.append({"label": label, "value": text, "unit": unit})
    features = candidate.features or {}
    for key, label, unit, digits in _FEATURES:
        text = _format(features.get(key), digits)
        if text is not None:
            rows.append({"label": label, "value": text, "unit": unit})
    return rows


def warning_flags(candidate: Candidate) -> list[str]:
    """Plain-language warnings a vetter should read first."""
    features = candidate.features or {}
    flags: list[str] = []
    oe = features.get("odd_even_sigma")
    if isinstance(oe, int | float) and math.isfinite(oe) and oe > 3:
        flags.append(
            f"Odd and even transits differ by {oe:.1f}σ: typical of an eclipsing binary "
            "at twice the period."
        )
    sec = features.get("secondary_sigma")
    if isinstance(sec, int | float) and math.isfinite(sec) and sec > 3:
        flags.append(f"A secondary eclipse is detected at {sec:.1f}σ near phase 0.5.")
    shape = features.get("shape")
    if isinstance(shape, int | float) and math.isfinite(shape) and shape > 0.7:
        flags.append("The transit is V-shaped, as grazing eclipsing binaries are.")
    if features.get("single_transit"):
        flags.append("Only one transit is in the data: the period is not measured.")
    if features.get("alias_of") is not None:
        flags.append(f"This period may be an alias of candidate {features['alias_of']}.")
    return flags
