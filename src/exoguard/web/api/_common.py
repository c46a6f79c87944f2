"""Helpers shared by the JSON routers (this module defines no router)."""

from __future__ import annotations

from fastapi import HTTPException, Request

from exoguard.store.models import User
from exoguard.web.deps import client_key
from exoguard.web.ratelimit import RateLimiter


def enforce_rate_limit(request: Request, user: User | None, *, action: str, limit: int) -> None:
    """Count one `action` of this client; 429 with `Retry-After` once over `limit` a minute."""
    limiter: RateLimiter = request.app.state.rate_limiter
    decision = limiter.hit(f"{action}:{client_key(request, user)}", limit=limit, window_s=60)
    if not decision.allowed:
        raise HTTPException(
            status_code=429,
            detail=(
                f"rate limit reached: at most {limit} {action} requests a minute; "
                f"retry in {decision.retry_after_s} s"
            ),
            headers={"Retry-After": str(decision.retry_after_s)},
        )
