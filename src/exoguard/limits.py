"""Caps on what one input file may expand to: decompressed bytes and rows.

A gzip file of a few megabytes can expand to gigabytes (a "decompression bomb"). Every reader
of a file that may be compressed reads it through :func:`open_capped` (or :func:`read_capped`),
which decompresses in bounded chunks and stops as soon as the cap is passed, and an upload is
first :func:`scan`-ned (streamed and counted, nothing kept) before any parser sees it. Passing a
cap raises `TooLargeError` (HTTP 413) whose message names the limit and the setting that
raises it.

Examples
--------
>>> limits = InputLimits(max_bytes=10 * 2**20, max_rows=100_000)
>>> limits.max_mb
10.0
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from exoguard.errors import FormatError, TooLargeError

GZIP_MAGIC = b"\x1f\x8b"
#: Bytes decompressed per step: the most a reader holds beyond what it keeps.
CHUNK_BYTES = 1 << 20
#: Library defaults, for files read outside the web app (the CLI, notebooks).
DEFAULT_MAX_BYTES = 512 * 2**20
DEFAULT_MAX_ROWS = 5_000_000
BYTES_SETTING = "EXOGUARD_MAX_DECOMPRESSED_MB"
ROWS_SETTING = "EXOGUARD_MAX_UPLOAD_ROWS"


@dataclass(frozen=True)
class InputLimits:
    """The most one input file may hold once decompressed.

    Parameters
    ----------
    max_bytes : int
        Decompressed bytes (of a plain file: its size).
    max_rows : int
        Text lines of a CSV/JSON file, records of a JSON table, table rows of a FITS file.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_rows: int = DEFAULT_MAX_ROWS

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_rows < 1:
            raise ValueError(
                f"limits must be positive; got max_bytes={self.max_bytes}, max_rows={self.max_rows}"
            )

    @property
    def max_mb(self) -> float:
        return self.max_bytes / 2**20

    def bytes_error(self, name: str) -> TooLargeError:
        return TooLargeError(
            f"{name}: decompresses to more than {self.max_mb:g} MiB, the limit on decompressed "
            f"size ({BYTES_SETTING}); refused before reading it"
        )

    def rows_error(self, name: str, *, what: str = "rows") -> TooLargeError:
        return TooLargeError(
            f"{name}: more than {self.max_rows} {what}, the limit on rows per file "
            f"({ROWS_SETTING}); refused"
        )

    def check_rows(self, n_rows: int, *, name: str, what: str = "rows") -> None:
        """Raise `TooLargeError` when `n_rows` passes the cap."""
        if n_rows > self.max_rows:
            raise self.rows_error(name, what=what)


DEFAULT_LIMITS = InputLimits()


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == GZIP_MAGIC


class _Source(Protocol):
    """What the capped stream reads from: a file, a GzipFile."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


class _CappedStream(io.RawIOBase):
    """Reads `inner` (a decompressing stream or a plain file) and refuses past `max_bytes`."""

    def __init__(self, inner: _Source, *, limits: InputLimits, name: str) -> None:
        self._inner = inner
        self._limits = limits
        self._name = name
        self.n_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        # Read one byte past the cap at most, so that a file of exactly the cap passes.
        want = min(len(view), self._limits.max_bytes + 1 - self.n_bytes)
        if want <= 0:
            raise self._limits.bytes_error(self._name)
        try:
            data = self._inner.read(want)
        except (OSError, EOFError, zlib.error) as exc:
            raise FormatError(f"{self._name}: corrupt gzip data ({exc})") from exc
        n = len(data)
        view[:n] = data
        self.n_bytes += n
        if self.n_bytes > self._limits.max_bytes:
            raise self._limits.bytes_error(self._name)
        return n

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def open_capped(
    path: Path, *, limits: InputLimits = DEFAULT_LIMITS, name: str | None = None
) -> io.BufferedReader:
    """The file's content (gunzipped when it is gzip) as a stream that refuses past the cap.

    Raises `TooLargeError` from a read that passes ``limits.max_bytes`` and `FormatError` on
    corrupt gzip data; the caller closes the stream.
    """
    return _capped(path.open("rb"), limits=limits, name=name or path.name)


def _capped(raw: BinaryIO, *, limits: InputLimits, name: str) -> io.BufferedReader:
    inner: _Source = raw
    try:
        head = raw.read(2)
        raw.seek(0)
        if head == GZIP_MAGIC:
            # GzipFile reads every member of a multi-member file (zlib alone stops at the
            # first); it does not close a fileobj it was given, _Closing does.
            inner = _Closing(gzip.GzipFile(fileobj=raw, mode="rb"), raw)
    except BaseException:
        raw.close()
        raise
    return io.BufferedReader(_CappedStream(inner, limits=limits, name=name), CHUNK_BYTES)


def decompress_capped(
    data: bytes, *, limits: InputLimits = DEFAULT_LIMITS, name: str = "<data>"
) -> bytes:
    """`data` gunzipped (all members) in bounded chunks, refused as soon as it passes the cap."""
    chunks: list[bytes] = []
    with _capped(io.BytesIO(data), limits=limits, name=name) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            chunks.append(chunk)
    return b"".join(chunks)


class _Closing(io.RawIOBase):
    """A decompressing stream that also closes the file under it."""

    def __init__(self, outer: _Source, under: _Source) -> None:
        self._outer = outer
        self._under = under

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        return self._outer.read(size)

    def close(self) -> None:
        try:
            self._outer.close()
        finally:
            self._under.close()
            super().close()


def read_capped(
    path: Path, *, limits: InputLimits = DEFAULT_LIMITS, name: str | None = None
) -> bytes:
    """The whole (decompressed) content, refused as soon as it passes ``limits.max_bytes``."""
    chunks: list[bytes] = []
    with open_capped(path, limits=limits, name=name) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class ScanResult:
    """What a streamed pass over a file found."""

    n_bytes: int
    n_lines: int
    compressed: bool


def scan(
    path: Path,
    *,
    limits: InputLimits = DEFAULT_LIMITS,
    name: str | None = None,
    count_lines: bool = True,
) -> ScanResult:
    """Stream the (decompressed) file once, keeping nothing, and check it against the caps.

    Stops at the first chunk that passes ``limits.max_bytes`` or, with `count_lines`, holds
    more than ``limits.max_rows`` lines, so a bomb costs one chunk of memory and the time to
    decompress the cap.

    Raises
    ------
    TooLargeError
        Past a cap; the message names the limit and its setting.
    FormatError
        Corrupt or truncated gzip data.
    """
    label = name or path.name
    n_lines = 0
    with open_capped(path, limits=limits, name=label) as stream:
        while chunk := stream.read(CHUNK_BYTES):
            if count_lines:
                n_lines += chunk.count(b"\n")
                if n_lines > limits.max_rows:
                    raise limits.rows_error(label, what="lines")
        n_bytes = stream.raw.n_bytes  # type: ignore[attr-defined]
    return ScanResult(n_bytes=n_bytes, n_lines=n_lines, compressed=is_gzip(path))


__all__ = [
    "BYTES_SETTING",
    "DEFAULT_LIMITS",
    "ROWS_SETTING",
    "InputLimits",
    "ScanResult",
    "decompress_capped",
    "is_gzip",
    "open_capped",
    "read_capped",
    "scan",
]
