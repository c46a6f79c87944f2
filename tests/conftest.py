"""Shared database fixtures for every test area.

Fixtures
--------
db_url (session)
    A migrated database URL. With ``CI=true``: PostgreSQL at ``TEST_DATABASE_URL`` (default
    ``postgresql+psycopg://postgres@127.0.0.1:5432/test``); an unreachable server FAILS the
    tests, never skips them. Without CI: that PostgreSQL when reachable, else a temporary
    SQLite file. On PostgreSQL each pytest session gets its own freshly created schema
    (``exoguard_test_<pid>_<hex>``, selected through ``search_path`` in the URL) that is dropped
    at the end, so parallel sessions never see each other's rows.
db_backend (session)
    ``"postgresql"`` or ``"sqlite"``: what `db_url` points at.
db_engine (session)
    An engine on `db_url`.
db_sessionmaker (function)
    A session factory bound to one connection inside a transaction that is rolled back after
    the test; sessions join it through SAVEPOINTs, so code that commits (``session_scope``)
    works and still leaves nothing behind.
db_session (function)
    One session from `db_sessionmaker`.
sqlite_url (function)
    A fresh, migrated SQLite file of this test alone (a copy of a session-wide template).
blank_sqlite_url / blank_postgres_url (function)
    Empty, unmigrated databases for migration tests. `blank_postgres_url` skips without CI
    when PostgreSQL is unreachable and fails in CI.

Markers
-------
e2e / integration
    Every test under ``tests/e2e`` is marked ``e2e`` and every test under ``tests/integration``
    ``integration`` (by folder, in `pytest_collection_modifyitems`), so ``-m "not e2e"`` and
    ``-m integration`` select by area. Markers are registered in ``pyproject.toml``
    (``--strict-markers``: a misspelt marker is an error).
requires_tools("pdftotext", "/usr/bin/chromium", ...)
    System programs a test runs. `make test` installs their Debian packages
    (``tools/system-packages.sh``); when one is still missing the test FAILS under
    ``CI=true`` and skips, naming it, otherwise.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

DEFAULT_TEST_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA_PREFIX = "exoguard_test_"
_LOCAL_HOSTS = {None, "", "127.0.0.1", "localhost", "::1"}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


_FOLDER_MARKERS = {"e2e": "e2e", "integration": "integration"}
_TESTS_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by the area folder it lives in (see `_FOLDER_MARKERS`)."""
    for item in items:
        try:
            area = item.path.resolve().relative_to(_TESTS_DIR).parts[0]
        except ValueError:  # a test file outside tests/ (given on the command line)
            continue
        marker = _FOLDER_MARKERS.get(area)
        if marker is not None and item.get_closest_marker(marker) is None:
            item.add_marker(marker)


def missing_tools(names: tuple[str, ...]) -> list[str]:
    """The programs of `names` that are neither on PATH nor (absolute paths) executable."""
    return [
        n for n in names if not (os.access(n, os.X_OK) if os.path.isabs(n) else shutil.which(n))
    ]


def pytest_runtest_setup(item: pytest.Item) -> None:
    names: tuple[str, ...] = ()
    for marker in item.iter_markers("requires_tools"):
        names += tuple(str(a) for a in marker.args)
    missing = missing_tools(names)
    if not missing:
        return
    reason = (
        f"{', '.join(missing)} not installed; `make test` installs the Debian packages "
        "(tools/system-packages.sh)"
    )
    if _in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def _postgres_base_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_POSTGRES_URL


def _postgres_error(url: str) -> str | None:
    """None when PostgreSQL at `url` accepts a connection, else the reason."""
    from sqlalchemy import create_engine, text

    from exoguard.store.db import normalize_url

    engine = create_engine(normalize_url(url), connect_args={"connect_timeout": 5})
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as exc:  # any driver error means "not usable"
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        engine.dispose()


def _with_search_path(url: str, schema: str) -> str:
    from exoguard.store.db import normalize_url

    parsed = normalize_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _admin(url: str, *statements: str) -> list[str]:
    """Run statements in autocommit mode; returns the first column of the last result."""
    from sqlalchemy import text

    from exoguard.store.db import make_engine

    engine = make_engine(url)
    rows: list[str] = []
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for statement in statements:
                result = connection.execute(text(statement))
                rows = [str(r[0]) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()
    return rows


def _sweep_stale_schemas(url: str) -> None:
    """Drop test schemas left by crashed local sessions (their process no longer exists)."""
    from exoguard.store.db import normalize_url

    if normalize_url(url).host not in _LOCAL_HOSTS:
        return
    names = _admin(
        url,
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'exoguard\\_test\\_%'",
    )
    for name in names:
        parts = name[len(SCHEMA_PREFIX) :].split("_")
        if parts and parts[0].isdigit() and not _pid_alive(int(parts[0])):
            _admin(url, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _new_schema(url: str) -> str:
    schema = f"{SCHEMA_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"
    _admin(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', f'CREATE SCHEMA "{schema}"')
    return schema


def _drop_schema(url: str, schema: str) -> None:
    _admin(url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def postgres_base_url() -> str | None:
    """The reachable test PostgreSQL server's URL, None without CI when unreachable."""
    url = _postgres_base_url()
    error = _postgres_error(url)
    if error is None:
        _sweep_stale_schemas(url)
        return url
    if _in_ci():
        pytest.fail(
            f"CI=true but the test PostgreSQL at {url} is unreachable ({error}). "
            "Start PostgreSQL or set TEST_DATABASE_URL; database tests are never skipped in CI.",
            pytrace=False,
        )
    return None


@pytest.fixture(scope="session")
def db_url(
    postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    from exoguard.store.migrate import upgrade

    if postgres_base_url is None:
        url = f"sqlite:///{(tmp_path_factory.mktemp('db') / 'test.sqlite3').as_posix()}"
        upgrade(url)
        yield url
        return
    schema = _new_schema(postgres_base_url)
    url = _with_search_path(postgres_base_url, schema)
    try:
        upgrade(url)
        yield url
    finally:
        _drop_schema(postgres_base_url, schema)


@pytest.fixture(scope="session")
def db_backend(db_url: str) -> str:
    from exoguard.store.db import normalize_url

    return normalize_url(db_url).get_backend_name()


@pytest.fixture(scope="session")
def db_engine(db_url: str) -> Iterator[Engine]:
    from exoguard.store.db import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db_sessionmaker(db_engine: Engine) -> Iterator[sessionmaker[Session]]:
    from sqlalchemy.orm import sessionmaker as make_factory

    connection = db_engine.connect()
    transaction = connection.begin()
    factory = make_factory(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield factory
    finally:
        if transaction.is_active:
            transaction.rollback()
        connection.close()


@pytest.fixture
def db_session(db_sessionmaker: sessionmaker[Session]) -> Iterator[Session]:
    session = db_sessionmaker()
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from exoguard.store.migrate import upgrade

    path = tmp_path_factory.mktemp("sqlite_template") / "template.sqlite3"
    upgrade(f"sqlite:///{path.as_posix()}")  # disposes its engine: the WAL is checkpointed
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "exoguard.sqlite3"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path.as_posix()}"


@pytest.fixture
def blank_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{(tmp_path / 'blank.sqlite3').as_posix()}"


@pytest.fixture
def blank_postgres_url(postgres_base_url: str | None) -> Iterator[str]:
    if postgres_base_url is None:
        pytest.skip(f"PostgreSQL at {_postgres_base_url()} unreachable (not CI)")
    schema = _new_schema(postgres_base_url)
    try:
        yield _with_search_path(postgres_base_url, schema)
    finally:
        _drop_schema(postgres_base_url, schema)
