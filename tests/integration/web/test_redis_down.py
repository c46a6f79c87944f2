"""Redis down: the app degrades instead of failing (issue 13, item 4).

``REDIS_URL`` points at a real closed port (a socket bound, then closed). Login, predict,
upload and the PDF export still answer; rate limits fall back to in-process counters with
ONE logged warning; /healthz (liveness) stays 200 and reports each dependency, /readyz is
503 only when a required dependency is down (the Celery broker); a Celery job whose
enqueue fails is failed in the same request, which answers 503. When Redis comes back
(a real ``redis-server`` started on that port) the limiter uses it again after its back-off.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from _api_support import PASSWORD, Api, api_world, koi_slice, upload  # noqa: E402

from exoguard.store.db import session_scope  # noqa: E402
from exoguard.store.models import Candidate, Job  # noqa: E402

pytestmark = pytest.mark.integration

RATE_LOGGER = "exoguard.web.ratelimit"
KEPLER_10C = {
    "object_id": "Kepler-10 c",
    "mission": "kepler",
    "host_id": "KIC 11904151",
    "period_days": 45.29,
    "duration_hours": 6.9,
    "depth_ppm": 344.0,
    "planet_radius_rearth": 2.35,
    "star_teff_k": 5627.0,
    "star_radius_rsun": 1.06,
}


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _unreachable(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def down_port() -> int:
    port = closed_port()
    assert _unreachable(port)
    return port


@pytest.fixture
def world_inprocess(postgres_base_url: str | None, tmp_path: Path, down_port: int) -> Iterator[Api]:
    with api_world(
        postgres_base_url, tmp_path, redis_url=f"redis://127.0.0.1:{down_port}/0"
    ) as api:
        yield api


def _add_catalog_candidate(api: Api) -> int:
    with session_scope(api.factory) as session:
        row = Candidate(
            mission="kepler",
            object_id="K00752.01",
            host_id="KIC 10797460",
            label="planet",
            period_days=9.488036,
            duration_hours=2.9575,
            depth_ppm=615.8,
            origin="catalog",
        )
        session.add(row)
        session.flush()
        return int(row.id)


def test_login_predict_upload_and_pdf_answer_with_redis_down_and_warn_once(
    world_inprocess: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api = world_inprocess
    candidate_id = _add_catalog_candidate(api)
    caplog.set_level(logging.WARNING, logger=RATE_LOGGER)
    user = api.users["explorer"]
    with api.client() as anonymous:
        for _ in range(3):
            login = anonymous.post(
                "/api/auth/login", json={"email": user.email, "password": PASSWORD}
            )
            assert login.status_code == 200, login.text
    with api.client("explorer") as client:
        for _ in range(3):
            predicted = client.post("/api/models/predict", json={"candidates": [KEPLER_10C]})
            assert predicted.status_code == 200, predicted.text
        uploaded = upload(client, "koi.csv", koi_slice(5))
        assert uploaded.status_code == 201, uploaded.text
        pdf = client.post("/api/export/pdf", json={"candidate_ids": [candidate_id], "plots": False})
        assert pdf.status_code == 200, pdf.text
        assert pdf.content.startswith(b"%PDF")
        health = client.get("/healthz")
        ready = client.get("/readyz")
    warnings = [r for r in caplog.records if r.name == RATE_LOGGER]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once, not per request
    message = warnings[0].getMessage()
    assert "unreachable" in message and "in-process counters" in message
    assert health.status_code == 200 and ready.status_code == 200  # Redis is optional here
    body = health.json()
    assert body["status"] == "degraded" and body["ready"] is True
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["jobs"] == {**body["checks"]["jobs"], "ok": True, "detail": "inprocess"}
    redis_check = body["checks"]["redis"]
    assert redis_check["ok"] is False and redis_check["required"] is False
    assert "in-process counters" in redis_check["detail"]
    assert ready.json()["checks"].keys() == {"database", "redis", "jobs"}


def test_fallback_counters_still_limit(
    postgres_base_url: str | None, tmp_path: Path, down_port: int
) -> None:
    """The in-process fallback enforces the limit (429 with Retry-After), it does not open it."""
    with (
        api_world(
            postgres_base_url,
            tmp_path,
            redis_url=f"redis://127.0.0.1:{down_port}/0",
            EXOGUARD_RATE_LIMIT_PER_MINUTE=2,
        ) as api,
        api.client("explorer") as client,
    ):
        codes = [
            client.post("/api/models/predict", json={"candidates": [KEPLER_10C]}).status_code
            for _ in range(3)
        ]
        last = client.post("/api/models/predict", json={"candidates": [KEPLER_10C]})
    assert codes[:2] == [200, 200] and codes[2] == 429
    assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1


def test_celery_submit_with_the_broker_down_fails_the_job_and_answers_503(
    postgres_base_url: str | None, tmp_path: Path, down_port: int
) -> None:
    with api_world(
        postgres_base_url,
        tmp_path,
        with_model=False,
        redis_url=f"redis://127.0.0.1:{down_port}/0",
        EXOGUARD_JOBS="celery",
    ) as api:
        with api.client("explorer") as client:
            ready = client.get("/readyz")
            health = client.get("/healthz")
            dataset = upload(client, "koi.csv", koi_slice(4))
            assert dataset.status_code == 201, dataset.text
            started = time.monotonic()
            response = client.post(
                "/api/data/preprocess", json={"dataset_id": dataset.json()["dataset_id"]}
            )
            elapsed_s = time.monotonic() - started
            listed = client.get("/api/jobs").json()["jobs"]
        with session_scope(api.factory) as session:
            states = [(j.status, j.error, j.finished_at is not None) for j in session.query(Job)]
    assert ready.status_code == 503 and ready.json()["status"] == "down"
    assert ready.json()["checks"]["redis"]["required"] is True
    assert ready.json()["checks"]["jobs"]["ok"] is False
    assert "broker is unreachable" in ready.json()["checks"]["jobs"]["detail"]
    assert health.status_code == 200  # liveness: the process itself is fine
    assert response.status_code == 503, response.text
    assert "broker" in response.json()["detail"] and response.json()["error"] == "UnavailableError"
    assert elapsed_s < 10, elapsed_s  # refused quickly, not after a long retry loop
    (state,) = states  # failed in the same request, never left queued
    assert state[0] == "failed" and state[2] and "broker is unreachable" in (state[1] or "")
    assert [j["status"] for j in listed] == ["failed"]


@pytest.mark.requires_tools("redis-server")
def test_the_limiter_uses_redis_again_after_its_back_off(
    down_port: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Down: counted in process, one warning. Redis starts on that port: after `retry_s`
    the hits go to Redis again (its counter key appears) and that is logged once."""
    import redis

    from exoguard.web.ratelimit import RedisRateLimiter

    caplog.set_level(logging.WARNING, logger=RATE_LOGGER)
    url = f"redis://127.0.0.1:{down_port}/0"
    limiter = RedisRateLimiter(url, retry_s=0.5)
    decisions = [limiter.hit("t:k", limit=3) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert limiter.degraded is not None
    server = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(down_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        time.sleep(0.6)  # past the back-off
        assert limiter.hit("t:k", limit=3).allowed  # a fresh counter: this one is in Redis
        assert limiter.degraded is None
        assert len(client.keys("exoguard:rl:t:k:*")) == 1
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=20)
    messages = [r.getMessage() for r in caplog.records if r.name == RATE_LOGGER]
    assert len(messages) == 2, messages
    assert "unreachable" in messages[0] and "answers again" in messages[1]


def test_a_redis_that_never_answers_costs_a_bounded_wait(
    postgres_base_url: str | None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A listener that accepts connections and never replies (a hung Redis): the limiter
    gives up after its socket timeout and falls back, and /healthz still answers in about
    a second with Redis reported down, not after the client's default wait."""
    caplog.set_level(logging.WARNING, logger=RATE_LOGGER)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)  # the kernel completes handshakes; nobody ever reads
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        with (
            api_world(postgres_base_url, tmp_path, redis_url=url) as api,
            api.client("explorer") as client,
        ):
            started = time.monotonic()
            predicted = client.post("/api/models/predict", json={"candidates": [KEPLER_10C]})
            predict_s = time.monotonic() - started
            started = time.monotonic()
            health = client.get("/healthz")
            health_s = time.monotonic() - started
    assert predicted.status_code == 200, predicted.text
    assert predict_s < 5, predict_s
    assert health.status_code == 200 and health_s < 3, health_s
    assert health.json()["checks"]["redis"]["ok"] is False
    warnings = [r.getMessage() for r in caplog.records if r.name == RATE_LOGGER]
    assert len(warnings) == 1 and "Timeout" in warnings[0], warnings
