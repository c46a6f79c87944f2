"""Idempotent requests: the same client key from the same user within a TTL gets the first
answer again, and the work behind it runs once.

A client sends ``Idempotency-Key: <key>`` (explore.js makes one per distinct form content).
The first request with a key runs; a repeat, or a concurrent duplicate, waits for that run and
answers its JSON. A key reused with a different request body is refused (422). A run that fails
leaves no entry, so a retry with the same key runs again.

In-process by default; with ``REDIS_URL`` the keys live in Redis (``SET NX`` claims a key, the
others poll for the answer), so replicas share them. While Redis is unreachable the in-process
store answers (per replica), as the rate limits do.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool

from exoguard.errors import ConflictError, ValidationError
from exoguard.web.ratelimit import REDIS_TIMEOUT_S, redact_redis_url

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
#: How often a duplicate polls Redis for the first run's answer, and how long it waits.
POLL_S = 0.05
WAIT_S = 60.0

Compute = Callable[[], Awaitable[dict[str, Any]]]


def check_key(value: str) -> str:
    """The header's value, or ValidationError naming what a key may hold."""
    if not KEY_PATTERN.fullmatch(value):
        raise ValidationError(
            f"{HEADER} must be 8 to 128 characters of letters, digits and . _ : -"
        )
    return value


def fingerprint(body: Any) -> str:
    """SHA-256 of the request body's canonical JSON."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _mismatch() -> ValidationError:
    return ValidationError(
        f"this {HEADER} was used for a different request in the last minutes; "
        "send a new key for a new request"
    )


class ReplayStore(Protocol):
    async def run(
        self, key: str, body_hash: str, compute: Compute, *, ttl_s: float
    ) -> tuple[dict[str, Any], bool]:
        """(answer, replayed): the first answer for `key`, computing it at most once."""
        ...


@dataclass
class _Entry:
    body_hash: str
    expires_at: float
    future: asyncio.Future[dict[str, Any]]


class MemoryReplayStore:
    """Answers kept in this process (one event loop), oldest dropped past `max_entries`."""

    def __init__(self, *, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max_entries = max_entries

    async def run(
        self, key: str, body_hash: str, compute: Compute, *, ttl_s: float
    ) -> tuple[dict[str, Any], bool]:
        now = time.monotonic()
        while self._entries:
            oldest = next(iter(self._entries.values()))
            if oldest.expires_at > now and len(self._entries) < self._max_entries:
                break
            self._entries.popitem(last=False)
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at > now:
            if entry.body_hash != body_hash:
                raise _mismatch()
            return await asyncio.shield(entry.future), True
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._entries[key] = _Entry(body_hash, now + ttl_s, future)
        try:
            answer = await compute()
        except BaseException as exc:
            self._entries.pop(key, None)
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" log when nobody waits
            raise
        future.set_result(answer)
        return answer, False


class RedisReplayStore:
    """Answers in Redis, shared by the replicas; the in-process store while Redis is down."""

    def __init__(self, url: str, *, retry_s: float = 30.0) -> None:
        import redis

        self._url = url
        self._redis: Any = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
        )
        self._retry_s = retry_s
        self._retry_at = 0.0
        self._fallback = MemoryReplayStore()

    async def run(
        self, key: str, body_hash: str, compute: Compute, *, ttl_s: float
    ) -> tuple[dict[str, Any], bool]:
        if time.monotonic() < self._retry_at:
            return await self._fallback.run(key, body_hash, compute, ttl_s=ttl_s)
        redis_key = f"exoguard:idem:{key}"
        ttl = max(1, int(ttl_s))
        deadline = time.monotonic() + WAIT_S
        while True:
            try:
                claimed = await run_in_threadpool(
                    self._redis.set, redis_key, f"pending:{body_hash}", nx=True, ex=ttl
                )
                stored = None if claimed else await run_in_threadpool(self._redis.get, redis_key)
            except Exception as exc:  # redis.RedisError, OSError: any failure means "down"
                self._went_down(exc)
                return await self._fallback.run(key, body_hash, compute, ttl_s=ttl_s)
            if claimed:
                return await self._first_run(redis_key, body_hash, compute, ttl=ttl), False
            if stored is None:
                continue  # the first run failed and left: claim it now
            text = stored.decode("utf-8") if isinstance(stored, bytes) else str(stored)
            if text.startswith("pending:"):
                if text != f"pending:{body_hash}":
                    raise _mismatch()
                if time.monotonic() > deadline:
                    raise ConflictError(f"the first request with this {HEADER} is still running")
                await asyncio.sleep(POLL_S)
                continue
            record = json.loads(text)
            if record.get("body_hash") != body_hash:
                raise _mismatch()
            return dict(record["answer"]), True

    async def _first_run(
        self, redis_key: str, body_hash: str, compute: Compute, *, ttl: int
    ) -> dict[str, Any]:
        try:
            answer = await compute()
        except BaseException:
            try:
                await run_in_threadpool(self._redis.delete, redis_key)
            except Exception as exc:  # the key expires by itself
                self._went_down(exc)
            raise
        record = json.dumps({"body_hash": body_hash, "answer": answer})
        try:
            await run_in_threadpool(self._redis.set, redis_key, record, ex=ttl)
        except Exception as exc:
            self._went_down(exc)
        return answer

    def _went_down(self, exc: BaseException) -> None:
        first = time.monotonic() >= self._retry_at
        self._retry_at = time.monotonic() + self._retry_s
        if first:
            log.warning(
                "Redis at %s is unreachable (%s: %s): idempotency keys are kept in this "
                "process for %g s",
                redact_redis_url(self._url),
                type(exc).__name__,
                exc,
                self._retry_s,
            )


def make_replay_store(redis_url: str | None, *, retry_s: float = 30.0) -> ReplayStore:
    """Redis-backed (with an in-process fallback) when a URL is configured, else in-memory."""
    return RedisReplayStore(redis_url, retry_s=retry_s) if redis_url else MemoryReplayStore()
