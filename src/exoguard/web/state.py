"""Per-application state: settings, database engine, session factory, job runner."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings
from exoguard.jobs.runner import JobRunner, make_runner
from exoguard.store.db import make_engine, make_sessionmaker

log = logging.getLogger(__name__)


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    jobs: JobRunner
    migrate_on_start: bool = True
    gauges_refreshed_at: float = float("-inf")
    _last_seen: dict[str, float] = field(default_factory=dict)
    _seen_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, settings: Settings, *, migrate_on_start: bool = True) -> AppState:
        engine = make_engine(settings.database_url)
        sessions = make_sessionmaker(engine)
        return cls(settings, engine, sessions, make_runner(sessions, settings), migrate_on_start)

    def start(self) -> None:
        """Apply migrations (idempotent), create storage folders, start the job runner."""
        self.settings.uploads_path.mkdir(parents=True, exist_ok=True)
        self.settings.models_path.mkdir(parents=True, exist_ok=True)
        if self.migrate_on_start:
            from exoguard.store.migrate import upgrade

            upgrade(self.settings.database_url)
        self.jobs.start()

    def seen(self, session_token: str) -> None:
        """Remember that a session made a request now (for the active-users gauge)."""
        key = hashlib.sha256(session_token.encode()).hexdigest()[:16]
        with self._seen_lock:
            self._last_seen[key] = time.monotonic()

    def active_users(self, *, window_s: float) -> int:
        """Sessions seen by this replica in the last `window_s` seconds."""
        cutoff = time.monotonic() - window_s
        with self._seen_lock:
            self._last_seen = {k: t for k, t in self._last_seen.items() if t >= cutoff}
            return len(self._last_seen)

    def stop(self) -> None:
        self.jobs.stop()
        self.engine.dispose()
