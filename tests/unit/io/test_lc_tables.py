"""CSV and JSON light curves: aliases, metadata, the time-system rule."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from exoguard.core.lightcurve import BKJD_OFFSET, BTJD_OFFSET
from exoguard.errors import ScienceWarning
from exoguard.io import read_lightcurve
from exoguard.io.columns import canonical, decide_time_system

N = 300


def _flux(n: int = N, seed: int = 0) -> np.ndarray:
    return 1000.0 + np.random.default_rng(seed).normal(0.0, 1.0, n)


def _write_csv(path: Path, header: str, t: np.ndarray, f: np.ndarray, comments: str = "") -> Path:
    rows = "\n".join(f"{a:.10f},{b:.6f}" for a, b in zip(t, f, strict=True))
    path.write_text(comments + header + "\n" + rows + "\n", encoding="utf-8")
    return path


def test_canonical_names() -> None:
    assert canonical("Time (BTJD)") == ("time", "btjd")
    assert canonical(" PDCSAP-FLUX ") == ("pdcsap_flux", "")
    assert canonical("\ufefftime[bjd - 2457000]") == ("time", "bjd - 2457000")


@pytest.mark.parametrize(
    ("header", "t0", "offset", "label"),
    [
        ("btjd,flux", 1500.0, BTJD_OFFSET, "BTJD"),
        ("BKJD,PDCSAP_FLUX", 300.0, BKJD_OFFSET, "BKJD"),
        ("time_bjd,flux_norm", 2458500.0, 0.0, "BJD_TDB"),
        ("Time (BTJD),SAP_FLUX", 1500.0, BTJD_OFFSET, "BTJD"),
        ("time [BJD-2457000],fcor", 1500.0, 2457000.0, "BJD-2457000"),
        ("mjd,rel_flux", 58500.0, 2400000.5, "MJD"),
        ("time,flux", 2458500.0, 0.0, "BJD_TDB"),  # values are full Julian dates
    ],
)
def test_csv_time_rule(tmp_path: Path, header: str, t0: float, offset: float, label: str) -> None:
    t = t0 + np.arange(N) * 0.01
    lc = read_lightcurve(_write_csv(tmp_path / "lc.csv", header, t, _flux()))
    assert lc.time_bjd[0] == pytest.approx(t0 + offset, abs=1e-9)
    assert label in lc.time_system_in
    assert any("columns chosen" in n for n in lc.notes)


def test_csv_mission_from_comment_and_cadence(tmp_path: Path) -> None:
    t = 1500.0 + np.arange(N) * 0.01
    path = _write_csv(
        tmp_path / "a.csv", "time,flux", t, _flux(), comments="# mission: TESS\n# target: TIC 123\n"
    )
    lc = read_lightcurve(path)
    assert lc.mission == "tess" and lc.target_id == "TIC 123"
    assert lc.time_bjd[0] == pytest.approx(1500.0 + BTJD_OFFSET)
    # no metadata, but a 2-min cadence: TESS / BTJD
    t2 = 1500.0 + np.arange(N) * 120.0 / 86400.0
    lc2 = read_lightcurve(_write_csv(tmp_path / "b.csv", "time,flux", t2, _flux()))
    assert lc2.mission == "tess" and "TESS" in " ".join(lc2.notes)
    # Kepler long cadence
    t3 = 300.0 + np.arange(N) * 1765.46 / 86400.0
    lc3 = read_lightcurve(_write_csv(tmp_path / "c.csv", "t,flux", t3, _flux()))
    assert lc3.mission == "kepler" and lc3.time_bjd[0] == pytest.approx(300.0 + BKJD_OFFSET)


def test_csv_unknown_time_system_warns(tmp_path: Path) -> None:
    t = np.arange(N) * 0.013
    path = _write_csv(tmp_path / "rel.csv", "time,flux", t, _flux())
    with pytest.warns(ScienceWarning, match="time system unknown"):
        lc = read_lightcurve(path)
    assert lc.time_system_in.startswith("unknown") and lc.time_bjd[0] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        given = read_lightcurve(path, time_system="btjd", target_id="TIC 5")
    assert given.time_bjd[0] == pytest.approx(BTJD_OFFSET) and given.target_id == "TIC 5"
    with pytest.raises(ValueError, match="btjd"):
        read_lightcurve(path, time_system="gps")


def test_csv_prefers_flux_and_matching_error(tmp_path: Path) -> None:
    t = 1500.0 + np.arange(N) * 0.01
    f = _flux()
    lines = ["time,sap_flux,flux,flux_err,quality"]
    for i in range(N):
        lines.append(f"{t[i]},{2 * f[i]},{f[i]},2.0,{1 if i < 10 else 0}")
    path = tmp_path / "lk.csv"
    path.write_text("# mission: tess\n" + "\n".join(lines))
    lc = read_lightcurve(path)
    assert lc.flux_column == "flux"
    assert lc.n_points == N - 10  # quality bit 1 is in the default TESS bitmask
    assert np.median(lc.flux_err) == pytest.approx(2.0 / 1000.0, rel=0.01)
    sap = read_lightcurve(path, flux_column="SAP_FLUX")
    assert sap.flux_column == "sap_flux"


def test_csv_unsorted_and_duplicated_times(tmp_path: Path) -> None:
    t = 1500.0 + np.arange(N) * 0.01
    f = _flux()
    order = np.random.default_rng(2).permutation(N)
    tt = np.concatenate([t[order], t[:5]])
    ff = np.concatenate([f[order], f[:5]])
    lc = read_lightcurve(_write_csv(tmp_path / "shuffled.csv", "btjd,flux", tt, ff))
    assert lc.n_points == N
    assert np.all(np.diff(lc.time_bjd) > 0)
    assert any("sorted" in n for n in lc.notes)
    assert any("dropped 5 points with duplicated times" in n for n in lc.notes)


def test_tab_and_whitespace_separated(tmp_path: Path) -> None:
    t = 2458500.0 + np.arange(N) * 0.01
    f = _flux()
    tab = tmp_path / "tab.txt"
    tab.write_text("bjd\tflux\n" + "\n".join(f"{a}\t{b}" for a, b in zip(t, f, strict=True)))
    ws = tmp_path / "ws.dat"
    ws.write_text("bjd  flux\n" + "\n".join(f"{a}   {b}" for a, b in zip(t, f, strict=True)))
    assert read_lightcurve(tab).n_points == read_lightcurve(ws).n_points == N


@pytest.mark.parametrize("layout", ["columns", "nested", "records", "split"])
def test_json_layouts(tmp_path: Path, layout: str) -> None:
    t = (1500.0 + np.arange(N) * 0.01).tolist()
    f = _flux().tolist()
    obj: object
    if layout == "columns":
        obj = {"time": t, "flux": f, "mission": "tess", "target_id": "TIC 9"}
    elif layout == "nested":
        obj = {"meta": {"mission": "tess", "object": "TIC 9"}, "data": {"btjd": t, "flux": f}}
    elif layout == "records":
        obj = [
            {"time": a, "flux": b, "target": "TIC 9", "mission": "tess"}
            for a, b in zip(t, f, strict=True)
        ]
    else:
        obj = {
            "columns": ["time", "flux"],
            "data": [[a, b] for a, b in zip(t, f, strict=True)],
            "mission": "tess",
            "target": "TIC 9",
        }
    path = tmp_path / "lc.json"
    path.write_text(json.dumps(obj))
    if layout == "records":  # per-row metadata columns are not metadata: give it
        lc = read_lightcurve(path, mission="tess", target_id="TIC 9")
    else:
        lc = read_lightcurve(path)
    assert lc.n_points == N and lc.mission == "tess" and lc.target_id == "TIC 9"
    assert lc.time_bjd[0] == pytest.approx(1500.0 + BTJD_OFFSET)


def test_gzipped_csv(tmp_path: Path) -> None:
    import gzip

    t = 1500.0 + np.arange(N) * 0.01
    text = "btjd,flux\n" + "\n".join(f"{a},{b}" for a, b in zip(t, _flux(), strict=True))
    path = tmp_path / "lc.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    assert read_lightcurve(path).n_points == N


def test_decide_time_system_direct() -> None:
    v = np.arange(10.0)
    assert decide_time_system(column="bkjd", values=v).offset == BKJD_OFFSET
    assert decide_time_system(column="time", values=v, mission="k2").offset == BKJD_OFFSET
    assert decide_time_system(column="time", values=v, mission="tess").offset == BTJD_OFFSET
    assert decide_time_system(column="time", values=v).unknown
