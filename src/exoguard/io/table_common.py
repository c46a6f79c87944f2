"""Turning a parsed table (CSV or JSON: named columns + metadata) into a raw LightCurve."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from exoguard.core.cleaning import quality_good, resolve_quality_bitmask
from exoguard.core.lightcurve import MISSIONS, UNKNOWN_TARGET, LightCurve, median_cadence_s
from exoguard.errors import FormatError, ScienceWarning
from exoguard.io.columns import canonical, choose_by_alias, decide_time_system
from exoguard.io.registry import ReadOptions

_ID_RE = re.compile(r"^\s*(KIC|EPIC|TIC)\s*[-_]?\s*0*(\d+)\s*$", re.IGNORECASE)
_MISSION_BY_PREFIX = {"KIC": "kepler", "EPIC": "k2", "TIC": "tess"}
META_TARGET_KEYS = ("target_id", "target", "object", "targetid", "star", "kic", "tic", "epic")


def normalise_mission(value: str | None) -> str | None:
    if value is None:
        return None
    v = str(value).strip().lower().replace(" ", "")
    if v in ("kepler", "k2", "tess"):
        return v
    return "other" if v else None


def normalise_target(value: Any, *, key: str = "") -> str:
    text = str(value).strip()
    m = _ID_RE.match(text)
    if m:
        return f"{m.group(1).upper()} {int(m.group(2))}"
    if text.isdigit() and key.lower() in ("kic", "tic", "epic"):
        return f"{key.upper()} {int(text)}"
    return text or UNKNOWN_TARGET


def target_from_meta(meta: Mapping[str, Any]) -> str | None:
    lowered = {canonical(k)[0]: v for k, v in meta.items()}
    for key in META_TARGET_KEYS:
        if key in lowered and str(lowered[key]).strip():
            return normalise_target(lowered[key], key=key)
    return None


def quality_values(values: Sequence[Any] | NDArray[Any]) -> tuple[NDArray[np.float64], str]:
    """Quality flags as numbers. lightkurve's ``to_csv`` writes them as binary digit
    strings (bit 4 → ``10000``): a column whose values are all made of the digits 0
    and 1, with some above 1, is read as binary (decimal flags that happen to use
    only 0 and 1 on every row are implausible)."""
    text = pd.Series(list(values), dtype=object).astype(str).str.strip()
    text = text.str.replace(r"\.0$", "", regex=True)
    filled = text[(text != "") & (text.str.lower() != "nan")]
    if len(filled) and filled.str.fullmatch(r"[01]+").all() and (filled.str.len() > 1).any():
        parsed = [int(v, 2) if v not in ("", "nan") else 0 for v in text]
        return np.asarray(parsed, dtype=np.float64), "quality column read as binary digits"
    coerced = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce")
    return np.asarray(coerced, dtype=np.float64), ""


def _as_float(values: Sequence[Any] | NDArray[Any]) -> NDArray[np.float64]:
    """A column as float64; values that do not parse as numbers become NaN."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        coerced = pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce")
        return np.asarray(coerced, dtype=np.float64)


def _mission_and_target(
    opts: ReadOptions, meta: Mapping[str, Any], meta_l: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    """Mission and target from the options, else the metadata, else the target's prefix."""
    mission = opts.mission or normalise_mission(meta_l.get("mission") or meta_l.get("telescope"))
    target = opts.target_id or target_from_meta(meta)
    if mission is None and target:
        prefix = target.split()[0].upper()
        mission = _MISSION_BY_PREFIX.get(prefix)
    return mission, target


def _quality_good(
    columns: Mapping[str, Sequence[Any] | NDArray[Any]],
    quality_col: str | None,
    *,
    mission: str,
    opts: ReadOptions,
    notes: list[str],
) -> NDArray[np.bool_] | None:
    """Rows whose quality flags pass the mission's bitmask (None: no usable quality column)."""
    if quality_col is None:
        return None
    if mission not in ("kepler", "k2", "tess"):
        notes.append(f"quality column {quality_col!r} ignored: mission unknown")
        return None
    q, how = quality_values(columns[quality_col])
    if how:
        notes.append(how)
    bitmask = resolve_quality_bitmask(opts.quality_bitmask, mission=mission)
    good = quality_good(np.where(np.isfinite(q), q, 0), bitmask)
    notes.append(
        f"quality: dropped {int((~good).sum())} of {len(columns[quality_col])} rows with "
        f"{quality_col} & {bitmask} != 0"
    )
    return good


def table_to_lightcurve(
    columns: Mapping[str, Sequence[Any] | NDArray[Any]],
    opts: ReadOptions,
    *,
    meta: Mapping[str, Any],
    product: str,
) -> LightCurve:
    """Choose time/flux/error/quality columns by alias, decide the time system, build.

    Raises
    ------
    FormatError
        No time or no flux column (the message lists the columns found and allowed).
    """
    chosen = choose_by_alias(
        list(columns), source_name=opts.source_name, flux_column=opts.flux_column
    )
    time_col, flux_col, err_col, quality_col = (
        chosen.time, chosen.flux, chosen.flux_err, chosen.quality
    )  # fmt: skip
    notes = [
        f"format: {product}",
        f"columns chosen: time={time_col!r}, flux={flux_col!r}, flux_err={err_col!r}"
        + (f", quality={quality_col!r}" if quality_col else ""),
    ]

    time_raw = _as_float(columns[time_col])
    flux = _as_float(columns[flux_col])
    if not np.isfinite(time_raw).any():
        raise FormatError(
            f"{opts.source_name}: time column {time_col!r} has no numeric value; "
            "times must be numbers of days"
        )
    flux_err = _as_float(columns[err_col]) if err_col else np.full(flux.shape, np.nan)

    meta_l = {canonical(k)[0]: v for k, v in meta.items()}
    mission, target = _mission_and_target(opts, meta, meta_l)
    given = opts.time_system or (
        str(meta_l["time_system"]) if meta_l.get("time_system") not in (None, "") else None
    )
    decision = decide_time_system(
        column=time_col,
        values=time_raw,
        given=given,
        mission=mission if mission != "other" else None,
    )
    if mission is None:
        mission = decision.mission_hint or "other"
    if mission not in MISSIONS:
        mission = "other"
    notes.append(f"time: {decision.label} from {decision.reason}")
    if decision.unknown:
        warnings.warn(
            f"{opts.source_name}: time system unknown; times kept as given "
            "(periods are right, epochs are not BJD)",
            ScienceWarning,
            stacklevel=3,
        )
    keep = np.ones(flux.size, dtype=bool)
    good = _quality_good(columns, quality_col, mission=mission, opts=opts, notes=notes)
    if good is not None:
        keep &= good
    label = str(meta_l.get("segment") or meta_l.get("sector") or meta_l.get("quarter") or "")
    return LightCurve.from_arrays(
        time_raw[keep] + decision.offset,
        flux[keep],
        flux_err[keep],
        mission=mission,
        target_id=target or UNKNOWN_TARGET,
        cadence_s=median_cadence_s(time_raw),
        time_system_in=decision.label,
        flux_column=str(flux_col),
        sources=(opts.source_name,),
        notes=notes,
        segment_labels=(label or opts.source_name,),
    )
