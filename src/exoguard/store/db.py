"""Engines and sessions, always created by functions (never at import time)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30.0
#: Execution option naming how SQLite transactions begin: ``"IMMEDIATE"`` (the default: the
#: write lock is taken at BEGIN, so a transaction that reads and then writes never fails on
#: "database is locked") or ``"DEFERRED"`` (for read-only work, which then never waits).
SQLITE_BEGIN_OPTION = "exoguard_sqlite_begin"
SQLITE_BEGIN_MODES = ("IMMEDIATE", "DEFERRED")


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL and pick the installed drivers (psycopg 3 for PostgreSQL).

    ``postgres://`` and ``postgresql://`` (which SQLAlchemy maps to psycopg2, not installed)
    become ``postgresql+psycopg://``.
    """
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _is_memory_sqlite(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or bool(url.query.get("mode") == "memory")


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """Create an engine for `url` (SQLite or PostgreSQL).

    SQLite gets foreign keys on, WAL journaling, a busy timeout, proper SAVEPOINT support
    (so tests can roll back nested transactions) and its parent directory created. Its
    transactions begin with ``BEGIN IMMEDIATE``: in WAL mode a deferred transaction that has
    read cannot wait for the write lock (SQLite answers "database is locked" at once, without
    the busy handler), so concurrent writers would fail where PostgreSQL makes them wait. With
    the write lock taken at BEGIN, writers queue on the busy timeout instead, one at a time, and
    readers of WAL snapshots are never blocked. :func:`read_only` gives an engine whose
    transactions begin deferred, for work that only reads.
    PostgreSQL gets ``pool_pre_ping``.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, echo=echo, pool_pre_ping=True)

    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
    }
    memory = _is_memory_sqlite(parsed)
    if memory:
        kwargs["poolclass"] = StaticPool
    elif parsed.database:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, echo=echo, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the pysqlite driver, emit BEGIN: the driver's own transaction
        # handling breaks SAVEPOINT (SQLAlchemy docs, "Serializable isolation / Savepoints").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "IMMEDIATE")
        if mode not in SQLITE_BEGIN_MODES:
            raise ValueError(f"{SQLITE_BEGIN_OPTION} must be one of {SQLITE_BEGIN_MODES}: {mode!r}")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


def read_only(engine: Engine) -> Engine:
    """`engine` (same pool) whose SQLite transactions begin deferred: for sessions that only read.

    A deferred SQLite transaction never waits for writers, but it cannot write once others have
    (see :func:`make_engine`); on PostgreSQL the option is ignored.
    """
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "DEFERRED"})


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory bound to `engine`; objects stay usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session], **options: Any) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises.

    ``options`` go to the factory (e.g. ``bind=`` another engine).
    """
    session = factory(**options)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def read_options(factory: sessionmaker[Session]) -> dict[str, Engine]:
    """Options of `factory` for a session that only reads: its own engine, whose SQLite
    transactions begin deferred (:func:`read_only`). A factory bound to one connection, as
    the tests' rolled-back transactions are, is used as it is."""
    bind = factory.kw.get("bind")
    return {"bind": read_only(bind)} if isinstance(bind, Engine) else {}


def redact_url(url: str | URL) -> str:
    """The URL as text with its password hidden, for logs and CLI output."""
    return normalize_url(url).render_as_string(hide_password=True)
