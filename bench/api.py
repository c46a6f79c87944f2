"""Load test of `POST /api/models/predict` against a real `exoguard serve` process.

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
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _server import (
    BODY,
    count_predictions,
    free_port,
    group_cpu_s,
    login,
    prepare,
    server_env,
    start_server,
    stop_server,
    wait_ready,
)
from _server import log as _log

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
        f"{base}/api/models/predict",
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
                        "/api/models/predict", json=BODY, headers={"X-CSRF-Token": csrf}
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
    from exoguard.store.model_registry import settings_registry

    settings = get_settings()
    active = settings_registry(settings).active()
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
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(
        workdir=workdir,
        database_url=database_url,
        models_path=settings.models_path,
        data_dir=settings.data_dir,
        workers=args.workers,
        redis_url=args.redis_url,
    )
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
                    "/api/models/predict", json=BODY, headers={"X-CSRF-Token": csrf}, timeout=60
                ).raise_for_status()
        warmup = count_predictions(database_url) - before
        cpu_before = group_cpu_s(proc.pid)
        calls_before = model_calls(base)
        tool = args.tool or ("wrk" if shutil.which("wrk") else "httpx")
        _log(
            f"driving POST /api/models/predict for {args.duration} s at {args.connections} "
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
        stop_server(proc)
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
                # the body has no "save": predictions are not stored, count the answers
                else (result["requests"] - result["errors"]) / (calls_after[0] - calls_before[0])
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
            f"POST /api/models/predict, {args.connections} connections, {args.duration} s: "
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
