"""Model features from the harmonised candidate schema.

Only what a transit search of a light curve plus a stellar catalog can produce: the transit
parameters, the host star, the number of signals on the same star, and physically derived
ratios. Never Robovetter outputs, uncertainties, identifiers, positions or epochs; the check
is enforced by :func:`assert_allowed_features` on every feature matrix this module builds.

Derived quantities (all dimensionless unless the name carries a unit):

``star_density_solar``
    Mean stellar density from logg and radius, ρ*/ρ☉ = (g/g☉) / (R*/R☉).
``a_over_rstar``
    Scaled semi-major axis from Kepler's third law, a/R* = (G ρ* P² / 3π)^(1/3).
``duration_expected_hours``
    Central-transit (b = 0) duration of a small planet on a circular orbit,
    T₀ = (P/π) · arcsin(1 / (a/R*)).
``duration_ratio``
    Observed duration over ``duration_expected_hours``. Near 1 for a planet around the stated
    star; far from 1 for blends, eclipsing binaries on another star, or wrong stellar parameters.
``radius_ratio``
    k = Rp/R* from the catalog planet radius and stellar radius.
``depth_ratio``
    Observed depth over k² (in ppm). Catalog radii are derived from the fitted depth, so this
    mostly measures limb darkening, grazing geometry and dilution.
``abs_log_duration_ratio``, ``abs_log_depth_ratio``
    |ln| of the two ratios: zero when the signal is consistent with a planet on the stated
    star, growing with the inconsistency in either direction.
``impact_estimate``
    Impact parameter implied by the duration for a circular orbit,
    b ≈ sqrt(max((1 + k_d)² − (T/T₀)², 0)), with k_d = sqrt(depth) the radius ratio the depth
    implies (available where a fitted impact parameter is not, e.g. the TOI table).
``duration_excess``
    (T/T₀) / (1 + k_d): above 1 the transit lasts longer than any circular orbit of a body
    of that size around the stated star allows (eccentric orbit, wrong star, blend).
``planet_radius_excess_rearth``
    max(Rp − 22.4 R⊕, 0): how far the radius exceeds 2 Jupiter radii, larger than any known
    planet (such a body is a star); zero for every plausible planet size.
``nearest_period_ratio``
    P_long / P_short to the closest-period other signal on the same star (NaN when alone).
    Near 1 or 2 the two signals are usually the primary and secondary eclipse of one binary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np
import pandas as pd

from exoguard.catalogs.schema import FORBIDDEN_FEATURE_PATTERNS, PHYSICAL_COLUMNS
from exoguard.core.physics import REARTH_OVER_RSUN, a_over_rstar, stellar_density_solar

#: Two Jupiter radii in Earth radii.
MAX_PLANET_RADIUS_REARTH: Final = 22.4

#: Base features taken from the harmonised schema: its physical columns but the epoch.
BASE_FEATURES: Final[tuple[str, ...]] = tuple(c for c in PHYSICAL_COLUMNS if c != "t0_bjd")

#: Features computed here.
DERIVED_FEATURES: Final[tuple[str, ...]] = (
    "n_candidates_on_host",
    "log10_period_days",
    "log10_depth_ppm",
    "star_density_solar",
    "a_over_rstar",
    "duration_expected_hours",
    "duration_ratio",
    "radius_ratio",
    "depth_ratio",
    "duration_over_period",
    "abs_log_duration_ratio",
    "abs_log_depth_ratio",
    "impact_estimate",
    "duration_excess",
    "planet_radius_excess_rearth",
    "nearest_period_ratio",
)

ALL_FEATURES: Final[tuple[str, ...]] = BASE_FEATURES + DERIVED_FEATURES

#: Named feature sets. "transfer" holds only quantities that every mission's table gives in
#: comparable form: no SNR or fitted impact (absent from the TOI table), no magnitude (Kepler
#: band vs TESS band, very different brightness ranges), no raw depth or duration (noise floors
#: differ between missions), and no planet radius (the giant-planet population differs between
#: the Kepler field and the bright TESS stars): only stellar properties, multiplicity and
#: physically normalised consistency checks.
FEATURE_SETS: Final[dict[str, tuple[str, ...]]] = {
    "all": ALL_FEATURES,
    "basic": BASE_FEATURES + ("n_candidates_on_host",),
    "transfer": (
        "log10_period_days",
        "equilibrium_temp_k",
        "star_teff_k",
        "star_logg_cgs",
        "star_radius_rsun",
        "n_candidates_on_host",
        "star_density_solar",
        "a_over_rstar",
        "abs_log_duration_ratio",
        "abs_log_depth_ratio",
        "impact_estimate",
        "duration_excess",
        "planet_radius_excess_rearth",
        "nearest_period_ratio",
    ),
}


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    # Match a pattern as whole underscore-separated tokens ("ra" forbids "ra" and "ra_deg",
    # not "duration_ratio"); a pattern ending in digits also matches "..._err1".
    core = re.escape(pattern.strip("_"))
    return re.compile(rf"(?:^|_){core}(?:$|_|\d)")


_FORBIDDEN = tuple(_pattern_regex(p) for p in FORBIDDEN_FEATURE_PATTERNS)


def forbidden_features(names: Iterable[str]) -> list[str]:
    """The names that match ``schema.FORBIDDEN_FEATURE_PATTERNS`` (empty when all are allowed)."""
    bad = []
    for name in names:
        low = name.lower()
        if any(rx.search(low) for rx in _FORBIDDEN) or "err" in low.split("_"):
            bad.append(name)
    return bad


def assert_allowed_features(names: Iterable[str]) -> None:
    """Raise ``AssertionError`` when a feature name is forbidden (Robovetter, errors, ids, ...)."""
    names = list(names)
    bad = forbidden_features(names)
    assert not bad, f"forbidden model features (they leak catalog processing): {bad}"
    unknown = [n for n in names if n not in ALL_FEATURES]
    assert not unknown, f"unknown model features (not built by exoguard.ml.features): {unknown}"


def resolve_feature_set(name_or_names: str | Sequence[str]) -> tuple[str, ...]:
    """A named feature set, or an explicit list checked against the allowed features."""
    if isinstance(name_or_names, str):
        if name_or_names not in FEATURE_SETS:
            raise ValueError(
                f"unknown feature set {name_or_names!r}; choose one of {', '.join(FEATURE_SETS)}"
            )
        names = FEATURE_SETS[name_or_names]
    else:
        names = tuple(name_or_names)
    assert_allowed_features(names)
    return names


def numeric_column(frame: pd.DataFrame, col: str) -> np.ndarray:
    """Column ``col`` as float64 (non-numbers NaN), or all NaN when absent; shape (n,)."""
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)


def candidates_per_host(frame: pd.DataFrame) -> np.ndarray:
    """Number of rows sharing each row's ``host_id`` (1 where the host is unknown), shape (n,)."""
    if "host_id" not in frame.columns:
        return np.ones(len(frame))
    host = frame["host_id"]
    known = host.notna() & (host.astype(str).str.strip() != "")
    counts = host[known].map(host[known].value_counts())
    out = np.ones(len(frame))
    out[known.to_numpy()] = counts.to_numpy(dtype=float)
    return out


