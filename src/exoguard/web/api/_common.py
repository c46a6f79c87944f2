"""Helpers shared by the JSON routers (this module defines no router)."""

from __future__ import annotations

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from exoguard.store.models import User
from exoguard.web.deps import client_key
from exoguard.web.ratelimit import RateLimiter


def enforce_rate_limit(request: Request, user: User | None, *, action: str, limit: int) -> None:
    """Count one `action` of this client; 429 with `Retry-After` once over `limit` a minute."""
    key = f"{action}:{client_key(request, user)}"
    _count(request, key, limit, 60, f"{action} requests a minute")


async def enforce_limit(
    request: Request, key: str, *, limit: int, window_s: int, what: str
) -> None:
    """Count one hit on `key`; 429 with `Retry-After` once over `limit` per `window_s`.

    `what` names the limit in the message ("login attempts a minute for one account").
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    if limiter.blocking:
        await run_in_threadpool(_count, request, key, limit, window_s, what)
    else:
        _count(request, key, limit, window_s, what)


def _count(request: Request, key: str, limit: int, window_s: int, what: str) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    decision = limiter.hit(key, limit=limit, window_s=window_s)
    if not decision.allowed:
        raise HTTPException(
            status_code=429,
            detail=(
                f"rate limit reached: at most {limit} {what}; retry in {decision.retry_after_s} s"
            ),
            headers={"Retry-After": str(decision.retry_after_s)},
        )
