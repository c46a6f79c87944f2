"""Fixed-window rate limiting: counters in Redis when configured, in process memory otherwise.

When Redis stops answering, the Redis limiter falls back to in-process counters (per
replica, so a client may get up to one limit per replica) and logs one warning; it tries
Redis again every ``retry_s`` seconds and logs when Redis is back.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

log = logging.getLogger(__name__)
#: Redis answers a rate-limit hit within this, or the in-process fallback counts it.
REDIS_TIMEOUT_S = 0.5


def redact_redis_url(url: str) -> str:
    """`url` without its password (for logs and health reports)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: int
    retry_after_s: int


class RateLimiter(Protocol):
    #: True when `hit` waits on the network (async routes then call it from a thread).
    blocking: bool

    def hit(self, key: str, *, limit: int, window_s: int = 60) -> RateDecision: ...


class MemoryRateLimiter:
    """Per-process counters (the embedded single-user default)."""

    blocking = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = {}

    def hit(self, key: str, *, limit: int, window_s: int = 60) -> RateDecision:
        now = time.time()
        window = int(now // window_s)
        with self._lock:
            if len(self._counts) > 10_000:  # forget old windows
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= window}
            count = self._counts.get((key, window), 0) + 1
            self._counts[(key, window)] = count
        retry = max(1, int((window + 1) * window_s - now))
        return RateDecision(count <= limit, max(0, limit - count), retry)


class RedisRateLimiter:
    """Counters shared by every API replica: INCR + EXPIRE on a per-window key.

    While Redis is unreachable, hits are counted by a :class:`MemoryRateLimiter` instead
    (one warning per outage); Redis is tried again ``retry_s`` seconds after each failure.
    """

    blocking = True

    def __init__(self, url: str, *, retry_s: float = 30.0) -> None:
        import redis

        self._url = url
        self._redis: Any = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
        )
        self._retry_s = retry_s
        self._fallback = MemoryRateLimiter()
        self._lock = threading.Lock()
        self._retry_at = 0.0  # time.monotonic() before which Redis is not tried
        self._down_reason: str | None = None

    @property
    def degraded(self) -> str | None:
        """Why the in-process fallback counts hits now; None while Redis does."""
        return self._down_reason

    def hit(self, key: str, *, limit: int, window_s: int = 60) -> RateDecision:
        if self._down_reason is not None and time.monotonic() < self._retry_at:
            return self._fallback.hit(key, limit=limit, window_s=window_s)
        try:
            decision = self._redis_hit(key, limit=limit, window_s=window_s)
        except Exception as exc:  # redis.RedisError, OSError: any failure means "down"
            self._went_down(exc)
            return self._fallback.hit(key, limit=limit, window_s=window_s)
        if self._down_reason is not None:
            with self._lock:
                was_down, self._down_reason = self._down_reason, None
            if was_down is not None:
                log.warning(
                    "Redis at %s answers again: rate limits are shared by the replicas again",
                    redact_redis_url(self._url),
                )
        return decision

    def _went_down(self, exc: BaseException) -> None:
        with self._lock:
            first = self._down_reason is None
            self._down_reason = f"{type(exc).__name__}: {exc}"
            self._retry_at = time.monotonic() + self._retry_s
        if first:
            log.warning(
                "Redis at %s is unreachable (%s): rate limits fall back to in-process counters "
                "(per replica) and Redis is tried again every %g s",
                redact_redis_url(self._url),
                self._down_reason,
                self._retry_s,
            )

    def _redis_hit(self, key: str, *, limit: int, window_s: int) -> RateDecision:
        now = time.time()
        window = int(now // window_s)
        redis_key = f"exoguard:rl:{key}:{window}"
        pipe = self._redis.pipeline()
        pipe.incr(redis_key)
        pipe.expire(redis_key, window_s + 5)
        count = int(pipe.execute()[0])
        retry = max(1, int((window + 1) * window_s - now))
        return RateDecision(count <= limit, max(0, limit - count), retry)


def make_rate_limiter(redis_url: str | None, *, retry_s: float = 30.0) -> RateLimiter:
    """Redis-backed (with an in-process fallback) when a URL is configured, else in-memory."""
    return RedisRateLimiter(redis_url, retry_s=retry_s) if redis_url else MemoryRateLimiter()
