"""The predict route's user cache: concurrent misses of one session share a single load."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from exoguard.errors import AuthError
from exoguard.store.models import User
from exoguard.web.state import UserCache

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from _asyncrun import run_coroutine  # noqa: E402


def _user(user_id: int = 7) -> User:
    return User(id=user_id, email=f"u{user_id}@example.org", role="explorer")


class _Loader:
    """Counts its calls; each takes `delay_s` and returns `user` or raises `error`."""

    def __init__(self, *, user: User | None = None, error: Exception | None = None) -> None:
        self.calls = 0
        self.user = user
        self.error = error

    async def __call__(self) -> User:
        self.calls += 1
        await asyncio.sleep(0.05)
        if self.error is not None:
            raise self.error
        assert self.user is not None
        return self.user


def test_concurrent_misses_share_one_load_and_then_hit_the_cache() -> None:
    cache = UserCache(60.0)
    loader = _Loader(user=_user())

    async def scenario() -> list[User]:
        first = await asyncio.gather(*(cache.load("tok", loader) for _ in range(20)))
        again = await cache.load("tok", loader)
        return [*first, again]

    users = run_coroutine(scenario())
    assert loader.calls == 1
    assert {u.id for u in users} == {7}


def test_a_failed_load_fails_every_waiter_and_is_not_cached() -> None:
    cache = UserCache(60.0)
    loader = _Loader(error=AuthError("session expired; log in again"))

    async def scenario() -> list[object]:
        return await asyncio.gather(
            *(cache.load("tok", loader) for _ in range(5)), return_exceptions=True
        )

    outcomes = run_coroutine(scenario())
    assert loader.calls == 1
    assert all(isinstance(o, AuthError) for o in outcomes)
    assert cache.get("tok") is None
    # the next request tries again
    loader.error, loader.user = None, _user(8)
    assert run_coroutine(cache.load("tok", loader)).id == 8
    assert loader.calls == 2


def test_a_caller_that_goes_away_does_not_cancel_the_others_load() -> None:
    cache = UserCache(60.0)
    loader = _Loader(user=_user())

    async def scenario() -> User:
        impatient = asyncio.create_task(cache.load("tok", loader))
        patient = asyncio.create_task(cache.load("tok", loader))
        await asyncio.sleep(0.01)
        impatient.cancel()
        with pytest.raises(asyncio.CancelledError):
            await impatient
        return await patient

    assert run_coroutine(scenario()).id == 7
    assert loader.calls == 1


def test_without_a_cache_time_every_call_loads() -> None:
    cache = UserCache(0.0)
    loader = _Loader(user=_user())

    async def scenario() -> None:
        await asyncio.gather(*(cache.load("tok", loader) for _ in range(3)))

    run_coroutine(scenario())
    assert loader.calls == 3
    assert cache.get("tok") is None
