"""Concurrent writes through a real server: the embedded SQLite default behaves as PostgreSQL.

Issue 13, item 3: on SQLite, 10 concurrent votes on different items gave 9 x 500 "database is
locked", 20 duplicate votes gave 1 x 201, 1 x 409 and 18 x 500, and one of two concurrent jobs
failed on a progress update. Each test runs on a fresh SQLite file and on PostgreSQL (skipped
without CI when the server is unreachable; CI=true fails instead). The app is served by a real
uvicorn server on 127.0.0.1 and the requests come from real threads, each with its own
connection.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import uvicorn
from sqlalchemy import select

from exoguard.jobs import execute
from exoguard.jobs.runner import create_job_row
from exoguard.jobs.tasks import JobContext, task
from exoguard.store.db import session_scope
from exoguard.store.models import Candidate, Job, User, Vote, VoteChange
from exoguard.store.repositories import (
    CandidateRepository,
    ModelVersionRepository,
    PredictionRepository,
)
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.service.enqueue import enqueue_uncertain
from exoguard.web.security import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import Api, api_world, session_cookies  # noqa: E402

pytestmark = pytest.mark.integration

POLICY = QueuePolicy(uncertainty_threshold=0.1, ambiguous_band=None, gold_rate=0.0)
PROGRESS_KIND = "test-progress-race"
PROGRESS_STEPS = 40


@task(PROGRESS_KIND)
def _progress_race(ctx: JobContext) -> dict[str, Any]:
    """Updates its progress as fast as it can (the throttle is off in the test)."""
    for step in range(1, PROGRESS_STEPS + 1):
        ctx.progress(step / (PROGRESS_STEPS + 1), f"step {step}")
    return {"steps": PROGRESS_STEPS}


@contextlib.contextmanager
def _serve(api: Api) -> Iterator[str]:
    """The app served by uvicorn on a free 127.0.0.1 port in a thread; its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(api.app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(params=["sqlite", "postgresql"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_base_url: str | None
) -> Iterator[tuple[Api, str]]:
    if request.param == "postgresql" and postgres_base_url is None:
        pytest.skip("PostgreSQL unreachable (CI always has it)")
    base = postgres_base_url if request.param == "postgresql" else None
    with (
        api_world(base, tmp_path / request.param, with_model=False) as api,
        _serve(api) as url,
    ):
        assert api.factory.kw["bind"].dialect.name == request.param
        yield api, url


def _headers(api: Api, user: User) -> dict[str, str]:
    token, csrf = session_cookies(api.app, user)
    return {"Cookie": f"{SESSION_COOKIE}={token}; {CSRF_COOKIE}={csrf}", CSRF_HEADER: csrf}


def _open_items(api: Api, n: int, *, tag: str) -> list[int]:
    """`n` open vetting items (candidates with an uncertain prediction)."""
    with session_scope(api.factory) as s:
        names = [f"CONC-{tag}-{i}" for i in range(n)]
        frame = pd.DataFrame(
            {"mission": "other", "object_id": names, "label": "candidate", "period_days": 3.0}
        )
        CandidateRepository(s).upsert_many(frame)
        ids = s.scalars(select(Candidate.id).where(Candidate.object_id.in_(names)))
        version = f"gbm-conc-{tag}"
        ModelVersionRepository(s).create(
            version_id=version, kind="gbm", config={}, data_hash="0", artifact_path="unused"
        )
        preds = [
            PredictionRepository(s).create(
                candidate_id=int(c),
                model_version=version,
                probability=0.5,
                uncertainty=0.4,
                label="planet",
            )
            for c in ids
        ]
        items = enqueue_uncertain(s, preds, policy=POLICY).enqueued
    assert len(items) == n
    return list(items)


def _race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """fn(0..n-1) in n threads released together by a barrier."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def _post_vote(url: str, headers: dict[str, str], item_id: int) -> tuple[int, str]:
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        r = client.post(
            "/api/vetting/submit", json={"item_id": item_id, "label": "planet", "confidence": 4}
        )
    return r.status_code, r.text


def test_concurrent_votes_on_different_items_all_succeed(served: tuple[Api, str]) -> None:
    api, url = served
    items = _open_items(api, 10, tag="diff")
    headers = _headers(api, api.users["explorer"])
    results = _race(10, lambda i: _post_vote(url, headers, items[i]))
    assert [code for code, _ in results] == [201] * 10, results
    for item_id in items:
        assert api.count(Vote, item_id=item_id) == 1


def test_concurrent_duplicate_votes_give_one_201_and_changes(served: tuple[Api, str]) -> None:
    """20 votes of one user at once: one new vote (201), 19 changes of it (200), one row,
    every submission in the history (issue 15: a vetter may change their vote)."""
    api, url = served
    (item_id,) = _open_items(api, 1, tag="dup")
    headers = _headers(api, api.users["explorer"])
    results = _race(20, lambda _: _post_vote(url, headers, item_id))
    codes = sorted(code for code, _ in results)
    assert codes == [200] * 19 + [201], results
    assert api.count(Vote, item_id=item_id) == 1
    assert api.count(VoteChange, item_id=item_id) == 20


def test_concurrent_jobs_update_progress_and_succeed(
    served: tuple[Api, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two jobs writing progress as fast as they can while the API reads them."""
    api, url = served
    monkeypatch.setattr(execute, "PROGRESS_MIN_INTERVAL_S", 0.0)
    owner = api.users["explorer"]
    job_ids = [create_job_row(api.factory, PROGRESS_KIND, {}, owner.id) for _ in range(2)]
    stop = threading.Event()
    polled: list[int] = []

    def poll() -> None:
        with httpx.Client(base_url=url, headers=_headers(api, owner), timeout=60) as client:
            while not stop.is_set():
                for job_id in job_ids:
                    polled.append(client.get(f"/api/jobs/{job_id}").status_code)

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        outcomes = _race(2, lambda i: execute.execute_job(api.factory, api.settings, job_ids[i]))
    finally:
        stop.set()
        poller.join(timeout=60)
    assert outcomes == ["succeeded", "succeeded"]
    assert polled and set(polled) == {200}
    with session_scope(api.factory) as s:
        for job_id in job_ids:
            job = s.get(Job, job_id)
            assert job is not None and job.status == "succeeded" and job.progress == 1.0
            assert job.error is None and job.result == {"steps": PROGRESS_STEPS}
