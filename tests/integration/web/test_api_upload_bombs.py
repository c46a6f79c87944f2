"""Decompression bombs uploaded to a real server process (issue 13, item 2).

Before: a 2 MB ``.csv.gz`` of 1 GB of text took the server to 17 GB RSS for a minute, then a
415. Now every upload is streamed once against the decompressed-size and row caps before any
parser runs. The server runs as its own process (``exoguard serve`` on 127.0.0.1) so that its
peak memory (``VmHWM`` of ``/proc/<pid>/status``) can be read: after a warm-up upload of real
files, no bomb may raise it by more than 10x the upload limit. Each bomb must get 413 naming
the limit and its setting, leave the dataset list unchanged and leave no file behind.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from exoguard.limits import BYTES_SETTING, ROWS_SETTING
from exoguard.store.db import make_engine, make_sessionmaker, session_scope
from exoguard.store.repositories import UserRepository
from exoguard.web.security import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_token_for,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from _api_support import (
    KEPLER_FITS,
    SECRET,
    free_port,
    fresh_database,
    koi_slice,
    serve_process,
)  # noqa: E402

from _bombs import MIB, csv_bomb, fits_gz_bomb, gzip_bomb, json_bomb  # noqa: E402
from exoguard.services.accounts import start_session  # noqa: E402

pytestmark = pytest.mark.integration

MAX_UPLOAD_MB = 5
MAX_ROWS = 200_000
#: The issue's bound: an upload's peak memory stays under about 10x the upload limit.
MAX_GROWTH_BYTES = 10 * MAX_UPLOAD_MB * 1_000_000


@dataclass
class Server:
    base: str
    pid: int
    uploads: Path
    headers: dict[str, str]

    def peak_rss_bytes(self) -> int:
        """The server process's peak resident memory so far (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc status")

    def upload(self, path: Path) -> httpx.Response:
        with (
            httpx.Client(base_url=self.base, headers=self.headers, timeout=120) as client,
            path.open("rb") as fh,
        ):
            return client.post("/api/data/upload", files={"file": (path.name, fh)})

    def datasets(self) -> list[str]:
        with httpx.Client(base_url=self.base, headers=self.headers, timeout=30) as client:
            r = client.get("/api/data/datasets")
        assert r.status_code == 200, r.text
        return sorted(d["id"] for d in r.json()["datasets"])

    def kept_files(self) -> list[Path]:
        return sorted(p for p in self.uploads.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def server(
    postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("bombs")
    with fresh_database(postgres_base_url, folder) as url:
        engine = make_engine(url)
        with session_scope(make_sessionmaker(engine)) as s:
            user = UserRepository(s).create(
                email="bombs@example.org", password_hash="x", name="bombs", role="explorer"
            )
            s.flush()
            token = start_session(s, user=user, secret_key=SECRET, ttl_s=3600)
        engine.dispose()
        csrf = csrf_token_for(token, secret_key=SECRET)
        headers = {"Cookie": f"{SESSION_COOKIE}={token}; {CSRF_COOKIE}={csrf}", CSRF_HEADER: csrf}
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "EXOGUARD_VAR_DIR": str(folder / "var"),
            "SECRET_KEY": SECRET,
            "EXOGUARD_ENV": "test",
            "EXOGUARD_JOBS": "inprocess",
            "EXOGUARD_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
            "EXOGUARD_MAX_UPLOAD_ROWS": str(MAX_ROWS),
            "EXOGUARD_RATE_LIMIT_PER_MINUTE": "1000",
        }
        for name in ("REDIS_URL", "EXOGUARD_MAX_DECOMPRESSED_MB"):
            env.pop(name, None)
        with serve_process(env, port=port, log_path=folder / "serve.log") as (base, process):
            yield Server(base, process.pid, folder / "var" / "uploads", headers)


@pytest.fixture(scope="module")
def warmed(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Server:
    """Real files uploaded first (plain and gzipped FITS, gzipped CSV), so that the readers'
    imports and caches are in the baseline peak."""
    folder = tmp_path_factory.mktemp("real")
    fits_gz = folder / "kepler_llc.fits.gz"
    fits_gz.write_bytes(gzip.compress(KEPLER_FITS.read_bytes()))
    rows = "\n".join(
        f"{1354 + i * 0.02:.5f},{1 + 1e-4 * ((i * 7919) % 13 - 6):.6f}" for i in range(5000)
    )
    csv_gz = folder / "lc.csv.gz"
    csv_gz.write_bytes(gzip.compress(f"time,flux\n{rows}\n".encode()))
    for path in (KEPLER_FITS, fits_gz, csv_gz):
        r = server.upload(path)
        assert r.status_code == 201, r.text
    return server


BOMBS: dict[str, tuple[Callable[[Path], Path], str]] = {
    # 1 GiB of CSV light-curve text in about a MB
    "csv-1gib": (lambda d: csv_bomb(d / "lc.csv.gz", total_mib=1024), BYTES_SETTING),
    # 1 GiB of JSON numbers on one line (no line to count: the byte cap stops it)
    "json-1gib": (lambda d: json_bomb(d / "lc.json.gz", total_mib=1024), BYTES_SETTING),
    # a FITS light curve whose table of zeros is 1 GiB
    "fits-1gib": (lambda d: fits_gz_bomb(d / "lc.fits.gz", n_rows=1024 * MIB // 24), BYTES_SETTING),
    # under the byte cap, but a million rows of "1,2"
    "rows": (
        lambda d: gzip_bomb(
            d / "rows.csv.gz", head=b"time,flux\n", block=b"1,2\n" * MIB, repeats=1
        ),
        ROWS_SETTING,
    ),
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_a_bomb_is_refused_early_with_bounded_memory(
    warmed: Server, bomb: str, tmp_path: Path
) -> None:
    build, setting = BOMBS[bomb]
    path = build(tmp_path)
    assert path.stat().st_size < MAX_UPLOAD_MB * 1_000_000  # it passes the upload limit
    before_ids, before_files = warmed.datasets(), warmed.kept_files()
    before_peak = warmed.peak_rss_bytes()
    started = time.monotonic()
    r = warmed.upload(path)
    elapsed_s = time.monotonic() - started
    growth = warmed.peak_rss_bytes() - before_peak
    assert r.status_code == 413, r.text
    detail = r.json()["detail"]
    assert setting in detail and path.name in detail, detail
    if setting == BYTES_SETTING:
        assert f"{MAX_UPLOAD_MB:g} MiB" in detail  # the default cap: 1 x the upload limit
    else:
        assert f"{MAX_ROWS}" in detail
    assert warmed.datasets() == before_ids
    assert warmed.kept_files() == before_files  # nothing stored, nothing left in .incoming
    assert growth < MAX_GROWTH_BYTES, f"peak RSS grew by {growth / 1e6:.0f} MB"
    assert elapsed_s < 30, f"refusing took {elapsed_s:.1f} s"


def _lightcurve_csv(n_rows: int) -> bytes:
    rng = np.random.default_rng(13)
    time_bjd = 2458354.0 + np.arange(n_rows) * (2.0 / 1440)
    flux = 1 + 1e-4 * rng.standard_normal(n_rows)
    table = np.column_stack([time_bjd, flux, np.full(n_rows, 1e-4)])
    out = io.BytesIO()
    np.savetxt(
        out,
        table,
        fmt=("%.6f", "%.6f", "%.6f"),
        delimiter=",",
        header="time,flux,flux_err",
        comments="",
    )
    return out.getvalue()


@pytest.mark.parametrize("what", ["lightcurve", "catalog"])
def test_a_real_upload_just_under_the_cap_is_kept_with_bounded_memory(
    warmed: Server, what: str, tmp_path: Path
) -> None:
    """The caps do not refuse real data: a gzip CSV that expands to just under the cap."""
    cap = MAX_UPLOAD_MB * MIB
    if what == "lightcurve":
        text = _lightcurve_csv(cap // 34)
        name = "lc.csv.gz"
    else:
        text = koi_slice(9000)
        name = "koi.csv.gz"
    assert 0.6 * cap < len(text) <= cap
    path = tmp_path / name
    path.write_bytes(gzip.compress(text))
    before_peak = warmed.peak_rss_bytes()
    r = warmed.upload(path)
    growth = warmed.peak_rss_bytes() - before_peak
    assert r.status_code == 201, r.text
    assert r.json()["dataset"]["kind"] == what
    assert growth < MAX_GROWTH_BYTES, f"peak RSS grew by {growth / 1e6:.0f} MB"
