"""Cookie names, CSRF tokens and the password-hashing gate (HTTP concerns).

Passwords and session tokens themselves are `exoguard.services.credentials`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from exoguard.errors import BusyError

SESSION_COOKIE = "exoguard_session"
CSRF_COOKIE = "exoguard_csrf"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_CONTEXT = b"exoguard-csrf-v1"


def csrf_token_for(session_token: str, *, secret_key: str) -> str:
    """The CSRF token of one session: an HMAC of its session token under a key derived from
    `secret_key`. A token taken from another session (or made up) never matches."""
    key = hmac.new(secret_key.encode("utf-8"), _CSRF_CONTEXT, hashlib.sha256).digest()
    mac = hmac.new(key, session_token.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def csrf_matches(session_token: str | None, header_value: str | None, *, secret_key: str) -> bool:
    """Whether `header_value` is the CSRF token of `session_token` (constant-time)."""
    if not session_token or not header_value:
        return False
    expected = csrf_token_for(session_token, secret_key=secret_key)
    return hmac.compare_digest(expected.encode("ascii"), header_value.encode("utf-8", "replace"))


class _Waiter:
    """A request queued for a hashing slot: woken in its own event loop when granted."""

    __slots__ = ("future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.granted = False

    def wake(self) -> None:
        if not self.future.done():
            self.future.set_result(None)


class HashGate:
    """At most `limit` password hashes at once in this process.

    Each argon2id hash holds 64 MiB for tens of milliseconds: a flood of logins would
    otherwise run one per thread-pool thread (40), blowing memory and starving every other
    route of threads. A request waits in line (in its event loop, holding no thread) up to
    `wait_s` for a slot, then gets `BusyError` (503 with Retry-After). Slots are handed to
    waiters first come, first served; the gate works across event loops (test clients each
    run their own).
    """

    def __init__(self, *, limit: int, wait_s: float) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1; got {limit}")
        self.limit = limit
        self.wait_s = wait_s
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()
        self.active = 0
        #: The most slots ever held at once (for tests and metrics).
        self.peak = 0

    def _release(self) -> None:
        with self._lock:
            while self._waiters:
                waiter = self._waiters.popleft()
                try:
                    waiter.loop.call_soon_threadsafe(waiter.wake)
                except RuntimeError:  # its event loop is closed: the request is gone
                    continue
                waiter.granted = True  # the slot passes on; `active` stays the same
                return
            self.active -= 1

    async def _acquire(self) -> None:
        with self._lock:
            if self.active < self.limit and not self._waiters:
                self.active += 1
                self.peak = max(self.peak, self.active)
                return
            waiter = _Waiter(asyncio.get_running_loop())
            self._waiters.append(waiter)
        try:
            await asyncio.wait({waiter.future}, timeout=self.wait_s)
        except BaseException:  # cancelled (client gone): give back a slot handed over
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:
                self._release()
            raise
        with self._lock:
            if not waiter.granted:
                self._waiters.remove(waiter)
                raise BusyError(
                    "the server is busy checking other passwords; retry in a moment",
                    retry_after_s=1,
                )
            self.peak = max(self.peak, self.active)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one hashing slot for the body of the ``async with`` block."""
        await self._acquire()
        try:
            yield
        finally:
            self._release()
