"""Receiving uploads over HTTP: a multipart/form-data body streamed to temporary files.

The size limit is enforced during the transfer, not after; what arrives is handed to
:func:`exoguard.services.datasets.create_dataset` (or the multi-file upload service), which
recognises, validates and stores it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

from exoguard.config import Settings
from exoguard.errors import ExoguardError, FormatError, TooLargeError, ValidationError
from exoguard.services.datasets import (
    MAX_FILES_PER_UPLOAD,
    IncomingFile,
    incoming_dir,
    safe_filename,
)

#: The multipart field that carries the file (repeated for several files of one star).
FILE_FIELD = "file"
#: Bytes allowed for multipart framing and the other (ignored) form fields.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


@dataclass
class _PartState:
    headers: dict[str, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    is_file: bool = False
    filename: str | None = None


class _MultipartSink:
    """Callbacks of python-multipart's streaming parser: each `file` part goes to its own file.

    At most `max_files` file parts; each and all of them together at most `max_bytes`.
    """

    def __init__(
        self, dest_dir: Path, *, max_bytes: int, field_name: str, max_files: int = 1
    ) -> None:
        self.dest_dir = dest_dir
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.field_name = field_name
        self.part = _PartState()
        self.handle: BinaryIO | None = None
        self.total = 0
        self.other_bytes = 0
        self.files: list[IncomingFile] = []
        self.digest = hashlib.sha256()
        self.error: ExoguardError | None = None

    @property
    def found(self) -> bool:
        return bool(self.files)

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.part = _PartState()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def on_header_end(self) -> None:
        name = bytes(self.part.header_field).decode("latin-1").strip().lower()
        self.part.headers[name] = bytes(self.part.header_value)
        self.part.header_field = bytearray()
        self.part.header_value = bytearray()

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.part.headers.get("content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        if name != self.field_name:
            return
        if len(self.files) >= self.max_files:
            raise ValidationError(
                f"at most {self.max_files} file(s) in the field {self.field_name!r} per upload"
            )
        self.part.is_file = True
        path = self.dest_dir / f"{uuid.uuid4()}.part"
        self.files.append(
            IncomingFile(
                path=path,
                filename=safe_filename(_decode_filename(params)),
                size_bytes=0,
                sha256="",
            )
        )
        self.digest = hashlib.sha256()
        self.handle = path.open("xb")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        n = end - start
        if self.part.is_file and self.handle is not None:
            current = self.files[-1]
            current.size_bytes += n
            self.total += n
            if current.size_bytes > self.max_bytes:
                raise TooLargeError(f"{current.filename}: " + _too_large_message(self.max_bytes))
            if self.total > self.max_bytes:
                raise TooLargeError(
                    f"the {len(self.files)} files together are larger than the upload limit "
                    f"of {self.max_bytes / 1e6:g} MB"
                )
            chunk = data[start:end]
            self.digest.update(chunk)
            self.handle.write(chunk)
        else:
            self.other_bytes += n
            if self.other_bytes > MULTIPART_OVERHEAD_BYTES:
                raise ValidationError(
                    f"form fields other than {self.field_name!r} are limited to "
                    f"{MULTIPART_OVERHEAD_BYTES // 1024} KiB"
                )

    def on_part_end(self) -> None:
        if self.part.is_file and self.handle is not None:
            self.handle.close()
            self.handle = None
            self.files[-1].sha256 = self.digest.hexdigest()
        self.part = _PartState()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def discard(self) -> None:
        self.close()
        for incoming in self.files:
            incoming.discard()


def _decode_filename(params: dict[bytes, bytes]) -> str:
    """The file name of a Content-Disposition header: RFC 5987 ``filename*``, else raw UTF-8."""
    extended = params.get(b"filename*")
    if extended is not None:
        text = extended.decode("latin-1")
        charset, _, rest = text.partition("'")
        _, _, quoted = rest.partition("'")
        from urllib.parse import unquote

        return unquote(quoted, encoding=charset or "utf-8", errors="replace")
    raw = params.get(b"filename", b"")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _too_large_message(max_bytes: int) -> str:
    return f"the file is larger than the upload limit of {max_bytes / 1e6:g} MB"


async def receive_multipart_file(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str | None,
    content_length: str | None,
    settings: Settings,
    field_name: str = FILE_FIELD,
) -> IncomingFile:
    """Stream the multipart field `field_name` to a temporary file, enforcing the size limit.

    One file only (a second `field_name` part is refused); see
    :func:`receive_multipart_files`.
    """
    files = await receive_multipart_files(
        chunks,
        content_type=content_type,
        content_length=content_length,
        settings=settings,
        field_name=field_name,
        max_files=1,
    )
    return files[0]


async def receive_multipart_files(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str | None,
    content_length: str | None,
    settings: Settings,
    field_name: str = FILE_FIELD,
    max_files: int = MAX_FILES_PER_UPLOAD,
) -> list[IncomingFile]:
    """Stream every multipart part `field_name` to a temporary file of its own.

    Raises `TooLargeError` (413) as soon as one file, or all of them together, pass
    ``settings.max_upload_mb``; `ValidationError` when the body is not multipart, lacks the
    field or holds more than `max_files` files; `FormatError` when a file is empty (naming
    it). Nothing is left on disk when it raises.
    """
    max_bytes = int(settings.max_upload_mb * 1_000_000)
    mime, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise ValidationError(
            f"send the file as multipart/form-data in the field {field_name!r} "
            f"(got Content-Type {content_type or 'none'!r})"
        )
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise ValidationError(f"bad Content-Length header {content_length!r}") from None
        if declared > max_bytes + MULTIPART_OVERHEAD_BYTES:
            raise TooLargeError(_too_large_message(max_bytes))
    sink = _MultipartSink(
        incoming_dir(settings), max_bytes=max_bytes, field_name=field_name, max_files=max_files
    )
    parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in chunks:
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except BaseException as exc:
        sink.discard()
        if isinstance(exc, ExoguardError):
            raise
        if isinstance(exc, Exception) and type(exc).__module__.startswith("python_multipart"):
            raise ValidationError(f"malformed multipart body ({exc})") from exc
        raise
    sink.close()
    if not sink.found:
        raise ValidationError(f"the multipart field {field_name!r} (the file) is missing")
    empty = [f.filename for f in sink.files if f.size_bytes == 0]
    if empty:
        sink.discard()
        raise FormatError(f"{', '.join(empty)}: the file is empty")
    return list(sink.files)


__all__ = ["FILE_FIELD", "receive_multipart_file", "receive_multipart_files"]
