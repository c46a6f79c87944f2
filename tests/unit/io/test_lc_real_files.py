"""Every bundled real FITS light curve reads with the right metadata and point count;
the 17-quarter Kepler-227 stitch keeps the catalog transit depths."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from exoguard.config import get_settings
from exoguard.core.detrend import detrend
from exoguard.core.lightcurve import BKJD_OFFSET, BTJD_OFFSET, LightCurve
from exoguard.errors import ValidationError
from exoguard.io import read_lightcurve

LC_DIR = get_settings().lightcurves_dir
pytestmark = pytest.mark.skipif(
    not (LC_DIR / "index.csv").exists(), reason="bundled light curves not present"
)

# The tess-data-alerts S1 file (DATA_REL 0) never sets PDCSAP_FLUX to NaN on bad
# cadences, so index.csv's "finite points" include cadences the quality mask drops
# (README caveat). Every other file keeps >= 99 % of its finite points.
LOOSE = {"tess/hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits": 0.93}
CADENCE_S = {"long (30-min)": 1765.5, "short (1-min)": 58.85, "2-min": 120.0}


def _index() -> pd.DataFrame:
    return pd.read_csv(LC_DIR / "index.csv")


@pytest.mark.parametrize("row", _index().to_dict("records"), ids=lambda r: Path(r["file"]).name)
def test_each_bundled_fits_reads(row: dict[str, object]) -> None:
    lc = read_lightcurve(LC_DIR / str(row["file"]))
    mission = str(row["mission"]).lower()
    assert lc.mission == mission
    assert lc.target_id == row["target"]
    assert lc.cadence_s == pytest.approx(CADENCE_S[str(row["cadence"])], rel=0.005)
    n_finite = int(str(row["n_finite"]))
    assert lc.n_points <= n_finite
    assert lc.n_points >= LOOSE.get(str(row["file"]), 0.99) * n_finite
    # times: BJD_TDB within the file's own time range (index.csv gives BKJD/BTJD)
    offset = BKJD_OFFSET if mission == "kepler" else BTJD_OFFSET
    assert lc.time_bjd[0] >= float(str(row["time_start"])) + offset - 1e-3
    assert lc.time_bjd[-1] <= float(str(row["time_end"])) + offset + 1e-3
    assert np.all(np.diff(lc.time_bjd) > 0)
    assert np.all(np.isfinite(lc.flux)) and np.all(np.isfinite(lc.flux_err))
    assert np.all(lc.flux_err > 0)
    assert abs(np.median(lc.flux) - 1.0) < 2e-3
    assert lc.segment_labels == (str(row["segment"]),)
    assert lc.sources == (Path(str(row["file"])).name,)
    expected_column = "FLUX" if "lightkurve" in str(row["file"]) else "PDCSAP_FLUX"
    assert lc.flux_column == expected_column


def test_sap_flux_on_request() -> None:
    path = LC_DIR / "kepler" / "kplr011446443-2009131110544_slc.fits"
    pdc = read_lightcurve(path)
    sap = read_lightcurve(path, flux_column="sap_flux")
    assert sap.flux_column == "SAP_FLUX"
    assert pdc.n_points == pytest.approx(sap.n_points, rel=0.01)
    assert not np.allclose(pdc.flux[:100], sap.flux[:100])


def test_quality_bitmask_none_keeps_more() -> None:
    path = LC_DIR / "tess" / "hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits"
    assert read_lightcurve(path, quality_bitmask="none").n_points > read_lightcurve(path).n_points
    with pytest.raises(ValueError, match="default"):
        read_lightcurve(path, quality_bitmask="strict")


@pytest.fixture(scope="module")
def kepler227() -> tuple[LightCurve, float]:
    files = sorted((LC_DIR / "kepler").glob("kplr010797460-*_llc.fits"))
    assert len(files) == 17
    start = time.perf_counter()
    lc = read_lightcurve(files)
    return lc, time.perf_counter() - start


def test_kepler227_stitch(kepler227: tuple[LightCurve, float]) -> None:
    lc, elapsed = kepler227
    idx = _index()
    rows = idx[idx["target"] == "KIC 10797460"]
    # ~69.3k rows in the 17 files, 64,814 with finite time and flux; cleaning keeps >= 99 %.
    assert rows["n_rows"].sum() == pytest.approx(69_300, rel=0.01)
    assert 0.99 * rows["n_finite"].sum() <= lc.n_points <= rows["n_finite"].sum()
    assert lc.n_segments == 17
    assert lc.segment_labels == tuple(f"Q{q}" for q in range(1, 18))
    assert lc.target_id == "KIC 10797460" and lc.mission == "kepler"
    assert lc.baseline_days == pytest.approx(1591.0 - 131.5, abs=1.0)
    # each quarter on its own level
    for seg, ids in lc.iter_segments():
        assert abs(np.median(lc.flux[ids]) - 1.0) < 1e-3, lc.segment_labels[seg]
    assert elapsed < 10.0


def test_kepler227_depths_match_koi(kepler227: tuple[LightCurve, float]) -> None:
    lc, _ = kepler227
    flat, trend = detrend(lc)
    assert trend.shape == (lc.n_points,)
    koi = pd.read_csv(get_settings().catalogs_dir / "koi_cumulative_2026-06-22.csv.gz", comment="#")
    for name in ("K00752.01", "K00752.02"):
        row = koi.loc[koi["kepoi_name"] == name].iloc[0]
        phase = flat.phase_days(
            period_days=row["koi_period"], t0_bjd=row["koi_time0bk"] + BKJD_OFFSET
        )
        dur = row["koi_duration"] / 24.0
        in_transit = np.abs(phase) < 0.25 * dur
        around = (np.abs(phase) > dur) & (np.abs(phase) < 3 * dur)
        depth_ppm = (np.median(flat.flux[around]) - np.median(flat.flux[in_transit])) * 1e6
        assert depth_ppm == pytest.approx(row["koi_depth"], rel=0.20), name


def test_mixing_targets_refused() -> None:
    files = [
        LC_DIR / "kepler" / "kplr010666592-2009131110544_slc.fits",
        LC_DIR / "kepler" / "kplr011446443-2009131110544_slc.fits",
    ]
    with pytest.raises(ValidationError, match="different targets"):
        read_lightcurve(files)


def test_lightkurve_object_round_trip() -> None:
    lk = pytest.importorskip("lightkurve")
    path = LC_DIR / "tess" / "tic55525572_lc.fits"
    ours = read_lightcurve(path)
    theirs = read_lightcurve(lk.read(path))
    assert theirs.mission == "tess" and theirs.target_id == "TIC 55525572"
    assert theirs.n_points == pytest.approx(ours.n_points, rel=0.01)
    assert theirs.time_bjd[0] == pytest.approx(ours.time_bjd[0], abs=1e-6)
    assert theirs.segment_labels == ("S5",)
