"""Soak test of `POST /api/models/predict`: sustained load, memory and database size over time.

For each database backend in turn (SQLite file, then a PostgreSQL schema of its own), starts a
real `exoguard serve` process on a free 127.0.0.1 port with a temporary var folder and database
(`bench/_server.py`, shared with `bench/api.py`), registers a small gbm model (trained here on
the bundled catalogs unless --model-from-settings), logs in, warms the model up, then drives the
predict route with 20 concurrent keep-alive connections for 10 minutes. Every minute it prints
one line per backend: requests/s over the interval, errors (non-2xx and connection errors),
p99 latency over the interval, the server's resident memory (VmRSS of the server process and
its children) and the database size (SQLite file plus WAL; PostgreSQL `pg_total_relation_size`
summed over the schema's tables). At the end: a JSON summary.

    .venv/bin/python bench/soak.py [--duration-s 600] [--interval-s 60] [--connections 20]
        [--database sqlite|postgresql|both] [--postgres-url URL] [--summary-json PATH]

The load generator runs inside this process (wrk cannot print per-interval figures): one
asyncio task per connection sends the same keep-alive HTTP/1.1 POST over asyncio streams, a
few times cheaper in CPU than httpx. It still shares the machine's cores with the server, so
its CPU share is printed beside the server's. The server runs with
EXOGUARD_RATE_LIMIT_PER_MINUTE raised to 10^9, so that the rate limit never answers 429.

The request body types in one candidate without ``"save": true``: the verdict is computed and
returned, nothing is stored (a stored prediction is something the user asks to keep).

Targets (issue 13): 0 errors; memory flat, RSS at the end / RSS at the end of the first minute
- 1 < 0.05; the database does not grow per request (no rows added, < 1 byte per request).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _server import (
    BENCH_RATE_LIMIT_PER_MINUTE,
    BODY,
    DEFAULT_POSTGRES_URL,
    free_port,
    group_cpu_s,
    group_rss_bytes,
    log,
    login,
    postgres_schema,
    prepare,
    server_env,
    start_server,
    stop_server,
    train_small_model,
    wait_ready,
)

#: RSS growth after the first minute that still counts as flat.
MAX_MEMORY_GROWTH = 0.05
#: Database growth per request that still counts as none (less than a row can take).
MAX_DB_BYTES_PER_REQUEST = 1.0
WARMUP_REQUESTS = 20
REQUEST_TIMEOUT_S = 30.0


# ----------------------------------------------------------------------------- measuring
@dataclass
class Window:
    """What the load generator saw since the last sample."""

    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Sample:
    elapsed_s: float
    requests: int
    requests_per_s: float
    errors: int
    p99_ms: float
    rss_bytes: int | None
    db_bytes: int
    server_cpu_percent: float | None
    client_cpu_percent: float


def p99(latencies_s: list[float]) -> float:
    """The 99th percentile in ms (nearest rank), NaN without requests."""
    if not latencies_s:
        return math.nan
    ordered = sorted(latencies_s)
    rank = max(1, math.ceil(0.99 * len(ordered)))
    return 1e3 * ordered[rank - 1]


class Database:
    """Size and row counts of the bench database, as the server's storage sees them."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        from exoguard.store.db import make_engine

        self.url = url
        self.kind = make_url(url).get_backend_name()
        self.engine = make_engine(url)

    def size_bytes(self) -> int:
        """SQLite: the file plus its WAL; PostgreSQL: tables, indexes and TOAST of the schema."""
        from sqlalchemy import text

        if self.kind == "sqlite":
            path = Path(str(self.engine.url.database))
            wal = path.with_name(path.name + "-wal")
            return sum(p.stat().st_size for p in (path, wal) if p.exists())
        query = text(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'm')"
        )
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def row_counts(self) -> dict[str, int]:
        from sqlalchemy import func, select

        from exoguard.store.models import Base

        out = {}
        with self.engine.connect() as connection:
            for table in Base.metadata.sorted_tables:
                count = select(func.count()).select_from(table)
                out[table.name] = int(connection.execute(count).scalar_one())
        return out

    def close(self) -> None:
        self.engine.dispose()


