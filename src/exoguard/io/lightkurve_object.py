"""A ``lightkurve.LightCurve`` passed in from Python (lightkurve is not imported here).

Times come from ``lc.time`` (astropy ``Time``; its Julian date in the TDB scale is the
BJD_TDB), flux from ``lc.flux``/``lc.flux_err`` (masked values become NaN), quality from a
``quality`` column when present, mission/target/segment from ``lc.meta``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from exoguard.core.cleaning import quality_good, resolve_quality_bitmask
from exoguard.core.lightcurve import UNKNOWN_TARGET, LightCurve, median_cadence_s
from exoguard.errors import FormatError
from exoguard.io.registry import ReadOptions
from exoguard.io.table_common import normalise_mission, normalise_target

_PREFIX = {"kepler": "KIC", "k2": "EPIC", "tess": "TIC"}


def _values(q: Any) -> NDArray[np.float64]:
    v = getattr(q, "value", q)
    if hasattr(v, "unmasked") and hasattr(v, "mask"):  # astropy Masked arrays
        v = np.where(np.asarray(v.mask), np.nan, np.asarray(v.unmasked, dtype=np.float64))
    elif np.ma.isMaskedArray(v):
        v = np.ma.filled(v.astype(np.float64), np.nan)
    return np.asarray(v, dtype=np.float64)


def read_lightkurve_object(obj: Any, opts: ReadOptions) -> LightCurve:
    """Convert a lightkurve LightCurve into a raw exoguard LightCurve."""
    try:
        time = obj.time
        flux = _values(obj.flux)
    except AttributeError as exc:
        raise FormatError(f"{type(obj).__name__} has no time/flux ({exc})") from exc
    meta = {str(k).upper(): v for k, v in dict(getattr(obj, "meta", {}) or {}).items()}
    scale = str(getattr(time, "scale", "tdb"))
    fmt = str(getattr(time, "format", "jd"))
    try:
        t_bjd = np.asarray(time.tdb.jd if scale != "tdb" else time.jd, dtype=np.float64)
    except Exception as exc:  # astropy raises several types for impossible conversions
        raise FormatError(
            f"cannot convert lightkurve times ({fmt}, {scale}) to BJD: {exc}"
        ) from exc
    flux_err = _values(obj.flux_err) if getattr(obj, "flux_err", None) is not None else None
    if flux_err is None or flux_err.shape != flux.shape:
        flux_err = np.full(flux.shape, np.nan)
    mission = (
        opts.mission or normalise_mission(meta.get("MISSION") or meta.get("TELESCOP")) or "other"
    )
    if mission == "kepler" and meta.get("CAMPAIGN") is not None:
        mission = "k2"
    notes = [
        "format: lightkurve LightCurve object",
        f"time: lightkurve {fmt} ({scale}) converted with astropy Time",
    ]
    keep = np.ones(flux.size, dtype=bool)
    colnames = list(getattr(obj, "colnames", []))
    if "quality" in colnames:
        q = _values(obj["quality"])
        bitmask = resolve_quality_bitmask(opts.quality_bitmask, mission=mission)
        good = quality_good(np.where(np.isfinite(q), q, 0), bitmask)
        keep &= good
        notes.append(f"quality: dropped {int((~good).sum())} of {flux.size} rows")
    if opts.target_id:
        target = opts.target_id
    else:
        raw_id = meta.get("TARGETID") or meta.get("KEPLERID") or meta.get("TICID")
        prefix = _PREFIX.get(mission)
        if raw_id is not None and str(raw_id).strip().isdigit() and prefix:
            target = f"{prefix} {int(str(raw_id).strip())}"
        else:
            label = meta.get("LABEL") or meta.get("OBJECT")
            target = normalise_target(label) if label else UNKNOWN_TARGET
    seg = ""
    for key, letter in (("QUARTER", "Q"), ("CAMPAIGN", "C"), ("SECTOR", "S")):
        if meta.get(key) is not None:
            seg = f"{letter}{meta[key]}"
            break
    flux_origin = str(meta.get("FLUX_ORIGIN") or "flux").upper()
    return LightCurve(
        time_bjd=t_bjd[keep],
        flux=flux[keep],
        flux_err=flux_err[keep],
        segment=np.zeros(int(keep.sum()), dtype=np.int64),
        mission=mission,
        target_id=target,
        cadence_s=median_cadence_s(t_bjd),
        time_system_in=f"lightkurve {fmt} ({scale})",
        flux_column=flux_origin,
        sources=(opts.source_name,),
        notes=tuple(notes),
        segment_labels=(seg or opts.source_name,),
    )
