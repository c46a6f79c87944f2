"""Cleaning, per-segment normalisation and stitching of light curves.

Rules (each step adds a line to ``LightCurve.notes`` when it changes something):

* quality flags: a cadence is dropped when ``quality & bitmask != 0``; the named
  bitmasks are lightkurve's (``KEPLER_BITMASKS``, ``TESS_BITMASKS``);
* non-finite time or flux: dropped (TESS ``TIME`` is NaN for ~1000 cadences a sector);
* unsorted times are sorted; duplicated times keep their first point;
* each segment (file, quarter, sector) is divided by its own out-of-transit level:
  the median after an iterated 3-sigma clip that removes the low points (transits)
  and the high ones, so transit depths are not diluted by a neighbour's level;
* outliers are clipped **upwards only** (flares, cosmic rays), against a running
  median: downward excursions are where the transits are and are never clipped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.ndimage import median_filter

from exoguard.core.lightcurve import (
    UNKNOWN_TARGET,
    BoolArray,
    FloatArray,
    LightCurve,
    point_to_point_scatter,
)
from exoguard.errors import ValidationError

logger = logging.getLogger(__name__)

#: lightkurve's ``KeplerQualityFlags`` bitmasks (also used for K2).
KEPLER_BITMASKS: dict[str, int] = {
    "none": 0,
    "default": 1130799,
    "hard": 1664431,
    "hardest": 2096639,
}
#: lightkurve's ``TessQualityFlags`` bitmasks.
TESS_BITMASKS: dict[str, int] = {"none": 0, "default": 17087, "hard": 24319, "hardest": 65535}

MIN_POINTS = 50
DEFAULT_UPPER_SIGMA = 5.0
DEFAULT_OUTLIER_WINDOW_DAYS = 0.5
MAD_TO_SIGMA = 1.4826


# ---------------------------------------------------------------------- quality
def resolve_quality_bitmask(spec: str | int, *, mission: str) -> int:
    """The integer bitmask for a named mask (``none|default|hard|hardest``) or an int.

    Parameters
    ----------
    spec : str or int
        A name of ``KEPLER_BITMASKS``/``TESS_BITMASKS`` or a non-negative integer.
    mission : str
        ``'tess'`` selects the TESS flag definitions, anything else Kepler/K2's.
    """
    table = TESS_BITMASKS if mission == "tess" else KEPLER_BITMASKS
    if isinstance(spec, bool):
        raise ValueError(f"quality_bitmask must be one of {sorted(table)} or an integer >= 0")
    if isinstance(spec, int | np.integer):
        if spec < 0:
            raise ValueError(f"quality_bitmask must be >= 0, got {spec}")
        return int(spec)
    key = str(spec).strip().lower()
    if key not in table:
        raise ValueError(
            f"quality_bitmask {spec!r} is not allowed; use one of {sorted(table)} or an integer"
        )
    return table[key]


def quality_good(quality: ArrayLike, bitmask: int) -> BoolArray:
    """True where no bit of ``bitmask`` is set in ``quality`` (non-integers are read as 0)."""
    q = np.asarray(quality)
    if q.dtype.kind == "f":
        q = np.where(np.isfinite(q), q, 0).astype(np.int64)
    return np.asarray((q.astype(np.int64) & int(bitmask)) == 0, dtype=bool)


# ---------------------------------------------------------------------- per-point cleaning
def drop_nonfinite(lc: LightCurve) -> LightCurve:
    """Drop points whose time or flux is not finite; repair non-finite ``flux_err``.

    A non-finite or non-positive ``flux_err`` of a kept point is replaced by the
    median error of its segment (or the point-to-point scatter if none is usable).
    """
    good = np.isfinite(lc.time_bjd) & np.isfinite(lc.flux)
    n_bad_time = int(np.count_nonzero(~np.isfinite(lc.time_bjd)))
    n_bad_flux = int(np.count_nonzero(np.isfinite(lc.time_bjd) & ~np.isfinite(lc.flux)))
    out = lc
    if not good.all():
        out = lc.select(
            good,
            note=f"dropped {n_bad_time} points with non-finite time and "
            f"{n_bad_flux} with non-finite flux",
        )
    err = out.flux_err
    bad_err = ~np.isfinite(err) | (err <= 0)
    if bad_err.any():
        fixed = err.copy()
        for _, idx in out.iter_segments():
            seg_bad = bad_err[idx]
            if not seg_bad.any():
                continue
            usable = err[idx][~seg_bad]
            fill = (
                float(np.median(usable)) if usable.size else point_to_point_scatter(out.flux[idx])
            )
            fixed[idx[seg_bad]] = fill
        n = int(np.count_nonzero(bad_err))
        if n == err.size:
            msg = "flux_err missing: set to each segment's point-to-point scatter"
        else:
            msg = f"replaced {n} non-finite flux_err values by the segment median error"
        out = out.with_flux(out.flux, fixed, note=msg)
    return out


def sort_and_deduplicate(lc: LightCurve) -> LightCurve:
    """Sort by time (stable) and drop repeated times, keeping the first point."""
    t = lc.time_bjd
    out = lc
    if t.size > 1 and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        n_moved = int(np.count_nonzero(order != np.arange(t.size)))
        out = out.select(order, note=f"sorted {n_moved} points that were out of time order")
    t = out.time_bjd
    if t.size > 1:
        dup = np.concatenate(([False], np.diff(t) <= 0.0))
        if dup.any():
            out = out.select(~dup, note=f"dropped {int(dup.sum())} points with duplicated times")
    return out


def oot_level(flux: ArrayLike, *, sigma: float = 3.0, max_iter: int = 10) -> float:
    """Robust out-of-transit flux level of one segment.

    The median of the points left after iterated ``sigma`` clipping (MAD scale) on
    both sides, so the low points of transits and eclipses do not pull the level down.

    Parameters
    ----------
    flux : array, shape (n,)
        Fluxes of one segment (non-finite values ignored).

    Returns
    -------
    float
        The level (NaN when there is no finite value).
    """
    f = np.asarray(flux, dtype=np.float64)
    f = f[np.isfinite(f)]
    if f.size == 0:
        return float("nan")
    keep = np.ones(f.size, dtype=bool)
    level = float(np.median(f))
    for _ in range(max_iter):
        scale = MAD_TO_SIGMA * float(np.median(np.abs(f[keep] - level)))
        if scale == 0.0:
            break
        new_keep = (f > level - sigma * scale) & (f < level + sigma * scale)
        if new_keep.sum() < max(3, f.size // 10):
            break
        level = float(np.median(f[new_keep]))
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return level


def normalise_segments(lc: LightCurve, *, sigma: float = 3.0) -> LightCurve:
    """Divide each segment's flux and error by its own out-of-transit level.

    Raises
    ------
    ValidationError
        If a segment's level is not positive (e.g. a flux difference or ppm column).
    """
    flux = lc.flux.copy()
    err = lc.flux_err.copy()
    for seg, idx in lc.iter_segments():
        level = oot_level(flux[idx], sigma=sigma)
        if not (np.isfinite(level) and level > 0):
            raise ValidationError(
                f"segment {lc.segment_labels[seg]!r} of {lc.target_id}: the flux level is "
                f"{level:.6g}, not positive; give a flux column (not a difference or ppm column)"
            )
        flux[idx] /= level
        err[idx] /= level
    return lc.with_flux(flux, err, note="each segment divided by its out-of-transit median")


def clip_upward_outliers(
    lc: LightCurve,
    *,
    upper_sigma: float = DEFAULT_UPPER_SIGMA,
    window_days: float = DEFAULT_OUTLIER_WINDOW_DAYS,
) -> LightCurve:
    """Drop points more than ``upper_sigma`` above a running median (never below).

    The running median spans ``window_days`` (7 to 301 cadences) within each segment;
    the noise is 1.4826 MAD of the residuals of that segment.
    """
    if upper_sigma <= 0:
        raise ValueError(f"upper_sigma must be positive, got {upper_sigma}")
    drop = np.zeros(lc.n_points, dtype=bool)
    for _, idx in lc.iter_segments():
        f = lc.flux[idx]
        if f.size < 7:
            continue
        cadence_days = float(np.median(np.diff(lc.time_bjd[idx]))) if f.size > 1 else 1.0
        size = int(np.clip(round(window_days / max(cadence_days, 1e-6)), 7, 301)) | 1
        size = min(size, f.size - (1 - f.size % 2))
        trend = median_filter(f, size=size, mode="nearest")
        resid = f - trend
        scale = MAD_TO_SIGMA * float(np.median(np.abs(resid - np.median(resid))))
        if scale <= 0:
            continue
        drop[idx] = resid > upper_sigma * scale
    if not drop.any():
        return lc
    return lc.with_mask(
        drop, note=f"clipped {int(drop.sum())} upward outliers (> {upper_sigma:g} sigma)"
    )


def require_points(lc: LightCurve, *, min_points: int = MIN_POINTS) -> LightCurve:
    """Raise ``ValidationError`` when fewer than ``min_points`` points are left."""
    if lc.n_points < min_points:
        raise ValidationError(
            f"{lc.target_id}: only {lc.n_points} usable points after cleaning "
            f"(at least {min_points} are needed)"
        )
    return lc


def clean(
    lc: LightCurve,
    *,
    upper_sigma: float = DEFAULT_UPPER_SIGMA,
    min_points: int = MIN_POINTS,
    normalise: bool = True,
) -> LightCurve:
    """Full cleaning: non-finite, sort/deduplicate, normalise segments, clip upwards.

    Quality flags are applied by the readers (they know the flag column); this
    does everything else. Raises ``ValidationError`` if nothing finite is left or
    fewer than ``min_points`` remain.
    """
    if lc.n_points == 0 or not np.isfinite(lc.flux).any():
        raise ValidationError(
            f"{lc.target_id}: the flux column {lc.flux_column!r} has no finite value "
            f"({lc.n_points} rows in {', '.join(lc.sources) or 'the input'})"
        )
    out = sort_and_deduplicate(drop_nonfinite(lc))
    if out.n_points == 0:
        raise ValidationError(f"{lc.target_id}: no point has both a finite time and flux")
    if normalise:
        out = normalise_segments(out)
    out = clip_upward_outliers(out, upper_sigma=upper_sigma)
    return require_points(out, min_points=min_points)


# ---------------------------------------------------------------------- stitching
def _canonical_target(target_id: str) -> str:
    parts = target_id.strip().upper().split()
    if len(parts) == 2 and parts[1].isdigit():
        return f"{parts[0]} {int(parts[1])}"
    return " ".join(parts)


def _check_one_target(lcs: Sequence[LightCurve]) -> set[str]:
    """The missions named (at most one), or ``ValidationError`` for mixed targets/missions."""
    known = {_canonical_target(lc.target_id) for lc in lcs if lc.target_id != UNKNOWN_TARGET}
    if len(known) > 1:
        listing = ", ".join(f"{lc.target_id} ({', '.join(lc.sources)})" for lc in lcs)
        raise ValidationError(
            f"cannot stitch light curves of different targets: {listing}; "
            "give the files of one target at a time"
        )
    missions = {lc.mission for lc in lcs if lc.mission != "other"}
    if len(missions) > 1:
        raise ValidationError(
            f"cannot stitch light curves of different missions {sorted(missions)}"
        )
    return missions


def _common_cadence_s(lcs: Sequence[LightCurve], notes: list[str]) -> float:
    """The most common cadence, weighted by points; a note is appended when they differ."""
    weights: Counter[float] = Counter()
    for lc in lcs:
        weights[round(lc.cadence_s, 1)] += max(lc.n_points, 1)
    cadence_s = float(weights.most_common(1)[0][0])
    if len({round(lc.cadence_s) for lc in lcs}) > 1:
        notes.append(
            "mixed cadences "
            + ", ".join(sorted({f"{lc.cadence_s:.0f} s" for lc in lcs}))
            + f"; cadence_s is the most common one ({cadence_s:.0f} s)"
        )
    return cadence_s


def stitch(lcs: Sequence[LightCurve]) -> LightCurve:
    """Join light curves of one target into one, segments renumbered in time order.

    Each input keeps its own segment structure (its segments get new ids after
    the ones before it). Points are sorted and duplicated times dropped.

    Raises
    ------
    ValidationError
        If the inputs name different targets or missions (``"unknown"`` targets join
        any target, with a note).
    """
    if not lcs:
        raise ValidationError("nothing to stitch: no light curve given")
    if len(lcs) == 1:
        return lcs[0]
    missions = _check_one_target(lcs)
    order = sorted(
        range(len(lcs)),
        key=lambda i: float(np.min(lcs[i].time_bjd)) if lcs[i].n_points else np.inf,
    )
    times: list[FloatArray] = []
    fluxes: list[FloatArray] = []
    errs: list[FloatArray] = []
    segs: list[NDArray[np.int64]] = []
    labels: list[str] = []
    sources: list[str] = []
    notes: list[str] = []
    offset = 0
    for i in order:
        lc = lcs[i]
        times.append(lc.time_bjd)
        fluxes.append(lc.flux)
        errs.append(lc.flux_err)
        segs.append(lc.segment + offset)
        labels.extend(lc.segment_labels)
        offset += lc.n_segments
        sources.extend(lc.sources)
        notes.extend(f"{lc.sources[0] if lc.sources else 'input'}: {n}" for n in lc.notes)
    cadence_s = _common_cadence_s(lcs, notes)
    target = next((lc.target_id for lc in lcs if lc.target_id != UNKNOWN_TARGET), UNKNOWN_TARGET)
    if target != UNKNOWN_TARGET and any(lc.target_id == UNKNOWN_TARGET for lc in lcs):
        notes.append(f"inputs without a target id were taken to be {target}")
    systems = sorted({lc.time_system_in for lc in lcs})
    columns = sorted({lc.flux_column for lc in lcs})
    ref = lcs[order[0]]
    joined = LightCurve(
        time_bjd=np.concatenate(times),
        flux=np.concatenate(fluxes),
        flux_err=np.concatenate(errs),
        segment=np.concatenate(segs),
        mission=missions.pop() if missions else ref.mission,
        target_id=target,
        cadence_s=cadence_s,
        time_system_in=" + ".join(systems),
        flux_column=" + ".join(columns),
        sources=tuple(sources),
        notes=tuple(notes) + (f"stitched {len(lcs)} files ({offset} segments)",),
        segment_labels=tuple(labels),
        star=next((lc.star for lc in lcs if lc.star), ()),
    )
    return sort_and_deduplicate(joined)


def robust_std(values: ArrayLike) -> float:
    """1.4826 MAD of the finite values (NaN if none)."""
    v: NDArray[np.float64] = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan")
    return float(MAD_TO_SIGMA * np.median(np.abs(v - np.median(v))))


__all__ = [
    "DEFAULT_UPPER_SIGMA",
    "KEPLER_BITMASKS",
    "MIN_POINTS",
    "TESS_BITMASKS",
    "FloatArray",
    "clean",
    "clip_upward_outliers",
    "drop_nonfinite",
    "normalise_segments",
    "oot_level",
    "quality_good",
    "require_points",
    "resolve_quality_bitmask",
    "robust_std",
    "sort_and_deduplicate",
    "stitch",
]