# ----------------------------------------------------------------------------- the load
class PostConnection:
    """One keep-alive HTTP/1.1 connection that sends the same POST again and again.

    A few lines over asyncio streams instead of httpx: the load generator shares the cores
    with the server, and httpx spends about as much CPU per request as the server does.
    A connection idle for more than `max_idle_s` is reopened, before uvicorn's 5 s keep-alive
    timeout could close it under a request in flight.
    """

    def __init__(self, host: str, port: int, request: bytes, *, max_idle_s: float = 2.0) -> None:
        self.host, self.port, self.request, self.max_idle_s = host, port, request, max_idle_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._last_used = 0.0

    async def post(self) -> tuple[int, bytes]:
        """(status, body) of one request; raises OSError or EOFError on connection errors."""
        if self._writer is not None and time.monotonic() - self._last_used > self.max_idle_s:
            await self.close()
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
        try:
            writer.write(self.request)
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            length, close, chunked = 0, False, False
            for line in lines:
                name, _, value = line.partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection":
                    close = value == "close"
                elif name == "transfer-encoding":
                    chunked = "chunked" in value
            body = await (_read_chunked(reader) if chunked else reader.readexactly(length))
        except (OSError, EOFError, asyncio.LimitOverrunError, ValueError):
            await self.close()
            raise
        self._last_used = time.monotonic()
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the end
                pass
            return b"".join(parts)
        parts.append((await reader.readexactly(size + 2))[:-2])


