"""TimescaleDB detection for the `model_metrics` time series.

The decision is a pure function of (dialect, extension available) so both paths can be tested
without a TimescaleDB server; the migration calls :func:`apply_metrics_storage`.
"""

from __future__ import annotations

import logging
from typing import Final, Literal, Protocol

from sqlalchemy import TextClause, text

logger = logging.getLogger(__name__)

MetricsStorage = Literal["hypertable", "plain"]

METRICS_TABLE: Final = "model_metrics"
PROBE_SQL: Final = "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
CREATE_EXTENSION_SQL: Final = "CREATE EXTENSION IF NOT EXISTS timescaledb"
# Our own index on `time` exists on both paths, so Timescale's default one would be a duplicate.
CREATE_HYPERTABLE_SQL: Final = (
    f"SELECT create_hypertable('{METRICS_TABLE}', 'time', "
    "if_not_exists => TRUE, create_default_indexes => FALSE)"
)
IS_HYPERTABLE_SQL: Final = (
    f"SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = '{METRICS_TABLE}'"
)
EXTENSION_INSTALLED_SQL: Final = "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"


class _Result(Protocol):
    def first(self) -> object | None: ...


class _Dialect(Protocol):
    name: str


class SQLConnection(Protocol):
    """What this module needs of a connection (a SQLAlchemy `Connection` satisfies it)."""

    @property
    def dialect(self) -> _Dialect: ...

    def execute(self, statement: TextClause) -> _Result: ...


def metrics_storage_plan(
    *, dialect_name: str, timescale_available: bool
) -> tuple[MetricsStorage, tuple[str, ...]]:
    """Decide how `model_metrics` is stored and the SQL that makes it so.

    Parameters
    ----------
    dialect_name : str
        SQLAlchemy dialect name ("postgresql", "sqlite", ...).
    timescale_available : bool
        Whether the server offers the `timescaledb` extension.

    Returns
    -------
    storage : {"hypertable", "plain"}
    statements : tuple of str
        SQL to run after the table and its time index exist (empty for a plain table).
    """
    if dialect_name == "postgresql" and timescale_available:
        return "hypertable", (CREATE_EXTENSION_SQL, CREATE_HYPERTABLE_SQL)
    return "plain", ()


def timescale_available(connection: SQLConnection) -> bool:
    """Whether the connected server offers TimescaleDB (always False off PostgreSQL)."""
    if connection.dialect.name != "postgresql":
        return False
    return connection.execute(text(PROBE_SQL)).first() is not None


def apply_metrics_storage(connection: SQLConnection) -> MetricsStorage:
    """Turn `model_metrics` into a hypertable when TimescaleDB is available; report the choice."""
    storage, statements = metrics_storage_plan(
        dialect_name=connection.dialect.name,
        timescale_available=timescale_available(connection),
    )
    for statement in statements:
        connection.execute(text(statement))
    logger.info("model_metrics storage: %s", storage)
    return storage


def current_metrics_storage(connection: SQLConnection) -> MetricsStorage:
    """How `model_metrics` is stored now in the connected database."""
    if connection.dialect.name != "postgresql":
        return "plain"
    if connection.execute(text(EXTENSION_INSTALLED_SQL)).first() is None:
        return "plain"
    return "hypertable" if connection.execute(text(IS_HYPERTABLE_SQL)).first() else "plain"
