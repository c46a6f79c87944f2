"""Export routes end to end: CSV, PDF and share links, each role, and the bad inputs.

The app runs on the test database (PostgreSQL when reachable, required with CI=true) inside
the rolled-back transaction of `db_sessionmaker`; with CI=true its rate limiter uses the
real Redis (db 15, flushed here).
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings, get_settings
from exoguard.reports.share import create_share_link
from exoguard.services.accounts import start_session
from exoguard.store.db import session_scope
from exoguard.store.models import Candidate, User
from exoguard.store.repositories import (
    DatasetRepository,
    ModelVersionRepository,
    PredictionRepository,
    UserRepository,
    VettingRepository,
    VoteRepository,
)
from exoguard.store.types import utcnow
from exoguard.web.app import create_app
from exoguard.web.security import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_token_for,
)

pytestmark = pytest.mark.integration

SECRET = "export-tests-2b8e4f6a1c3d5e7f9a0b2c4d6e8f1a3b5c7d9e0f2a4b6c8d"
TOI114 = (
    get_settings().lightcurves_dir
    / "tess"
    / "hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits"
)
CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str | None:
    """The test Redis (db 15, flushed) with CI=true — unreachable fails; None otherwise."""
    if not CI:
        return None
    import redis

    try:
        client = redis.Redis.from_url(TEST_REDIS_URL)
        client.ping()
    except Exception as exc:  # any connection error
        pytest.fail(f"CI=true but Redis at {TEST_REDIS_URL} is unreachable: {exc}", pytrace=False)
    client.flushdb()
    return TEST_REDIS_URL


@dataclass
class World:
    app: object
    settings: Settings
    users: dict[str, User]
    ids: dict[str, int]


def _user(session: Session, role: str, name: str) -> User:
    return UserRepository(session).create(
        email=f"{name}@example.org", password_hash="not-used", name=name, role=role
    )


@pytest.fixture
def world(
    db_sessionmaker: sessionmaker[Session], tmp_path: Path, redis_url: str | None
) -> Iterator[World]:
    settings = Settings(
        EXOGUARD_ENV="test",
        SECRET_KEY=SECRET,
        EXOGUARD_VAR_DIR=tmp_path / "var",
        DATABASE_URL="sqlite:///" + (tmp_path / "unused.sqlite3").as_posix(),
        REDIS_URL=redis_url,
        EXOGUARD_DATA_DIR=get_settings().data_dir,
        EXOGUARD_RATE_LIMIT_PER_MINUTE=50,
    )
    settings.uploads_path.mkdir(parents=True)
    app = create_app(settings)
    app.state.exoguard.sessions = db_sessionmaker  # every request joins the test transaction

    session = db_sessionmaker()
    users = {
        "alice": _user(session, "explorer", "alice"),
        "bob": _user(session, "explorer", "bob"),
        "rita": _user(session, "researcher", "rita"),
        "adam": _user(session, "admin", "adam"),
    }
    ModelVersionRepository(session).create(
        version_id="gbm-9001", kind="gbm", config={}, data_hash="x", artifact_path="/nonexistent"
    )
    catalog = Candidate(
        mission="kepler",
        object_id="K00752.01",
        host_id="KIC 10797460",
        label="planet",
        disposition='=HYPERLINK("http://evil.example","x")',  # hostile text in a catalog cell
        source="koi_cumulative_2026-06-22.csv.gz",
        period_days=9.488036,
        t0_bjd=2454833.0 + 170.53875,
        duration_hours=2.9575,
        depth_ppm=615.8,
        planet_radius_rearth=2.26,
        star_radius_rsun=0.927,
        origin="catalog",
    )
    session.add(catalog)
    # Bob uploaded TOI-114's light curve; the search found the hot Jupiter in it.
    stored = settings.uploads_path / "bob" / "toi114.fits"
    stored.parent.mkdir()
    shutil.copyfile(TOI114, stored)
    dataset = DatasetRepository(session).create(
        filename="toi114.fits",
        kind="lightcurve",
        format="fits",
        size_bytes=stored.stat().st_size,
        sha256="0" * 64,
        storage_path="bob/toi114.fits",
        owner_id=users["bob"].id,
        status="preprocessed",
    )
    found = Candidate(
        mission="tess",
        object_id="TIC 25155310.01 [abcdef12]",
        host_id="TIC 25155310",
        label="candidate",
        source=f"search of dataset {dataset.id}",
        period_days=3.28879,
        t0_bjd=2458327.519958,
        duration_hours=3.436772,
        depth_ppm=6900.0,
        star_radius_rsun=1.24,
        origin="search",
        dataset_id=dataset.id,
        features={"sde": 24.0, "n_transits": 8, "odd_even_sigma": 0.6, "shape": "U"},
    )
    odd = Candidate(  # a brightening: negative depth, a negative number in a numeric column
        mission="tess",
        object_id="TIC 25155310.02 [abcdef12]",
        host_id="TIC 25155310",
        label="candidate",
        period_days=5.1,
        depth_ppm=-120.5,
        origin="search",
        dataset_id=dataset.id,
    )
    session.add_all([found, odd])
    session.flush()
    predictions = PredictionRepository(session)
    predictions.create(
        candidate_id=catalog.id,
        model_version="gbm-9001",
        probability=0.93,
        uncertainty=0.04,
        label="planet",
        explanation={
            "contributions": [
                {"feature": "depth_ppm", "value": 615.8, "contribution": 0.7},
                {"feature": "period_days", "value": 9.49, "contribution": -0.2},
            ],
            "units": "log-odds (positive: towards planet)",
        },
    )
    pred = predictions.create(
        candidate_id=found.id,
        model_version="gbm-9001",
        probability=0.55,
        uncertainty=0.2,
        label="candidate",
    )
    item = VettingRepository(session).enqueue(
        candidate_id=found.id, priority=1.0, prediction_id=pred.id
    )
    votes = VoteRepository(session)
    votes.add(item_id=item.id, user_id=users["alice"].id, label="planet", confidence=4)
    votes.add(item_id=item.id, user_id=users["rita"].id, label="planet", confidence=5)
    votes.add(item_id=item.id, user_id=users["adam"].id, label="false_positive", confidence=2)
    VettingRepository(session).settle(item.id, consensus_label="planet", consensus_share=0.78)
    session.commit()
    ids = {"catalog": catalog.id, "found": found.id, "odd": odd.id}
    session.close()
    yield World(app=app, settings=settings, users=users, ids=ids)


def _client(world: World, who: str | None = None, *, csrf: bool = True) -> TestClient:
    client = TestClient(world.app)  # type: ignore[arg-type]
    if who is not None:
        user = world.users[who]
        with session_scope(world.app.state.exoguard.sessions) as session:
            token = start_session(session, user=user, secret_key=SECRET, ttl_s=3600)
        client.cookies.set(SESSION_COOKIE, token)
        csrf_token = csrf_token_for(token, secret_key=SECRET)
        client.cookies.set(CSRF_COOKIE, csrf_token)
        if csrf:
            client.headers[CSRF_HEADER] = csrf_token
    return client


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


# --------------------------------------------------------------------------------- CSV
def test_csv_researcher_sees_all_with_predictions_votes_and_safe_cells(world: World) -> None:
    response = _client(world, "rita").post("/api/export/csv", json={})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = {r["object_id"]: r for r in _csv_rows(response.text)}
    assert set(rows) >= {"K00752.01", "TIC 25155310.01 [abcdef12]", "TIC 25155310.02 [abcdef12]"}
    koi = rows["K00752.01"]
    assert koi["disposition"] == "'" + '=HYPERLINK("http://evil.example","x")'
    assert koi["probability"] == "0.93" and koi["uncertainty"] == "0.04"
    assert koi["predicted_label"] == "planet" and koi["model_version"] == "gbm-9001"
    assert koi["period_days"] == "9.488036"
    found = rows["TIC 25155310.01 [abcdef12]"]
    assert found["vetting_status"] == "settled" and found["n_votes"] == "3"
    assert found["consensus_label"] == "planet" and found["consensus_share"] == "0.78"
    assert (found["state"], found["state_source"]) == ("planet", "vetting")
    assert found["state_words"] == "planet by the vetters' consensus (78 % agreement)"
    assert (koi["state"], koi["state_source"]) == ("planet", "model")
    assert rows["TIC 25155310.02 [abcdef12]"]["depth_ppm"] == "-120.5"  # a number, not text
    assert rows["TIC 25155310.02 [abcdef12]"]["probability"] == ""  # never scored


def test_csv_explorer_sees_catalog_and_own_uploads_only(world: World) -> None:
    alice = {
        r["object_id"]
        for r in _csv_rows(_client(world, "alice").post("/api/export/csv", json={}).text)
    }
    bob = {
        r["object_id"]
        for r in _csv_rows(_client(world, "bob").post("/api/export/csv", json={}).text)
    }
    assert "K00752.01" in alice and "K00752.01" in bob
    assert "TIC 25155310.01 [abcdef12]" not in alice
    assert "TIC 25155310.01 [abcdef12]" in bob


def test_csv_filters(world: World) -> None:
    client = _client(world, "rita")
    rows = _csv_rows(client.post("/api/export/csv", json={"mission": "tess"}).text)
    assert {r["mission"] for r in rows} == {"tess"}
    rows = _csv_rows(
        client.post("/api/export/csv", json={"candidate_ids": [world.ids["catalog"]]}).text
    )
    assert [r["object_id"] for r in rows] == ["K00752.01"]
    scored = _csv_rows(
        client.post("/api/export/csv", json={"mission": "tess", "scored_only": True}).text
    )
    assert [r["object_id"] for r in scored] == ["TIC 25155310.01 [abcdef12]"]


def test_csv_auth_csrf_and_bad_inputs(world: World) -> None:
    assert _client(world).post("/api/export/csv", json={}).status_code == 401
    no_csrf = _client(world, "rita", csrf=False).post("/api/export/csv", json={})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
    client = _client(world, "rita")
    bad = client.post("/api/export/csv", json={"mission": "mars"})
    assert bad.status_code == 422 and "kepler, k2, tess, other" in bad.json()["detail"]
    assert client.post("/api/export/csv", json={"colour": "red"}).status_code == 422
    assert client.post("/api/export/csv", json={"candidate_ids": []}).status_code == 422
    assert client.post("/api/export/csv", content=b"not json").status_code == 422


# --------------------------------------------------------------------------------- PDF
@pytest.mark.requires_tools("pdftotext")
def test_pdf_of_an_uploaded_light_curve(world: World, tmp_path: Path) -> None:
    response = _client(world, "bob").post(
        "/api/export/pdf", json={"candidate_ids": [world.ids["found"]]}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = _pdftotext(response.content, tmp_path)
    for needle in (
        "TIC 25155310.01",
        # settled by the vetters (planet, 78 %): the state the pages and the CSV give, not
        # the model's "undecided candidate" (issue 15: one state everywhere)
        "VETTED: PLANET",
        "P(planet) = 0.550 ± 0.200",
        "Periodogram (BLS)",
        "Odd / even transits",
        "Period [d]",
        "3.288790",
        "3 votes: planet 2, false positive 1",
        "consensus: planet (78 % weighted agreement)",
        "uploaded file toi114.fits",
    ):
        assert needle in text, needle
    assert "Plots unavailable" not in text


@pytest.mark.requires_tools("pdftotext")
def test_multi_candidate_pdf_and_catalog_row(world: World, tmp_path: Path) -> None:
    ids = [world.ids["catalog"], world.ids["odd"]]
    response = _client(world, "rita").post(
        "/api/export/pdf", json={"candidate_ids": ids, "plots": False}
    )
    assert response.status_code == 200, response.text
    pages = response.content.count(b"/Type /Page\n") or response.content.count(b"/Type /Page ")
    text = _pdftotext(response.content, tmp_path)
    assert text.count("\f") >= 3  # summary + two candidate pages
    summary = text.split("\f")[0]
    assert "2 candidates" in summary and "K00752.01" in summary
    assert "LIKELY A PLANET" in text and "depth_ppm" in text  # stored SHAP explanation
    assert "NOT CLASSIFIED YET" in text
    assert pages in (0, 3)  # the page objects, when matplotlib writes them uncompressed


def test_pdf_roles_and_bad_inputs(world: World) -> None:
    found = world.ids["found"]
    assert (
        _client(world).post("/api/export/pdf", json={"candidate_ids": [found]}).status_code == 401
    )
    other = _client(world, "alice").post("/api/export/pdf", json={"candidate_ids": [found]})
    assert other.status_code == 404  # another user's candidate answers like a missing one
    assert other.json()["detail"] == f"candidate {found} not found"
    client = _client(world, "rita")
    missing = client.post("/api/export/pdf", json={"candidate_ids": [10**9]})
    assert missing.status_code == 404 and "not found" in missing.json()["detail"]
    assert client.post("/api/export/pdf", json={"candidate_ids": []}).status_code == 422
    too_many = client.post("/api/export/pdf", json={"candidate_ids": list(range(1, 52))})
    assert too_many.status_code == 422
    assert client.post("/api/export/pdf", json={}).status_code == 422


# --------------------------------------------------------------------------------- share
def test_share_link_lifecycle(world: World) -> None:
    bob = _client(world, "bob")
    created = bob.post("/api/export/share", json={"candidate_id": world.ids["found"]})
    assert created.status_code == 201, created.text
    body = created.json()
    token, url = body["token"], body["url"]
    assert url.endswith(f"/share/{token}") and body["state"] == "active"

    assert body["report_url"] == f"{url}/report" and body["pdf_url"] == f"{url}/report.pdf"

    anonymous = _client(world)
    assert anonymous.get(f"/share/{token}").status_code == 200  # the interactive page
    page = anonymous.get(f"/share/{token}/report")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    # named as every page names it (exoguard.store.naming): no data-set tag
    assert "<h1>TIC 25155310.01</h1>" in page.text and "[abcdef12]" not in page.text
    assert "3 votes: planet 2, false positive 1" in page.text
    assert f"/share/{token}/report.png" in page.text
    # Read-only: the page has no form and nothing that writes.
    assert "<form" not in page.text and "method=" not in page.text.lower()
    png = anonymous.get(f"/share/{token}/report.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = anonymous.get(f"/share/{token}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")

    listed = bob.get("/api/export/share").json()["links"]
    assert [link["id"] for link in listed] == [body["id"]]
    assert "token" not in listed[0]

    # Someone else cannot revoke it; its creator can, after which it is gone (410).
    assert _client(world, "alice").delete(f"/api/export/share/{body['id']}").status_code == 403
    revoked = bob.delete(f"/api/export/share/{body['id']}")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    for path in ("", "/report", "/report.png", "/report.pdf"):
        assert anonymous.get(f"/share/{token}{path}").status_code == 410, path
    assert bob.delete("/api/export/share/999999999").status_code == 404


def test_share_tampered_and_unknown_tokens_are_404(world: World) -> None:
    body = (
        _client(world, "rita")
        .post("/api/export/share", json={"candidate_id": world.ids["catalog"]})
        .json()
    )
    token = body["token"]
    anonymous = _client(world)
    flipped = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for bad in (flipped, token.replace(".", ".x", 1), "not-a-token", token + "x"):
        assert anonymous.get(f"/share/{bad}").status_code == 404, bad
        response = anonymous.get(f"/share/{bad}/report")
        assert response.status_code == 404, bad
        assert "does not exist" in response.text
        assert anonymous.get(f"/share/{bad}/report.pdf").status_code == 404, bad
    # A validly signed token that was never stored (e.g. from another database) is 404 too.
    from exoguard.reports.share import sign_token

    unstored = sign_token(
        target_kind="candidate",
        target_id=str(world.ids["catalog"]),
        expires_at=utcnow() + timedelta(days=1),
        secret_key=SECRET,
    )
    assert anonymous.get(f"/share/{unstored}").status_code == 404
    assert anonymous.get(f"/share/{unstored}/report").status_code == 404
    assert anonymous.get(f"/share/{token}").status_code == 200
    assert anonymous.get(f"/share/{token}/report").status_code == 200


def test_share_expired_is_410(world: World, db_sessionmaker: sessionmaker[Session]) -> None:
    session = db_sessionmaker()
    created = create_share_link(
        session,
        target_kind="candidate",
        target_id=world.ids["catalog"],
        created_by=world.users["rita"].id,
        secret_key=SECRET,
        expires_in_hours=1.0,
        now=utcnow() - timedelta(hours=2),
    )
    session.commit()
    session.close()
    assert _client(world).get(f"/share/{created.token}").status_code == 410
    response = _client(world).get(f"/share/{created.token}/report")
    assert response.status_code == 410
    assert "expired" in response.text
    listed = _client(world, "rita").get("/api/export/share").json()["links"]
    assert [link["state"] for link in listed] == ["expired"]


def test_share_bad_inputs_and_visibility(world: World) -> None:
    alice = _client(world, "alice")
    assert _client(world).post("/api/export/share", json={"candidate_id": 1}).status_code == 401
    hidden = alice.post("/api/export/share", json={"candidate_id": world.ids["found"]})
    assert hidden.status_code == 404
    assert alice.post("/api/export/share", json={"candidate_id": 10**9}).status_code == 404
    too_long = alice.post(
        "/api/export/share", json={"candidate_id": world.ids["catalog"], "expires_in_hours": 1e6}
    )
    assert too_long.status_code == 422
    assert alice.post("/api/export/share", json={}).status_code == 422
    assert alice.get("/api/export/share").json()["links"] == []  # nothing stored half-way
    # The admin may revoke anyone's link.
    link = alice.post("/api/export/share", json={"candidate_id": world.ids["catalog"]}).json()
    assert _client(world, "adam").delete(f"/api/export/share/{link['id']}").status_code == 200
    assert re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", link["token"])


def test_pdf_rate_limit(world: World) -> None:
    state = world.app.state.exoguard  # type: ignore[attr-defined]
    state.settings = state.settings.model_copy(update={"rate_limit_per_minute": 1})
    client = _client(world, "rita")
    body = {"candidate_ids": [world.ids["catalog"]], "plots": False}
    assert client.post("/api/export/pdf", json=body).status_code == 200
    limited = client.post("/api/export/pdf", json=body)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert "rate limit" in limited.json()["detail"]
