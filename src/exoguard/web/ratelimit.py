"""Fixed-window rate limiting: counters in Redis when configured, in process memory otherwise."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Protocol


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
    """Counters shared by every API replica: INCR + EXPIRE on a per-window key."""

    blocking = True

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)

    def hit(self, key: str, *, limit: int, window_s: int = 60) -> RateDecision:
        now = time.time()
        window = int(now // window_s)
        redis_key = f"exoguard:rl:{key}:{window}"
        pipe = self._redis.pipeline()
        pipe.incr(redis_key)
        pipe.expire(redis_key, window_s + 5)
        count = int(pipe.execute()[0])
        retry = max(1, int((window + 1) * window_s - now))
        return RateDecision(count <= limit, max(0, limit - count), retry)


def make_rate_limiter(redis_url: str | None) -> RateLimiter:
    """Redis-backed when a URL is configured, in-memory otherwise."""
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
