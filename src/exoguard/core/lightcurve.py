"""The immutable light-curve object every part of exoguard works on.

Times are BJD_TDB as full Julian dates (Kepler BKJD and TESS BTJD are converted at
ingestion), fluxes are relative (normalised to ~1 per segment by the readers).
Every operation returns a new object; the arrays are read-only views.

Examples
--------
>>> import numpy as np
>>> from exoguard.core.lightcurve import LightCurve
>>> t = 2454833.0 + np.arange(100) * 0.02
>>> lc = LightCurve.from_arrays(t, np.ones(100), mission="kepler", target_id="KIC 1")
>>> lc.n_points, round(lc.baseline_days, 2)
(100, 1.98)
>>> lc.select(lc.time_bjd < t[10]).n_points
10
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from exoguard.errors import ValidationError

Mission = Literal["kepler", "k2", "tess", "other"]
MISSIONS: tuple[str, ...] = ("kepler", "k2", "tess", "other")

#: Offsets between the mission time scales and BJD_TDB (full Julian date).
BKJD_OFFSET = 2454833.0
BTJD_OFFSET = 2457000.0

UNKNOWN_TARGET = "unknown"

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def _readonly(values: ArrayLike, dtype: type, name: str) -> NDArray[Any]:
    arr: NDArray[Any] = np.array(values, dtype=dtype, copy=True)
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class LightCurve:
    """A cleaned, relative-flux light curve of one target.

    Parameters
    ----------
    time_bjd : ndarray, shape (n,), float64
        Mid-exposure times, BJD_TDB (full Julian date, days), ascending.
    flux : ndarray, shape (n,), float64
        Relative flux (each segment normalised to ~1 on its out-of-transit level).
    flux_err : ndarray, shape (n,), float64
        1-sigma uncertainty of ``flux`` (same relative units).
    segment : ndarray, shape (n,), int64
        Index of the file/quarter/sector each point came from, 0..k-1 in time order;
        ``segment_labels[segment[i]]`` names it (e.g. ``"Q3"``, ``"S1"``).
    mission : {'kepler', 'k2', 'tess', 'other'}
    target_id : str
        E.g. ``"KIC 10797460"``, ``"EPIC 201367065"``, ``"TIC 25155310"``; ``"unknown"``.
    cadence_s : float
        Typical time between exposures in seconds (the most common one when stitched).
    time_system_in : str
        The time system of the input, e.g. ``"BKJD (BJD-2454833)"``.
    flux_column : str
        Which column or attribute the flux came from (e.g. ``"PDCSAP_FLUX"``).
    sources : tuple of str
        File names (no directories) or a description of the Python object read.
    notes : tuple of str
        Choices made while reading/cleaning (aliases chosen, points dropped, ...).
    segment_labels : tuple of str
        One label per segment.
    star : tuple of (str, float) pairs
        Host-star parameters from the file's header where given (keys ``radius_rsun``,
        ``teff_k``, ``logg_cgs``, ``mag``); empty when unknown. See :attr:`star_params`.
    """

    time_bjd: FloatArray
    flux: FloatArray
    flux_err: FloatArray
    segment: IntArray
    mission: str = "other"
    target_id: str = UNKNOWN_TARGET
    cadence_s: float = float("nan")
    time_system_in: str = "BJD_TDB"
    flux_column: str = "flux"
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    segment_labels: tuple[str, ...] = field(default=())
    star: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise the fields once, here
        set_(self, "time_bjd", _readonly(self.time_bjd, np.float64, "time_bjd"))
        set_(self, "flux", _readonly(self.flux, np.float64, "flux"))
        set_(self, "flux_err", _readonly(self.flux_err, np.float64, "flux_err"))
        set_(self, "segment", _readonly(self.segment, np.int64, "segment"))
        n = self.time_bjd.size
        for name in ("flux", "flux_err", "segment"):
            if getattr(self, name).size != n:
                raise ValidationError(
                    f"{name} has {getattr(self, name).size} values but time_bjd has {n}"
                )
        if self.mission not in MISSIONS:
            raise ValidationError(f"mission {self.mission!r} is not one of {MISSIONS}")
        set_(self, "sources", tuple(self.sources))
        set_(self, "notes", tuple(self.notes))
        labels = tuple(self.segment_labels)
        n_seg = int(self.segment.max()) + 1 if n else 0
        if n and self.segment.min() < 0:
            raise ValidationError("segment ids must be >= 0")
        if len(labels) < n_seg:
            labels = labels + tuple(str(i) for i in range(len(labels), n_seg))
        set_(self, "segment_labels", labels)
        set_(self, "cadence_s", float(self.cadence_s))

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(
        cls,
        time_bjd: ArrayLike,
        flux: ArrayLike,
        flux_err: ArrayLike | None = None,
        segment: ArrayLike | None = None,
        *,
        mission: str = "other",
        target_id: str = UNKNOWN_TARGET,
        cadence_s: float | None = None,
        time_system_in: str = "BJD_TDB",
        flux_column: str = "flux",
        sources: Sequence[str] = (),
        notes: Sequence[str] = (),
        segment_labels: Sequence[str] = (),
    ) -> LightCurve:
        """Build a light curve from arrays (times already BJD_TDB).

        ``flux_err`` defaults to the robust point-to-point scatter of ``flux``,
        ``segment`` to all zeros and ``cadence_s`` to the median time step.
        """
        t = np.asarray(time_bjd, dtype=np.float64)
        f = np.asarray(flux, dtype=np.float64)
        note_list = list(notes)
        if flux_err is None:
            err = np.full(f.shape, point_to_point_scatter(f))
            note_list.append("flux_err not given: set to the point-to-point scatter")
        else:
            err = np.asarray(flux_err, dtype=np.float64)
        seg = np.zeros(t.shape, dtype=np.int64) if segment is None else np.asarray(segment)
        if cadence_s is None:
            cadence_s = median_cadence_s(t)
        return cls(
            time_bjd=t,
            flux=f,
            flux_err=err,
            segment=seg,
            mission=mission,
            target_id=target_id,
            cadence_s=cadence_s,
            time_system_in=time_system_in,
            flux_column=flux_column,
            sources=tuple(sources),
            notes=tuple(note_list),
            segment_labels=tuple(segment_labels),
        )

    # ------------------------------------------------------------------ properties
    @property
    def n_points(self) -> int:
        """Number of points."""
        return int(self.time_bjd.size)

    @property
    def baseline_days(self) -> float:
        """Time from the first to the last point, days (0 for fewer than two points)."""
        if self.time_bjd.size < 2:
            return 0.0
        return float(self.time_bjd[-1] - self.time_bjd[0])

    @property
    def n_segments(self) -> int:
        """Number of segments (files, quarters, sectors)."""
        return len(self.segment_labels)

    @property
    def time_btjd(self) -> FloatArray:
        """Times as BTJD (BJD - 2457000), days."""
        return self.time_bjd - BTJD_OFFSET

    @property
    def time_bkjd(self) -> FloatArray:
        """Times as BKJD (BJD - 2454833), days."""
        return self.time_bjd - BKJD_OFFSET

    def __len__(self) -> int:
        return self.n_points

    def __repr__(self) -> str:
        return (
            f"LightCurve(target_id={self.target_id!r}, mission={self.mission!r}, "
            f"n_points={self.n_points}, segments={self.n_segments}, "
            f"baseline_days={self.baseline_days:.2f}, cadence_s={self.cadence_s:.1f}, "
            f"flux_column={self.flux_column!r})"
        )

    # ------------------------------------------------------------------ new objects
    def replace(self, **changes: Any) -> LightCurve:
        """A copy with some fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def with_note(self, *notes: str) -> LightCurve:
        """A copy with ``notes`` appended."""
        return dataclasses.replace(self, notes=self.notes + tuple(notes))

    def select(self, keep: ArrayLike, *, note: str | None = None) -> LightCurve:
        """Keep the points where the boolean ``keep`` is True (or the given indices).

        Segment ids and labels are kept as they are, even if a segment ends up empty.
        """
        idx = np.asarray(keep)
        if idx.dtype == np.bool_ and idx.shape != self.time_bjd.shape:
            raise ValidationError(
                f"boolean selection has shape {idx.shape}, expected {self.time_bjd.shape}"
            )
        new = dataclasses.replace(
            self,
            time_bjd=self.time_bjd[idx],
            flux=self.flux[idx],
            flux_err=self.flux_err[idx],
            segment=self.segment[idx],
        )
        return new.with_note(note) if note else new

    def with_mask(self, mask: ArrayLike, *, note: str | None = None) -> LightCurve:
        """Drop the points where the boolean ``mask`` is True (numpy.ma convention)."""
        m = np.asarray(mask, dtype=bool)
        return self.select(~m, note=note)

    def with_flux(
        self,
        flux: ArrayLike,
        flux_err: ArrayLike | None = None,
        *,
        note: str | None = None,
    ) -> LightCurve:
        """A copy with new flux values (same times); ``flux_err`` kept unless given."""
        new = dataclasses.replace(
            self,
            flux=np.asarray(flux, dtype=np.float64),
            flux_err=self.flux_err if flux_err is None else np.asarray(flux_err, np.float64),
        )
        return new.with_note(note) if note else new

    def iter_segments(self) -> Iterator[tuple[int, NDArray[np.intp]]]:
        """Yield ``(segment_id, indices)`` for every non-empty segment, in time order."""
        if self.n_points == 0:
            return
        for seg in np.unique(self.segment):
            yield int(seg), np.flatnonzero(self.segment == seg)

    def phase_days(self, *, period_days: float, t0_bjd: float) -> FloatArray:
        """Time from the nearest transit centre, in days, in ``[-P/2, P/2)``."""
        return fold_phase_days(self.time_bjd, period_days=period_days, t0_bjd=t0_bjd)

    @property
    def star_params(self) -> dict[str, float]:
        """Host-star parameters known from the input (radius_rsun, teff_k, logg_cgs, mag)."""
        return dict(self.star)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python representation (lists and strings), e.g. for JSON."""
        return {
            "time_bjd": self.time_bjd.tolist(),
            "flux": self.flux.tolist(),
            "flux_err": self.flux_err.tolist(),
            "segment": self.segment.tolist(),
            "mission": self.mission,
            "target_id": self.target_id,
            "cadence_s": self.cadence_s,
            "time_system_in": self.time_system_in,
            "flux_column": self.flux_column,
            "sources": list(self.sources),
            "notes": list(self.notes),
            "segment_labels": list(self.segment_labels),
            "star": self.star_params,
        }


# ---------------------------------------------------------------------- helpers
def fold_phase_days(time_bjd: ArrayLike, *, period_days: float, t0_bjd: float) -> FloatArray:
    """Time from the nearest transit centre ``t0 + k P``, days, in ``[-P/2, P/2)``.

    Parameters
    ----------
    time_bjd : array, shape (n,)
        Times, BJD_TDB.
    period_days, t0_bjd : float
        Ephemeris.

    Returns
    -------
    ndarray, shape (n,)
    """
    if not (np.isfinite(period_days) and period_days > 0):
        raise ValueError(f"period_days must be a positive finite number, got {period_days}")
    t = np.asarray(time_bjd, dtype=np.float64)
    half = 0.5 * period_days
    return np.asarray(np.mod(t - t0_bjd + half, period_days) - half, dtype=np.float64)


def median_cadence_s(time: ArrayLike) -> float:
    """Median positive time step in seconds (NaN with fewer than two distinct times)."""
    t = np.asarray(time, dtype=np.float64)
    t = t[np.isfinite(t)]
    if t.size < 2:
        return float("nan")
    dt = np.diff(np.sort(t))
    dt = dt[dt > 0]
    if dt.size == 0:
        return float("nan")
    return float(np.median(dt) * 86400.0)


def point_to_point_scatter(flux: ArrayLike) -> float:
    """Robust per-point noise: 1.4826 MAD of successive differences / sqrt(2)."""
    f = np.asarray(flux, dtype=np.float64)
    f = f[np.isfinite(f)]
    if f.size < 3:
        return float("nan")
    d = np.diff(f)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))
