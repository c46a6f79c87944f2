"""Catalog readers: the real NASA tables map into the harmonised schema; bad input is reported."""

from __future__ import annotations

import gzip
import json
import math
import time
from pathlib import Path

import pandas as pd
import pytest

from exoguard.catalogs import (
    CatalogTable,
    detect_kind,
    load_default_catalogs,
    read_catalog,
    read_catalog_bytes,
)
from exoguard.catalogs.schema import HARMONISED_COLUMNS
from exoguard.config import get_settings
from exoguard.errors import FormatError, NotFoundError, ValidationError

CATALOGS = get_settings().catalogs_dir
KOI = CATALOGS / "koi_cumulative_2026-06-22.csv.gz"
TOI = CATALOGS / "toi_2026-06-22.csv.gz"
K2 = CATALOGS / "k2pandc_2025-10-04.csv.gz"

pytestmark = pytest.mark.skipif(not KOI.exists(), reason="bundled NASA catalogs not found")


@pytest.fixture(scope="module")
def defaults() -> list[CatalogTable]:
    return load_default_catalogs(CATALOGS)


def test_default_catalogs_label_counts_match_the_archive(defaults: list[CatalogTable]) -> None:
    koi, toi, k2 = defaults
    assert [t.kind for t in defaults] == ["koi", "toi", "k2"]
    for t in defaults:
        assert set(HARMONISED_COLUMNS) <= set(t.frame.columns)
        assert t.frame["object_id"].is_unique
        assert t.report.ok, t.report.to_dict()["errors"][:3]
    # README counts: KOI FP 4839, CONFIRMED 2747, CANDIDATE 1978
    assert koi.frame["label"].value_counts().to_dict() == {
        "false_positive": 4839,
        "planet": 2747,
        "candidate": 1978,
    }
    # TOI: CP 732 + KP 591 planets, FP 1244 + FA 100, PC 4780 + APC 481 + 3 blank
    assert toi.frame["label"].value_counts().to_dict() == {
        "candidate": 4780 + 481 + 3,
        "false_positive": 1344,
        "planet": 1323,
    }
    assert len(toi.report.warnings) >= 3  # the 3 blank dispositions are reported
    # K2: only default_flag == 1 rows, and the skipped ones are counted
    assert len(k2.frame) == 1806
    assert k2.report.n_rows_skipped == 4004 - 1806
    assert k2.frame["label"].value_counts().to_dict() == {
        "candidate": 976,
        "planet": 580,
        "false_positive": 250,
    }
    assert koi.source == "koi_cumulative_2026-06-22.csv.gz"
    assert koi.archive_stamp is not None and "2026" in koi.archive_stamp


def test_planet_names_come_with_the_rows(defaults: list[CatalogTable]) -> None:
    koi, toi, k2 = defaults
    names = koi.frame.set_index("object_id")["name"]
    assert names["K00752.01"] == "Kepler-227 b" and names["K00752.02"] == "Kepler-227 c"
    # a KOI without a Kepler name (a false positive) has none, never the text "nan"
    unnamed = koi.frame.loc[koi.frame["label"] == "false_positive", "name"]
    assert unnamed.isna().mean() > 0.99 and not (unnamed == "nan").any()
    # 2,747 Kepler names in this snapshot: 2,745 on CONFIRMED rows, 2 on FALSE POSITIVE rows
    assert int(koi.frame["name"].notna().sum()) == 2747
    assert toi.frame["name"].isna().all()  # TOIs carry no planet name
    assert (k2.frame["name"] == k2.frame["object_id"]).all()  # pl_name is both
    assert "name" not in HARMONISED_COLUMNS  # a display name, never a model column


def test_koi_mapping_units_and_epoch(defaults: list[CatalogTable]) -> None:
    koi = defaults[0].frame.set_index("object_id")
    row = koi.loc["K00752.01"]  # Kepler-227 b
    assert row["host_id"] == "KIC 10797460"
    assert row["mission"] == "kepler"
    assert row["period_days"] == pytest.approx(9.488036, abs=1e-6)
    assert row["duration_hours"] == pytest.approx(2.9575)
    assert row["depth_ppm"] == pytest.approx(615.8)
    # BKJD 170.53875 -> BJD
    assert row["t0_bjd"] == pytest.approx(170.53875 + 2454833.0, abs=1e-6)