def predict_request(host: str, port: int, *, session: str, csrf: str) -> bytes:
    """The raw bytes of the bench's predict request (session cookie and CSRF header)."""
    body = json.dumps(BODY).encode()
    head = (
        "POST /api/models/predict HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Cookie: exoguard_session={session}; exoguard_csrf={csrf}\r\n"
        f"X-CSRF-Token: {csrf}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


async def soak(
    *,
    host: str,
    port: int,
    label: str,
    session: str,
    csrf: str,
    connections: int,
    duration_s: float,
    interval_s: float,
    server: subprocess.Popen[bytes],
    database: Database,
) -> list[Sample]:
    """Drive predict for `duration_s`; one printed `Sample` every `interval_s`."""
    request = predict_request(host, port, session=session, csrf=csrf)
    window = Window()
    logged_errors = 0
    samples: list[Sample] = []
    started = time.monotonic()
    stop = started + duration_s

    async def one_connection() -> None:
        nonlocal logged_errors
        connection = PostConnection(host, port, request)
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                code, answer = await asyncio.wait_for(connection.post(), REQUEST_TIMEOUT_S)
                status, ok = str(code), 200 <= code < 300
                detail = answer[:200].decode("utf-8", "replace")
            except (OSError, EOFError, ValueError, TimeoutError, asyncio.LimitOverrunError) as exc:
                await connection.close()
                status, ok, detail = type(exc).__name__, False, repr(exc)
            elapsed = time.perf_counter() - t0
            if not ok and logged_errors < 10:
                logged_errors += 1
                log(
                    f"[{label}] error at t={time.monotonic() - started:.1f} s after "
                    f"{elapsed:.2f} s: {status} {detail}"
                )
            window.latencies_s.append(elapsed)
            window.statuses[status] += 1
            window.errors += not ok
        await connection.close()

    async def sampler() -> None:
        nonlocal window
        last_t, last_server = started, group_cpu_s(server.pid)
        last_client = time.process_time()
        n = 1
        while True:
            target = min(started + n * interval_s, stop)
            await asyncio.sleep(max(0.0, target - time.monotonic()))
            if target >= stop:  # the last window closes when the workers have stopped
                await workers_done.wait()
            now = time.monotonic()
            seen, window = window, Window()
            server_cpu, client_cpu = group_cpu_s(server.pid), time.process_time()
            db_bytes = await asyncio.to_thread(database.size_bytes)
            span = now - last_t
            sample = Sample(
                elapsed_s=now - started,
                requests=len(seen.latencies_s),
                requests_per_s=len(seen.latencies_s) / span,
                errors=seen.errors,
                p99_ms=p99(seen.latencies_s),
                rss_bytes=group_rss_bytes(server.pid),
                db_bytes=db_bytes,
                server_cpu_percent=(
                    None
                    if server_cpu is None or last_server is None
                    else 100 * (server_cpu - last_server) / span
                ),
                client_cpu_percent=100 * (client_cpu - last_client) / span,
            )
            samples.append(sample)
            print(_line(label, sample, seen.statuses), flush=True)
            last_t, last_server, last_client = now, server_cpu, client_cpu
            if target >= stop:
                return
            if server.poll() is not None:
                log(f"[{label}] the server exited with code {server.returncode}")
            n += 1

    workers_done = asyncio.Event()
    sampling = asyncio.create_task(sampler())
    await asyncio.gather(*(one_connection() for _ in range(connections)))
    workers_done.set()
    await sampling
    return samples


def _line(label: str, s: Sample, statuses: Counter[str]) -> str:
    odd = {k: v for k, v in statuses.items() if not k.startswith("2")}
    rss = "n/a" if s.rss_bytes is None else f"{s.rss_bytes / 2**20:.1f} MiB"
    server_cpu = "n/a" if s.server_cpu_percent is None else f"{s.server_cpu_percent:.0f} %"
    return (
        f"[{label:10s}] t={s.elapsed_s:6.0f} s  {s.requests_per_s:7.1f} req/s  "
        f"errors {s.errors}{' ' + json.dumps(odd) if odd else ''}  p99 {s.p99_ms:7.1f} ms  "
        f"server RSS {rss}  db {s.db_bytes / 2**20:.3f} MiB  "
        f"(CPU: server {server_cpu}, client {s.client_cpu_percent:.0f} %)"
    )


# ----------------------------------------------------------------------------- one backend
@contextlib.contextmanager
def bench_database(kind: str, *, workdir: Path, postgres_url: str) -> Iterator[str]:
    """The URL of a fresh, empty database of `kind` (a PostgreSQL schema is dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{(workdir / 'soak.sqlite3').as_posix()}"
        return
    with postgres_schema(postgres_url, prefix="exoguard_soak") as url:
        yield url


def run_backend(
    kind: str,
    *,
    args: argparse.Namespace,
    root: Path,
    models_path: Path,
    version: str,
    data_dir: Path,
) -> dict[str, Any]:
    """Soak one backend; its summary."""
    label = kind
    workdir = root / kind
    workdir.mkdir(parents=True)
    email, password = f"soak-{secrets.token_hex(4)}@example.org", secrets.token_urlsafe(16)
    with bench_database(kind, workdir=workdir, postgres_url=args.postgres_url) as url:
        prepare(url, models_path=models_path, version=version, email=email, password=password)
        database = Database(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = server_env(
            workdir=workdir, database_url=url, models_path=models_path, data_dir=data_dir
        )
        server = start_server(env, port=port, workers=1, log_path=workdir / "server.log")
        try:
            wait_ready(base, server)
            session, csrf = login(base, email, password)
            cookies = {"exoguard_session": session, "exoguard_csrf": csrf}
            with httpx.Client(base_url=base, cookies=cookies) as client:
                for _ in range(WARMUP_REQUESTS):  # load the model, fill the caches
                    client.post(
                        "/api/models/predict", json=BODY, headers={"X-CSRF-Token": csrf}, timeout=60
                    ).raise_for_status()
            rows_before, bytes_before = database.row_counts(), database.size_bytes()
            rss_start = group_rss_bytes(server.pid)
            log(
                f"[{label}] soaking POST /api/models/predict: {args.connections} connections, "
                f"{args.duration_s:.0f} s, a line every {args.interval_s:.0f} s (server pid "
                f"{server.pid}, RSS after warm-up {_mib(rss_start)})"
            )
            samples = asyncio.run(
                soak(
                    host="127.0.0.1",
                    port=port,
                    label=label,
                    session=session,
                    csrf=csrf,
                    connections=args.connections,
                    duration_s=args.duration_s,
                    interval_s=args.interval_s,
                    server=server,
                    database=database,
                )
            )
            rows_after, bytes_after = database.row_counts(), database.size_bytes()
            server_alive = server.poll() is None
        finally:
            stop_server(server)
            database.close()
    if args.keep:
        log(f"[{label}] kept {workdir} (server.log)")
    return summarize(
        kind,
        samples,
        args=args,
        rows_before=rows_before,
        rows_after=rows_after,
        bytes_before=bytes_before,
        bytes_after=bytes_after,
        rss_after_warmup=rss_start,
        server_alive=server_alive,
    )


def _mib(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 2**20:.1f} MiB"


def summarize(
    kind: str,
    samples: list[Sample],
    *,
    args: argparse.Namespace,
    rows_before: dict[str, int],
    rows_after: dict[str, int],
    bytes_before: int,
    bytes_after: int,
    rss_after_warmup: int | None,
    server_alive: bool,
) -> dict[str, Any]:
    """Figures and targets of one backend's soak."""
    requests = sum(s.requests for s in samples)
    errors = sum(s.errors for s in samples)
    # The baseline is the end of the first minute; a run too short for that uses its first
    # sample (say so: such a run only smoke-tests the script).
    baseline = next(
        (s for s in samples if s.elapsed_s >= args.baseline_s and s is not samples[-1]),
        samples[0],
    )
    rss_end = samples[-1].rss_bytes
    growth = (
        None if rss_end is None or baseline.rss_bytes is None else rss_end / baseline.rss_bytes - 1
    )
    rows_added = {t: rows_after[t] - rows_before.get(t, 0) for t in rows_after}
    rows_added = {t: n for t, n in rows_added.items() if n}
    db_per_request = (bytes_after - bytes_before) / requests if requests else math.nan
    all_latency_p99 = max((s.p99_ms for s in samples if s.requests), default=math.nan)
    targets = {
        "zero_errors": errors == 0 and server_alive,
        "memory_flat": growth is not None and growth < MAX_MEMORY_GROWTH,
        "db_flat": not rows_added and db_per_request < MAX_DB_BYTES_PER_REQUEST,
    }
    return {
        "database": kind,
        "duration_s": args.duration_s,
        "connections": args.connections,
        "requests": requests,
        "requests_per_s": requests / samples[-1].elapsed_s if samples else math.nan,
        "errors": errors,
        "worst_interval_p99_ms": all_latency_p99,
        "rss_after_warmup_bytes": rss_after_warmup,
        "rss_baseline_bytes": baseline.rss_bytes,
        "rss_baseline_at_s": round(baseline.elapsed_s, 1),
        "rss_end_bytes": rss_end,
        "rss_max_bytes": max((s.rss_bytes or 0 for s in samples), default=None),
        "memory_growth_after_first_minute": growth,
        "db_bytes_before": bytes_before,
        "db_bytes_after": bytes_after,
        "db_growth_bytes_per_request": db_per_request,
        "db_rows_added": rows_added,
        "server_alive_at_end": server_alive,
        "targets": targets,
        "targets_met": all(targets.values()),
        "intervals": [asdict(s) for s in samples],
    }


# ----------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration-s", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--interval-s", type=float, default=60.0, help="seconds per line")
    parser.add_argument("--connections", type=int, default=20, help="concurrent connections")
    parser.add_argument(
        "--database", choices=("sqlite", "postgresql", "both"), default="both", help="backend"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES_URL,
        help="PostgreSQL server (a schema of its own is made there and dropped at the end)",
    )
    parser.add_argument(
        "--baseline-s",
        type=float,
        default=60.0,
        help="memory growth is measured from the first sample at or after this time",
    )
    parser.add_argument(
        "--model-from-settings",
        action="store_true",
        help="serve the active model of the current settings instead of training a small one",
    )
    parser.add_argument("--summary-json", type=Path, default=None, help="also write it here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = parser.parse_args()
    if args.interval_s <= 0 or args.duration_s < args.interval_s or args.connections < 1:
        parser.error("need 0 < --interval-s <= --duration-s and --connections >= 1")

    from exoguard.config import get_settings

    settings = get_settings()
    root = Path(tempfile.mkdtemp(prefix="exoguard-soak-"))
    try:
        if args.model_from_settings:
            from exoguard.store.model_registry import settings_registry

            active = settings_registry(settings).active()
            if active is None:
                log("no active model: train one first with `exoguard train --model gbm`")
                return 2
            models_path, version = settings.models_path, str(active.id)
        else:
            models_path = root / "models"
            log("training a small gbm model on the bundled catalogs (30 trees, 2 members)")
            version = train_small_model(models_path)
        kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
        print(
            f"soak: POST /api/models/predict, {args.connections} connections, "
            f"{args.duration_s:.0f} s per backend ({', '.join(kinds)}), model {version}; "
            f"server rate limit raised to {BENCH_RATE_LIMIT_PER_MINUTE:.0e}/min "
            "(EXOGUARD_RATE_LIMIT_PER_MINUTE); the load generator (asyncio streams) runs in this "
            f"process and shares the machine's {os.cpu_count()} CPU cores with the server; "
            'the body has no "save": predict stores nothing the user did not ask to keep',
            flush=True,
        )
        results = [
            run_backend(
                kind,
                args=args,
                root=root,
                models_path=models_path,
                version=version,
                data_dir=settings.data_dir,
            )
            for kind in kinds
        ]
    finally:
        if args.keep:
            log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    summary = {
        "benchmark": "soak POST /api/models/predict",
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "rate_limit_per_minute": BENCH_RATE_LIMIT_PER_MINUTE,
        "limits": {
            "errors": 0,
            "memory_growth_after_first_minute": MAX_MEMORY_GROWTH,
            "db_growth_bytes_per_request": MAX_DB_BYTES_PER_REQUEST,
        },
        "backends": {r["database"]: r for r in results},
        "memory_growth_after_first_minute": {
            r["database"]: r["memory_growth_after_first_minute"] for r in results
        },
        "db_growth_bytes_per_request": {
            r["database"]: r["db_growth_bytes_per_request"] for r in results
        },
        "total_errors": sum(r["errors"] for r in results),
        "targets_met": all(r["targets_met"] for r in results),
    }
    text = json.dumps(summary, indent=2)
    for result in results:
        print(
            f"[{result['database']:10s}] {result['requests']} requests, "
            f"{result['requests_per_s']:.1f} req/s, errors {result['errors']}, worst p99 "
            f"{result['worst_interval_p99_ms']:.1f} ms, RSS {_mib(result['rss_baseline_bytes'])} "
            f"at {result['rss_baseline_at_s']:.0f} s -> {_mib(result['rss_end_bytes'])} at the "
            f"end ({100 * (result['memory_growth_after_first_minute'] or 0):+.2f} %), database "
            f"{result['db_growth_bytes_per_request']:+.3f} bytes/request, rows added "
            f"{result['db_rows_added'] or 'none'}: targets "
            f"{'met' if result['targets_met'] else 'NOT met'}",
            flush=True,
        )
    print(text, flush=True)
    if args.summary_json is not None:
        args.summary_json.write_text(text + "\n")
    return 0 if summary["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
