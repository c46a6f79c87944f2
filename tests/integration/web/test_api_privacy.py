"""Issue 13, item 1: private data is never visible to other users (``exoguard.store.access``).

User A uploads the bundled real TESS light curve of TOI-114 and preprocesses it (a transit
search: candidates and predictions private to A), and types one candidate in by hand (also
private to A). One public archive row of the same star (TOI-114.01) is stored beside them.
Then user B (another explorer) and an anonymous visitor try every page, chart, export and
API route with A's ids: they get 404, answered exactly like a missing id (or 401 where the
route needs a login), and A's rows never appear in a listing. A and the researchers (SPEC:
they curate the data set) see them; the public row stays visible to everybody. The vetting
queue is shared with logged-in vetters by design, and only through the vetting routes.

The module runs twice: on PostgreSQL (required with CI=true) and on SQLite.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import (  # noqa: E402
    TOI114_FITS,
    Api,
    api_world,
    redis_url_for_tests,
    upload,
    wait_for_job,
)

from exoguard.store.db import session_scope  # noqa: E402
from exoguard.store.models import Candidate, Prediction  # noqa: E402
from exoguard.store.repositories import VettingRepository  # noqa: E402

pytestmark = pytest.mark.integration

#: TOI-114.01 as the archive's TOI table gives it (a public row: no dataset, no owner).
PUBLIC_OBJECT = "TOI-114.01"
TARGET = "25155310"  # TIC id of TOI-114: what a visitor would type in the results search
MANUAL_NAME = "my secret candidate"


@dataclass
class World:
    api: Api
    dataset_id: str
    job_id: str
    found: list[int]  # candidates A's transit search found
    found_object_ids: list[str]
    manual: int  # the candidate A typed in
    manual_object_id: str
    public: int  # the public archive row
    private_item: int  # vetting item of A's first found candidate
    public_item: int  # vetting item of the public row


def _public_row(api: Api) -> tuple[int, int]:
    """Store the archive row of TOI-114.01 with a prediction and a vetting item."""
    with session_scope(api.factory) as session:
        candidate = Candidate(
            mission="tess",
            object_id=PUBLIC_OBJECT,
            host_id=f"TIC {TARGET}",
            label="candidate",
            origin="catalog",
            period_days=3.28880,
            t0_bjd=2458325.3,
            duration_hours=2.9,
            depth_ppm=5640.0,
        )
        session.add(candidate)
        session.flush()
        prediction = Prediction(
            candidate_id=candidate.id,
            model_version=api.model_version,
            probability=0.6,
            uncertainty=0.3,
            label="planet",
        )
        session.add(prediction)
        session.flush()
        item = VettingRepository(session).enqueue(
            candidate_id=candidate.id, priority=0.3, prediction_id=prediction.id
        )
        return candidate.id, item.id


def _queue_item(api: Api, candidate_id: int) -> int:
    """The open vetting item of a candidate (enqueued here when the model was certain)."""
    with session_scope(api.factory) as session:
        queue = VettingRepository(session)
        item = queue.open_for_candidate(candidate_id)
        if item is None:
            item = queue.enqueue(candidate_id=candidate_id, priority=0.5, prediction_id=None)
        return item.id


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def world(
    request: pytest.FixtureRequest,
    postgres_base_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    base = postgres_base_url if request.param == "postgresql" else None
    if request.param == "postgresql" and base is None:
        pytest.skip("PostgreSQL unreachable (not CI)")
    with api_world(
        base,
        tmp_path_factory.mktemp(f"privacy_{request.param}"),
        redis_url=redis_url_for_tests(required=False),
    ) as api:
        public, public_item = _public_row(api)
        with api.client("explorer") as client:
            uploaded = upload(client, "toi114.fits", TOI114_FITS.read_bytes())
            assert uploaded.status_code == 201, uploaded.text
            dataset_id = uploaded.json()["dataset_id"]
            started = client.post(
                "/api/data/preprocess",
                json={"dataset_id": dataset_id, "options": {"max_planets": 1}},
            )
            assert started.status_code == 202, started.text
            job_id = started.json()["job_id"]
            job = wait_for_job(client, job_id, timeout_s=240)
            assert job["status"] == "succeeded", job
            typed = client.post(
                "/api/models/predict",
                json={
                    "save": True,
                    "candidates": [
                        {
                            "object_id": MANUAL_NAME,
                            "host_id": f"TIC {TARGET}",
                            "mission": "tess",
                            "period_days": 3.2888,
                            "duration_hours": 2.9,
                            "depth_ppm": 5600.0,
                        }
                    ],
                },
            )
            assert typed.status_code == 200, typed.text
        found = [int(i) for i in job["result"]["candidate_ids"]]
        assert found, job
        manual = int(typed.json()["predictions"][0]["candidate_id"])
        with session_scope(api.factory) as session:
            found_object_ids = [session.get_one(Candidate, i).object_id for i in found]
            manual_row = session.get(Candidate, manual)
            assert manual_row is not None and manual_row.owner_id == api.users["explorer"].id
            manual_object_id = manual_row.object_id
        yield World(
            api=api,
            dataset_id=dataset_id,
            job_id=job_id,
            found=found,
            found_object_ids=found_object_ids,
            manual=manual,
            manual_object_id=manual_object_id,
            public=public,
            private_item=_queue_item(api, found[0]),
            public_item=public_item,
        )


def _private_candidates(world: World) -> list[int]:
    return [*world.found, world.manual]


def _private_names(world: World) -> list[str]:
    """Stored keys and the names pages show (exoguard.store.naming) of A's candidates."""
    with session_scope(world.api.factory) as session:
        shown = [session.get_one(Candidate, i).display_name for i in _private_candidates(world)]
    public = {PUBLIC_OBJECT}
    return [
        *world.found_object_ids,
        world.manual_object_id,
        MANUAL_NAME,
        *(n for n in shown if n not in public),
    ]


