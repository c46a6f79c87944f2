"""Jobs and vetting over HTTP: who may see a job, its result or error; the vetting queue,
votes and statistics; uncertain predictions entering the queue."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import (  # noqa: E402
    Api,
    api_world,
    koi_slice,
    redis_url_for_tests,
    upload,
    wait_for_job,
)

from exoguard.store.db import session_scope  # noqa: E402
from exoguard.store.models import Candidate, Prediction, VettingItem, Vote  # noqa: E402
from exoguard.store.repositories import JobRepository, VettingRepository  # noqa: E402
from exoguard.store.types import utcnow  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_world(
        postgres_base_url,
        tmp_path_factory.mktemp("api_jobs"),
        redis_url=redis_url_for_tests(required=False),
    ) as world:
        yield world


# ----------------------------------------------------------------------------- jobs
def test_job_status_result_and_visibility(api: Api) -> None:
    with api.client("explorer") as client:
        dataset_id = upload(client, "koi.csv", koi_slice(3)).json()["dataset_id"]
        job_id = client.post("/api/data/preprocess", json={"dataset_id": dataset_id}).json()[
            "job_id"
        ]
        view = wait_for_job(client, job_id)
        assert view["status"] == "succeeded" and view["progress"] == 1.0
        assert view["kind"] == "preprocess" and "error" not in view
        assert view["result"]["n_candidates"] == 3
        listed = client.get("/api/jobs").json()["jobs"]
        assert job_id in [j["id"] for j in listed]
        assert client.get("/api/jobs?status=exploded").status_code == 422
        assert client.get("/api/jobs/not-a-job").status_code == 404
    with api.client("other") as client:
        denied = client.get(f"/api/jobs/{job_id}")
        assert denied.status_code == 404  # another user's job answers like a missing one
        assert denied.json()["detail"] == f"job {job_id!r} not found"
        assert job_id not in [j["id"] for j in client.get("/api/jobs").json()["jobs"]]
    with api.client("researcher") as client:
        assert client.get(f"/api/jobs/{job_id}").status_code == 200
        assert job_id in [j["id"] for j in client.get("/api/jobs?kind=preprocess").json()["jobs"]]
    with api.client() as client:
        assert client.get(f"/api/jobs/{job_id}").status_code == 401


def test_failed_job_shows_its_error(api: Api) -> None:
    with api.client("explorer") as client:
        dataset_id = upload(client, "koi.csv", koi_slice(2)).json()["dataset_id"]
        (api.settings.uploads_path / dataset_id).unlink()  # the stored file disappears
        job_id = client.post("/api/data/preprocess", json={"dataset_id": dataset_id}).json()[
            "job_id"
        ]
        view = wait_for_job(client, job_id)
    assert view["status"] == "failed" and "result" not in view
    assert "its file is missing" in view["error"] and "traceback" not in view
    with api.client("researcher") as client:
        detailed = client.get(f"/api/jobs/{job_id}").json()
        assert "NotFoundError" in detailed["traceback"]


def test_running_job_reports_progress_and_queued_state(api: Api) -> None:
    owner = api.users["explorer"]
    # Rows without a holder are judged from their start: these are fresh, so left alone.
    with api.client("explorer") as client:
        with session_scope(api.factory) as session:
            jobs = JobRepository(session)
            queued = jobs.create(kind="echo", params={}, owner_id=owner.id)
            running = jobs.create(kind="echo", params={}, owner_id=owner.id)
            jobs.mark_running(running.id)
            jobs.set_progress(running.id, 0.4)
            running.result = {"message": "fitted 4 of 10 boosters"}
            ids = (queued.id, running.id)
        first, second = (client.get(f"/api/jobs/{i}").json() for i in ids)
    assert first["status"] == "queued" and first["progress"] == 0.0
    assert second["status"] == "running" and second["progress"] == pytest.approx(0.4)
    assert second["message"] == "fitted 4 of 10 boosters"
    assert "result" not in second and "error" not in second


def test_a_job_whose_holder_vanished_is_run_again_once_then_failed(api: Api) -> None:
    """Running rows with no live holder: one started moments ago is left alone; one silent
    for longer than EXOGUARD_JOB_STALE_S is run again (the in-process runner finishes it);
    one that already used its runs is failed with the reason."""
    owner = api.users["explorer"]
    long_ago = utcnow() - timedelta(minutes=5)
    with api.client("explorer") as client:
        with session_scope(api.factory) as session:
            jobs = JobRepository(session)
            fresh = jobs.create(kind="echo", params={}, owner_id=owner.id)
            jobs.mark_running(fresh.id)
            lost = jobs.create(kind="echo", params={"n": 1}, owner_id=owner.id)
            jobs.mark_running(lost.id, now=long_ago)
            used_up = jobs.create(kind="echo", params={}, owner_id=owner.id)
            jobs.mark_running(used_up.id, now=long_ago)
            used_up.attempts = api.settings.job_max_attempts
            ids = (fresh.id, lost.id, used_up.id)
        young = client.get(f"/api/jobs/{ids[0]}").json()
        rerun = wait_for_job(client, ids[1], timeout_s=30)
        failed = client.get(f"/api/jobs/{ids[2]}").json()
    assert young["status"] == "running" and young["attempts"] == 1  # not judged yet
    assert rerun["status"] == "succeeded" and rerun["attempts"] == 2
    assert rerun["result"] == {"echo": {"n": 1}}
    assert failed["status"] == "failed" and failed["error"].startswith("interrupted:")
    assert f"run {api.settings.job_max_attempts} of at most" in failed["error"]


# ----------------------------------------------------------------------------- vetting
def _queued_candidate(api: Api, object_id: str, *, uncertainty: float = 0.3) -> int:
    with session_scope(api.factory) as session:
        candidate = Candidate(
            mission="kepler",
            object_id=object_id,
            label="candidate",
            origin="catalog",
            period_days=12.5,
            depth_ppm=420.0,
        )
        session.add(candidate)
        session.flush()
        prediction = Prediction(
            candidate_id=candidate.id,
            model_version=api.model_version,
            probability=0.55,
            uncertainty=uncertainty,
            label="planet",
        )
        session.add(prediction)
        session.flush()
        item = VettingRepository(session).enqueue(
            candidate_id=candidate.id, priority=uncertainty, prediction_id=prediction.id
        )
        return item.id


def test_vetting_queue_vote_and_stats(api: Api) -> None:
    item_id = _queued_candidate(api, "VET-1", uncertainty=0.9)
    with api.client("explorer") as client:
        queue = client.get("/api/vetting/queue?limit=100")
        assert queue.status_code == 200, queue.text
        entry = next(e for e in queue.json()["items"] if e["item_id"] == item_id)
        assert entry["object_id"] == "VET-1" and entry["probability"] == 0.55
        assert entry["parameters"]["period_days"] == 12.5
        vote = client.post(
            "/api/vetting/submit",
            json={"item_id": item_id, "label": "planet", "confidence": 4, "comment": "clean U"},
        )
        assert vote.status_code == 201, vote.text
        assert vote.json()["vote"]["label"] == "planet" and vote.json()["n_votes"] == 1
        again = client.post(
            "/api/vetting/submit", json={"item_id": item_id, "label": "planet", "confidence": 4}
        )
        assert again.status_code == 200 and again.json()["changed"] is True  # a change
        after = [e["item_id"] for e in client.get("/api/vetting/queue?limit=100").json()["items"]]
        assert item_id not in after  # never served twice
        stats = client.get("/api/vetting/stats").json()
        assert stats["me"]["n_votes"] >= 1
        assert client.get("/api/vetting/stats?item_status=lost").status_code == 422
        assert client.get("/api/vetting/stats?include_gold=true").status_code == 403
    with api.client("admin") as client:
        assert client.get("/api/vetting/stats?include_gold=true").status_code == 200
    assert api.count(Vote, item_id=item_id) == 1


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"label": "maybe", "confidence": 3}, 422, "planet"),
        ({"label": "planet", "confidence": 9}, 422, "confidence"),
        ({"label": "planet"}, 422, "confidence"),
        ({"label": "planet", "confidence": 3, "colour": "red"}, 422, "colour"),
    ],
)
def test_vote_bad_input(api: Api, body: dict[str, object], status: int, needle: str) -> None:
    item_id = _queued_candidate(api, f"VET-BAD-{needle}-{status}-{len(body)}")
    with api.client("explorer") as client:
        response = client.post("/api/vetting/submit", json={"item_id": item_id, **body})
    assert response.status_code == status and needle in response.text
    assert api.count(Vote, item_id=item_id) == 0


def test_vetting_needs_login_csrf_and_a_real_item(api: Api) -> None:
    item_id = _queued_candidate(api, "VET-AUTH")
    body = {"item_id": item_id, "label": "planet", "confidence": 3}
    with api.client() as client:
        assert client.get("/api/vetting/queue").status_code == 401
        assert client.post("/api/vetting/submit", json=body).status_code == 401
        assert client.get("/api/vetting/stats").status_code == 401
    with api.client("explorer", csrf=False) as client:
        assert client.post("/api/vetting/submit", json=body).status_code == 403
    with api.client("explorer") as client:
        missing = client.post("/api/vetting/submit", json={**body, "item_id": 10**9})
        assert missing.status_code == 404
        assert client.get("/api/vetting/queue?limit=0").status_code == 422
    assert api.count(Vote, item_id=item_id) == 0


def test_uncertain_dataset_predictions_enter_the_queue(api: Api) -> None:
    """store_predictions(enqueue=True): uncertain or ambiguous verdicts are queued once."""
    from exoguard.services.predictions import store_predictions

    with session_scope(api.factory) as session:
        made = [
            Candidate(mission="k2", object_id=f"Q-{i}", label="candidate", origin="catalog")
            for i in range(3)
        ]
        session.add_all(made)
        session.flush()
        ids = [c.id for c in made]
        scores = pd.DataFrame(
            {
                "probability": [0.97, 0.50, 0.90],
                "uncertainty": [0.01, 0.02, 0.40],  # sure; ambiguous; uncertain
                "label": ["planet", "planet", "planet"],
            }
        )
        store_predictions(
            session,
            ids,
            scores,
            version=api.model_version or "",
            settings=api.settings,
            enqueue=True,
        )
        store_predictions(  # a second scoring does not queue the candidates twice
            session,
            ids,
            scores,
            version=api.model_version or "",
            settings=api.settings,
            enqueue=True,
        )
    with session_scope(api.factory) as session:
        queued = {
            item.candidate_id
            for item in session.query(VettingItem).filter(VettingItem.candidate_id.in_(ids))
        }
        n_items = session.query(VettingItem).filter(VettingItem.candidate_id.in_(ids)).count()
    assert queued == {ids[1], ids[2]} and n_items == 2
