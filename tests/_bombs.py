"""Decompression bombs for the tests, built in tmp (issue 13, item 2).

Each is a multi-member gzip file: one block is compressed once and its member written many
times, so a GiB of content costs a fraction of a second to make and about a MB on disk.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from astropy.io import fits

MIB = 2**20
CSV_LINE = b"1354.000000,1.000000,0.000100\n"


def gzip_bomb(path: Path, *, head: bytes, block: bytes, repeats: int, tail: bytes = b"") -> Path:
    """`head` + `block` x `repeats` + `tail`, gzipped as members (one compressed block reused)."""
    member = gzip.compress(block, compresslevel=9, mtime=0)
    with path.open("wb") as fh:
        fh.write(gzip.compress(head, mtime=0))
        for _ in range(repeats):
            fh.write(member)
        if tail:
            fh.write(gzip.compress(tail, mtime=0))
    return path


def csv_bomb(path: Path, *, total_mib: int) -> Path:
    block = CSV_LINE * (16 * MIB // len(CSV_LINE))
    return gzip_bomb(path, head=b"time,flux,flux_err\n", block=block, repeats=total_mib // 16)


def json_bomb(path: Path, *, total_mib: int) -> Path:
    block = b"1354.0," * (16 * MIB // 7)
    return gzip_bomb(
        path,
        head=b'{"time": [',
        block=block,
        repeats=total_mib // 16,
        tail=b'1.0], "flux": [1.0]}',
    )


def fits_gz_bomb(path: Path, *, n_rows: int) -> Path:
    """A gzipped FITS light curve whose table of zeros holds `n_rows` rows (24 bytes each)."""
    primary = fits.PrimaryHDU()
    primary.header["TELESCOP"] = "TESS"
    cols = [fits.Column(name=n, format="D") for n in ("TIME", "SAP_FLUX", "PDCSAP_FLUX")]
    table = fits.BinTableHDU.from_columns(cols, nrows=1, name="LIGHTCURVE")
    table.header["NAXIS2"] = n_rows
    data_bytes = 24 * n_rows
    zeros = bytes(16 * MIB)
    head = primary.header.tostring().encode() + table.header.tostring().encode()
    member = gzip.compress(zeros, compresslevel=9, mtime=0)
    with path.open("wb") as fh:
        fh.write(gzip.compress(head, mtime=0))
        full, rest = divmod(data_bytes, len(zeros))
        for _ in range(full):
            fh.write(member)
        pad = (-data_bytes) % 2880
        fh.write(gzip.compress(bytes(rest + pad), mtime=0))
    return path
