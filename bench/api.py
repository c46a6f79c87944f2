"""Load test of `POST /api/model/predict` against a real `exoguard serve` process.

Starts the server in a second process (temporary SQLite database unless --database-url, the
model of the current settings, rate limit raised), logs in, then drives the predict route for
60 s at 50 concurrent connections with `wrk` (a Lua script supplies the POST body, the session
cookie and the CSRF header) and prints requests/s, p50 and p99 latency and the error count.
Without `wrk` it falls back to an httpx async client.

    .venv/bin/python bench/api.py [--duration 60] [--connections 50] [--json]
    .venv/bin/python bench/api.py --workers 2 --redis-url redis://127.0.0.1:6379/14

With ``--workers N > 1`` the server runs N processes (uvicorn), which share their rate-limit
counters in Redis and their jobs through Celery, as several API replicas would.

Target: p99 < 100 ms with zero errors. A model must be trained first
(`exoguard train --model gbm`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

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

LUA = """
wrk.method = "POST"
wrk.body = [[%(body)s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "%(cookie)s"
wrk.headers["X-CSRF-Token"] = "%(csrf)s"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, '
    .. '"p99_us": %%d, "max_us": %%d, "mean_us": %%f, "connect": %%d, "read": %%d, '
    .. '"write": %%d, "status": %%d, "timeout": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write,
    e.status, e.timeout))
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare(
    database_url: str, *, models_path: Path, version: str, email: str, password: str
) -> None:
    """Migrate the bench database, register the model version there, create the bench user."""
    from exoguard.ml.registry import ModelRegistry
    from exoguard.store.db import make_engine, make_sessionmaker, session_scope
    from exoguard.store.migrate import upgrade
    from exoguard.web.services.accounts import register_user

    upgrade(database_url)
    registry = ModelRegistry.from_settings(database_url=database_url, models_path=models_path)
    registry.activate(version)
    engine = make_engine(database_url)
    try:
        with session_scope(make_sessionmaker(engine)) as session:
            register_user(session, email=email, password=password, name="bench")
    finally:
        engine.dispose()


def start_server(
    env: dict[str, str], *, port: int, workers: int, log_path: Path
) -> subprocess.Popen[bytes]:
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
    credentials = {"email": email, "password": password}
    r = httpx.post(f"{base}/api/auth/login", json=credentials, timeout=30)
    r.raise_for_status()
    return r.cookies["exoguard_session"], r.cookies["exoguard_csrf"]


def run_wrk(
    base: str,
    *,
    session: str,
    csrf: str,
    duration_s: int,
    connections: int,
    threads: int,
    workdir: Path,
) -> dict[str, Any]:
    script = workdir / "predict.lua"
    script.write_text(
        LUA
        % {
            "body": json.dumps(BODY),
            "cookie": f"exoguard_session={session}; exoguard_csrf={csrf}",
            "csrf": csrf,
        }
    )
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        f"{base}/api/model/predict",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    non2xx = 0
    for x in out.splitlines():
        if "Non-2xx or 3xx responses" in x:
            non2xx = int(x.split(":")[1])
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"] + non2xx
    return {
        "tool": "wrk",
        "requests": raw["requests"],
        "requests_per_s": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1e3,
        "p90_ms": raw["p90_us"] / 1e3,
        "p99_ms": raw["p99_us"] / 1e3,
        "max_ms": raw["max_us"] / 1e3,
        "errors": errors,
        "non_2xx": non2xx,
        "socket_errors": {k: raw[k] for k in ("connect", "read", "write", "timeout")},
        "raw_output": out,
    }


