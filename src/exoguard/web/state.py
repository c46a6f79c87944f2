"""Per-application state: settings, database engine, session factory, job runner."""

from __future__ import annotations

import logging
from dataclasses import dataclass

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

    def stop(self) -> None:
        self.jobs.stop()
        self.engine.dispose()
