"""With a canary deployed, dataset predictions route its deterministic share to it and log
the active version's shadow prediction beside each canary one."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import api_world, koi_slice, upload, wait_for_job  # noqa: E402

from exoguard.ml.lifecycle import routes_to_canary
from exoguard.services.lifecycle import start_canary  # noqa: E402
from exoguard.store.db import session_scope  # noqa: E402
from exoguard.store.models import Prediction  # noqa: E402
from exoguard.store.repositories import ModelVersionRepository  # noqa: E402

pytestmark = pytest.mark.integration


def test_dataset_predictions_follow_the_canary_route(
    postgres_base_url: str | None, tmp_path: Path
) -> None:
    with api_world(postgres_base_url, tmp_path / "world") as api:
        assert api.model_version is not None
        active_dir = api.settings.models_path / api.model_version
        canary_id = "gbm-0900"
        shutil.copytree(active_dir, api.settings.models_path / canary_id)
        with session_scope(api.factory) as session:
            active = ModelVersionRepository(session).require(api.model_version)
            ModelVersionRepository(session).create(
                version_id=canary_id,
                kind="gbm",
                config=dict(active.config),
                data_hash=active.data_hash,
                artifact_path=str(api.settings.models_path / canary_id),
            )
            start_canary(session, canary_id, settings=api.settings)

        with api.client("researcher") as client:
            dataset_id = upload(client, "koi.csv", koi_slice(150)).json()["dataset_id"]
            job = client.post("/api/data/preprocess", json={"dataset_id": dataset_id}).json()
            wait_for_job(client, job["job_id"])
            response = client.post("/api/models/predict", json={"dataset_id": dataset_id})
            assert response.status_code == 200, response.text

        with session_scope(api.factory) as session:
            served = response.json()["predictions"]
            ids = [p["candidate_id"] for p in served]
            expected = {i for i in ids if routes_to_canary(i, fraction=0.10)}
            assert expected, "150 candidates should route some to a 10 % canary"
            rows = session.query(Prediction).filter(Prediction.candidate_id.in_(ids)).all()
            canary_rows = {r.candidate_id for r in rows if r.canary}
            assert canary_rows == expected
            assert all(r.model_version == canary_id for r in rows if r.canary)
            # every canary-served candidate also has the active version's (shadow) prediction
            for cid in expected:
                versions = {r.model_version for r in rows if r.candidate_id == cid}
                assert {canary_id, api.model_version} <= versions
