"""The capped readers (issue 13, item 2): decompression bombs stop at the cap, early.

Bombs are built in tmp as multi-member gzip files (one compressed block repeated), so a GiB of
text costs a fraction of a second to make and a few MB on disk.
"""

from __future__ import annotations

import gzip
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from exoguard.catalogs.rawio import read_raw_bytes
from exoguard.config import DECOMPRESSED_MULTIPLE, Settings
from exoguard.errors import FormatError, TooLargeError
from exoguard.io import read_lightcurve
from exoguard.io.fits_common import open_fits
from exoguard.limits import (
    BYTES_SETTING,
    CHUNK_BYTES,
    ROWS_SETTING,
    InputLimits,
    open_capped,
    read_capped,
    scan,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from _bombs import CSV_LINE, MIB, csv_bomb, fits_gz_bomb, gzip_bomb, json_bomb  # noqa: E402


# ----------------------------------------------------------------------------- the stream
def test_read_capped_stops_one_chunk_past_the_cap(tmp_path: Path) -> None:
    bomb = csv_bomb(tmp_path / "bomb.csv.gz", total_mib=1024)
    assert bomb.stat().st_size < 5 * MIB  # a GiB of text in a few MB
    limits = InputLimits(max_bytes=3 * MIB, max_rows=10**9)
    with open_capped(bomb, limits=limits) as stream:
        with pytest.raises(TooLargeError) as err:
            while stream.read(CHUNK_BYTES):
                pass
        decompressed = stream.raw.n_bytes  # type: ignore[attr-defined]
    # it stopped at the cap (+1 byte), not after decompressing the GiB
    assert decompressed == limits.max_bytes + 1
    assert "3 MiB" in str(err.value) and BYTES_SETTING in str(err.value)


def test_exactly_the_cap_passes_and_one_byte_more_does_not(tmp_path: Path) -> None:
    data = b"x" * 1000
    plain = tmp_path / "plain.txt"
    plain.write_bytes(data)
    packed = tmp_path / "packed.txt.gz"
    packed.write_bytes(gzip.compress(data))
    for path in (plain, packed):
        assert read_capped(path, limits=InputLimits(max_bytes=1000)) == data
        with pytest.raises(TooLargeError):
            read_capped(path, limits=InputLimits(max_bytes=999))


def test_scan_counts_lines_and_refuses_too_many_rows(tmp_path: Path) -> None:
    small = tmp_path / "small.csv.gz"
    small.write_bytes(gzip.compress(b"a,b\n" + b"1,2\n" * 500))
    found = scan(small, limits=InputLimits(max_bytes=MIB, max_rows=501))
    assert (found.n_bytes, found.n_lines, found.compressed) == (4 * 501, 501, True)
    with pytest.raises(TooLargeError) as err:
        scan(small, limits=InputLimits(max_bytes=MIB, max_rows=500))
    assert "more than 500 lines" in str(err.value) and ROWS_SETTING in str(err.value)


def test_corrupt_and_truncated_gzip_are_format_errors(tmp_path: Path) -> None:
    whole = gzip.compress(CSV_LINE * 10_000)
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(whole[: len(whole) // 2])
    garbled = tmp_path / "garbled.csv.gz"
    garbled.write_bytes(whole[:20] + bytes(200) + whole[220:])
    for path in (truncated, garbled):
        with pytest.raises(FormatError) as err:
            scan(path)
        assert not isinstance(err.value, TooLargeError)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        InputLimits(max_bytes=0)


# ----------------------------------------------------------------------------- the readers
def test_lightcurve_readers_refuse_bombs_with_the_limit(tmp_path: Path) -> None:
    limits = InputLimits(max_bytes=8 * MIB, max_rows=10**9)
    for bomb in (
        csv_bomb(tmp_path / "lc.csv.gz", total_mib=256),
        json_bomb(tmp_path / "lc.json.gz", total_mib=256),
        fits_gz_bomb(tmp_path / "lc.fits.gz", n_rows=10 * MIB),  # 240 MiB of table
    ):
        with pytest.raises(TooLargeError) as err:
            read_lightcurve(bomb, limits=limits)
        assert "8 MiB" in str(err.value) and BYTES_SETTING in str(err.value), bomb.name


def test_csv_and_json_rows_are_capped(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    flux = 1 + 1e-4 * rng.standard_normal(3000)
    lines = [f"{1354 + i * 0.01:.4f},{f:.6f}" for i, f in enumerate(flux)]
    csv_path = tmp_path / "lc.csv"
    csv_path.write_text("time,flux\n" + "\n".join(lines) + "\n")
    json_path = tmp_path / "lc.json"
    json_path.write_text(
        '{"time": ['
        + ",".join(f"{1354 + i * 0.01:.4f}" for i in range(3000))
        + '], "flux": ['
        + ",".join(f"{f:.6f}" for f in flux)
        + "]}"
    )
    for path in (csv_path, json_path):
        lc = read_lightcurve(path, limits=InputLimits(max_rows=5000), mission="tess")
        assert lc.n_points > 2900
        with pytest.raises(TooLargeError, match=ROWS_SETTING):
            read_lightcurve(path, limits=InputLimits(max_rows=2000))


def test_fits_table_rows_are_capped_from_the_header(tmp_path: Path) -> None:
    n = 5000
    cols = [
        fits.Column(name="TIME", format="D", array=np.linspace(1354, 1380, n)),
        fits.Column(name="SAP_FLUX", format="D", array=np.ones(n)),
    ]
    path = tmp_path / "lc.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(cols)]).writeto(path)
    open_fits(path, limits=InputLimits(max_rows=n)).close()
    with pytest.raises(TooLargeError) as err:
        open_fits(path, limits=InputLimits(max_rows=n - 1))
    assert "table rows" in str(err.value) and ROWS_SETTING in str(err.value)


def test_catalog_reader_refuses_a_bomb_as_too_large(tmp_path: Path) -> None:
    bomb = gzip_bomb(
        tmp_path / "koi.csv.gz",
        head=b"kepoi_name,koi_period\n",
        block=b"K00001.01,3.5\n" * (16 * MIB // 14),
        repeats=16,
    )
    with pytest.raises(TooLargeError, match=BYTES_SETTING):
        read_raw_bytes(bomb.read_bytes(), name="koi.csv.gz", limits=InputLimits(max_bytes=MIB))
    with pytest.raises(TooLargeError, match=ROWS_SETTING):
        read_raw_bytes(
            gzip.compress(b"kepoi_name,koi_period\n" + b"K1.01,3\n" * 100),
            name="koi.csv.gz",
            limits=InputLimits(max_rows=50),
        )


def test_decompressed_cap_defaults_to_a_multiple_of_the_upload_limit() -> None:
    settings = Settings(EXOGUARD_MAX_UPLOAD_MB=7)
    assert settings.max_decompressed_mb == pytest.approx(7 * DECOMPRESSED_MULTIPLE)
    assert settings.input_limits.max_bytes == int(7 * DECOMPRESSED_MULTIPLE * MIB)
    own = Settings(
        EXOGUARD_MAX_UPLOAD_MB=7, EXOGUARD_MAX_DECOMPRESSED_MB=3, EXOGUARD_MAX_UPLOAD_ROWS=10
    )
    assert own.input_limits == InputLimits(max_bytes=3 * MIB, max_rows=10)


def test_multi_member_bombs_decompress_to_what_they_claim(tmp_path: Path) -> None:
    """The test bombs are real: gzip (and zlib) read them back in full."""
    bomb = csv_bomb(tmp_path / "b.csv.gz", total_mib=32)
    with gzip.open(bomb, "rb") as fh:
        n = sum(len(chunk) for chunk in iter(lambda: fh.read(MIB), b""))
    assert n == len(b"time,flux,flux_err\n") + 2 * (16 * MIB // len(CSV_LINE)) * len(CSV_LINE)
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(bomb.read_bytes()[:100])