def test_toi_keeps_bjd_and_string_ids(defaults: list[CatalogTable]) -> None:
    toi = defaults[1].frame.set_index("object_id")
    row = toi.loc["TOI-1000.01"]
    assert row["host_id"] == "TIC 50365310"
    assert row["t0_bjd"] == pytest.approx(2459229.6300460, abs=1e-6)  # already BJD
    assert row["depth_ppm"] == pytest.approx(656.8860989)
    assert math.isnan(row["impact"]) and math.isnan(row["transit_snr"])


def _write(path: Path, text: str, *, gz: bool = False) -> Path:
    if gz:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


KOI_HEADER = "kepid,kepoi_name,koi_disposition,koi_period,koi_depth,koi_duration\n"


def test_gzip_plain_json_and_comments_read_alike(tmp_path: Path) -> None:
    text = (
        "# a comment\n# Mon Jun 22 07:57:32 2026\n"
        + KOI_HEADER
        + ("1,K00001.01,CONFIRMED,2.47,14000,1.7\n2,K00002.01,FALSE POSITIVE,2.2,6700,3.9\n")
    )
    plain = read_catalog(_write(tmp_path / "a.csv", text))
    gz = read_catalog(_write(tmp_path / "a.csv.gz", text, gz=True))
    records = pd.read_csv(tmp_path / "a.csv", comment="#").to_dict(orient="records")
    js = read_catalog(_write(tmp_path / "a.json", json.dumps(records)))
    for t in (plain, gz, js):
        assert t.kind == "koi"
        assert list(t.frame["label"]) == ["planet", "false_positive"]
        assert t.frame["period_days"].tolist() == pytest.approx([2.47, 2.2])
        assert t.report.ok
    # columns the file lacks are NaN and named in a warning
    assert plain.frame["star_teff_k"].isna().all()
    assert any("koi_steff" in w.message for w in plain.report.warnings)


def test_missing_required_columns_are_named(tmp_path: Path) -> None:
    p = _write(tmp_path / "koi.csv", "kepid,kepoi_name,koi_depth\n1,K00001.01,100\n")
    with pytest.raises(ValidationError, match="koi_disposition, koi_period"):
        read_catalog(p, kind="koi")
    with pytest.raises(ValidationError, match="cannot tell which catalog"):
        read_catalog(_write(tmp_path / "x.csv", "a,b\n1,2\n"))


def test_bad_values_reported_with_row_column_value_and_kept(tmp_path: Path) -> None:
    text = KOI_HEADER + (
        "1,K00001.01,CONFIRMED,2.47,14000,1.7\n"
        "2,K00002.01,CONFIRMED,abc,6700,3.9\n"
        "3,K00003.01,CANDIDATE,3.1,-5,2.0\n"
        "4,K00004.01,MAYBE,4.2,100,2.0\n"
    )
    t = read_catalog(_write(tmp_path / "bad.csv", text))
    assert len(t.frame) == 4  # nothing dropped
    assert not t.report.ok
    errs = {(e.row, e.column, e.value) for e in t.report.errors}
    assert (2, "koi_period", "abc") in errs
    assert (3, "koi_depth", "-5") in errs
    assert (4, "koi_disposition", "MAYBE") in errs
    assert math.isnan(t.frame.loc[1, "period_days"])
    assert math.isnan(t.frame.loc[2, "depth_ppm"])
    assert t.frame.loc[3, "label"] == "candidate"
    d = t.report.to_dict()
    assert d["ok"] is False and d["n_errors"] == 3
    json.dumps(d)  # serialisable


def test_duplicate_object_ids_reported(tmp_path: Path) -> None:
    text = KOI_HEADER + (
        "1,K00001.01,CONFIRMED,2.47,14000,1.7\n1,K00001.01,CONFIRMED,2.47,14000,1.7\n"
    )
    t = read_catalog(_write(tmp_path / "dup.csv", text))
    dups = [e for e in t.report.errors if e.code == "duplicate_id"]
    assert [(e.row, e.value) for e in dups] == [(2, "K00001.01")]
    assert "row 1" in dups[0].message


