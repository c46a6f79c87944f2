"""Multi-file uploads: each limit holds for each file and for all files together.

The multipart receiver and the validation of several light-curve files run on real bytes
(the bundled Kepler-227 quarters) and a real SQLite database in a temporary folder.
"""

from __future__ import annotations

import gzip
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from exoguard.config import Settings, get_settings
from exoguard.errors import TooLargeError, ValidationError
from exoguard.services.datasets import IncomingFile
from exoguard.services.multi_upload import create_lightcurve_set
from exoguard.store.db import make_engine, make_sessionmaker
from exoguard.store.migrate import upgrade
from exoguard.store.models import Dataset
from exoguard.web.uploads import receive_multipart_files

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from _asyncrun import run_coroutine  # noqa: E402

KEPLER = get_settings().data_dir / "lightcurves" / "kepler"
QUARTERS = sorted(KEPLER.glob("kplr010797460-20*_llc.fits"))[1:4]
BOUNDARY = "multiuploadboundary"

pytestmark = pytest.mark.skipif(len(QUARTERS) < 3, reason="bundled Kepler quarters not found")


def _settings(tmp_path: Path, **values: object) -> Settings:
    base: dict[str, object] = {
        "EXOGUARD_ENV": "development",
        "EXOGUARD_VAR_DIR": tmp_path / "var",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    base.update(values)
    return Settings(**base)


def _body(parts: list[tuple[str, bytes]]) -> bytes:
    out = b""
    for name, content in parts:
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        out += content + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


async def _chunks(body: bytes, size: int = 65536) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _receive(settings: Settings, parts: list[tuple[str, bytes]], **kw: int) -> list[IncomingFile]:
    return run_coroutine(
        receive_multipart_files(
            _chunks(_body(parts)),
            content_type=f"multipart/form-data; boundary={BOUNDARY}",
            content_length=None,
            settings=settings,
            **kw,  # type: ignore[arg-type]
        )
    )


def _incoming(settings: Settings) -> list[Path]:
    folder = settings.uploads_path / ".incoming"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_each_part_becomes_its_own_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    parts = [(p.name, p.read_bytes()) for p in QUARTERS]
    files = _receive(settings, parts)
    assert [f.filename for f in files] == [p.name for p in QUARTERS]
    assert [f.path.read_bytes() for f in files] == [content for _, content in parts]
    assert all(len(f.sha256) == 64 for f in files)
    for f in files:
        f.discard()


def test_the_upload_limit_bounds_the_total_as_well(tmp_path: Path) -> None:
    # Each quarter (~0.47 MB) is under 1 MB; the three together are not.
    settings = _settings(tmp_path, EXOGUARD_MAX_UPLOAD_MB=1.0)
    parts = [(p.name, p.read_bytes()) for p in QUARTERS]
    assert all(len(c) < 1_000_000 for _, c in parts) and sum(len(c) for _, c in parts) > 1e6
    with pytest.raises(TooLargeError, match="the 3 files together are larger than .* 1 MB"):
        _receive(settings, parts)
    assert _incoming(settings) == []


def test_too_many_files_are_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    parts = [(f"q{i}.fits", QUARTERS[0].read_bytes()) for i in range(3)]
    with pytest.raises(ValidationError, match="at most 2 file"):
        _receive(settings, parts, max_files=2)
    assert _incoming(settings) == []


def test_the_decompressed_limit_bounds_the_total(tmp_path: Path) -> None:
    # Each gzip quarter expands to ~0.47 MB, under the 1 MiB cap; two together pass it.
    settings = _settings(tmp_path, EXOGUARD_MAX_DECOMPRESSED_MB=1.0)
    parts = [(f"{p.name}.gz", gzip.compress(p.read_bytes())) for p in QUARTERS]
    files = _receive(settings, parts)
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            with pytest.raises(TooLargeError, match=r"file 3 of 3 .*all files together"):
                create_lightcurve_set(session, settings, files, owner_id=None)
            assert session.scalar(select(func.count()).select_from(Dataset)) == 0
    finally:
        engine.dispose()
    assert _incoming(settings) == []
    assert not [p for p in settings.uploads_path.iterdir() if p.name != ".incoming"]
