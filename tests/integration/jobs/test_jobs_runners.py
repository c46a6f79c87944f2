"""The job runners: in-process threads and a real Celery worker process over Redis.

A job killed mid-way must end failed or be retried, never half-applied. The slow job kind
below exists for these tests only; worker processes load this module through
``EXOGUARD_JOB_MODULES`` (see ``exoguard.jobs.builtin``).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _api_support import (  # noqa: E402
    CATALOGS,
    SECRET,
    fresh_database,
    koi_slice,
    make_settings,
    redis_url_for_tests,
)

from exoguard.config import Settings  # noqa: E402
from exoguard.jobs.execute import INTERRUPTED_ERROR, execute_job, replica_id  # noqa: E402
from exoguard.jobs.tasks import JobContext, task  # noqa: E402
from exoguard.store.db import make_engine, make_sessionmaker, session_scope  # noqa: E402
from exoguard.store.models import Candidate, Dataset, Job, ModelVersion  # noqa: E402
from exoguard.store.repositories import DatasetRepository, JobRepository  # noqa: E402
from exoguard.store.types import utcnow  # noqa: E402

pytestmark = pytest.mark.integration

SLOW_KIND = "test-slow-write"
HEARTBEAT_S = 0.5  # EXOGUARD_JOB_HEARTBEAT_S of the workers and the app
STALE_S = 3.0  # EXOGUARD_JOB_STALE_S: a job whose holder is silent this long is interrupted


@task(SLOW_KIND)
def slow_write(ctx: JobContext) -> dict[str, Any]:
    """Report the pid, wait, then insert one candidate and finish in ONE transaction."""
    ctx.progress(0.1, f"pid {os.getpid()}")
    deadline = time.monotonic() + float(ctx.params["seconds"])
    release = ctx.params.get("release_file")  # finish early once this file exists
    while time.monotonic() < deadline and not (release and os.path.exists(release)):
        time.sleep(0.05)
    engine = make_engine(ctx.settings.database_url)
    try:
        result = {"object_id": ctx.params["object_id"], "pid": os.getpid()}
        with session_scope(make_sessionmaker(engine)) as session:
            session.add(
                Candidate(
                    mission="other",
                    object_id=str(ctx.params["object_id"]),
                    label="candidate",
                    origin="catalog",
                    period_days=1.0,
                )
            )
            JobRepository(session).mark_succeeded(ctx.job_id, result=result, holder=replica_id())
        return result
    finally:
        engine.dispose()


@dataclass
class JobsDb:
    settings: Settings
    url: str
    factory: Any

    def job(self, job_id: str) -> Job:
        with session_scope(self.factory) as session:
            job = session.get(Job, job_id)
            assert job is not None
            session.expunge(job)
            return job

    def wait(
        self,
        job_id: str,
        *,
        timeout_s: float = 90.0,
        until: tuple[str, ...] = ("succeeded", "failed"),
    ) -> Job:
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if job.status in until:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job.status} after {timeout_s} s")
            time.sleep(0.1)

    def candidates(self, object_id: str) -> int:
        with session_scope(self.factory) as session:
            return session.query(Candidate).filter(Candidate.object_id == object_id).count()


def _catalog_dataset(db: JobsDb, n_rows: int, *, owner_id: int | None = None) -> str:
    """A validated KOI-slice dataset stored the way an upload stores it; its id."""
    import hashlib
    import uuid

    content = koi_slice(n_rows)
    dataset_id = str(uuid.uuid4())
    db.settings.uploads_path.mkdir(parents=True, exist_ok=True)
    (db.settings.uploads_path / dataset_id).write_bytes(content)
    with session_scope(db.factory) as session:
        DatasetRepository(session).create(
            dataset_id=dataset_id,
            filename="koi.csv",
            kind="catalog",
            format="csv",
            size_bytes=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            storage_path=dataset_id,
            owner_id=owner_id,
            status="validated",
            validation_report={"ok": True},
        )
    return dataset_id


@pytest.fixture
def db(postgres_base_url: str | None, tmp_path: Path) -> Iterator[JobsDb]:
    with _jobs_db(postgres_base_url, tmp_path) as jobs_db:
        yield jobs_db


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobsDb]:
    """The test on an SQLite file and on PostgreSQL (skipped without it, outside CI)."""
    base = None
    if request.param == "postgresql":
        base = request.getfixturevalue("postgres_base_url")
        if base is None:
            pytest.skip("PostgreSQL unreachable (not CI)")
    with _jobs_db(base, tmp_path) as jobs_db:
        yield jobs_db


@contextlib.contextmanager
def _jobs_db(postgres_base_url: str | None, tmp_path: Path) -> Iterator[JobsDb]:
    with fresh_database(postgres_base_url, tmp_path) as url:
        settings = make_settings(tmp_path, url)
        engine = make_engine(url)
        try:
            yield JobsDb(settings=settings, url=url, factory=make_sessionmaker(engine))
        finally:
            engine.dispose()


# ----------------------------------------------------------------------------- in-process
def test_inprocess_runner_runs_jobs_to_success_and_failure(db: JobsDb) -> None:
    from exoguard.jobs.runner import InProcessRunner

    runner = InProcessRunner(db.factory, db.settings)
    runner.start()
    try:
        ok = runner.submit("echo", {"greeting": "héllo"})
        bad = runner.submit("preprocess", {"dataset_id": "no-such-dataset"})
        slow = runner.submit(SLOW_KIND, {"seconds": 0.2, "object_id": "inproc-1"})
        done, failed, wrote = db.wait(ok), db.wait(bad), db.wait(slow)
    finally:
        runner.stop()
    assert done.status == "succeeded" and done.progress == 1.0
    assert done.result == {"echo": {"greeting": "héllo"}} and done.attempts == 1
    assert failed.status == "failed" and "no-such-dataset" in (failed.error or "")
    assert failed.error.startswith("NotFoundError")  # type: ignore[union-attr]
    assert wrote.status == "succeeded" and db.candidates("inproc-1") == 1
    with pytest.raises(ValueError, match="unknown job kind 'nope'.*echo"):
        runner.submit("nope", {})


def test_a_failing_preprocess_job_leaves_nothing_half_applied(db: JobsDb) -> None:
    """The candidates are written, then scoring fails in the same transaction: all rolled back."""
    from exoguard.jobs.runner import InProcessRunner

    with session_scope(db.factory) as session:  # an active model whose files are gone
        session.add(
            ModelVersion(
                id="gbm-0404",
                kind="gbm",
                config={},
                data_hash="x",
                metrics={},
                artifact_path=str(db.settings.models_path / "gbm-0404"),
                status="active",
                activated_at=utcnow(),
            )
        )
    dataset_id = _catalog_dataset(db, 8)
    runner = InProcessRunner(db.factory, db.settings)
    runner.start()
    try:
        job = db.wait(runner.submit("preprocess", {"dataset_id": dataset_id}))
    finally:
        runner.stop()
    assert job.status == "failed" and "gbm-0404" in (job.error or "")
    with session_scope(db.factory) as session:
        assert session.query(Candidate).count() == 0
        dataset = session.get(Dataset, dataset_id)
        assert dataset is not None and dataset.status == "validated"
        assert "preprocess" not in (dataset.validation_report or {})


# ----------------------------------------------------------------------------- replicas
@dataclass
class Server:
    """`exoguard serve` (in-process jobs) in its own process group."""

    process: subprocess.Popen[bytes]
    log: Path
    base_url: str

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_ready(self, *, timeout_s: float = 120.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while True:
            assert self.process.poll() is None, self.text()[-3000:]
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the server did not start: {self.text()[-3000:]}"
            time.sleep(0.2)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=30)


def _start_server(db: JobsDb, log: Path) -> Server:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "SECRET_KEY": SECRET,
        "EXOGUARD_ENV": "test",
        "EXOGUARD_JOBS": "inprocess",
        "EXOGUARD_VAR_DIR": str(db.settings.var_dir),
        "EXOGUARD_DATA_DIR": str(db.settings.data_dir),
        "EXOGUARD_JOB_MODULES": Path(__file__).stem,
        "EXOGUARD_JOB_HEARTBEAT_S": str(HEARTBEAT_S),
        "EXOGUARD_JOB_STALE_S": str(STALE_S),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }
    env.pop("REDIS_URL", None)
    command = [sys.executable, "-c", "from exoguard.cli import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    handle = log.open("wb")
    process = subprocess.Popen(
        command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    return Server(process, log, f"http://127.0.0.1:{port}")


def _queue_unheld(db: JobsDb, kind: str, params: dict[str, Any]) -> str:
    """A queued job that no process holds yet: the first in-process replica adopts it."""
    from exoguard.jobs.runner import create_job_row

    return create_job_row(db.factory, kind, params, None)


def test_a_second_replica_leaves_the_running_job_of_the_first_alone(
    any_db: JobsDb, tmp_path: Path
) -> None:
    """Two `exoguard serve` on one database: the second starting (and sweeping every
    heartbeat) does not touch the first's running job, which finishes in its first run."""
    db, release = any_db, tmp_path / "release"
    first = _start_server(db, tmp_path / "first.log")
    second: Server | None = None
    try:
        first.wait_ready()
        job_id = _queue_unheld(
            db,
            SLOW_KIND,
            {"seconds": 120, "object_id": "two-replicas", "release_file": str(release)},
        )
        assert _wait_for_pid(db, job_id, timeout_s=60) == first.process.pid
        second = _start_server(db, tmp_path / "second.log")
        second.wait_ready()
        time.sleep(STALE_S + 2 * HEARTBEAT_S)  # longer than the stale timeout: beats keep it
        job = db.job(job_id)
        assert job.status == "running" and job.attempts == 1, (job.error, second.text()[-3000:])
        assert job.worker_id is not None and f":{first.process.pid}:" in job.worker_id
        release.touch()
        job = db.wait(job_id, timeout_s=60)
    finally:
        for server in (first, second):
            if server is not None:
                server.kill(signal.SIGTERM)
    assert job.status == "succeeded" and job.attempts == 1, (job.error, first.text()[-3000:])
    assert job.result is not None and job.result["pid"] == first.process.pid
    assert db.candidates("two-replicas") == 1
    assert "interrupted" not in second.text() and "queued again" not in second.text()