# ----------------------------------------------------------------------------- candidates
CANDIDATE_GETS = (
    "/candidates/{id}",
    "/charts/candidates/{id}?periodogram=false",
    "/charts/explain/{id}",
    "/api/models/explain?candidate_id={id}",
)


@pytest.mark.parametrize("route", CANDIDATE_GETS)
def test_other_users_private_candidate_is_a_missing_candidate(world: World, route: str) -> None:
    """B and anonymous visitors get the answer of a missing id for each of A's candidates."""
    api = world.api
    missing = 2**31 - 1
    with api.client("other") as b, api.client() as anonymous:
        for client, who in ((b, "other"), (anonymous, "anonymous")):
            absent = client.get(route.format(id=missing))
            assert absent.status_code in (401, 404), (who, absent.text)
            for cid in _private_candidates(world):
                response = client.get(route.format(id=cid))
                assert response.status_code == absent.status_code, (who, route, response.text)
                if absent.headers["content-type"].startswith("application/json"):
                    detail = response.json()["detail"]
                    assert detail == absent.json()["detail"].replace(str(missing), str(cid))
                for name in _private_names(world):
                    assert name not in response.text


@pytest.mark.parametrize("route", CANDIDATE_GETS)
def test_owner_and_researcher_see_the_private_candidates(world: World, route: str) -> None:
    with world.api.client("explorer") as a, world.api.client("researcher") as researcher:
        for client in (a, researcher):
            for cid in _private_candidates(world):
                response = client.get(route.format(id=cid))
                assert response.status_code == 200, (route, cid, response.text)


@pytest.mark.parametrize("route", CANDIDATE_GETS)
def test_public_catalog_row_is_visible_to_everybody(world: World, route: str) -> None:
    with (
        world.api.client("other") as b,
        world.api.client("explorer") as a,
        world.api.client() as anonymous,
    ):
        for client, who in ((a, "a"), (b, "b"), (anonymous, "anonymous")):
            response = client.get(route.format(id=world.public))
            if who == "anonymous" and route.startswith(("/api/", "/charts/explain")):
                assert response.status_code == 401  # these routes need a login
            else:
                assert response.status_code == 200, (who, route, response.text)


def test_logged_out_owner_is_asked_to_log_in_and_others_see_nothing(world: World) -> None:
    """Issue 15, item 9: an anonymous visitor gets a login link back to the page; B a 404."""
    missing = 2**31 - 1
    with world.api.client() as anonymous, world.api.client("other") as b:
        for cid in (world.manual, missing):  # a private id and a missing one read the same
            page = anonymous.get(f"/candidates/{cid}")
            assert page.status_code == 401
            assert f'href="/login?next=/candidates/{cid}"' in page.text
            assert world.manual_object_id not in page.text
            other = b.get(f"/candidates/{cid}")
            assert other.status_code == 404 and f"There is no candidate {cid}." in other.text
            assert "/login?next=" not in other.text


def test_walking_sequential_ids_finds_only_public_rows(world: World) -> None:
    """Ids are sequential: walking all of them as B or anonymously reveals no private row."""
    with session_scope(world.api.factory) as session:
        last = int(session.scalar(select(func.max(Candidate.id))) or 0)
        public = set(
            session.scalars(
                select(Candidate.id).where(
                    Candidate.dataset_id.is_(None), Candidate.owner_id.is_(None)
                )
            )
        )
    assert world.public in public and not public & set(_private_candidates(world))
    with world.api.client("other") as b, world.api.client() as anonymous:
        for client in (b, anonymous):
            seen = {
                i for i in range(1, last + 3) if client.get(f"/candidates/{i}").status_code == 200
            }
            assert seen == public
        explained = {
            i
            for i in range(1, last + 3)
            if b.get(f"/api/models/explain?candidate_id={i}").status_code == 200
        }
        assert explained == public


