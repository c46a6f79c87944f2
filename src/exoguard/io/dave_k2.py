"""DAVE ``K2photo`` detrended text light curves (Campaign files ``ktwo<EPIC>-c<NN>_detrended.dat``).

Whitespace-delimited text with one header line ``Dates Flux Corrflux Xpos Ypos``:
``Dates`` in K2 BKJD (BJD - 2454833), ``Flux`` the raw aperture photometry,
``Corrflux`` the same after DAVE's roll-systematics correction (normalised near 1),
``Xpos``/``Ypos`` the centroid in pixels. The flux read is ``Corrflux`` (``Flux`` on
request); the file has no error or quality column (the point-to-point scatter is used).
``LightCurve`` holds one flux and no centroids, so the raw flux and the centroids are
not kept (a note says so).

The format is identified by its header (first token ``Dates`` or a ``Corrflux`` column),
never by the file name; the target ``EPIC <number>`` and the campaign come from the file
name when it follows the DAVE pattern.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from exoguard.core.lightcurve import BKJD_OFFSET, UNKNOWN_TARGET, LightCurve, median_cadence_s
from exoguard.errors import FormatError
from exoguard.io.registry import ReadOptions, TextReader, read_text, register_text_reader

#: The header of a DAVE K2photo file, in order.
COLUMNS: tuple[str, ...] = ("Dates", "Flux", "Corrflux", "Xpos", "Ypos")
FLUX_COLUMNS: tuple[str, ...] = ("Corrflux", "Flux")
_NAME_RE = re.compile(r"ktwo0*(\d+)(?:-c0*(\d+))?", re.IGNORECASE)
_EXPECTED = " ".join(COLUMNS)


def identify(header: str) -> bool:
    """True for a header whose first token is ``Dates`` or that names ``Corrflux``."""
    tokens = [t.lower() for t in header.split()]
    return bool(tokens) and (tokens[0] == "dates" or "corrflux" in tokens)


def target_from_name(name: str) -> tuple[str, str]:
    """``("EPIC <number>", "C<campaign>")`` from a DAVE file name (unknown / "" otherwise)."""
    m = _NAME_RE.search(name)
    if m is None:
        return UNKNOWN_TARGET, ""
    campaign = f"C{int(m.group(2))}" if m.group(2) else ""
    return f"EPIC {int(m.group(1))}", campaign


def _parse(text: str, name: str) -> np.ndarray:
    """The numeric table, shape (n_rows, 5); a precise FormatError otherwise."""
    lines = text.splitlines()
    header_at = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if header_at is None:
        raise FormatError(f"{name}: the file is empty; a DAVE K2 file has the header {_EXPECTED}")
    found = lines[header_at].split()
    if tuple(t.lower() for t in found) != tuple(c.lower() for c in COLUMNS):
        raise FormatError(
            f"{name}: header {' '.join(found)!r} is not a DAVE K2 header; expected the "
            f"columns {_EXPECTED} (whitespace separated)"
        )
    rows: list[list[float]] = []
    for lineno, line in enumerate(lines[header_at + 1 :], start=header_at + 2):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(COLUMNS):
            raise FormatError(
                f"{name}: line {lineno} has {len(fields)} values; expected {len(COLUMNS)} "
                f"({_EXPECTED})"
            )
        try:
            rows.append([float(v) for v in fields])
        except ValueError:
            bad = next((c, v) for c, v in zip(COLUMNS, fields, strict=True) if not _is_float(v))
            raise FormatError(
                f"{name}: line {lineno}: {bad[0]} value {bad[1]!r} is not a number; "
                f"every value of {_EXPECTED} must be numeric"
            ) from None
    if not rows:
        raise FormatError(f"{name}: a header ({_EXPECTED}) but no data rows")
    return np.asarray(rows, dtype=np.float64)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read(path: Path, opts: ReadOptions) -> LightCurve:
    """Read a DAVE K2photo file into a raw LightCurve (BJD_TDB, flux in the file's units).

    Raises
    ------
    FormatError
        Empty file, a header other than ``Dates Flux Corrflux Xpos Ypos``, a row with
        another number of values, a non-numeric value, no data rows, or a flux column
        other than ``Corrflux``/``Flux``.
    """
    name = opts.source_name
    text = read_text(path, limits=opts.limits)
    table = _parse(text, name)
    opts.limits.check_rows(table.shape[0], name=name, what="rows")
    flux_name = "Corrflux"
    if opts.flux_column is not None:
        match = [c for c in FLUX_COLUMNS if c.lower() == opts.flux_column.strip().lower()]
        if not match:
            raise FormatError(
                f"{name}: flux column {opts.flux_column!r} is not in a DAVE K2 file; "
                f"allowed: {', '.join(FLUX_COLUMNS)}"
            )
        flux_name = match[0]
    time_bkjd = table[:, COLUMNS.index("Dates")]
    flux = table[:, COLUMNS.index(flux_name)]
    target, campaign = target_from_name(name)
    notes = (
        "format: DAVE K2photo detrended text",
        f"columns chosen: time='Dates' (BKJD), flux={flux_name!r}, no flux_err",
        "not kept: "
        + ", ".join(c for c in COLUMNS[1:] if c != flux_name)
        + " (LightCurve holds one flux and no centroids)",
    )
    cadence = median_cadence_s(time_bkjd) if time_bkjd.size > 1 else math.nan
    return LightCurve(
        time_bjd=time_bkjd + BKJD_OFFSET,
        flux=flux,
        flux_err=np.full(flux.shape, np.nan),
        segment=np.zeros(flux.size, dtype=np.int64),
        mission=opts.mission or "k2",
        target_id=opts.target_id or target,
        cadence_s=cadence,
        time_system_in="BKJD (BJD-2454833)",
        flux_column=flux_name,
        sources=(name,),
        notes=notes,
        segment_labels=(campaign or name,),
    )


register_text_reader(TextReader(name="dave_k2", identify=identify, read=read, priority=20))
