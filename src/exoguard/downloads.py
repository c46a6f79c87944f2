"""Careful HTTP downloads, shared by the NASA Exoplanet Archive client
(:mod:`exoguard.catalogs.remote`) and the MAST client (:mod:`exoguard.io.mast`).

Every request is streamed with a size cap, retried with exponential backoff on connection
errors, truncated bodies, 408/425/429 and 5xx (``Retry-After`` honoured), and checked for
HTML error pages and TAP/VOTable errors. :class:`HttpClient` holds what both clients share:
the base URL, the cache root, the :class:`HttpPolicy` and the session.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import requests

from exoguard.errors import NotFoundError, RemoteError, TooLargeError

__all__ = [
    "Downloaded",
    "HttpClient",
    "HttpPolicy",
    "default_cache_dir",
    "describe_url",
    "fetch_bytes",
    "file_sha256",
    "html_title",
    "looks_like_html",
    "make_session",
    "stream_to_temp",
    "votable_error",
]

logger = logging.getLogger(__name__)

_USER_AGENT = "exoguard/0.1 (+https://github.com/exoguard)"
_SNIFF_BYTES = 2048
CHUNK_BYTES = 1 << 16
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_QUERY_STATUS_ERROR = re.compile(
    r'<INFO[^>]*name="QUERY_STATUS"[^>]*value="ERROR"[^>]*>(.*?)</INFO>', flags=re.I | re.S
)


@dataclass(frozen=True)
class HttpPolicy:
    """How patient and how careful one client is.

    Attributes
    ----------
    timeout_s : float
        Connect timeout and the longest wait for the next byte of a response, in seconds.
    retries : int
        Extra attempts after the first on connection errors, timeouts, truncated bodies and
        HTTP 408/425/429/5xx (so ``retries + 1`` attempts at most).
    backoff_s : float
        First delay between attempts; doubled each time (capped by ``max_backoff_s``). A
        ``Retry-After`` header in seconds takes precedence (also capped).
    max_backoff_s : float
    max_bytes : int
        Largest response accepted; larger ones raise ``TooLargeError`` before or while
        streaming.
    """

    timeout_s: float = 60.0
    retries: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    max_bytes: int = 512 * 2**20

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("backoff_s and max_backoff_s must be >= 0")
        if self.max_bytes <= 0:
            raise ValueError(f"max_bytes must be > 0, got {self.max_bytes}")


@dataclass(frozen=True)
class Downloaded:
    """A response body streamed into a temporary file (caller renames or deletes it)."""

    temp_path: Path
    size_bytes: int
    sha256: str
    url: str
    content_type: str


class _Retryable(Exception):
    """An attempt failed in a way another attempt may fix."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def default_cache_dir(var_dir: Path) -> Path:
    """The download cache under a variable-data folder: ``var_dir / "cache"``."""
    return Path(var_dir) / "cache"


def make_session() -> requests.Session:
    """A requests session with exoguard's User-Agent."""
    session = requests.Session()
    session.headers["User-Agent"] = _USER_AGENT
    return session


def describe_url(url: str) -> str:
    """The scheme, host and path of a URL (no query string) for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def looks_like_html(head: bytes) -> bool:
    """True when the first bytes are an HTML document (an error or login page)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        text.startswith(b"<") and b"<html" in text[:_SNIFF_BYTES]
    )