async def _httpx_load(
    base: str, *, session: str, csrf: str, duration_s: int, connections: int
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + duration_s
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    cookies = {"exoguard_session": session, "exoguard_csrf": csrf}
    async with httpx.AsyncClient(base_url=base, limits=limits, cookies=cookies, timeout=10) as c:

        async def one_connection() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    r = await c.post(
                        "/api/model/predict", json=BODY, headers={"X-CSRF-Token": csrf}
                    )
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        started = time.perf_counter()
        await asyncio.gather(*(one_connection() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {
        "tool": "httpx",
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": q[49] * 1e3,
        "p90_ms": q[89] * 1e3,
        "p99_ms": q[98] * 1e3,
        "max_ms": max(latencies) * 1e3,
        "errors": errors,
    }


def group_cpu_s(pgid: int) -> float | None:
    """CPU seconds (user + system) used so far by the processes of a process group (Linux)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of /proc/<pid>/stat: process group
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def model_calls(base: str) -> tuple[float, float] | None:
    """(model calls, seconds in the model) from the server's /metrics (one process)."""
    try:
        text = httpx.get(f"{base}/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    calls = seconds = 0.0
    for line in text.splitlines():
        if line.startswith("exoguard_inference_seconds_count"):
            calls += float(line.rsplit(" ", 1)[1])
        elif line.startswith("exoguard_inference_seconds_sum"):
            seconds += float(line.rsplit(" ", 1)[1])
    return calls, seconds


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds of load (default 60)")
    parser.add_argument("--connections", type=int, default=50, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument(
        "--database-url",
        default=None,
        help="database of the server (default: a temporary SQLite file)",
    )
    parser.add_argument("--redis-url", default=None, help="REDIS_URL of the server (optional)")
    parser.add_argument("--tool", choices=("wrk", "httpx"), default=None)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()

    if args.workers > 1 and not args.redis_url:
        _log("--workers > 1 needs --redis-url: the processes share rate limits and job workers")
        return 2
    from exoguard.config import get_settings
    from exoguard.ml.registry import ModelRegistry

    settings = get_settings()
    active = ModelRegistry.from_settings().active()
    if active is None:
        _log("no active model: train one first with `exoguard train --model gbm`")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="exoguard-bench-"))
    database_url = args.database_url or f"sqlite:///{(workdir / 'bench.sqlite3').as_posix()}"
    email, password = f"bench-{secrets.token_hex(4)}@example.org", secrets.token_urlsafe(16)
    prepare(
        database_url,
        models_path=settings.models_path,
        version=active.id,
        email=email,
        password=password,
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "EXOGUARD_VAR_DIR": str(workdir),
        "EXOGUARD_MODEL_DIR": str(settings.models_path),
        "EXOGUARD_DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": database_url,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "EXOGUARD_ENV": "development",
        "EXOGUARD_RATE_LIMIT_PER_MINUTE": str(10**9),
        # Several server processes share their jobs through Celery (`exoguard serve` refuses
        # in-process jobs there); the predict route itself submits no job.
        "EXOGUARD_JOBS": "inprocess" if args.workers == 1 else "celery",
    }
    env.pop("REDIS_URL", None)
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    proc = start_server(env, port=port, workers=args.workers, log_path=workdir / "server.log")
    try:
        wait_ready(base, proc)
        session, csrf = login(base, email, password)
        before = count_predictions(database_url)
        with httpx.Client(
            base_url=base, cookies={"exoguard_session": session, "exoguard_csrf": csrf}
        ) as client:
            for _ in range(20 * args.workers):  # load the model in every server process
                client.post(
                    "/api/model/predict", json=BODY, headers={"X-CSRF-Token": csrf}, timeout=60
                ).raise_for_status()
        warmup = count_predictions(database_url) - before
        cpu_before = group_cpu_s(proc.pid)
        calls_before = model_calls(base)
        tool = args.tool or ("wrk" if shutil.which("wrk") else "httpx")
        _log(
            f"driving POST /api/model/predict for {args.duration} s at {args.connections} "
            f"connections with {tool} (model {active.id}, {args.workers} server process(es))"
        )
        if tool == "wrk":
            result = run_wrk(
                base,
                session=session,
                csrf=csrf,
                duration_s=args.duration,
                connections=args.connections,
                threads=args.threads,
                workdir=workdir,
            )
        else:
            result = asyncio.run(
                _httpx_load(
                    base,
                    session=session,
                    csrf=csrf,
                    duration_s=args.duration,
                    connections=args.connections,
                )
            )
        cpu_after = group_cpu_s(proc.pid)
        calls_after = model_calls(base)
        stored = count_predictions(database_url) - before - warmup
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    raw_output = result.pop("raw_output", None)
    result.update(
        {
            "duration_s": args.duration,
            "connections": args.connections,
            "server_workers": args.workers,
            "database": "sqlite (temporary)" if args.database_url is None else "given URL",
            "model_version": active.id,
            "predictions_stored": stored,
            "server_cpu_ms_per_request": (
                None
                if cpu_before is None or cpu_after is None or not result["requests"]
                else 1e3 * (cpu_after - cpu_before) / result["requests"]
            ),
            "load_average_1min": os.getloadavg()[0],
            "requests_per_model_call": (
                None
                if args.workers != 1
                or calls_before is None
                or calls_after is None
                or calls_after[0] == calls_before[0]
                else stored / (calls_after[0] - calls_before[0])
            ),
            "cpu_count": os.cpu_count(),
            "target_met": result["p99_ms"] < 100 and result["errors"] == 0,
        }
    )
    if args.keep:
        _log(f"kept {workdir} (server.log)")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        if raw_output:
            _log(raw_output)
        print(
            f"POST /api/model/predict, {args.connections} connections, {args.duration} s: "
            f"{result['requests_per_s']:.0f} requests/s, p50 {result['p50_ms']:.1f} ms, "
            f"p99 {result['p99_ms']:.1f} ms, errors {result['errors']}, server CPU "
            f"{result['server_cpu_ms_per_request'] or float('nan'):.2f} ms per request "
            f"(load average {result['load_average_1min']:.1f} on {result['cpu_count']} CPUs) "
            f"({result['predictions_stored']} predictions stored; target p99 < 100 ms, 0 errors: "
            f"{'met' if result['target_met'] else 'NOT met'})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