def test_many_duplicates_are_reported_in_linear_time(tmp_path: Path) -> None:
    """A table repeated three times (issue 13: the report was quadratic, minutes per upload)."""
    n = 4000
    body = "".join(f"{i},K{i:05d}.01,CANDIDATE,{1 + i % 50}.5,500,2.0\n" for i in range(n))
    path = _write(tmp_path / "triple.csv", KOI_HEADER + body * 3)
    started = time.monotonic()
    t = read_catalog(path)
    elapsed_s = time.monotonic() - started
    dups = [e for e in t.report.errors if e.code == "duplicate_id"]
    k = len(dups)  # the report keeps the first few of each code and counts the others
    assert k + t.report.n_truncated["duplicate_id"] == 2 * n
    assert [e.row for e in dups] == list(range(n + 1, n + 1 + k))
    assert (
        dups[-1].message == f"row {n + k}: object id 'K{k - 1:05d}.01' already appears in row {k}"
    )
    assert elapsed_s < 15  # about 1 s; the quadratic report took over a minute


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "empty"),
        (b"   \n\n", "empty"),
        (gzip.compress(b""), "empty"),
        (b"\x00\x01\x02\x03binary\x00junk", "binary"),
        ("kepid,kepoi_name\n1,K\u00e9\n".encode("latin-1"), "not valid UTF-8"),
        ("kepid,kepoi_name\n".encode("utf-16"), "UTF-16"),
        (b"SIMPLE  =                    T", "FITS"),
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
        (b'[{"a": 1,', "malformed JSON"),
        (b"# only a comment\n", "no header"),
    ],
)
def test_unreadable_files_rejected_with_a_message(payload: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read_catalog_bytes(payload, name="upload.csv")


def test_header_without_rows_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no data rows"):
        read_catalog(_write(tmp_path / "h.csv", KOI_HEADER))
    with pytest.raises(NotFoundError):
        read_catalog(tmp_path / "nope.csv")


def test_harmonised_csv_round_trip_and_bad_label(tmp_path: Path) -> None:
    text = (
        "object_id,host_id,mission,label,period_days,depth_ppm,duration_hours\n"
        "c1,s1,tess,planet,3.5,800,2.5\nc2,s1,TESS,wrong,4.5,900,2.0\nc3,,,,5.5,,\n"
    )
    t = read_catalog(_write(tmp_path / "h.csv", text))
    assert t.kind == "harmonised"
    assert t.frame["mission"].tolist() == ["tess", "tess", "other"]
    assert t.frame["label"].tolist() == ["planet", "candidate", "candidate"]
    assert [(e.row, e.column, e.value) for e in t.report.errors] == [(2, "label", "wrong")]
    assert detect_kind(t.frame.columns) == "harmonised"
    # a harmonised frame written out reads back identically
    out = tmp_path / "round.csv"
    t.frame.to_csv(out, index=False)
    again = read_catalog(out)
    pd.testing.assert_frame_equal(
        again.frame.drop(columns="source"), t.frame.drop(columns="source"), check_dtype=False
    )


def test_k2_depth_percent_converted_and_non_default_rows_counted(tmp_path: Path) -> None:
    text = (
        "pl_name,hostname,default_flag,disposition,pl_orbper,pl_trandep,sy_gaiamag\n"
        "K2-1 b,K2-1,1,CONFIRMED,5.0,0.12,11.0\nK2-1 b,K2-1,0,CONFIRMED,5.1,0.13,11.0\n"
        "K2-2 b,K2-2,1,REFUTED,7.0,,12.0\n"
    )
    t = read_catalog(_write(tmp_path / "k2.csv", text))
    assert t.kind == "k2"
    assert t.frame["object_id"].tolist() == ["K2-1 b", "K2-2 b"]
    assert t.frame["depth_ppm"].iloc[0] == pytest.approx(1200.0)
    assert t.frame["label"].tolist() == ["planet", "false_positive"]
    assert t.frame["star_mag"].tolist() == pytest.approx([11.0, 12.0])
    assert t.report.n_rows_skipped == 1