def html_title(head: bytes) -> str:
    """The ``<title>`` (or first heading) of an HTML page, for an error message."""
    text = head.decode("utf-8", "replace")
    match = re.search(r"<(title|h1)[^>]*>(.*?)</\1>", text, flags=re.I | re.S)
    return " ".join(match.group(2).split())[:200] if match else "no title"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def _check_status(response: requests.Response, *, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    where = describe_url(response.url)
    if status == 404:
        raise NotFoundError(f"{what}: not found at the archive (HTTP 404 from {where})")
    if status in _RETRY_STATUS:
        raise _Retryable(f"HTTP {status} from {where}", retry_after_s=_retry_after(response))
    snippet = response.raw.read(_SNIFF_BYTES, decode_content=True) if response.raw else b""
    detail = votable_error(snippet) or (
        html_title(snippet) if looks_like_html(snippet) else snippet.decode("utf-8", "replace")
    )
    raise RemoteError(
        f"{what}: the archive refused the request (HTTP {status} from {where}): "
        f"{' '.join(detail.split())[:300]}"
    )


def votable_error(head: bytes) -> str | None:
    """The message of a TAP/VOTable ``QUERY_STATUS=ERROR`` document, None if not one."""
    text = head.decode("utf-8", "replace")
    if "<VOTABLE" not in text.upper() and "QUERY_STATUS" not in text.upper():
        return None
    match = _QUERY_STATUS_ERROR.search(text)
    if match:
        return " ".join(match.group(1).split()) or "unspecified TAP error"
    return "the archive answered with a VOTable instead of the requested format"


def _with_retries(attempt: Callable[[], Any], *, policy: HttpPolicy, what: str) -> Any:
    last: _Retryable | None = None
    for n in range(policy.retries + 1):
        try:
            return attempt()
        except _Retryable as exc:
            last = exc
            if n == policy.retries:
                break
            delay = exc.retry_after_s if exc.retry_after_s is not None else policy.backoff_s * 2**n
            delay = min(delay, policy.max_backoff_s)
            logger.warning(
                "%s: %s; retry %d of %d in %.2f s", what, exc, n + 1, policy.retries, delay
            )
            time.sleep(delay)
    raise RemoteError(
        f"{what}: {last} (gave up after {policy.retries + 1} attempts; offline? the bundled "
        "NASA data under EXOGUARD_DATA_DIR still works)"
    ) from last


def _send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    policy: HttpPolicy,
    params: Mapping[str, str] | None,
    data: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
) -> requests.Response:
    try:
        return session.request(
            method,
            url,
            params=params,
            data=data,
            headers=dict(headers or {}),
            stream=True,
            timeout=(policy.timeout_s, policy.timeout_s),
            allow_redirects=True,
        )
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _Retryable(f"cannot reach {describe_url(url)} ({type(exc).__name__})") from exc


def _declared_length(response: requests.Response) -> int | None:
    value = response.headers.get("Content-Length", "").strip()
    if not value.isdigit() or response.headers.get("Content-Encoding"):
        return None  # a compressed body's length says nothing about the decoded size
    return int(value)


def _too_large(what: str, *, size: int | str, limit: int) -> TooLargeError:
    return TooLargeError(
        f"{what}: the response is larger than the limit of {limit:,} bytes ({size} bytes); "
        "raise max_bytes if this is expected"
    )


def _iter_body(response: requests.Response, *, what: str, got: list[int]) -> Iterator[bytes]:
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            if chunk:
                got[0] += len(chunk)
                yield chunk
    except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError) as exc:
        raise _Retryable(
            f"download truncated after {got[0]:,} bytes ({type(exc).__name__})"
        ) from exc
    except requests.Timeout as exc:
        raise _Retryable(f"download stalled after {got[0]:,} bytes") from exc


def _write_body(
    response: requests.Response,
    fd: int,
    *,
    what: str,
    policy: HttpPolicy,
    check_head: Callable[[bytes, str], None],
    content_type: str,
) -> tuple[int, str]:
    """Stream the body into the open file ``fd`` (closed after); its size and SHA-256.

    ``check_head`` sees the first ``_SNIFF_BYTES`` (or the whole body when shorter).
    """
    digest = hashlib.sha256()
    head = b""
    checked = False
    got = [0]
    with os.fdopen(fd, "wb") as fh:
        for chunk in _iter_body(response, what=what, got=got):
            if got[0] > policy.max_bytes:
                raise _too_large(what, size=f"over {got[0]:,}", limit=policy.max_bytes)
            if not checked:
                head += chunk[: _SNIFF_BYTES - len(head)]
                if len(head) >= _SNIFF_BYTES:
                    check_head(head, content_type)
                    checked = True
            digest.update(chunk)
            fh.write(chunk)
    if not checked:
        check_head(head, content_type)
    return got[0], digest.hexdigest()


def _check_complete(
    size: int,
    *,
    declared: int | None,
    expected_bytes: int | None,
    complete: Callable[[int], bool] | None,
) -> None:
    """Raise ``_Retryable`` when the size disagrees with what was declared or expected."""
    if declared is not None and size != declared:
        raise _Retryable(f"download truncated: {size:,} of {declared:,} bytes")
    if expected_bytes is not None and size != expected_bytes:
        raise _Retryable(
            f"download truncated or altered: {size:,} bytes, the archive lists {expected_bytes:,}"
        )
    if complete is not None and not complete(size):
        raise _Retryable(f"download incomplete: {size:,} bytes")