def test_results_listing_and_search_show_only_visible_rows(world: World) -> None:
    """`/results?q=<TIC id>` listed other users' private search candidates (the report)."""
    with world.api.client("other") as b, world.api.client() as anonymous:
        for client in (b, anonymous):
            for url in (f"/results?q={TARGET}", "/results", "/results?q=manual"):
                page = client.get(url)
                assert page.status_code == 200
                for name in _private_names(world):
                    assert name not in page.text, (url, name)
                for cid in _private_candidates(world):
                    assert f'href="/candidates/{cid}"' not in page.text
            assert PUBLIC_OBJECT in client.get(f"/results?q={TARGET}").text
    with world.api.client("explorer") as a:
        own = a.get(f"/results?q={TARGET}").text
        assert PUBLIC_OBJECT in own
        for cid in world.found:
            assert f'href="/candidates/{cid}"' in own
        # named as every page names them: no stored key with its data-set tag
        for key in world.found_object_ids:
            assert key not in own


# ----------------------------------------------------------------------------- datasets, jobs
def test_other_users_dataset_and_job_are_missing(world: World) -> None:
    d, j = world.dataset_id, world.job_id
    gets = (
        f"/api/data/validate?dataset_id={d}",
        f"/api/jobs/{j}",
        f"/charts/datasets/{d}",
        f"/explore/datasets/{d}/candidates",
    )
    posts: tuple[tuple[str, dict[str, Any]], ...] = (
        ("/api/data/preprocess", {"dataset_id": d}),
        ("/api/models/predict", {"dataset_id": d}),
    )
    with world.api.client("other") as b:
        for url in gets:
            response = b.get(url)
            assert response.status_code == 404, (url, response.text)
            assert response.json()["detail"].endswith("not found")
        for url, body in posts:
            response = b.post(url, json=body)
            assert response.status_code == 404, (url, response.text)
            assert response.json()["detail"] == f"dataset {d!r} not found"
        datasets = b.get("/api/data/datasets?limit=500").json()["datasets"]
        assert d not in [row["id"] for row in datasets]
        jobs = b.get("/api/jobs?limit=500").json()["jobs"]
        assert j not in [row["id"] for row in jobs]
    with world.api.client() as anonymous:
        for url in gets:
            expected = 401 if url.startswith("/api/") else 404
            assert anonymous.get(url).status_code == expected, url
        for url, body in posts:
            assert anonymous.post(url, json=body).status_code == 401
    with world.api.client("explorer") as a:
        for url in gets:
            assert a.get(url).status_code == 200, url
        assert d in [row["id"] for row in a.get("/api/data/datasets").json()["datasets"]]


# ----------------------------------------------------------------------------- exports
def test_exports_and_share_links_hide_other_users_rows(world: World) -> None:
    private = _private_candidates(world)
    with world.api.client("other") as b:
        for body in ({"candidate_ids": private}, {"dataset_id": world.dataset_id}, {}):
            csv = b.post("/api/export/csv", json=body)
            assert csv.status_code == 200
            for name in _private_names(world):
                assert name not in csv.text
        assert PUBLIC_OBJECT in b.post("/api/export/csv", json={}).text
        for cid in private:
            pdf = b.post("/api/export/pdf", json={"candidate_ids": [cid], "plots": False})
            assert pdf.status_code == 404 and pdf.json()["detail"] == f"candidate {cid} not found"
            share = b.post("/api/export/share", json={"candidate_id": cid})
            assert share.status_code == 404
            assert share.json()["detail"] == f"candidate {cid} not found"
    with world.api.client("explorer") as a:
        csv = a.post("/api/export/csv", json={"candidate_ids": private}).text
        for name in world.found_object_ids:
            assert name in csv
        assert a.post("/api/export/share", json={"candidate_id": world.manual}).status_code == 201


# ----------------------------------------------------------------------------- vetting
def test_vetting_items_are_shared_with_vetters_only(world: World) -> None:
    """A queued upload is shown to logged-in vetters (by design), never to anonymous ones."""
    private, public = world.private_item, world.public_item
    with world.api.client() as anonymous:
        for url in (f"/vetting/{private}", f"/charts/vetting/{private}"):
            assert anonymous.get(url).status_code == 404, url
        for url in (f"/vetting/{public}", f"/charts/vetting/{public}"):
            assert anonymous.get(url).status_code == 200, url
        queue = anonymous.get("/vetting").text
        assert PUBLIC_OBJECT in queue
        for name in world.found_object_ids:
            assert name not in queue
    with world.api.client("other") as b:
        assert b.get(f"/vetting/{private}").status_code == 200
        assert b.get(f"/charts/vetting/{private}").status_code == 200
        served = b.get("/api/vetting/queue?limit=100").json()["items"]
        assert private in [entry["item_id"] for entry in served]
        # ...but the vetting item does not open the candidate's other routes
        assert b.get(f"/candidates/{world.found[0]}").status_code == 404
