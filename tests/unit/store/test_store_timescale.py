"""The TimescaleDB decision for model_metrics, both branches, without a TimescaleDB server."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from exoguard.store.timescale import (
    CREATE_EXTENSION_SQL,
    CREATE_HYPERTABLE_SQL,
    PROBE_SQL,
    apply_metrics_storage,
    current_metrics_storage,
    metrics_storage_plan,
    timescale_available,
)


@dataclass
class _Dialect:
    name: str


@dataclass
class _Result:
    row: object | None

    def first(self) -> object | None:
        return self.row


@dataclass
class FakeConnection:
    """Records the SQL it is given; answers 'a row' to queries listed in `answers`."""

    dialect_name: str
    answers: set[str] = field(default_factory=set)
    executed: list[str] = field(default_factory=list)

    @property
    def dialect(self) -> _Dialect:
        return _Dialect(self.dialect_name)

    def execute(self, statement: object) -> _Result:
        sql = str(statement)
        self.executed.append(sql)
        return _Result((1,) if sql in self.answers else None)


def test_plan_hypertable_when_postgresql_offers_timescaledb() -> None:
    storage, statements = metrics_storage_plan(dialect_name="postgresql", timescale_available=True)
    assert storage == "hypertable"
    assert statements == (CREATE_EXTENSION_SQL, CREATE_HYPERTABLE_SQL)
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb" in statements[0]
    assert "create_hypertable('model_metrics', 'time'" in statements[1]


@pytest.mark.parametrize(
    ("dialect_name", "available"),
    [("postgresql", False), ("sqlite", False), ("sqlite", True)],
)
def test_plan_plain_otherwise(dialect_name: str, available: bool) -> None:
    assert metrics_storage_plan(dialect_name=dialect_name, timescale_available=available) == (
        "plain",
        (),
    )


def test_apply_emits_extension_and_hypertable_when_available() -> None:
    connection = FakeConnection("postgresql", answers={PROBE_SQL})
    assert apply_metrics_storage(connection) == "hypertable"
    assert connection.executed == [PROBE_SQL, CREATE_EXTENSION_SQL, CREATE_HYPERTABLE_SQL]


def test_apply_only_probes_when_unavailable() -> None:
    connection = FakeConnection("postgresql")
    assert apply_metrics_storage(connection) == "plain"
    assert connection.executed == [PROBE_SQL]
    assert "pg_available_extensions" in PROBE_SQL and "'timescaledb'" in PROBE_SQL


def test_sqlite_is_never_probed() -> None:
    connection = FakeConnection("sqlite", answers={PROBE_SQL})
    assert timescale_available(connection) is False
    assert apply_metrics_storage(connection) == "plain"
    assert connection.executed == []


def test_current_storage_reads_the_catalog() -> None:
    from exoguard.store.timescale import EXTENSION_INSTALLED_SQL, IS_HYPERTABLE_SQL

    both = FakeConnection("postgresql", answers={EXTENSION_INSTALLED_SQL, IS_HYPERTABLE_SQL})
    assert current_metrics_storage(both) == "hypertable"
    no_extension = FakeConnection("postgresql", answers={IS_HYPERTABLE_SQL})
    assert current_metrics_storage(no_extension) == "plain"
    assert no_extension.executed == [EXTENSION_INSTALLED_SQL]