def test_a_server_killed_mid_job_reruns_it_once_after_restart(
    any_db: JobsDb, tmp_path: Path
) -> None:
    """`kill -9` of the server while its job runs, then a restart on the same database: the
    job is never left running; it runs a second time and writes its rows once."""
    db, release = any_db, tmp_path / "release"
    first = _start_server(db, tmp_path / "first.log")
    try:
        first.wait_ready()
        job_id = _queue_unheld(
            db,
            SLOW_KIND,
            {"seconds": 120, "object_id": "killed-server", "release_file": str(release)},
        )
        _wait_for_pid(db, job_id, timeout_s=60)
    finally:
        first.kill()
    assert db.job(job_id).status == "running" and db.candidates("killed-server") == 0
    release.touch()  # the second run finishes at once
    restarted = _start_server(db, tmp_path / "restarted.log")
    try:
        restarted.wait_ready()
        job = db.wait(job_id, timeout_s=60)
    finally:
        restarted.kill(signal.SIGTERM)
    assert job.status == "succeeded" and job.attempts == 2, (job.error, restarted.text()[-3000:])
    assert job.result is not None and job.result["pid"] == restarted.process.pid
    assert db.candidates("killed-server") == 1


def test_an_interrupted_job_whose_runs_are_used_up_is_failed_with_its_reason(
    db: JobsDb,
) -> None:
    """A job held by a process that no longer exists, already run twice: the sweep of an
    in-process runner fails it (naming the holder) instead of running it a third time."""
    from exoguard.jobs.runner import InProcessRunner

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    holder = f"{socket.gethostname()}:{dead.pid}:deadbeef"
    job_id = _queue_unheld(db, SLOW_KIND, {"seconds": 0, "object_id": "used-up"})
    with session_scope(db.factory) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.attempts, job.worker_id = "running", 2, holder
        job.started_at = job.heartbeat_at = utcnow()  # a fresh beat: the dead pid decides
    runner = InProcessRunner(db.factory, db.settings)
    runner.start()
    try:
        job = db.wait(job_id, timeout_s=30)
    finally:
        runner.stop()
    assert job.status == "failed" and job.attempts == 2
    assert job.error is not None and job.error.startswith(f"{INTERRUPTED_ERROR}:")
    assert holder in job.error and "run 2 of at most 2" in job.error
    assert db.candidates("used-up") == 0


