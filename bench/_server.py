"""Helpers shared by the API benches: a real `exoguard serve` process on a scratch database.

`bench/api.py` (one load burst) and `bench/soak.py` (sustained load, memory and database size
over time) both start the server in a second process on a free 127.0.0.1 port, with a
temporary var folder and database, a model and a bench user, and log in over HTTP.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

#: One typed-in candidate (Kepler-10 b's KOI row); no "save", so nothing is stored.
BODY = {
    "candidates": [
        {
            "mission": "kepler",
            "period_days": 9.48803557,
            "duration_hours": 2.9575,
            "depth_ppm": 615.8,
            "impact": 0.146,
            "planet_radius_rearth": 2.26,
            "equilibrium_temp_k": 793.0,
            "insolation_earth": 93.59,
            "transit_snr": 35.8,
            "star_teff_k": 5455.0,
            "star_logg_cgs": 4.467,
            "star_radius_rsun": 0.927,
            "star_mag": 15.347,
        }
    ]
}

#: The rate limit the bench servers run with: high enough never to answer 429.
BENCH_RATE_LIMIT_PER_MINUTE = 10**9

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare(
    database_url: str, *, models_path: Path, version: str, email: str, password: str
) -> None:
    """Migrate the bench database, register the model version there, create the bench user."""
    from exoguard.services.accounts import register_user
    from exoguard.store.db import make_engine, make_sessionmaker, session_scope
    from exoguard.store.migrate import upgrade
    from exoguard.store.model_registry import open_registry

    upgrade(database_url)
    registry = open_registry(database_url=database_url, models_path=models_path)
    registry.activate(version)
    store_engine = getattr(registry.store, "engine", None)
    if store_engine is not None:
        store_engine.dispose()
    engine = make_engine(database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            register_user(session, email=email, password=password, name="bench")
    finally:
        engine.dispose()


def train_small_model(models_path: Path) -> str:
    """Train a small gbm version on the bundled catalogs into `models_path`; its id.

    The tests' tiny model (30 trees, 2 members, 2 calibration folds): tens of seconds, and
    the same code path at predict time as the default model. Register it in a database with
    :func:`prepare` (the files stay in `models_path`).
    """
    from exoguard.catalogs import load_default_catalogs
    from exoguard.ml.configs import apply_overrides, get_config
    from exoguard.ml.registry import ModelRegistry
    from exoguard.ml.train import train_gbm
    from exoguard.store.migrate import upgrade
    from exoguard.store.model_registry import DatabaseVersionStore

    models_path.mkdir(parents=True, exist_ok=True)
    # the registry's own database beside the artifacts (the registry lives in a database)
    url = f"sqlite:///{(models_path / 'registry.sqlite3').as_posix()}"
    upgrade(url)
    store = DatabaseVersionStore(url, models_path=models_path)
    registry = ModelRegistry(models_path, store)
    config = apply_overrides(
        get_config("small"), ["n_estimators=30", "n_ensemble=2", "calibration_folds=2"]
    )
    from exoguard.config import get_settings

    catalogs_dir = get_settings().catalogs_dir
    record = train_gbm(
        config,
        catalogs_dir=catalogs_dir,
        tables=load_default_catalogs(catalogs_dir),
        registry=registry,
    )
    store.engine.dispose()
    return str(record.id)


@contextlib.contextmanager
def postgres_schema(base_url: str, *, prefix: str = "exoguard_bench") -> Iterator[str]:
    """A fresh PostgreSQL schema of its own (dropped at the end); the URL that uses it."""
    from sqlalchemy import text

    from exoguard.store.db import make_engine, normalize_url

    schema = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = make_engine(base_url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield (
            normalize_url(base_url)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def server_env(
    *,
    workdir: Path,
    database_url: str,
    models_path: Path,
    data_dir: Path,
    workers: int = 1,
    redis_url: str | None = None,
) -> dict[str, str]:
    """Environment of a bench server: its own var folder and database, rate limit raised."""
    env = {
        **os.environ,
        "EXOGUARD_VAR_DIR": str(workdir),
        "EXOGUARD_MODEL_DIR": str(models_path),
        "EXOGUARD_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "EXOGUARD_ENV": "development",
        "EXOGUARD_RATE_LIMIT_PER_MINUTE": str(BENCH_RATE_LIMIT_PER_MINUTE),
        # Several server processes share their jobs through Celery (`exoguard serve` refuses
        # in-process jobs there); the predict route itself submits no job.
        "EXOGUARD_JOBS": "inprocess" if workers == 1 else "celery",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def start_server(
    env: dict[str, str], *, port: int, workers: int, log_path: Path
) -> subprocess.Popen[bytes]:
    """`exoguard serve` on 127.0.0.1:`port` in a new process group (its id is the pid)."""
    cmd = [
        sys.executable,
        "-c",
        "from exoguard.cli import main; main()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    handle = log_path.open("wb")
    return subprocess.Popen(
        cmd, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_server(proc: subprocess.Popen[bytes], *, timeout_s: float = 20.0) -> None:
    """SIGTERM the server's process group; SIGKILL it when it has not exited in time."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout_s)


def wait_ready(base: str, proc: subprocess.Popen[bytes], *, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server did not answer /healthz within {timeout_s} s")


def login(base: str, email: str, password: str) -> tuple[str, str]:
    """(session cookie, CSRF cookie) of a login over HTTP."""
    credentials = {"email": email, "password": password}
    r = httpx.post(f"{base}/api/auth/login", json=credentials, timeout=30)
    r.raise_for_status()
    return r.cookies["exoguard_session"], r.cookies["exoguard_csrf"]


def _group_pids(pgid: int) -> Iterator[int]:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of /proc/<pid>/stat: process group
            yield int(stat.parent.name)


def group_cpu_s(pgid: int) -> float | None:
    """CPU seconds (user + system) used so far by the processes of a process group (Linux)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in _group_pids(pgid):
        try:
            fields = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def group_rss_bytes(pgid: int) -> int | None:
    """Resident memory (VmRSS) of the processes of a process group, summed (Linux).

    The server runs in a process group of its own (:func:`start_server`), so this is the
    server process and every child it started (uvicorn workers, job processes).
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    total = 0
    for pid in _group_pids(pgid):
        try:
            status = (proc / str(pid) / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024  # kB
                break
    return total


def count_predictions(database_url: str) -> int:
    from sqlalchemy import func, select

    from exoguard.store.db import make_engine
    from exoguard.store.models import Prediction

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count(Prediction.id))).scalar_one())
    finally:
        engine.dispose()
