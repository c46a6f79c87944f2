"""Issue 15, item 6 through the API, on SQLite and PostgreSQL: a vetter changes their own vote
until the item settles (history kept), comments are shown to researchers and to vetters who
voted, each vetter reads their own history, the queue count matches its list, and after
consensus the API, the CSV and the PDF all give the candidate's one state.

The attacker's view: another user's vote cannot be changed (the vote is always the caller's;
a ``user_id`` field is refused), a settled item refuses votes (410), comments stay hidden from
a vetter who has not voted, and a history lists only the caller's votes.
"""

from __future__ import annotations

import csv
import io
import re
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import Api, api_world  # noqa: E402

from exoguard.store.db import session_scope  # noqa: E402
from exoguard.store.models import Candidate, Vote, VoteChange  # noqa: E402
from exoguard.store.repositories import (  # noqa: E402
    CandidateRepository,
    ModelVersionRepository,
    PredictionRepository,
    VettingRepository,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest,
    postgres_base_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Api]:
    if request.param == "postgresql" and postgres_base_url is None:
        pytest.skip("PostgreSQL unreachable (CI always has it)")
    base = postgres_base_url if request.param == "postgresql" else None
    with api_world(
        base,
        tmp_path_factory.mktemp(f"api_votes_{request.param}"),
        with_model=False,
        EXOGUARD_VET_MIN_VOTES=2,
        EXOGUARD_VET_GOLD_RATE=0.0,
    ) as world:
        assert world.factory.kw["bind"].dialect.name == request.param
        yield world


def _item(api: Api, *, gold: bool = False) -> tuple[int, int]:
    """A new open item on a new candidate predicted "false_positive" with a wide spread."""
    name = f"VOTE-{uuid.uuid4().hex[:8]}"
    with session_scope(api.factory) as s:
        frame = pd.DataFrame(
            {"mission": "other", "object_id": [name], "label": "candidate", "period_days": 4.2}
        )
        CandidateRepository(s).upsert_many(frame)
        candidate_id = int(s.scalars(select(Candidate.id).where(Candidate.object_id == name)).one())
        version = f"gbm-{uuid.uuid4().hex[:8]}"
        ModelVersionRepository(s).create(
            version_id=version, kind="gbm", config={}, data_hash="0", artifact_path="unused"
        )
        prediction = PredictionRepository(s).create(
            candidate_id=candidate_id,
            model_version=version,
            probability=0.1,
            uncertainty=0.4,
            label="false_positive",
        )
        item = VettingRepository(s).enqueue(
            candidate_id=candidate_id,
            prediction_id=prediction.id,
            priority=0.4,
            is_gold=gold,
            gold_label="planet" if gold else None,
        )
        return item.id, candidate_id


def _vote(client, item_id: int, label: str, confidence: int = 4, comment: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/vetting/submit",
        json={"item_id": item_id, "label": label, "confidence": confidence, "comment": comment},
    )


def test_a_vetter_changes_their_vote_and_the_history_is_kept(api: Api) -> None:
    item_id, _ = _item(api)
    with api.client("explorer") as client:
        first = _vote(client, item_id, "planet", 2, "looks U-shaped")
        assert first.status_code == 201, first.text
        assert first.json()["changed"] is False and first.json()["n_votes"] == 1
        second = _vote(client, item_id, "false_positive", 5, "secondary at phase 0.5")
        assert second.status_code == 200, second.text
        body = second.json()
        assert body["changed"] is True and body["n_votes"] == 1
        assert body["previous"] == {"label": "planet", "confidence": 2, "comment": "looks U-shaped"}
        assert body["state"]["key"] == "uncertain"
        history = client.get("/api/vetting/history").json()
    mine = next(v for v in history["votes"] if v["item_id"] == item_id)
    assert (mine["label"], mine["confidence"]) == ("false_positive", 5)
    assert [(c["label"], c["confidence"]) for c in mine["changes"]] == [
        ("planet", 2),
        ("false_positive", 5),
    ]
    assert mine["outcome"] == "open"
    assert history["reputation"]["n_votes"] >= 1 and history["reputation"]["reputation"] > 0
    assert api.count(Vote, item_id=item_id) == 1
    assert api.count(VoteChange, item_id=item_id) == 2


def test_attacker_cannot_change_another_users_vote(api: Api) -> None:
    item_id, _ = _item(api)
    victim, attacker = api.users["explorer"], api.users["other"]
    with api.client("explorer") as client:
        assert _vote(client, item_id, "planet", 5, "clean transit").status_code == 201
    with api.client("other") as client:
        # a user_id field is refused outright: the vote is always the caller's
        forged = client.post(
            "/api/vetting/submit",
            json={
                "item_id": item_id,
                "label": "false_positive",
                "confidence": 5,
                "user_id": victim.id,
            },
        )
        assert forged.status_code == 422 and "user_id" in forged.text
        own = _vote(client, item_id, "false_positive", 1)
        assert own.status_code == 201 and own.json()["vote"]["user_id"] == attacker.id
        # the attacker's history holds their vote only
        votes = client.get("/api/vetting/history").json()["votes"]
        assert {v["item_id"] for v in votes} == {item_id}
        assert all(v["label"] == "false_positive" for v in votes)
    with session_scope(api.factory) as s:
        rows = {
            v.user_id: (v.label, v.confidence)
            for v in s.scalars(select(Vote).where(Vote.item_id == item_id))
        }
    assert rows == {victim.id: ("planet", 5), attacker.id: ("false_positive", 1)}