# ----------------------------------------------------------------------------- Celery
@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def _start_worker(db: JobsDb, redis_url: str, log: Path, *, pool: str = "prefork") -> Worker:
    env = {
        **os.environ,
        "DATABASE_URL": db.url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": SECRET,
        "EXOGUARD_ENV": "test",
        "EXOGUARD_VAR_DIR": str(db.settings.var_dir),
        "EXOGUARD_DATA_DIR": str(db.settings.data_dir),
        "EXOGUARD_JOB_MODULES": Path(__file__).stem,
        "EXOGUARD_JOB_HEARTBEAT_S": str(HEARTBEAT_S),
        "EXOGUARD_JOB_STALE_S": str(STALE_S),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
    }
    command = [
        sys.executable,
        "-c",
        "from exoguard.cli import main; main()",
        "worker",
        "--pool",
        pool,
        "--concurrency",
        "1",
        "--loglevel",
        "info",
    ]
    handle = log.open("wb")
    process = subprocess.Popen(
        command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
    )
    return Worker(process, log)


@pytest.fixture
def celery(
    db: JobsDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[JobsDb, Any]]:
    """The test database, and a Celery runner whose broker is Redis db 15 (flushed)."""
    from exoguard.jobs.runner import CeleryRunner

    redis_url = redis_url_for_tests(required=True)
    assert redis_url is not None
    settings = make_settings(
        tmp_path,
        db.url,
        REDIS_URL=redis_url,
        EXOGUARD_JOBS="celery",
        EXOGUARD_JOB_HEARTBEAT_S=HEARTBEAT_S,
        EXOGUARD_JOB_STALE_S=STALE_S,
    )
    db.settings = settings
    yield db, CeleryRunner(db.factory, settings)


