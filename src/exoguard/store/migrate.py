"""Alembic migrations, configured in code (no alembic.ini): upgrade, downgrade, current, head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from exoguard.store.db import make_engine, normalize_url, read_only
from exoguard.store.timescale import MetricsStorage, current_metrics_storage

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _resolve(url: str) -> str:
    return normalize_url(url).render_as_string(hide_password=False)


def alembic_config(url: str) -> Config:
    """An Alembic `Config` for the packaged migrations and `url` (``settings.database_url``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an option: configparser would choke on '%' in passwords.
    config.attributes["database_url"] = _resolve(url)
    return config


def upgrade(url: str, *, revision: str = "head") -> None:
    """Apply migrations up to `revision` (default: all) to the database at `url`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, *, revision: str = "base") -> None:
    """Revert migrations down to `revision` (default: everything)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str:
    """The newest revision shipped with this package."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at (None when never migrated)."""
    engine = make_engine(_resolve(url))
    try:
        # a read: on SQLite it must not wait for a writer's lock (BEGIN IMMEDIATE would)
        with read_only(engine).connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def metrics_storage(url: str) -> MetricsStorage:
    """Whether `model_metrics` is a TimescaleDB hypertable or a plain table at `url`."""
    engine = make_engine(_resolve(url))
    try:
        with engine.connect() as connection:
            return current_metrics_storage(connection)
    finally:
        engine.dispose()


def is_up_to_date(url: str) -> bool:
    """True when the database at `url` is at the head revision."""
    return current_revision(url) == head_revision()
