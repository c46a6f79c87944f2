"""DAVE K2 Campaign 4 text light curves (``ktwo<EPIC>-c04_detrended.dat``): the real files
read through ``read_lightcurve``; corrupted copies fail with errors naming the columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exoguard.config import get_settings
from exoguard.core.lightcurve import BKJD_OFFSET
from exoguard.errors import FormatError
from exoguard.io import ReadOptions, read_lightcurve, read_raw
from exoguard.io.dave_k2 import read as read_dave

K2_DIR = get_settings().lightcurves_dir / "k2_c4_dave"
FP_FILE = "ktwo210827030-c04_detrended.dat"
pytestmark = pytest.mark.skipif(
    not (K2_DIR / "index.csv").exists(), reason="bundled K2 DAVE light curves not present"
)


def _index() -> pd.DataFrame:
    return pd.read_csv(K2_DIR / "index.csv")


def test_real_file_reads_as_k2_with_epic_target_and_bjd_times() -> None:
    row = _index().set_index("file").loc[FP_FILE]
    lc = read_lightcurve(K2_DIR / FP_FILE)
    assert lc.mission == "k2"
    assert lc.target_id == "EPIC 210827030"
    assert lc.flux_column == "Corrflux"
    assert lc.segment_labels == ("C4",)
    # upward 5-sigma clipping only: at most 1 % of this star's rows go
    assert 0.99 * int(row["n_finite"]) <= lc.n_points <= int(row["n_finite"])
    assert lc.time_bjd[0] == pytest.approx(float(row["time_start"]) + BKJD_OFFSET, abs=1e-3)
    assert lc.baseline_days == pytest.approx(71.0, abs=0.5)
    assert abs(float(np.median(lc.flux)) - 1.0) < 2e-3
    assert lc.cadence_s == pytest.approx(1765.5, rel=0.005)  # K2 long cadence
    assert np.all(np.isfinite(lc.flux_err)) and np.all(lc.flux_err > 0)


@pytest.mark.parametrize("row", _index().to_dict("records"), ids=lambda r: str(r["file"]))
def test_every_bundled_k2_file_reads(row: dict[str, object]) -> None:
    path = K2_DIR / str(row["file"])
    raw = read_raw(path, ReadOptions(source_name=path.name))
    assert raw.n_points == int(str(row["n_rows"]))  # every row, as written
    assert raw.time_bjd[0] == pytest.approx(float(str(row["time_start"])) + BKJD_OFFSET, abs=1e-5)
    assert raw.time_bjd[-1] == pytest.approx(float(str(row["time_end"])) + BKJD_OFFSET, abs=1e-5)
    lc = read_lightcurve(path)
    assert lc.target_id == row["target"]
    assert lc.mission == "k2"
    # the upward 5-sigma clip of read_lightcurve takes up to 17 % of a variable K2 star
    assert lc.n_points >= 0.8 * raw.n_points


def test_raw_flux_on_request_differs_from_the_corrected_one() -> None:
    corr = read_lightcurve(K2_DIR / FP_FILE)
    raw = read_lightcurve(K2_DIR / FP_FILE, flux_column="Flux")
    assert raw.flux_column == "Flux"
    assert abs(float(np.median(raw.flux)) - 1.0) < 2e-3  # normalised on read
    # the roll systematics stay in the raw flux: more point-to-point scatter
    assert np.std(np.diff(raw.flux)) > 1.2 * np.std(np.diff(corr.flux))
    with pytest.raises(FormatError, match="allowed: Corrflux, Flux"):
        read_lightcurve(K2_DIR / FP_FILE, flux_column="Xpos")


def test_format_is_found_from_the_header_not_the_name(tmp_path: Path) -> None:
    renamed = tmp_path / "my_star.txt"
    renamed.write_bytes((K2_DIR / FP_FILE).read_bytes())
    lc = read_lightcurve(renamed)
    assert lc.mission == "k2" and lc.flux_column == "Corrflux"
    assert lc.target_id == "unknown"  # no EPIC number in that name
    # a plain CSV with a DAVE-like name is still read as CSV
    csv = tmp_path / "ktwo123-c04_detrended.dat"
    t = 2228.9 + np.arange(200) * 0.0204
    csv.write_text("time,flux\n" + "\n".join(f"{x:.6f},1.0" for x in t) + "\n")
    assert read_lightcurve(csv, time_system="bkjd").flux_column == "flux"


def _corrupt(tmp_path: Path, transform: object) -> Path:
    lines = (K2_DIR / FP_FILE).read_text().splitlines()
    out = tmp_path / FP_FILE
    out.write_text("\n".join(transform(lines)) + "\n")  # type: ignore[operator]
    return out


@pytest.mark.parametrize(
    ("transform", "message"),
    [
        (
            lambda ls: ["Dates Flux Corflux Xpos Ypos", *ls[1:]],
            r"expected the columns Dates Flux Corrflux Xpos Ypos",
        ),
        (
            lambda ls: [ls[0], *ls[1:4], ls[4].replace(ls[4].split()[2], "abc"), *ls[5:]],
            r"line 5: Corrflux value 'abc' is not a number.*Dates Flux Corrflux Xpos Ypos",
        ),
        (
            lambda ls: [ls[0], *ls[1:9], " ".join(ls[9].split()[:4]), *ls[10:]],
            r"line 10 has 4 values; expected 5 \(Dates Flux Corrflux Xpos Ypos\)",
        ),
        (lambda ls: [ls[0]], r"a header \(Dates Flux Corrflux Xpos Ypos\) but no data rows"),
    ],
    ids=["misspelt header", "non-numeric value", "missing value", "header only"],
)
def test_corrupted_copies_fail_naming_the_columns(
    tmp_path: Path, transform: object, message: str
) -> None:
    with pytest.raises(FormatError, match=message):
        read_lightcurve(_corrupt(tmp_path, transform))


def test_empty_files_fail_clearly(tmp_path: Path) -> None:
    empty = tmp_path / FP_FILE
    empty.write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        read_lightcurve(empty)
    # the reader itself (called on a file it was given) names the header it expects
    blank = tmp_path / "blank.dat"
    blank.write_text("\n\n")
    with pytest.raises(FormatError, match="empty; a DAVE K2 file has the header Dates Flux"):
        read_dave(blank, ReadOptions(source_name=blank.name))
