"""CSV (or TSV, semicolon, whitespace separated) light curves with a header row.

Lines starting with ``#`` before the header may carry metadata as ``# key: value`` or
``# key = value`` (``time_system``, ``mission``, ``target``/``target_id``/``object``).
Columns are chosen by alias (``exoguard.io.columns``); the choice goes to ``notes``.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pandas as pd

from exoguard.core.lightcurve import LightCurve
from exoguard.errors import FormatError
from exoguard.io.registry import ReadOptions, read_utf8_bytes
from exoguard.io.table_common import table_to_lightcurve

_META_RE = re.compile(r"^#\s*([A-Za-z_][\w .\-]*?)\s*[:=]\s*(.+?)\s*$")


def _delimiter(line: str) -> str | None:
    for sep in (",", "\t", ";", "|"):
        if sep in line:
            return sep
    return None  # whitespace


def read_csv_lightcurve(path: Path, opts: ReadOptions) -> LightCurve:
    """Read a delimited text light curve into a raw LightCurve."""
    # Bytes, not text: a decoded copy and a list of lines would cost several times the file.
    raw = read_utf8_bytes(path, limits=opts.limits)
    if b"\n" not in raw and b"\r" in raw:  # classic Mac line ends
        raw = raw.replace(b"\r", b"\n")
    meta: dict[str, str] = {}
    header_start: int | None = None
    header_line = ""
    pos = 0
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end
        line = raw[pos:end].decode("utf-8")
        s = line.strip()
        if s.startswith("#"):
            m = _META_RE.match(s)
            if m:
                meta[m.group(1).strip()] = m.group(2).strip().strip("'\"")
        elif s:
            header_start, header_line = pos, line
            break
        pos = end + 1
    if header_start is None:
        raise FormatError(f"{path.name}: no table in the file (only comments or blanks)")
    sep = _delimiter(header_line)
    body = io.BytesIO(raw[header_start:] if header_start else raw)
    del raw
    try:
        df = pd.read_csv(
            body,
            sep=sep if sep is not None else r"\s+",
            comment="#",
            skip_blank_lines=True,
            encoding="utf-8",
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise FormatError(f"{path.name}: cannot parse as CSV ({exc})") from exc
    if df.shape[0] == 0:
        raise FormatError(
            f"{path.name}: a header ({', '.join(map(str, df.columns))}) but no data rows"
        )
    columns = {str(c): df[c].to_numpy() for c in df.columns}
    return table_to_lightcurve(columns, opts, meta=meta, product="CSV table")
