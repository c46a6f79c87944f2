"""Bad input gives a clear FormatError/ValidationError, never a crash.

Every corrupt file is generated in ``tmp_path`` (no FITS file is committed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from exoguard.config import get_settings
from exoguard.errors import FormatError, NotFoundError, ValidationError
from exoguard.io import read_lightcurve

LC_DIR = get_settings().lightcurves_dir
REAL_LLC = LC_DIR / "kepler" / "kplr010797460-2009166043257_llc.fits"


def write_kepler_like(
    path: Path,
    columns: dict[str, np.ndarray],
    *,
    telescope: str = "Kepler",
    origin: str = "NASA/Ames",
    header: dict[str, object] | None = None,
) -> Path:
    """A minimal official-looking Kepler light-curve FITS with the given columns."""
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = telescope
    primary.header["ORIGIN"] = origin
    primary.header["CREATOR"] = "FluxExporter2PipelineModule"
    primary.header["KEPLERID"] = 1234567
    primary.header["QUARTER"] = 3
    for k, v in (header or {}).items():
        primary.header[k] = v
    cols = [
        fits.Column(name=n, format="D" if v.dtype.kind == "f" else "J", array=v)
        for n, v in columns.items()
    ]
    table = fits.BinTableHDU.from_columns(cols, name="LIGHTCURVE")
    table.header["BJDREFI"] = 2454833
    table.header["BJDREFF"] = 0.0
    table.header["TIMEDEL"] = 0.0204336
    fits.HDUList([primary, table]).writeto(path)
    return path


def _time(n: int = 500) -> np.ndarray:
    return 300.0 + np.arange(n) * 0.0204336


def test_synthetic_kepler_file_reads(tmp_path: Path) -> None:
    n = 500
    rng = np.random.default_rng(1)
    path = write_kepler_like(
        tmp_path / "ok.fits",
        {
            "TIME": _time(n),
            "PDCSAP_FLUX": 1000 + rng.normal(0, 1, n),
            "PDCSAP_FLUX_ERR": np.ones(n),
            "SAP_QUALITY": np.zeros(n, dtype=np.int32),
        },
    )
    lc = read_lightcurve(path)
    assert lc.target_id == "KIC 1234567" and lc.mission == "kepler"
    assert lc.segment_labels == ("Q3",)
    assert lc.time_bjd[0] == pytest.approx(2454833.0 + 300.0)
    assert lc.flux_err[0] == pytest.approx(1e-3, rel=0.01)


def test_truncated_fits(tmp_path: Path) -> None:
    path = tmp_path / "truncated.fits"
    path.write_bytes(REAL_LLC.read_bytes()[:50_000])
    with pytest.raises(FormatError, match="truncated"):
        read_lightcurve(path)


def test_corrupt_fits_header(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.fits"
    path.write_bytes(b"SIMPLE  =                    T" + b"\x07garbage" * 300)
    with pytest.raises(FormatError, match="corrupt"):
        read_lightcurve(path)


def test_fits_without_flux_column(tmp_path: Path) -> None:
    path = write_kepler_like(
        tmp_path / "noflux.fits",
        {"TIME": _time(), "SAP_QUALITY": np.zeros(500, dtype=np.int32)},
    )
    with pytest.raises(FormatError) as err:
        read_lightcurve(path)
    msg = str(err.value)
    assert "columns found: TIME, SAP_QUALITY" in msg and "PDCSAP_FLUX" in msg


def test_unknown_fits_table(tmp_path: Path) -> None:
    path = write_kepler_like(
        tmp_path / "other.fits",
        {"WAVELENGTH": _time(), "INTENSITY": np.ones(500)},
        telescope="HST",
        origin="somewhere",
    )
    with pytest.raises(FormatError, match="columns found: WAVELENGTH, INTENSITY"):
        read_lightcurve(path)


def test_fits_without_table(tmp_path: Path) -> None:
    path = tmp_path / "image.fits"
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(path)
    with pytest.raises(FormatError, match="without a light-curve table"):
        read_lightcurve(path)


def test_requested_column_missing(tmp_path: Path) -> None:
    path = write_kepler_like(
        tmp_path / "pdc_only.fits",
        {"TIME": _time(), "PDCSAP_FLUX": np.ones(500)},
    )
    with pytest.raises(FormatError, match="'SAP_FLUX' is not available.*allowed flux columns"):
        read_lightcurve(path, flux_column="SAP_FLUX")


def test_all_nan_flux(tmp_path: Path) -> None:
    path = write_kepler_like(
        tmp_path / "nan.fits", {"TIME": _time(), "PDCSAP_FLUX": np.full(500, np.nan)}
    )
    with pytest.raises(ValidationError, match="no finite value"):
        read_lightcurve(path)


def test_too_few_points(tmp_path: Path) -> None:
    path = write_kepler_like(
        tmp_path / "short.fits", {"TIME": _time(40), "PDCSAP_FLUX": np.ones(40)}
    )
    with pytest.raises(ValidationError, match="only 40 usable points"):
        read_lightcurve(path)


def test_all_flagged(tmp_path: Path) -> None:
    path = write_kepler_like(
        tmp_path / "flagged.fits",
        {"TIME": _time(), "PDCSAP_FLUX": np.ones(500), "SAP_QUALITY": np.full(500, 1, np.int32)},
    )
    with pytest.raises(ValidationError, match="no cadence left"):
        read_lightcurve(path)


def test_target_pixel_file_refused(tmp_path: Path) -> None:
    path = write_kepler_like(
        tmp_path / "tpf.fits",
        {"TIME": _time(), "PDCSAP_FLUX": np.ones(500)},
        header={"CREATOR": "TargetPixelExporterPipelineModule"},
    )
    with pytest.raises(FormatError, match="target pixel file"):
        read_lightcurve(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(FormatError, match="empty"):
        read_lightcurve(path)
    blanks = tmp_path / "blank.fits"
    blanks.write_bytes(b"   \n\n  ")
    with pytest.raises(FormatError, match="empty"):
        read_lightcurve(blanks)


def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "lc.fits"  # the name says FITS; the content decides
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(FormatError, match="binary content that is not FITS"):
        read_lightcurve(path)


def test_non_utf8_csv(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    body = "# étoile: KIC 1\ntime,flux\n" + "\n".join(f"{i},1.0" for i in range(100))
    path.write_bytes(body.encode("latin-1"))
    with pytest.raises(FormatError, match="not UTF-8"):
        read_lightcurve(path)


def test_csv_unknown_columns(tmp_path: Path) -> None:
    path = tmp_path / "weird.csv"
    path.write_text("wavelength,intensity\n" + "\n".join(f"{i},{i}" for i in range(100)))
    with pytest.raises(FormatError) as err:
        read_lightcurve(path)
    assert "columns found: wavelength, intensity" in str(err.value)
    assert "allowed time columns" in str(err.value)


def test_csv_time_without_flux(tmp_path: Path) -> None:
    path = tmp_path / "noflux.csv"
    path.write_text("time,counts_x\n" + "\n".join(f"{i},{i}" for i in range(100)))
    with pytest.raises(FormatError, match="no flux column.*allowed flux columns"):
        read_lightcurve(path)


def test_kaggle_transposed_file_refused() -> None:
    path = get_settings().data_dir / "kaggle" / "exoTest_head42_transposed.csv.gz"
    if not path.exists():
        pytest.skip("kaggle sample not present")
    # 3,197 rows of FLUX.n with one column per star (A..Z, 1..16): no flux column by name
    with pytest.raises(FormatError, match="no flux column; columns found: LABEL, A, B"):
        read_lightcurve(path)


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"time": [1, 2, 3], "flux": [1, 2')
    with pytest.raises(FormatError, match="invalid JSON"):
        read_lightcurve(path)


def test_json_unequal_lengths(tmp_path: Path) -> None:
    path = tmp_path / "uneven.json"
    path.write_text('{"time": [1, 2, 3], "flux": [1, 2]}')
    with pytest.raises(FormatError, match="different lengths"):
        read_lightcurve(path)


def test_missing_path_and_bad_source(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_lightcurve(tmp_path / "nope.fits")
    with pytest.raises(ValueError, match="source must be"):
        read_lightcurve(42)
    with pytest.raises(ValidationError, match="empty list"):
        read_lightcurve([])
    with pytest.raises(FormatError, match="directory"):
        read_lightcurve(tmp_path)


def test_negative_level_refused(tmp_path: Path) -> None:
    path = tmp_path / "ppm.csv"
    flux = -50 + np.random.default_rng(0).normal(0, 10, 200)
    path.write_text(
        "# mission: tess\nbtjd,flux\n"
        + "\n".join(f"{1500 + i * 0.01},{f}" for i, f in enumerate(flux))
    )
    with pytest.raises(ValidationError, match="not positive"):
        read_lightcurve(path)
