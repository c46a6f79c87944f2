"""Migrations on SQLite and PostgreSQL: apply, match the models, round-trip, plain metrics path."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from exoguard.store import migrate
from exoguard.store.db import make_engine
from exoguard.store.models import Base

pytestmark = pytest.mark.integration

TABLES = set(Base.metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest) -> str:
    name = "blank_sqlite_url" if request.param == "sqlite" else "blank_postgres_url"
    return str(request.getfixturevalue(name))


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_the_schema_the_models_describe(blank_url: str) -> None:
    assert migrate.current_revision(blank_url) is None
    migrate.upgrade(blank_url)
    assert migrate.current_revision(blank_url) == migrate.head_revision()
    assert migrate.is_up_to_date(blank_url)
    assert _tables(blank_url) == TABLES | {"alembic_version"}
    engine = make_engine(blank_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_round_trip(blank_url: str) -> None:
    migrate.upgrade(blank_url)
    migrate.downgrade(blank_url, revision="base")
    assert migrate.current_revision(blank_url) is None
    assert _tables(blank_url) == {"alembic_version"}
    migrate.upgrade(blank_url)
    assert _tables(blank_url) == TABLES | {"alembic_version"}
    migrate.upgrade(blank_url)  # already at head: a no-op, not an error
    assert migrate.current_revision(blank_url) == migrate.head_revision()


def test_model_metrics_plain_table_has_a_time_index(blank_url: str) -> None:
    migrate.upgrade(blank_url)
    # No TimescaleDB on this machine: the plain path must have been taken.
    assert migrate.metrics_storage(blank_url) == "plain"
    engine = make_engine(blank_url)
    try:
        indexes = inspect(engine).get_indexes("model_metrics")
        pk = inspect(engine).get_pk_constraint("model_metrics")
    finally:
        engine.dispose()
    assert {"name": "ix_model_metrics_time", "columns": ["time"]} in [
        {"name": i["name"], "columns": i["column_names"]} for i in indexes
    ]
    assert pk["constrained_columns"] == ["version_id", "name", "time"]


def test_postgresql_types_are_jsonb_and_timestamptz(blank_postgres_url: str) -> None:
    migrate.upgrade(blank_postgres_url)
    engine = make_engine(blank_postgres_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND column_name IN "
                    "('config', 'features', 'labels', 'time', 'created_at')"
                )
            ).all()
            available = connection.execute(
                text("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'")
            ).first()
    finally:
        engine.dispose()
    types = {(t, c): d for t, c, d in rows}
    assert types[("model_versions", "config")] == "jsonb"
    assert types[("candidates", "features")] == "jsonb"
    assert types[("model_metrics", "labels")] == "jsonb"
    assert types[("model_metrics", "time")] == "timestamp with time zone"
    assert types[("users", "created_at")] == "timestamp with time zone"
    assert available is None  # this is why the plain path is what we can test for real


def test_sqlite_engine_pragmas(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()


def test_cli_db_upgrade_and_current(blank_sqlite_url: str) -> None:
    import json

    from typer.testing import CliRunner

    from exoguard.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["db", "current", "--json", "--database-url", blank_sqlite_url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["current"] is None
    result = runner.invoke(app, ["db", "upgrade", "--json", "--database-url", blank_sqlite_url])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["to"] == payload["head"] == migrate.head_revision()
    assert payload["model_metrics"] == "plain"
    result = runner.invoke(app, ["db", "current", "--json", "--database-url", blank_sqlite_url])
    assert json.loads(result.stdout)["up_to_date"] is True


def test_db_url_is_postgresql_whenever_postgresql_is_reachable(
    db_backend: str, postgres_base_url: str | None
) -> None:
    # In CI `postgres_base_url` is never None (an unreachable server fails the session).
    assert (db_backend == "postgresql") == (postgres_base_url is not None)