def _wait_for_pid(db: JobsDb, job_id: str, *, timeout_s: float = 90.0) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = db.job(job_id)
        message = (job.result or {}).get("message") or ""
        match = re.fullmatch(r"pid (\d+)", message)
        if job.status == "running" and match:
            return int(match.group(1))
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reported its pid: {db.job(job_id).status}")


def test_celery_worker_runs_jobs(celery: tuple[JobsDb, Any], tmp_path: Path) -> None:
    db, runner = celery
    worker = _start_worker(db, db.settings.redis_url, tmp_path / "worker.log")
    try:
        echo = db.wait(runner.submit("echo", {"n": 7}), timeout_s=120)
        assert echo.status == "succeeded" and echo.result == {"echo": {"n": 7}}, worker.text()
        dataset_id = _catalog_dataset(db, 6)
        job = db.wait(runner.submit("preprocess", {"dataset_id": dataset_id}), timeout_s=120)
        assert job.status == "succeeded", (job.error, worker.text()[-3000:])
        assert job.result is not None and job.result["n_candidates"] == 6
        assert "no predictions" in job.result["note"]  # no model in this database
        with session_scope(db.factory) as session:
            assert session.query(Candidate).filter(Candidate.dataset_id == dataset_id).count() == 6
        assert SLOW_KIND in worker.text()  # the test kind was loaded from EXOGUARD_JOB_MODULES
    finally:
        worker.kill()


def test_killed_worker_child_is_retried_once_never_half_applied(
    celery: tuple[JobsDb, Any], tmp_path: Path
) -> None:
    """SIGKILL of the pool process running a job: Celery redelivers it (acks_late +
    reject_on_worker_lost), the new child sees the holder's process is gone, claims the job
    and runs it again to completion, writing its rows once."""
    db, runner = celery
    worker = _start_worker(db, db.settings.redis_url, tmp_path / "worker.log")
    try:
        job_id = runner.submit(SLOW_KIND, {"seconds": 2.5, "object_id": "killed-child"})
        child = _wait_for_pid(db, job_id, timeout_s=120)
        assert child != worker.process.pid
        held_by = db.job(job_id).worker_id
        assert held_by is not None and f":{child}:" in held_by
        os.kill(child, signal.SIGKILL)
        assert db.candidates("killed-child") == 0
        job = db.wait(job_id, timeout_s=90)
    finally:
        worker.kill()
    assert job.status == "succeeded" and job.attempts == 2, (job.error, worker.text()[-3000:])
    assert job.result is not None and job.result["pid"] != child
    assert db.candidates("killed-child") == 1


def test_worker_child_killed_twice_fails_the_job_with_its_reason(
    celery: tuple[JobsDb, Any], tmp_path: Path
) -> None:
    """The retry is killed too: the third delivery finds two runs used up and fails the job,
    naming the holder that stopped; nothing was written."""
    db, runner = celery
    worker = _start_worker(db, db.settings.redis_url, tmp_path / "worker.log")
    try:
        job_id = runner.submit(SLOW_KIND, {"seconds": 30, "object_id": "killed-twice"})
        first = _wait_for_pid(db, job_id, timeout_s=120)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 90
        while db.job(job_id).attempts < 2:
            assert time.monotonic() < deadline, worker.text()[-3000:]
            time.sleep(0.05)
        second = _wait_for_pid(db, job_id, timeout_s=90)
        assert second != first
        os.kill(second, signal.SIGKILL)
        job = db.wait(job_id, timeout_s=90)
    finally:
        worker.kill()
    assert job.status == "failed" and job.attempts == 2, worker.text()[-3000:]
    assert job.error is not None and job.error.startswith(f"{INTERRUPTED_ERROR}:")
    assert f":{second}:" in job.error and "run 2 of at most 2" in job.error
    assert db.candidates("killed-twice") == 0


