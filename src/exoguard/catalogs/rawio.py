"""Read a table file into raw text cells: CSV (``#`` comments, gzip or not) or JSON records.

Every cell comes back as a string (``""`` when empty) so that the mapping step can tell an
empty cell from a value that does not parse, and report the latter with its row and column.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from exoguard.errors import FormatError, NotFoundError
from exoguard.limits import DEFAULT_LIMITS, InputLimits, decompress_capped

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 8192
#: The library default cap on decompressed bytes (``InputLimits`` sets it per call).
MAX_DECOMPRESSED_BYTES = DEFAULT_LIMITS.max_bytes


@dataclass(frozen=True)
class RawTable:
    """Cells as strings plus the comment lines that preceded the header."""

    frame: pd.DataFrame
    comments: tuple[str, ...]
    fmt: str  # "csv" | "json"


def read_raw_file(path: str | Path, *, limits: InputLimits = DEFAULT_LIMITS) -> RawTable:
    """Read a CSV/JSON table file (optionally gzipped) into string cells.

    Raises
    ------
    NotFoundError
        The file does not exist.
    FormatError
        Empty, binary, undecodable (not UTF-8) or malformed file; the message says which.
    TooLargeError
        Decompresses past ``limits.max_bytes`` or holds more than ``limits.max_rows`` rows.
    """
    p = Path(path)
    if not p.is_file():
        raise NotFoundError(f"catalog file not found: {p}")
    return read_raw_bytes(p.read_bytes(), name=p.name, limits=limits)


def _decode(data: bytes, *, name: str) -> str:
    head = data[:_SNIFF_BYTES]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FormatError(f"{name}: the file is UTF-16 encoded; save it as UTF-8 (CSV or JSON)")
    if head.startswith(b"SIMPLE  ="):
        raise FormatError(
            f"{name}: this is a FITS file, not a catalog table; upload it as a light curve"
        )
    if b"\x00" in head:
        raise FormatError(
            f"{name}: binary content (NUL bytes); expected a text table (CSV or JSON, UTF-8)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FormatError(
            f"{name}: not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}, "
            f"line {line}); save the table as UTF-8"
        ) from exc


def read_raw_bytes(
    data: bytes, *, name: str = "<upload>", limits: InputLimits = DEFAULT_LIMITS
) -> RawTable:
    """Like :func:`read_raw_file` for bytes already in memory (e.g. an upload)."""
    if data.startswith(_GZIP_MAGIC):
        data = decompress_capped(data, name=name, limits=limits)
    elif len(data) > limits.max_bytes:
        raise limits.bytes_error(name)
    if not data.strip():
        raise FormatError(f"{name}: the file is empty")
    limits.check_rows(data.count(b"\n"), name=name, what="lines")
    text = _decode(data, name=name)
    del data
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        return _read_json(stripped, name=name, limits=limits)
    return _read_csv(text, name=name)


def _read_json(text: str, *, name: str, limits: InputLimits) -> RawTable:
    try:
        obj: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{name}: malformed JSON ({exc})") from exc
    except RecursionError as exc:
        raise FormatError(f"{name}: malformed JSON (nested too deeply)") from exc
    if isinstance(obj, dict):
        for key in ("data", "records", "rows", "candidates"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
        else:
            raise FormatError(
                f"{name}: JSON must be a list of records or an object with a 'data', "
                "'records', 'rows' or 'candidates' list"
            )
    if not isinstance(obj, list) or not obj:
        raise FormatError(f"{name}: JSON holds no records")
    limits.check_rows(len(obj), name=name, what="records")
    if not all(isinstance(r, dict) for r in obj):
        raise FormatError(f"{name}: every JSON record must be an object (column -> value)")
    columns: list[str] = []
    seen: set[str] = set()
    for rec in obj:
        for k in rec:
            if k not in seen:
                seen.add(k)
                columns.append(str(k))
    cells = {c: ["" if r.get(c) is None else str(r.get(c)) for r in obj] for c in columns}
    frame = pd.DataFrame(cells, columns=columns, dtype=object)
    return RawTable(frame=frame, comments=(), fmt="json")


def _read_csv(text: str, *, name: str) -> RawTable:
    lines = text.splitlines()
    comments = tuple(line for line in lines if line.startswith("#"))
    body = "\n".join(line for line in lines if not line.startswith("#") and line.strip())
    if not body.strip():
        raise FormatError(f"{name}: no header row and no data (only comments or blank lines)")
    try:
        frame = pd.read_csv(
            io.StringIO(body),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skipinitialspace=True,
            quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise FormatError(f"{name}: malformed CSV ({exc})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.shape[1] < 2:
        raise FormatError(
            f"{name}: found {frame.shape[1]} column; expected a comma-separated table with a header"
        )
    return RawTable(frame=frame.astype(object), comments=comments, fmt="csv")
