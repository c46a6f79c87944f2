"""CSV export of candidates and their predictions, safe to open in a spreadsheet.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run
as a formula by Excel, LibreOffice and Google Sheets (CSV injection, OWASP). Such text
cells are prefixed with a single quote, which spreadsheets show as text. Numbers in numeric
columns are written as numbers, so a negative value stays a number (``-0.5``), never ``'-0.5``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

import numpy as np

from exoguard.catalogs.schema import HARMONISED_COLUMNS, PHYSICAL_COLUMNS

__all__ = [
    "EXPORT_COLUMNS",
    "FORMULA_PREFIXES",
    "NUMERIC_EXPORT_COLUMNS",
    "format_cell",
    "iter_csv",
    "neutralise_text",
    "to_csv",
]

#: First characters that make a spreadsheet evaluate a cell.
FORMULA_PREFIXES: Final[tuple[str, ...]] = ("=", "+", "-", "@", "\t", "\r")

#: Columns of the candidates export, in order.
EXPORT_COLUMNS: Final[tuple[str, ...]] = (
    "candidate_id",
    # the name pages and reports show (exoguard.store.naming), beside the stored key
    "display_name",
    *HARMONISED_COLUMNS,
    # the candidate's state (exoguard.vetting.state): what the pages and the PDF say
    "state",
    "state_words",
    "state_source",
    "origin",
    "dataset_id",
    "probability",
    "uncertainty",
    "predicted_label",
    "model_version",
    "canary",
    "predicted_at",
    "vetting_status",
    "n_votes",
    "consensus_label",
    "consensus_share",
    # the catalog cross-match (exoguard.catalogs.crossmatch), shown beside the verdict
    "catalog_match",
    "catalog_object_id",
    "catalog_name",
    "catalog_disposition",
    "catalog_match_method",
    "catalog_file",
    "catalog_period_ratio",
    "catalog_epoch_offset_durations",
    "stellar_parameters_from",
)

#: Columns written as numbers (never neutralised when they hold a number).
NUMERIC_EXPORT_COLUMNS: Final[frozenset[str]] = frozenset(
    {
        "candidate_id",
        *PHYSICAL_COLUMNS,
        "probability",
        "uncertainty",
        "n_votes",
        "consensus_share",
        "catalog_period_ratio",
        "catalog_epoch_offset_durations",
    }
)

_PLAIN_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def neutralise_text(text: str) -> str:
    """`text` with a leading ``'`` when a spreadsheet would run it as a formula."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _format_number(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return ""  # NaN/inf: an empty cell, as the archive tables do
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)  # the shortest text that reads back as the same float


def format_cell(value: Any, *, numeric: bool = False) -> str:
    """The text of one CSV cell.

    Parameters
    ----------
    value : Any
        None, a number, a bool, a datetime or anything with a `str`.
    numeric : bool
        Whether the column holds numbers. A number (or the text of a plain number) in a
        numeric column is written as it is, negative or not; everything else is text and
        neutralised with `neutralise_text`.
    """
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, int | float | np.integer | np.floating):
        number = value.item() if isinstance(value, np.generic) else value
        text = _format_number(number)
        # A number in a text column is still text to a spreadsheet reader; a negative one
        # there is neutralised like any other text.
        return text if numeric else neutralise_text(text)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    if numeric and _PLAIN_NUMBER.match(text.strip()):
        return text.strip()
    return neutralise_text(text)


def iter_csv(
    rows: Iterable[Mapping[str, Any]],
    *,
    columns: Sequence[str] = EXPORT_COLUMNS,
    numeric_columns: Collection[str] = NUMERIC_EXPORT_COLUMNS,
    chunk_rows: int = 500,
) -> Iterator[str]:
    """The CSV text (header first) in chunks of `chunk_rows` rows, for streaming responses.

    Missing keys give empty cells; keys not in `columns` are ignored. Lines end in CRLF
    (RFC 4180).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1; got {chunk_rows}")
    numeric = [c in numeric_columns for c in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([neutralise_text(c) for c in columns])
    pending = 0
    for row in rows:
        writer.writerow(
            [
                format_cell(row.get(c), numeric=is_num)
                for c, is_num in zip(columns, numeric, strict=True)
            ]
        )
        pending += 1
        if pending >= chunk_rows:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    tail = buffer.getvalue()
    if tail:
        yield tail


def to_csv(
    rows: Iterable[Mapping[str, Any]],
    *,
    columns: Sequence[str] = EXPORT_COLUMNS,
    numeric_columns: Collection[str] = NUMERIC_EXPORT_COLUMNS,
) -> str:
    """The whole CSV as one string (see `iter_csv`)."""
    return "".join(iter_csv(rows, columns=columns, numeric_columns=numeric_columns))
