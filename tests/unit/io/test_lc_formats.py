"""Formats without a bundled real file, built in tmp_path with the archive layouts:
K2 SOC, K2SFF, QLP, TESS 20-s, a generic FITS table, a lightkurve TESS export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from exoguard.config import get_settings
from exoguard.core.lightcurve import BKJD_OFFSET, BTJD_OFFSET
from exoguard.errors import FormatError
from exoguard.io import fits_readers, read_lightcurve

N = 600


def _table(
    columns: dict[str, np.ndarray], name: str, header: dict[str, object]
) -> fits.BinTableHDU:
    cols = [
        fits.Column(name=k, format="D" if v.dtype.kind == "f" else "J", array=v)
        for k, v in columns.items()
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name=name)
    for k, v in header.items():
        hdu.header[k] = v
    return hdu


def _write(path: Path, primary: dict[str, object], table: fits.BinTableHDU) -> Path:
    p = fits.PrimaryHDU()
    for k, v in primary.items():
        p.header[k] = v
    fits.HDUList([p, table]).writeto(path)
    return path


def _flux(level: float = 5000.0, seed: int = 0) -> np.ndarray:
    return level * (1.0 + np.random.default_rng(seed).normal(0, 2e-4, N))


def test_k2_official(tmp_path: Path) -> None:
    t = 2300.0 + np.arange(N) * 0.0204336
    q = np.zeros(N, dtype=np.int32)
    q[:7] = 32  # desaturation: in the default bitmask
    table = _table(
        {
            "TIME": t,
            "PDCSAP_FLUX": _flux(),
            "PDCSAP_FLUX_ERR": np.ones(N),
            "SAP_FLUX": _flux(),
            "SAP_QUALITY": q,
        },
        "LIGHTCURVE",
        {"BJDREFI": 2454833, "BJDREFF": 0.0, "TIMEDEL": 0.0204336},
    )
    primary = {
        "TELESCOP": "Kepler",
        "MISSION": "K2",
        "ORIGIN": "NASA/Ames",
        "CREATOR": "FluxExporter2PipelineModule",
        "OBJECT": "EPIC 211089792",
        "KEPLERID": 211089792,
        "CAMPAIGN": 4,
    }
    lc = read_lightcurve(_write(tmp_path / "k2.fits", primary, table))
    assert (lc.mission, lc.target_id, lc.segment_labels) == ("k2", "EPIC 211089792", ("C4",))
    assert lc.n_points == N - 7 and lc.time_bjd[0] == pytest.approx(t[7] + BKJD_OFFSET)


def test_k2sff(tmp_path: Path) -> None:
    t = 2300.0 + np.arange(N) * 0.0204336
    moving = np.zeros(N, dtype=np.int32)
    moving[::50] = 1
    table = _table(
        {
            "T": t,
            "FRAW": _flux(seed=1),
            "FCOR": _flux(seed=2),
            "ARCLENGTH": np.zeros(N),
            "MOVING": moving,
            "CADENCENO": np.arange(N, dtype=np.int32),
        },
        "BESTAPER",
        {},
    )
    primary = {
        "TELESCOP": "Kepler",
        "OBJECT": "EPIC 201367065",
        "KEPLERID": 201367065,
        "CAMPAIGN": 1,
    }
    lc = read_lightcurve(_write(tmp_path / "anything.fits", primary, table))
    assert lc.mission == "k2" and lc.target_id == "EPIC 201367065"
    assert lc.flux_column == "FCOR" and lc.n_points == N - 12
    assert lc.time_bjd[1] == pytest.approx(t[1] + BKJD_OFFSET)
    assert any("point-to-point" in n for n in lc.notes)  # no error column in K2SFF
    assert read_lightcurve(tmp_path / "anything.fits", flux_column="fraw").flux_column == "FRAW"


def test_qlp(tmp_path: Path) -> None:
    t = 1400.0 + np.arange(N) * 1800.0 / 86400.0
    q = np.zeros(N, dtype=np.int32)
    q[-3:] = 1
    table = _table(
        {
            "TIME": t,
            "SAP_FLUX": _flux(1.0e4),
            "KSPSAP_FLUX": _flux(1.0),
            "KSPSAP_FLUX_ERR": np.full(N, 2e-4),
            "QUALITY": q,
            "ORBITID": np.ones(N, np.int32),
        },
        "LIGHTCURVE",
        {"BJDREFI": 2457000, "BJDREFF": 0.0},
    )
    primary = {
        "TELESCOP": "TESS",
        "ORIGIN": "MIT/QLP",
        "OBJECT": "TIC 12345",
        "TICID": 12345,
        "SECTOR": 9,
    }
    lc = read_lightcurve(_write(tmp_path / "qlp.fits", primary, table))
    assert (lc.mission, lc.target_id, lc.flux_column) == ("tess", "TIC 12345", "SAP_FLUX")
    assert lc.n_points == N - 3 and lc.segment_labels == ("S9",)
    assert lc.cadence_s == pytest.approx(1800.0, rel=1e-6)
    det = read_lightcurve(tmp_path / "qlp.fits", flux_column="KSPSAP_FLUX")
    assert det.flux_column == "KSPSAP_FLUX"
    assert np.median(det.flux_err) == pytest.approx(2e-4, rel=0.01)
    with pytest.raises(FormatError, match="allowed flux columns: SAP_FLUX, KSPSAP_FLUX"):
        read_lightcurve(tmp_path / "qlp.fits", flux_column="PDCSAP_FLUX")


def test_tess_20s(tmp_path: Path) -> None:
    t = 2100.0 + np.arange(N) * 20.0 / 86400.0
    time = t.copy()
    time[10:20] = np.nan  # TESS: NaN times on some cadences
    table = _table(
        {
            "TIME": time,
            "PDCSAP_FLUX": _flux(),
            "PDCSAP_FLUX_ERR": np.ones(N),
            "QUALITY": np.zeros(N, np.int32),
        },
        "LIGHTCURVE",
        {"BJDREFI": 2457000, "BJDREFF": 0.0, "TIMEDEL": 20.0 / 86400.0},
    )
    primary = {
        "TELESCOP": "TESS",
        "ORIGIN": "NASA/Ames",
        "TICID": 777,
        "CREATOR": "LightCurveExporterPipelineModule",
        "SECTOR": 40,
    }
    lc = read_lightcurve(_write(tmp_path / "fast.fits", primary, table))
    assert lc.cadence_s == pytest.approx(20.0) and lc.target_id == "TIC 777"
    assert lc.n_points == N - 10 and lc.time_bjd[0] == pytest.approx(2100.0 + BTJD_OFFSET)


def test_generic_fits_table(tmp_path: Path) -> None:
    t = 2459000.0 + np.arange(N) * 0.01
    table = _table(
        {"BJD": t, "REL_FLUX": _flux(1.0), "REL_FLUX_ERR": np.full(N, 1e-3)}, "PHOTOMETRY", {}
    )
    lc = read_lightcurve(_write(tmp_path / "ground.fits", {"OBJECT": "my star"}, table))
    assert lc.mission == "other" and lc.target_id == "my star"
    assert lc.time_bjd[0] == pytest.approx(t[0])
    assert any(
        "columns chosen: time=BJD, flux=REL_FLUX, flux_err=REL_FLUX_ERR" in n for n in lc.notes
    )


def test_registry_order() -> None:
    names = [r.name for r in fits_readers()]
    assert names[-1] == "generic_fits"
    assert set(names) >= {"kepler", "tess", "k2sff", "qlp", "lightkurve_export"}


def test_lightkurve_tess_export_round_trip(tmp_path: Path) -> None:
    lk = pytest.importorskip("lightkurve")
    src = get_settings().lightcurves_dir / "tess" / "tic55525572_lc.fits"
    if not src.exists():
        pytest.skip("bundled light curves not present")
    path = tmp_path / "export.fits"
    lk.read(src).to_fits(path)
    lc = read_lightcurve(path)
    direct = read_lightcurve(src)
    assert lc.mission == "tess" and lc.target_id == "TIC 55525572"
    assert lc.flux_column == "FLUX" and "BTJD" in lc.time_system_in
    assert lc.n_points == pytest.approx(direct.n_points, rel=0.01)
    assert lc.time_bjd[0] == pytest.approx(direct.time_bjd[0], abs=1e-6)


def test_lightkurve_csv_round_trip(tmp_path: Path) -> None:
    """lightkurve's to_csv: no metadata, quality written as binary digits."""
    lk = pytest.importorskip("lightkurve")
    src = get_settings().lightcurves_dir / "kepler" / "kplr010797460-2009259160929_llc.fits"
    if not src.exists():
        pytest.skip("bundled light curves not present")
    path = tmp_path / "export.csv"
    lk.read(src).to_csv(path)
    lc = read_lightcurve(path)
    direct = read_lightcurve(src)
    assert lc.mission == "kepler" and "BKJD" in lc.time_system_in  # from the 1765.5 s cadence
    assert "quality column read as binary digits" in lc.notes
    assert lc.n_points == direct.n_points
    np.testing.assert_allclose(lc.time_bjd, direct.time_bjd, atol=1e-6)


def test_quality_values_binary_and_decimal() -> None:
    from exoguard.io.table_common import quality_values

    binary, how = quality_values(["0", "10000", "1", "0"])
    assert binary.tolist() == [0, 16, 1, 0] and "binary" in how
    decimal, how = quality_values([0, 32, 2048, 0])
    assert decimal.tolist() == [0, 32, 2048, 0] and how == ""
