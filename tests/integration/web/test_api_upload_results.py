"""An upload's result over HTTP (issue 15, items 3 and 9): a summary and one named row per
candidate, also for table rows the archive already holds; the list of one's own uploads;
one display name for typed-in candidates in the result rows, the candidate page and the CSV.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import (  # noqa: E402
    DATA,
    Api,
    api_world,
    koi_slice,
    redis_url_for_tests,
    upload,
    wait_for_job,
)

from exoguard.catalogs import read_catalog  # noqa: E402
from exoguard.store.db import session_scope  # noqa: E402
from exoguard.store.ingest import ingest_catalog_tables  # noqa: E402

pytestmark = pytest.mark.integration

N_ROWS = 40


@pytest.fixture(scope="module")
def api(postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_world(
        postgres_base_url,
        tmp_path_factory.mktemp("api_upload_results"),
        redis_url=redis_url_for_tests(required=False),
    ) as world:
        # the archive already holds the rows the explorer uploads (as in a real deployment)
        koi = read_catalog(DATA / "catalogs" / "koi_cumulative_2026-06-22.csv.gz")
        table = dataclasses.replace(koi, frame=koi.frame.iloc[:N_ROWS])
        with session_scope(world.factory) as session:
            ingest_catalog_tables(session, [table])
        yield world


@pytest.fixture(scope="module")
def catalog_upload(api: Api) -> str:
    with api.client("explorer") as client:
        dataset_id = upload(client, "koi40.csv", koi_slice(N_ROWS)).json()["dataset_id"]
        started = client.post("/api/data/preprocess", json={"dataset_id": dataset_id})
        assert started.status_code == 202, started.text
        job = wait_for_job(client, started.json()["job_id"])
    assert job["status"] == "succeeded", job
    return str(dataset_id)


def _kepoi_names() -> list[str]:
    frame = pd.read_csv(io.BytesIO(koi_slice(N_ROWS)), comment="#")
    return [str(x) for x in frame["kepoi_name"]]


def test_catalog_result_names_every_row_and_counts_them(api: Api, catalog_upload: str) -> None:
    with api.client("explorer") as client:
        response = client.get(f"/api/data/datasets/{catalog_upload}/results")
    assert response.status_code == 200, response.text
    body = response.json()
    rows, summary = body["rows"], body["summary"]
    # before: the explore page listed candidates by dataset_id and found none of the 40
    # archive rows, so every card read "candidate <id>"
    assert len(rows) == N_ROWS
    assert sorted(r["name"] for r in rows) == sorted(_kepoi_names())
    assert all(r["url"] == f"/candidates/{r['candidate_id']}" for r in rows)
    assert summary["n_candidates"] == N_ROWS
    assert sum(summary["verdicts"].values()) == N_ROWS
    assert summary["verdicts"]["none"] == 0  # the active model scored every row
    for key in ("planet", "false_positive", "uncertain"):
        assert summary["verdicts"][key] == sum(r["verdict"] == key for r in rows)
    assert summary["n_flagged"] == sum(r["flagged"] for r in rows)
    # each row is its own archive object
    assert summary["n_matched"] == N_ROWS
    assert all(r["catalog_match"]["object_id"] == r["name"] for r in rows)
    k752 = next(r for r in rows if r["name"] == "K00752.01")
    assert k752["catalog_match"]["name"] == "Kepler-227 b"
    assert k752["period_days"] == pytest.approx(9.488, abs=1e-3)
    assert 0.0 <= k752["probability"] <= 1.0 and k752["uncertainty"] >= 0.0
    assert body["dataset"]["url"] == f"/explore?dataset={catalog_upload}"
    assert body["dataset"]["kind"] == "catalog"


def test_result_is_private_to_its_owner(api: Api, catalog_upload: str) -> None:
    with api.client("other") as client:
        assert client.get(f"/api/data/datasets/{catalog_upload}/results").status_code == 404
        assert client.get("/api/data/uploads").json()["uploads"] == []
        page = client.get("/uploads")
    assert page.status_code == 200 and catalog_upload not in page.text
    with api.client() as anonymous:
        assert anonymous.get(f"/api/data/datasets/{catalog_upload}/results").status_code == 401
        assert "Log in" in anonymous.get("/uploads").text


def test_my_uploads_lists_the_upload_with_its_summary(api: Api, catalog_upload: str) -> None:
    with api.client("explorer") as client:
        uploads = client.get("/api/data/uploads").json()["uploads"]
        page = client.get("/uploads")
    mine = [u for u in uploads if u["id"] == catalog_upload]
    assert len(mine) == 1
    assert mine[0]["filename"] == "koi40.csv"
    assert mine[0]["summary"]["n_candidates"] == N_ROWS
    assert len(mine[0]["top"]) == 3
    assert page.status_code == 200
    assert f'href="/explore?dataset={catalog_upload}"' in page.text


def test_a_typed_in_candidate_is_named_as_typed_everywhere(api: Api) -> None:
    typed = {
        "object_id": "my odd dip",
        "period_days": 3.2888,
        "duration_hours": 3.2,
        "depth_ppm": 6300,
        "mission": "tess",
    }
    with api.client("explorer") as client:
        predicted = client.post("/api/models/predict", json={"candidates": [typed], "save": True})
        assert predicted.status_code == 200, predicted.text
        cid = predicted.json()["predictions"][0]["candidate_id"]
        rows = client.get(f"/explore/candidates?ids={cid}").json()["rows"]
        page = client.get(f"/candidates/{cid}").text
        exported = client.post("/api/export/csv", json={"candidate_ids": [cid]})
        bad = client.get("/explore/candidates?ids=1,x")
    assert [r["name"] for r in rows] == ["my odd dip"]
    assert rows[0]["object_id"].startswith("manual-")  # the stored key, never shown
    assert "<h1>my odd dip</h1>" in page and "manual-" not in page.split("<main")[1]
    record = next(csv.DictReader(io.StringIO(exported.text)))
    assert record["display_name"] == "my odd dip"
    assert bad.status_code == 422 and "candidate ids" in bad.json()["detail"]