def test_killed_worker_job_is_requeued_once_and_finishes_on_a_new_worker(
    celery: tuple[JobsDb, Any], tmp_path: Path
) -> None:
    """SIGKILL of the whole worker mid-job: nobody redelivers it soon, so the first look at
    the job (GET /api/jobs/{id}) sees its holder is gone and queues it again; a new worker
    runs it once more to completion. A late redelivery of the old message does nothing."""
    from fastapi.testclient import TestClient

    from exoguard.services.accounts import start_session
    from exoguard.store.repositories import UserRepository
    from exoguard.web.app import create_app
    from exoguard.web.security import SESSION_COOKIE

    db, runner = celery
    with session_scope(db.factory) as session:
        owner = UserRepository(session).create(
            email="watcher@example.org", password_hash="x", role="explorer"
        )
    worker = _start_worker(db, db.settings.redis_url, tmp_path / "worker.log")
    try:
        job_id = runner.submit(
            SLOW_KIND, {"seconds": 3, "object_id": "killed-worker"}, owner_id=owner.id
        )
        _wait_for_pid(db, job_id, timeout_s=120)
    finally:
        worker.kill()  # the whole process group: main process and pool child
    assert db.job(job_id).status == "running"
    app = create_app(db.settings)
    with session_scope(db.factory) as session:
        token = start_session(session, user=owner, secret_key=SECRET, ttl_s=600)
    with TestClient(app, base_url="https://testserver") as client:
        client.cookies.set(SESSION_COOKIE, token)
        deadline = time.monotonic() + 30  # the killed processes may take a moment to go
        view = client.get(f"/api/jobs/{job_id}").json()
        while view["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.2)
            view = client.get(f"/api/jobs/{job_id}").json()
    app.state.exoguard.engine.dispose()
    assert view["status"] == "queued" and view["attempts"] == 1, view
    assert "queued again" in view["message"]
    assert db.candidates("killed-worker") == 0
    second = _start_worker(db, db.settings.redis_url, tmp_path / "worker2.log")
    try:
        job = db.wait(job_id, timeout_s=120)
    finally:
        second.kill()
    assert job.status == "succeeded" and job.attempts == 2, (job.error, second.text()[-3000:])
    assert db.candidates("killed-worker") == 1
    # A redelivered message finds the job finished and does nothing.
    assert execute_job(db.factory, db.settings, job_id) == "succeeded"
    assert db.candidates("killed-worker") == 1


def test_worker_refuses_to_start_without_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update({"EXOGUARD_VAR_DIR": str(tmp_path), "REDIS_URL": ""})
    done = subprocess.run(
        [sys.executable, "-c", "from exoguard.cli import main; main()", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "REDIS_URL" in done.stderr
    _ = CATALOGS


def test_concurrent_deliveries_of_one_job_claim_it_once(db: JobsDb) -> None:
    """Eight threads deliver the same queued job at once (a redelivered Celery message, two
    sweepers): the conditional claim lets exactly one run it; the others see it busy."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from exoguard.jobs.execute import claim_job

    job_id = _queue_unheld(db, SLOW_KIND, {"seconds": 0, "object_id": "claimed-once"})
    barrier = Barrier(8)

    def deliver(_: int) -> str:
        barrier.wait(timeout=30)
        return claim_job(db.factory, db.settings, job_id)

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = sorted(pool.map(deliver, range(8)))
    assert outcomes == ["busy"] * 7 + ["run"], outcomes
    job = db.job(job_id)
    assert job.status == "running" and job.attempts == 1


def test_the_api_sweeper_queues_a_dead_workers_job_again_without_any_request(
    celery: tuple[JobsDb, Any],
) -> None:
    """Celery mode, no worker up, nobody polling: the API's sweeper finds the running job of
    a dead worker process and publishes it again (queued, unheld, in the broker)."""
    import redis

    db, runner = celery
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    job_id = _queue_unheld(db, SLOW_KIND, {"seconds": 0, "object_id": "swept"})
    with session_scope(db.factory) as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.attempts = "running", 1
        job.worker_id = f"{socket.gethostname()}:{dead.pid}:cafe0001"
        job.started_at = job.heartbeat_at = utcnow()
    client = redis.Redis.from_url(db.settings.redis_url)
    queued_before = client.llen("celery")
    runner.start()
    try:
        job = db.wait(job_id, timeout_s=30, until=("queued", "failed"))
    finally:
        runner.stop()
    assert job.status == "queued" and job.attempts == 1 and job.worker_id is None
    assert "queued again" in (job.result or {}).get("message", "")
    assert client.llen("celery") == queued_before + 1  # published again for a worker
    client.close()