def test_a_settled_item_refuses_votes_and_changes(api: Api) -> None:
    item_id, candidate_id = _item(api)
    with api.client("explorer") as client:
        assert _vote(client, item_id, "false_positive", 5).status_code == 201
    with api.client("other") as client:
        settled = _vote(client, item_id, "false_positive", 5)
        assert settled.status_code == 201 and settled.json()["settled"] is True
        assert settled.json()["state"]["key"] == "false_positive"
        assert settled.json()["state"]["source"] == "vetting"
    with api.client("explorer") as client:
        late = _vote(client, item_id, "planet", 5)
        assert late.status_code == 410 and "settled" in late.json()["detail"]
    with api.client("researcher") as client:
        assert _vote(client, item_id, "planet", 5).status_code == 410
    with session_scope(api.factory) as s:
        labels = sorted(v.label for v in s.scalars(select(Vote).where(Vote.item_id == item_id)))
    assert labels == ["false_positive", "false_positive"]


def test_comments_go_to_researchers_and_to_vetters_who_voted(api: Api) -> None:
    item_id, _ = _item(api)
    url = f"/api/vetting/items/{item_id}/comments"
    with api.client("explorer") as client:
        assert _vote(client, item_id, "planet", 3, "odd and even depths agree").status_code == 201
        mine = client.get(url)
        assert mine.status_code == 200
        assert [(c["comment"], c["mine"]) for c in mine.json()["comments"]] == [
            ("odd and even depths agree", True)
        ]
    with api.client("other") as client:
        hidden = client.get(url)
        assert hidden.status_code == 403 and "voted" in hidden.json()["detail"]
        assert client.get(f"/api/vetting/items/{item_id}").json()["comments"] is None
    with api.client("researcher") as client:
        seen = client.get(url).json()["comments"]
        assert [c["comment"] for c in seen] == ["odd and even depths agree"]
        assert seen[0]["mine"] is False
    with api.client() as client:
        assert client.get(url).status_code == 401


def test_after_consensus_api_csv_and_pdf_give_one_state(api: Api) -> None:
    item_id, candidate_id = _item(api)
    for who in ("explorer", "other"):
        with api.client(who) as client:
            assert _vote(client, item_id, "planet", 5).status_code == 201
    with api.client("researcher") as client:
        state = client.get(f"/api/vetting/items/{item_id}").json()["state"]
        assert state["key"] == "planet" and state["source"] == "vetting"
        assert state["words"].startswith("planet by the vetters' consensus")
        exported = client.post("/api/export/csv", json={"candidate_ids": [candidate_id]})
        assert exported.status_code == 200, exported.text
        (row,) = list(csv.DictReader(io.StringIO(exported.text)))
        assert (row["state"], row["state_source"], row["state_words"]) == (
            "planet",
            "vetting",
            state["words"],
        )
        assert row["predicted_label"] == "false_positive"  # the model said otherwise
        pdf = client.post("/api/export/pdf", json={"candidate_ids": [candidate_id], "plots": False})
        assert pdf.status_code == 200, pdf.text
        # /results shows and filters by the same state (it used to show the model's verdict)
        with session_scope(api.factory) as s:
            key = s.get(Candidate, candidate_id).object_id  # type: ignore[union-attr]
        link = f'href="/candidates/{candidate_id}"'
        listed = {
            verdict: client.get("/results", params={"q": key, "verdict": verdict}).text
            for verdict in ("planet", "false_positive", "uncertain")
        }
        assert link in listed["planet"] and "consensus" in listed["planet"]
        assert link not in listed["false_positive"] and link not in listed["uncertain"]
    from exoguard.reports.service import build_report

    with session_scope(api.factory) as s:
        report = build_report(s, candidate_id, settings=api.settings, with_curves=False)
    assert report.state is not None and report.state.to_dict() == state


def test_queue_count_matches_the_list_and_hides_gold(api: Api) -> None:
    gold, _ = _item(api, gold=True)
    regular, _ = _item(api)
    with api.client("admin") as client:  # has voted on nothing
        page = client.get("/vetting")
        assert page.status_code == 200
    listed = [int(i) for i in re.findall(r'href="/vetting/(\d+)">Vet', page.text)]
    shown = re.search(r'<p class="stat" id="n-open">([\d,]+)</p>', page.text)
    assert shown is not None
    assert int(shown.group(1).replace(",", "")) == len(listed)
    assert regular in listed and gold not in listed