def nearest_period_ratio(frame: pd.DataFrame) -> np.ndarray:
    """Ratio (>= 1) of each row's period to the closest other period on its host, shape (n,)."""
    out = np.full(len(frame), np.nan)
    if "host_id" not in frame.columns or "period_days" not in frame.columns:
        return out
    period = pd.to_numeric(frame["period_days"], errors="coerce").to_numpy(dtype=float)
    host = frame["host_id"].astype(str).where(frame["host_id"].notna(), "").to_numpy()
    ok = np.isfinite(period) & (period > 0) & (host != "")
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return out
    # sort by (host, period): the closest period (in ratio) is a neighbour in that order
    order = idx[np.lexsort((period[idx], host[idx]))]
    h, p = host[order], period[order]
    same_prev = np.r_[False, h[1:] == h[:-1]]
    same_next = np.r_[h[:-1] == h[1:], False]
    prev_ratio = np.where(same_prev, p / np.r_[np.nan, p[:-1]], np.inf)
    next_ratio = np.where(same_next, np.r_[p[1:], np.nan] / p, np.inf)
    best = np.minimum(prev_ratio, next_ratio)
    out[order] = np.where(np.isfinite(best), best, np.nan)
    return out


def build_features(
    frame: pd.DataFrame,
    *,
    features: Sequence[str] = ALL_FEATURES,
    n_candidates_on_host: np.ndarray | None = None,
) -> pd.DataFrame:
    """Feature matrix of a harmonised candidate frame.

    Parameters
    ----------
    frame : DataFrame, shape (n, ...)
        Harmonised columns (``schema.HARMONISED_COLUMNS``); missing ones count as NaN.
    features : sequence of str
        Which features to return, in order (default every feature).
    n_candidates_on_host : ndarray, shape (n,), optional
        Multiplicity to use instead of counting ``host_id`` within ``frame`` (e.g. counted over
        a whole catalog when scoring a subset).

    Returns
    -------
    DataFrame, shape (n, len(features)), float64
        NaN where an input is missing or a ratio is undefined; the index of ``frame``.
    """
    assert_allowed_features(features)
    period = numeric_column(frame, "period_days")
    duration = numeric_column(frame, "duration_hours")
    depth = numeric_column(frame, "depth_ppm")
    rp = numeric_column(frame, "planet_radius_rearth")
    logg = numeric_column(frame, "star_logg_cgs")
    rstar = numeric_column(frame, "star_radius_rsun")
    density = stellar_density_solar(logg, rstar)
    a_r = a_over_rstar(period, logg, rstar)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t_exp = period * 24.0 / np.pi * np.arcsin(np.clip(1.0 / a_r, 0.0, 1.0))
        k = rp * REARTH_OVER_RSUN / rstar
        k_depth = np.sqrt(np.clip(depth, 0.0, None) / 1e6)
        dur_ratio = duration / t_exp
        depth_ratio = depth / (k**2 * 1e6)
        values: dict[str, np.ndarray] = {
            "period_days": period,
            "duration_hours": duration,
            "depth_ppm": depth,
            "impact": numeric_column(frame, "impact"),
            "planet_radius_rearth": rp,
            "equilibrium_temp_k": numeric_column(frame, "equilibrium_temp_k"),
            "insolation_earth": numeric_column(frame, "insolation_earth"),
            "transit_snr": numeric_column(frame, "transit_snr"),
            "star_teff_k": numeric_column(frame, "star_teff_k"),
            "star_logg_cgs": logg,
            "star_radius_rsun": rstar,
            "star_mag": numeric_column(frame, "star_mag"),
            "n_candidates_on_host": (
                candidates_per_host(frame)
                if n_candidates_on_host is None
                else np.asarray(n_candidates_on_host, dtype=float)
            ),
            "log10_period_days": np.log10(period),
            "log10_depth_ppm": np.log10(np.clip(depth, 1e-1, None)),
            "star_density_solar": density,
            "a_over_rstar": a_r,
            "duration_expected_hours": t_exp,
            "duration_ratio": dur_ratio,
            "radius_ratio": k,
            "depth_ratio": depth_ratio,
            "duration_over_period": duration / (period * 24.0),
            "abs_log_duration_ratio": np.abs(np.log(dur_ratio)),
            "abs_log_depth_ratio": np.abs(np.log(depth_ratio)),
            "impact_estimate": np.sqrt(np.clip((1.0 + k_depth) ** 2 - dur_ratio**2, 0.0, None)),
            "duration_excess": dur_ratio / (1.0 + k_depth),
            "planet_radius_excess_rearth": np.clip(rp - MAX_PLANET_RADIUS_REARTH, 0.0, None),
            "nearest_period_ratio": (
                nearest_period_ratio(frame)
                if "nearest_period_ratio" in features
                else np.full(len(frame), np.nan)
            ),
        }
    out = pd.DataFrame({name: values[name] for name in features}, index=frame.index)
    return out.replace([np.inf, -np.inf], np.nan).astype(float)