def stream_to_temp(
    session: requests.Session,
    url: str,
    *,
    dest_dir: Path,
    policy: HttpPolicy,
    what: str,
    check_head: Callable[[bytes, str], None],
    method: str = "GET",
    params: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    expected_bytes: int | None = None,
    complete: Callable[[int], bool] | None = None,
) -> Downloaded:
    """Stream a response into a hidden temporary file inside ``dest_dir``, with retries.

    ``check_head(first_bytes, content_type)`` raises ``FormatError`` for a body of the wrong
    kind (it is called once, on the first 2 KiB). ``expected_bytes`` (a size the archive
    listed) and ``complete(size)`` (e.g. "a FITS file is a whole number of 2880-byte blocks")
    catch truncation when no ``Content-Length`` came; a mismatch is retried like a broken
    connection. The temporary file is removed on every
    failure; on success the caller renames it (same directory, so the rename is atomic).

    Raises
    ------
    NotFoundError
        HTTP 404.
    TooLargeError
        The declared or streamed size exceeds ``policy.max_bytes``.
    FormatError
        ``check_head`` refused the body (HTML page, empty body, wrong format).
    RemoteError
        Any other HTTP error, or retryable failures (connection, 5xx, truncation) that
        persisted through ``policy.retries`` retries.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)

    def attempt() -> Downloaded:
        response = _send(
            session, method, url, policy=policy, params=params, data=data, headers=headers
        )
        with response:
            _check_status(response, what=what)
            declared = _declared_length(response)
            if declared is not None and declared > policy.max_bytes:
                raise _too_large(what, size=f"{declared:,}", limit=policy.max_bytes)
            content_type = response.headers.get("Content-Type", "")
            fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".download-", suffix=".part")
            tmp = Path(tmp_name)
            try:
                size, sha256 = _write_body(
                    response, fd, what=what, policy=policy, check_head=check_head,
                    content_type=content_type,
                )  # fmt: skip
                _check_complete(
                    size, declared=declared, expected_bytes=expected_bytes, complete=complete
                )
                return Downloaded(
                    temp_path=tmp,
                    size_bytes=size,
                    sha256=sha256,
                    url=response.url,
                    content_type=content_type,
                )
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

    result: Downloaded = _with_retries(attempt, policy=policy, what=what)
    return result


def fetch_bytes(
    session: requests.Session,
    url: str,
    *,
    policy: HttpPolicy,
    what: str,
    method: str = "GET",
    params: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    max_bytes: int = 64 * 2**20,
) -> tuple[bytes, str]:
    """A small response body in memory (with the same retries and limits); body, content type."""

    def attempt() -> tuple[bytes, str]:
        response = _send(
            session, method, url, policy=policy, params=params, data=data, headers=headers
        )
        with response:
            _check_status(response, what=what)
            declared = _declared_length(response)
            if declared is not None and declared > max_bytes:
                raise _too_large(what, size=f"{declared:,}", limit=max_bytes)
            parts: list[bytes] = []
            got = [0]
            for chunk in _iter_body(response, what=what, got=got):
                if got[0] > max_bytes:
                    raise _too_large(what, size=f"over {got[0]:,}", limit=max_bytes)
                parts.append(chunk)
            if declared is not None and got[0] != declared:
                raise _Retryable(f"response truncated: {got[0]:,} of {declared:,} bytes")
            return b"".join(parts), response.headers.get("Content-Type", "")

    result: tuple[bytes, str] = _with_retries(attempt, policy=policy, what=what)
    return result


def file_sha256(path: Path, *, gunzip: bool = False) -> str:
    """SHA-256 of a file's bytes (of its decompressed content with ``gunzip=True``)."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") if gunzip else path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class HttpClient:
    """What the archive and MAST clients share: base URL, cache root, policy and session.

    Subclasses name their service's ``DEFAULT_URL``; the entry points pass the configured
    URL (``Settings.archive_url``, ``Settings.mast_url``).

    Parameters
    ----------
    cache_dir : Path
        Cache root (the entry points pass ``default_cache_dir(settings.var_dir)``).
    base_url : str, optional
        The service root; default ``DEFAULT_URL``.
    policy : HttpPolicy, optional
        Timeouts, retries and the size cap.
    session : requests.Session, optional
        Closed by :meth:`close` only when this client created it.
    """

    DEFAULT_URL: ClassVar[str]

    def __init__(
        self,
        *,
        cache_dir: Path,
        base_url: str | None = None,
        policy: HttpPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        chosen = base_url or self.DEFAULT_URL
        if not chosen.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {chosen!r}")
        self.base_url = chosen.rstrip("/")
        self.cache_dir = Path(cache_dir)
        self.policy = policy or HttpPolicy()
        self._session = session or make_session()
        self._own_session = session is None

    def close(self) -> None:
        """Close the HTTP session (when this client created it)."""
        if self._own_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
