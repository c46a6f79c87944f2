"""Liveness and readiness: what each dependency (database, Redis, job backend) says now.

``GET /healthz`` (liveness) answers 200 whenever this process can answer at all, with each
dependency's state in the body. ``GET /readyz`` (readiness) answers the same body with 503
when a *required* dependency is down: the database always; Redis only as the Celery broker
(``EXOGUARD_JOBS=celery``): for rate limits alone the app falls back to in-process counters.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

from sqlalchemy import text

from exoguard import __version__
from exoguard.web.ratelimit import REDIS_TIMEOUT_S, redact_redis_url
from exoguard.web.state import AppState

#: Each dependency answers a health probe within this, or counts as down.
CHECK_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Check:
    ok: bool
    required: bool
    detail: str
    latency_ms: float


@cache
def _probes() -> ThreadPoolExecutor:
    # Probes run here so that a dependency that never answers (a black-holed host) costs a
    # health request CHECK_TIMEOUT_S, not the driver's connect timeout.
    return ThreadPoolExecutor(max_workers=6, thread_name_prefix="exoguard-health")


@dataclass
class _Pending:
    required: bool
    future: Future[str]
    started: float

    def result(self) -> Check:
        remaining = max(0.0, CHECK_TIMEOUT_S - (time.perf_counter() - self.started))
        try:
            detail, ok = self.future.result(timeout=remaining + 0.05), True
        except FutureTimeout:
            detail, ok = f"no answer within {CHECK_TIMEOUT_S:g} s", False
        except Exception as exc:  # any failure of the probe means "down"
            detail, ok = f"{type(exc).__name__}: {exc}".splitlines()[0][:300], False
        elapsed_ms = round((time.perf_counter() - self.started) * 1000, 1)
        return Check(ok, self.required, detail, elapsed_ms)


def _timed(required: bool, probe: Callable[[], str]) -> _Pending:
    return _Pending(required, _probes().submit(probe), time.perf_counter())


def check_database(state: AppState) -> _Pending:
    def probe() -> str:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return state.engine.dialect.name

    return _timed(True, probe)


def check_redis(url: str, *, required: bool, rate_limits_degraded: str | None) -> _Pending:
    def probe() -> str:
        import redis

        client: Any = redis.Redis.from_url(
            url, socket_connect_timeout=CHECK_TIMEOUT_S, socket_timeout=CHECK_TIMEOUT_S
        )
        try:
            client.ping()
        finally:
            client.close()
        detail = redact_redis_url(url)
        if rate_limits_degraded:  # up now, but the limiter waits for its next retry
            detail += f"; rate limits still on in-process counters ({rate_limits_degraded})"
        return detail

    return _timed(required, probe)


def check_jobs(state: AppState) -> _Pending:
    def probe() -> str:
        problem = state.jobs.check()
        if problem is not None:
            raise RuntimeError(problem)
        return state.settings.job_backend

    return _timed(True, probe)


def health_report(state: AppState, *, rate_limiter: Any) -> tuple[dict[str, Any], bool]:
    """The JSON body of /healthz and /readyz, and whether every required dependency is up."""
    settings = state.settings
    pending = {"database": check_database(state)}
    if settings.redis_url:
        pending["redis"] = check_redis(
            settings.redis_url,
            required=settings.job_backend == "celery",
            rate_limits_degraded=getattr(rate_limiter, "degraded", None),
        )
    pending["jobs"] = check_jobs(state)
    checks = {name: p.result() for name, p in pending.items()}
    redis = checks.get("redis")
    if redis is not None and not redis.ok and not redis.required:
        detail = f"{redis.detail}; rate limits fall back to in-process counters"
        checks["redis"] = Check(False, False, detail, redis.latency_ms)
    ready = all(c.ok for c in checks.values() if c.required)
    status = "ok" if all(c.ok for c in checks.values()) else ("degraded" if ready else "down")
    body = {
        "status": status,
        "ready": ready,
        "version": __version__,
        "checks": {name: asdict(check) for name, check in checks.items()},
    }
    return body, ready


__all__ = ["CHECK_TIMEOUT_S", "REDIS_TIMEOUT_S", "Check", "health_report"]
