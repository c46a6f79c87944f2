"""Per-application state: settings, database engine, session factory, job runner."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings
from exoguard.jobs.runner import JobRunner, make_runner
from exoguard.store.db import make_engine, make_sessionmaker
from exoguard.store.models import User
from exoguard.web.security import HashGate

log = logging.getLogger(__name__)


class UserCache:
    """The user of each recently seen session token, trusted for ``ttl_s`` seconds.

    Only the predict route (the hot path) reads it: every other route reads the user from
    the database. Entries are detached ``User`` rows, read only for their id and role.
    """

    def __init__(self, ttl_s: float, *, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, User]] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, asyncio.Task[User]] = {}

    def get(self, token: str) -> User | None:
        """The cached user of `token`, or None when unknown or older than ``ttl_s``."""
        entry = self._entries.get(token)
        if entry is None or time.monotonic() >= entry[0]:
            return None
        return entry[1]

    async def load(self, token: str, loader: Callable[[], Awaitable[User]]) -> User:
        """The cached user of `token`, else `loader()`'s, cached. Requests that miss the cache
        while a load of the same token is under way share that load (and its error) instead
        of each reading the database: when an entry expires under load, every request in
        flight with that cookie misses at once. The load runs as its own task, so a caller
        that goes away does not cancel it for the others. With ``ttl_s`` 0 every call loads.
        """
        user = self.get(token)
        if user is not None:
            return user
        if self.ttl_s <= 0:
            return await loader()
        loop = asyncio.get_running_loop()
        task = self._loading.get(token)
        if task is None or task.get_loop() is not loop:
            task = loop.create_task(self._load(token, loader), name="exoguard-user-load")
            # its error is read even when every caller went away (no "never retrieved")
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._loading[token] = task
        return await asyncio.shield(task)

    async def _load(self, token: str, loader: Callable[[], Awaitable[User]]) -> User:
        try:
            user = await loader()
            self.put(token, user)
            return user
        finally:
            self._loading.pop(token, None)

    def put(self, token: str, user: User) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[token] = (time.monotonic() + self.ttl_s, user)

    def forget(self, token: str) -> None:
        """Drop `token` (its session was revoked here)."""
        with self._lock:
            self._entries.pop(token, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    jobs: JobRunner
    migrate_on_start: bool = True
    gauges_refreshed_at: float = float("-inf")
    users: UserCache = field(default_factory=lambda: UserCache(0.0))
    hash_gate: HashGate = field(default_factory=lambda: HashGate(limit=2, wait_s=5.0))
    #: Most sessions the active-users gauge remembers (the least recently seen go first).
    max_seen_sessions: int = 10_000
    _last_seen: OrderedDict[str, float] = field(default_factory=OrderedDict)
    _seen_lock: threading.Lock = field(default_factory=threading.Lock)
    _trusted: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None

    @classmethod
    def create(cls, settings: Settings, *, migrate_on_start: bool = True) -> AppState:
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        return cls(
            settings,
            engine,
            sessions,
            make_runner(sessions, settings),
            migrate_on_start,
            users=UserCache(settings.auth_cache_s),
            hash_gate=HashGate(limit=settings.max_concurrent_hashes, wait_s=settings.hash_wait_s),
        )

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The proxies whose ``X-Forwarded-For`` is believed (parsed once)."""
        if self._trusted is None:
            self._trusted = self.settings.trusted_networks
        return self._trusted

    def start(self) -> None:
        """Apply migrations (idempotent), create storage folders, start the job runner."""
        self.settings.uploads_path.mkdir(parents=True, exist_ok=True)
        self.settings.models_path.mkdir(parents=True, exist_ok=True)
        if self.migrate_on_start:
            from exoguard.store.migrate import upgrade

            upgrade(self.settings.database_url)
        self.jobs.start()

    def seen(self, session_token: str) -> None:
        """Remember that a session made a request now (for the active-users gauge).

        Any request with a session cookie lands here, before the token is checked, so the
        memory is bounded: past ``max_seen_sessions`` the least recently seen are forgotten
        (a flood of made-up cookies then undercounts the gauge instead of growing memory).
        """
        key = hashlib.sha256(session_token.encode()).hexdigest()[:16]
        with self._seen_lock:
            self._last_seen[key] = time.monotonic()
            self._last_seen.move_to_end(key)
            while len(self._last_seen) > self.max_seen_sessions:
                self._last_seen.popitem(last=False)

    def active_users(self, *, window_s: float) -> int:
        """Sessions seen by this replica in the last `window_s` seconds."""
        cutoff = time.monotonic() - window_s
        with self._seen_lock:
            # Oldest first: drop from the front until the first one inside the window.
            while self._last_seen and next(iter(self._last_seen.values())) < cutoff:
                self._last_seen.popitem(last=False)
            return len(self._last_seen)

    def stop(self) -> None:
        self.jobs.stop()
        self.engine.dispose()
