"""Shared fixtures of the API and job integration tests (imported by test_api_*/test_jobs_*).

Each test module gets its own migrated database: a fresh PostgreSQL schema when the test
server is reachable (required with CI=true, through the root conftest's `postgres_base_url`),
a temporary SQLite file otherwise. Requests commit for real, so jobs, worker processes and
the app see the same rows. With CI=true the app's rate limiter (and the Celery tests) use the
real Redis, database 15, flushed by the fixtures.

A small gradient-boosted model is trained once per test process on the bundled catalogs and
copied into each module's model folder, then registered and activated in its database.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings, get_settings
from exoguard.services.accounts import start_session
from exoguard.services.credentials import hash_password
from exoguard.store.db import make_engine, make_sessionmaker, normalize_url, session_scope
from exoguard.store.migrate import upgrade
from exoguard.store.models import User
from exoguard.store.repositories import UserRepository
from exoguard.web.app import create_app
from exoguard.web.security import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_token_for,
)

CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET = "api-tests-7f3c9a1e5b2d8046c1f9e3a7b5d20c84e6f1a9b3d7c5e2f08a4b6c1d3e5f7a9b"
PASSWORD = "correct horse battery"
BASE_URL = "https://testserver"  # EXOGUARD_ENV=test: cookies are Secure
DATA = get_settings().data_dir
LIGHTCURVES = get_settings().lightcurves_dir
CATALOGS = get_settings().catalogs_dir
TOI114_FITS = (
    LIGHTCURVES / "tess" / "hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits"
)
KEPLER_FITS = LIGHTCURVES / "kepler" / "kplr010797460-2009166043257_llc.fits"
KOI_TABLE = CATALOGS / "koi_cumulative_2026-06-22.csv.gz"


# ----------------------------------------------------------------------------- servers
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_process(
    env: dict[str, str], *, port: int, log_path: Path, timeout_s: float = 120.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`exoguard serve` on 127.0.0.1:`port` in a process group of its own, once `/healthz`
    answers: (base URL, process). SIGTERM to the group at exit; the caller reads the code."""
    import signal
    import sys
    import time

    import httpx

    command = [sys.executable, "-c", "from exoguard.cli import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        yield base, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def redis_url_for_tests(*, required: bool) -> str | None:
    """Redis db 15, flushed. CI=true: unreachable fails. Otherwise None when unreachable."""
    import redis

    try:
        client = redis.Redis.from_url(TEST_REDIS_URL)
        client.ping()
    except Exception as exc:  # any connection error
        if CI:
            pytest.fail(
                f"CI=true but Redis at {TEST_REDIS_URL} is unreachable: {exc}", pytrace=False
            )
        if required:
            pytest.skip(f"Redis at {TEST_REDIS_URL} unreachable (not CI)")
        return None
    client.flushdb()
    client.close()
    return TEST_REDIS_URL


@contextlib.contextmanager
def fresh_database(postgres_base_url: str | None, folder: Path) -> Iterator[str]:
    """A migrated, empty database of its own: a PostgreSQL schema, else an SQLite file."""
    if postgres_base_url is None:
        url = f"sqlite:///{(folder / 'api.sqlite3').as_posix()}"
        upgrade(url)
        yield url
        return
    # The root conftest sweeps schemas named like this whose process died.
    schema = f"exoguard_test_{os.getpid()}_api{secrets.token_hex(3)}"
    admin = make_engine(postgres_base_url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = (
            normalize_url(postgres_base_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
        upgrade(url)
        yield url
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# ----------------------------------------------------------------------------- the model
_TRAINED: dict[str, Path] = {}


def tiny_model_source(root: Path) -> Path:
    """Artifacts of a small gbm version trained once per test process (``<root>/gbm-0001``)."""
    if "dir" in _TRAINED:
        return _TRAINED["dir"]
    from tests._registry import sqlite_registry

    from exoguard.catalogs import load_default_catalogs
    from exoguard.ml.configs import apply_overrides, get_config
    from exoguard.ml.train import train_gbm

    models = root / "trained-once"
    models.mkdir(parents=True, exist_ok=True)
    registry = sqlite_registry(models)
    config = apply_overrides(
        get_config("small"), ["n_estimators=30", "n_ensemble=2", "calibration_folds=2"]
    )
    record = train_gbm(
        config, catalogs_dir=CATALOGS, tables=load_default_catalogs(CATALOGS), registry=registry
    )
    _TRAINED["dir"] = models / record.id
    return _TRAINED["dir"]


def install_model(source: Path, *, database_url: str, models_path: Path) -> str:
    """Copy a version's artifacts into `models_path`, register and activate it; its id."""
    from exoguard.ml.service import clear_cache
    from exoguard.store.model_registry import open_registry

    models_path.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, models_path / source.name)
    registry = open_registry(database_url=database_url, models_path=models_path)
    registry.activate(source.name)
    registry.store.engine.dispose()  # type: ignore[attr-defined]
    clear_cache()  # version ids repeat across test databases
    return source.name


# ----------------------------------------------------------------------------- the app
@dataclass
class Api:
    """One app on one fresh database, with a user of each role."""

    app: FastAPI
    settings: Settings
    database_url: str
    factory: sessionmaker[Session]
    users: dict[str, User] = field(default_factory=dict)
    model_version: str | None = None

    def client(self, who: str | None = None, *, csrf: bool = True) -> TestClient:
        """A client (use it in a `with` block: it runs the app's start-up), logged in as
        `who` (a key of `users`) with the CSRF header set unless `csrf` is False."""
        client = TestClient(self.app, base_url=BASE_URL)
        if who is not None:
            token, csrf_token = session_cookies(self.app, self.users[who])
            client.cookies.set(SESSION_COOKIE, token)
            client.cookies.set(CSRF_COOKIE, csrf_token)
            if csrf:
                client.headers[CSRF_HEADER] = csrf_token
        return client

    def add_user(self, role: str, *, name: str | None = None) -> User:
        """A new account of `role` with the password `PASSWORD` (committed)."""
        label = name or f"{role}-{secrets.token_hex(4)}"
        with session_scope(self.factory) as session:
            user = UserRepository(session).create(
                email=f"{label}@example.org", password_hash=_password_hash(), name=label, role=role
            )
        return user

    def count(self, model: type[Any], **where: Any) -> int:
        from sqlalchemy import func, select

        with session_scope(self.factory) as session:
            stmt = select(func.count()).select_from(model)
            for key, value in where.items():
                stmt = stmt.where(getattr(model, key) == value)
            return int(session.scalar(stmt) or 0)


def session_cookies(
    app: FastAPI, user: User, *, secret_key: str = SECRET, ttl_s: int = 3600
) -> tuple[str, str]:
    """A server-side session of `user` in `app`'s database: (session token, CSRF token)."""
    with session_scope(app.state.exoguard.sessions) as session:
        token = start_session(session, user=user, secret_key=secret_key, ttl_s=ttl_s)
    return token, csrf_token_for(token, secret_key=secret_key)


_HASH: dict[str, str] = {}


def _password_hash() -> str:
    if "h" not in _HASH:
        _HASH["h"] = hash_password(PASSWORD)
    return _HASH["h"]


def make_settings(folder: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "EXOGUARD_ENV": "test",
        "SECRET_KEY": SECRET,
        "EXOGUARD_VAR_DIR": folder / "var",
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
        "EXOGUARD_DATA_DIR": DATA,
        "EXOGUARD_RATE_LIMIT_PER_MINUTE": 1000,
        "EXOGUARD_MAX_UPLOAD_MB": 5,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.contextmanager
def api_world(
    postgres_base_url: str | None,
    folder: Path,
    *,
    with_model: bool = True,
    redis_url: str | None = None,
    **overrides: Any,
) -> Iterator[Api]:
    """A fresh database, the app on it, a user of each role, and the tiny model (active)."""
    folder.mkdir(parents=True, exist_ok=True)
    with fresh_database(postgres_base_url, folder) as url:
        settings = make_settings(folder, url, REDIS_URL=redis_url, **overrides)
        engine = make_engine(url)
        api = Api(
            app=create_app(settings),
            settings=settings,
            database_url=url,
            factory=make_sessionmaker(engine),
        )
        for key, role in (
            ("explorer", "explorer"),
            ("other", "explorer"),
            ("researcher", "researcher"),
            ("admin", "admin"),
        ):
            api.users[key] = api.add_user(role)
        if with_model:
            api.model_version = install_model(
                tiny_model_source(folder.parent),
                database_url=url,
                models_path=settings.models_path,
            )
        try:
            yield api
        finally:
            api.app.state.exoguard.engine.dispose()
            engine.dispose()


def wait_for_job(client: TestClient, job_id: str, *, timeout_s: float = 120.0) -> dict[str, Any]:
    """Poll GET /api/jobs/{id} until the job has finished; its last view."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        view = client.get(f"/api/jobs/{job_id}").json()
        if view.get("status") in ("succeeded", "failed"):
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not finish in {timeout_s} s: {view}")
        time.sleep(0.2)


def upload(client: TestClient, name: str, content: bytes) -> Any:
    files = {"file": (name, content, "application/octet-stream")}
    return client.post("/api/data/upload", files=files)


def stored_files(settings: Settings) -> list[Path]:
    """Every file kept under the upload folder (the temporary folder excluded)."""
    root = settings.uploads_path
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and ".incoming" not in p.parts)


def koi_slice(n_rows: int) -> bytes:
    """The header comments, the column row and the first `n_rows` rows of the KOI table."""
    import gzip

    lines = gzip.decompress(KOI_TABLE.read_bytes()).decode("utf-8").splitlines()
    head = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    return ("\n".join(head + body[: n_rows + 1]) + "\n").encode("utf-8")
