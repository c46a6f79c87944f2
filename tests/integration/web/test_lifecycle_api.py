"""Lifecycle routes (/api/models/...) by role, and the lifecycle job kinds end to end.

The routes run on the test database (PostgreSQL in CI) inside the rolled-back transaction of
`db_sessionmaker`. The job kinds run through `execute_job` on a throw-away SQLite file (the
embedded default) and train a real small gbm version on the bundled catalogs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings, get_settings
from exoguard.jobs.execute import execute_job
from exoguard.jobs.runner import create_job_row
from exoguard.jobs.tasks import registered_kinds
from exoguard.services.accounts import start_session
from exoguard.store.db import make_engine, make_sessionmaker, session_scope
from exoguard.store.models import Job, User
from exoguard.store.repositories import (
    ModelMetricRepository,
    ModelVersionRepository,
    UserRepository,
)
from exoguard.web.app import create_app
from exoguard.web.security import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_token_for,
)

pytestmark = pytest.mark.integration

SECRET = "lifecycle-tests-secret-key-0123456789abcdef"


@dataclass
class RecordingRunner:
    """Stands in for the job runner of the app under test: records what routes submit."""

    submitted: list[tuple[str, dict[str, Any], int | None]] = field(default_factory=list)

    def submit(self, kind: str, params: dict[str, Any], *, owner_id: int | None = None) -> str:
        self.submitted.append((kind, params, owner_id))
        return f"job-{len(self.submitted)}"

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


@dataclass
class World:
    app: Any
    settings: Settings
    users: dict[str, User]
    runner: RecordingRunner


@pytest.fixture
def world(db_sessionmaker: sessionmaker[Session], tmp_path: Path) -> Iterator[World]:
    settings = Settings(
        EXOGUARD_ENV="test",
        SECRET_KEY=SECRET,
        EXOGUARD_VAR_DIR=tmp_path / "var",
        DATABASE_URL="sqlite:///" + (tmp_path / "unused.sqlite3").as_posix(),
        EXOGUARD_DATA_DIR=get_settings().data_dir,
    )
    app = create_app(settings)
    app.state.exoguard.sessions = db_sessionmaker
    runner = RecordingRunner()
    app.state.exoguard.jobs = runner
    session = db_sessionmaker()
    repo = UserRepository(session)
    users = {
        role: repo.create(email=f"{role}@example.org", password_hash="x", name=role, role=role)
        for role in ("explorer", "researcher", "admin")
    }
    versions = ModelVersionRepository(session)
    for i in range(1, 4):
        directory = settings.models_path / f"gbm-{i:04d}"
        directory.mkdir(parents=True)
        versions.create(
            version_id=f"gbm-{i:04d}",
            kind="gbm",
            config={},
            data_hash="0",
            artifact_path=str(directory),
            status="active" if i == 1 else "registered",
        )
    ModelMetricRepository(session).record("gbm-0001", "vetted_accuracy", 0.8)
    session.commit()
    session.close()
    yield World(app=app, settings=settings, users=users, runner=runner)


def _client(world: World, who: str | None = None, *, csrf: bool = True) -> TestClient:
    client = TestClient(world.app)
    if who is not None:
        user = world.users[who]
        with session_scope(world.app.state.exoguard.sessions) as session:
            token = start_session(session, user=user, secret_key=SECRET, ttl_s=600)
        client.cookies.set(SESSION_COOKIE, token)
        csrf_token = csrf_token_for(token, secret_key=SECRET)
        client.cookies.set(CSRF_COOKIE, csrf_token)
        if csrf:
            client.headers[CSRF_HEADER] = csrf_token
    return client


def test_timeline_needs_a_researcher(world: World) -> None:
    assert _client(world).get("/api/models/timeline").status_code == 401
    assert _client(world, "explorer").get("/api/models/timeline").status_code == 403
    response = _client(world, "researcher").get("/api/models/timeline")
    assert response.status_code == 200
    body = response.json()
    assert body["active"] == "gbm-0001" and body["canary"] is None
    assert body["canary_fraction"] == pytest.approx(0.10)
    rows = {r["id"]: r for r in body["versions"]}
    assert rows["gbm-0001"]["traffic_share"] == 1.0 and rows["gbm-0001"]["deployable"]
    assert rows["gbm-0001"]["latest_metrics"]["vetted_accuracy"]["value"] == pytest.approx(0.8)
    metrics = _client(world).get("/metrics").text
    assert 'exoguard_model_accuracy_vetted{model_version="gbm-0001"} 0.8' in metrics


def test_promote_canary_rollback_by_admins_only(world: World) -> None:
    admin = _client(world, "admin")
    assert _client(world, "researcher").post("/api/models/gbm-0002/promote").status_code == 403
    assert (
        _client(world, "admin", csrf=False).post("/api/models/gbm-0002/promote").status_code == 403
    )
    assert admin.post("/api/models/gbm-9999/promote").status_code == 404

    response = admin.post("/api/models/gbm-0002/promote", json={"reason": "better recall"})
    assert response.status_code == 200, response.text
    assert response.json()["active"] == "gbm-0002"
    assert response.json()["previous_active"] == "gbm-0001"

    response = admin.post("/api/models/gbm-0003/canary")
    assert response.status_code == 200 and response.json()["canary"] == "gbm-0003"
    timeline = admin.get("/api/models/timeline").json()
    shares = {r["id"]: r["traffic_share"] for r in timeline["versions"]}
    assert shares == {"gbm-0001": 0.0, "gbm-0002": pytest.approx(0.9), "gbm-0003": 0.1}

    evaluation = admin.post("/api/models/canary/evaluate", json={"min_labels": 10})
    assert evaluation.status_code == 200 and evaluation.json()["decision"] == "pending"
    bad = admin.post("/api/models/canary/evaluate", json={"metric": "f2"})
    assert bad.status_code == 422 and "accuracy" in bad.json()["detail"]

    response = admin.post("/api/models/rollback")
    assert response.status_code == 200 and response.json()["action"] == "canary_rolled_back"
    response = admin.post("/api/models/rollback", json={"reason": "regression"})
    assert response.status_code == 200
    assert response.json()["active"] == "gbm-0001"
    retired = admin.post("/api/models/gbm-0003/promote")
    assert retired.status_code == 409 and "retired" in retired.json()["detail"]
    # The activate route, at its new and its old URL, applies the same rule.
    for url in ("/api/models/versions/gbm-0003/activate", "/api/model/versions/gbm-0003/activate"):
        again = admin.post(url)
        assert again.status_code == 409 and "retired" in again.json()["detail"], url


def test_old_model_urls_redirect_permanently_to_api_models(world: World) -> None:
    """`/api/model/...` answers 308 (method and body kept) with Deprecation and Link headers,
    and is not in the OpenAPI schema; every model route is under `/api/models`."""
    admin = _client(world, "admin")
    moved = admin.post(
        "/api/model/gbm-0002/promote", json={"reason": "old url"}, follow_redirects=False
    )
    assert moved.status_code == 308
    assert moved.headers["location"] == "/api/models/gbm-0002/promote"
    assert moved.headers["deprecation"] == "true"
    assert moved.headers["link"] == '</api/models/gbm-0002/promote>; rel="successor-version"'
    listed = admin.get("/api/model/timeline?limit=2", follow_redirects=False)
    assert listed.status_code == 308
    assert listed.headers["location"] == "/api/models/timeline?limit=2"

    followed = admin.post("/api/model/gbm-0002/promote", json={"reason": "old url"})
    assert followed.status_code == 200, followed.text
    assert followed.json()["active"] == "gbm-0002"
    timeline = admin.get("/api/model/timeline").json()
    events = next(r for r in timeline["versions"] if r["id"] == "gbm-0002")["events"]
    assert events[-1]["reason"] == "admin: old url"  # the body came through the redirect

    paths = set(world.app.openapi()["paths"])
    assert not [p for p in paths if p.startswith("/api/model/")]
    model_paths = {p for p in paths if p.startswith("/api/models/")}
    for path in ("predict", "train", "metrics", "explain", "versions", "timeline", "rollback"):
        assert f"/api/models/{path}" in model_paths
    assert "/api/models/versions/{version_id}/activate" in model_paths
    assert "/api/models/{version_id}/promote" in model_paths


def test_retrain_queues_a_job_for_researchers(world: World) -> None:
    assert _client(world, "explorer").post("/api/models/retrain", json={}).status_code == 403
    client = _client(world, "researcher")
    response = client.post(
        "/api/models/retrain", json={"config": "small", "params": {"n_ensemble": 2}}
    )
    assert response.status_code == 202 and response.json()["status"] == "queued"
    kind, params, owner = world.runner.submitted[-1]
    assert kind == "retrain" and owner == world.users["researcher"].id
    assert params == {"config": "small", "params": {"n_ensemble": 2}}
    bad = client.post("/api/models/retrain", json={"params": {"n_leaves": 3}})
    assert bad.status_code == 422 and "num_leaves" in bad.json()["detail"]
    assert len(world.runner.submitted) == 1


def test_lifecycle_job_kinds_run_end_to_end(sqlite_url: str, tmp_path: Path) -> None:
    assert {"retrain", "canary_evaluate", "monitor"} <= set(registered_kinds())
    settings = Settings(
        EXOGUARD_ENV="test",
        SECRET_KEY=SECRET,
        EXOGUARD_VAR_DIR=tmp_path / "var",
        DATABASE_URL=sqlite_url,
        EXOGUARD_DATA_DIR=get_settings().data_dir,
    )
    engine = make_engine(sqlite_url)
    factory = make_sessionmaker(engine)
    try:
        params = {
            "config": "small",
            "params": {
                "n_ensemble": 2,
                "calibration_folds": 2,
                "n_threads": 1,
                "train_missions": ["kepler"],
            },
        }
        job_id = create_job_row(factory, "retrain", params, None)
        assert execute_job(factory, settings, job_id) == "succeeded"
        with session_scope(factory) as session:
            job = session.get(Job, job_id)
            assert job is not None and job.result is not None, job and job.error
            version_id = job.result["version"]
            assert job.result["status"] == "active"  # nothing was active: no canary needed
            version = ModelVersionRepository(session).require(version_id)
            assert version.status == "active"
            assert (Path(version.artifact_path) / "drift_reference.json").is_file()
            assert version.metrics["curated"]["n_curated"] == 0

        for kind in ("monitor", "canary_evaluate"):
            job_id = create_job_row(factory, kind, {}, None)
            assert execute_job(factory, settings, job_id) == "succeeded"
        with session_scope(factory) as session:
            job = session.get(Job, job_id)
            assert job is not None and job.result is not None
            assert job.result["decision"] == "no_canary"
            names = ModelMetricRepository(session).names(version_id)
            assert "vetted_n" in names and "oof_roc_auc" in names
    finally:
        engine.dispose()
