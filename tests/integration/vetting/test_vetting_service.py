"""The DB-backed vetting service: queue, votes, consensus, provenance, reputations, stats.

Runs on the test database (PostgreSQL in CI) inside a rolled-back transaction per test.
"""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from exoguard.config import get_settings
from exoguard.errors import GoneError, NotFoundError, ValidationError
from exoguard.store.models import Candidate, Prediction, VettingItem, Vote, VoteChange
from exoguard.store.repositories import (
    CandidateRepository,
    ModelVersionRepository,
    PredictionRepository,
    UserRepository,
)
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.service.config import VettingConfig, policy_from_settings
from exoguard.vetting.service.consensus import settle
from exoguard.vetting.service.enqueue import enqueue_uncertain, top_up_gold
from exoguard.vetting.service.serving import queue_for_user
from exoguard.vetting.service.standing import reputations_of
from exoguard.vetting.service.stats import stats
from exoguard.vetting.service.votes import COMMENT_MAX_CHARS, VoteOutcome, submit_vote

pytestmark = pytest.mark.integration

WEIGHTED = VettingConfig(method="weighted", min_votes=3)
POLICY = QueuePolicy(uncertainty_threshold=0.15, ambiguous_band=(0.35, 0.65), gold_rate=0.0)


def _users(session: Session, n: int) -> list[int]:
    repo = UserRepository(session)
    tag = uuid.uuid4().hex[:8]
    return [
        repo.create(email=f"vetter{i}-{tag}@example.org", password_hash="x", name=f"v{i}").id
        for i in range(n)
    ]


def _candidates(session: Session, labels: list[str]) -> list[int]:
    tag = uuid.uuid4().hex[:8]
    frame = pd.DataFrame(
        {
            "mission": ["other"] * len(labels),
            "object_id": [f"SVC-{tag}-{i}" for i in range(len(labels))],
            "host_id": [f"HOST-{tag}-{i // 2}" for i in range(len(labels))],
            "label": labels,
            "period_days": np.linspace(1.0, 30.0, len(labels)),
            "depth_ppm": np.linspace(100.0, 5000.0, len(labels)),
        }
    )
    CandidateRepository(session).upsert_many(frame)
    rows = session.scalars(
        select(Candidate.id)
        .where(Candidate.object_id.in_(frame["object_id"].tolist()))
        .order_by(Candidate.id)
    ).all()
    return [int(r) for r in rows]


def _version(session: Session) -> str:
    repo = ModelVersionRepository(session)
    version_id = f"gbm-{uuid.uuid4().int % 10**8:08d}"
    repo.create(
        version_id=version_id, kind="gbm", config={}, data_hash="0" * 64, artifact_path="unused"
    )
    return version_id


def _predict(
    session: Session, candidate_ids: list[int], probs: list[float], uncs: list[float]
) -> list[Prediction]:
    version = _version(session)
    repo = PredictionRepository(session)
    return [
        repo.create(
            candidate_id=c,
            model_version=version,
            probability=p,
            uncertainty=u,
            label="planet" if p >= 0.5 else "false_positive",
        )
        for c, p, u in zip(candidate_ids, probs, uncs, strict=True)
    ]


def _open_items(session: Session, n: int) -> list[int]:
    """n regular open items (uncertain predictions), highest uncertainty first."""
    cands = _candidates(session, ["candidate"] * n)
    uncs = list(np.linspace(0.5, 0.2, n))
    preds = _predict(session, cands, [0.5] * n, uncs)
    result = enqueue_uncertain(session, preds, policy=POLICY)
    assert len(result.enqueued) == n
    return result.enqueued


# ---------------------------------------------------------------------------------------------
# Queue
# ---------------------------------------------------------------------------------------------


def test_enqueue_selects_uncertain_and_skips_open_and_curated(db_session: Session) -> None:
    cands = _candidates(db_session, ["candidate"] * 5)
    # uncertain | ambiguous band | confident | confident | uncertain
    probs = [0.9, 0.5, 0.95, 0.02, 0.1]
    uncs = [0.30, 0.01, 0.02, 0.01, 0.20]
    preds = _predict(db_session, cands, probs, uncs)

    first = enqueue_uncertain(db_session, preds, policy=POLICY)
    assert len(first.enqueued) == 3 and first.certain == 2
    items = [db_session.get(VettingItem, i) for i in first.enqueued]
    assert [it.candidate_id for it in items if it] == [cands[0], cands[1], cands[4]]
    assert [it.priority for it in items if it] == pytest.approx([0.30, 0.01, 0.20])
    assert all(it is not None and it.prediction_id is not None for it in items)

    again = enqueue_uncertain(db_session, preds, policy=POLICY)
    assert again.enqueued == [] and again.already_open == 3

    CandidateRepository(db_session).set_label(cands[2], label="planet", origin="curated")
    curated = _predict(db_session, [cands[2]], [0.5], [0.4])
    result = enqueue_uncertain(db_session, curated, policy=POLICY)
    assert result.enqueued == [] and result.curated == 1


def test_gold_items_come_from_labelled_catalog_candidates(db_session: Session) -> None:
    known = _candidates(db_session, ["planet", "false_positive"] * 15 + ["candidate"] * 10)
    items = _open_items(db_session, 30)
    rng = np.random.default_rng(1)
    added = top_up_gold(db_session, gold_rate=0.25, rng=rng, pool_min=0)
    # target = ceil(0.25 / 0.75 * 30) = 10 gold items for 30 regular ones
    assert len(added) == 10
    golds = [db_session.get(VettingItem, i) for i in added]
    labels = {c.id: c.label for c in db_session.scalars(select(Candidate))}
    for item in golds:
        assert item is not None and item.is_gold and item.candidate_id in known
        assert item.gold_label == labels[item.candidate_id]
        assert item.gold_label in ("planet", "false_positive")
    assert top_up_gold(db_session, gold_rate=0.25, rng=rng, pool_min=0) == []
    assert top_up_gold(db_session, gold_rate=0.0, rng=rng) == []
    assert len(items) == 30


def test_queue_never_serves_an_item_twice_and_mixes_gold(db_session: Session) -> None:
    _candidates(db_session, ["planet", "false_positive"] * 20)
    regular = _open_items(db_session, 12)
    gold = top_up_gold(db_session, gold_rate=0.3, rng=np.random.default_rng(2), pool_min=6)
    assert len(gold) == 6
    (user,) = _users(db_session, 1)
    policy = QueuePolicy(gold_rate=0.3)
    rng = np.random.default_rng(3)

    first = queue_for_user(db_session, user, limit=4, rng=rng, policy=policy)
    # regular items come by priority (uncertainty), highest first
    first_regular = [e.item_id for e in first if e.item_id in regular]
    assert first_regular == regular[: len(first_regular)]
    for entry in (e.to_dict() for e in first):
        assert "label" not in entry and "is_gold" not in entry and "gold_label" not in entry
        if entry["item_id"] in regular:
            assert entry["probability"] == pytest.approx(0.5) and entry["model_version"]

    served: list[int] = []
    for _ in range(30):
        batch = queue_for_user(db_session, user, limit=4, rng=rng, policy=policy)
        if not batch:
            break
        ids = [e.item_id for e in batch]
        assert len(set(ids)) == len(ids)
        for item_id in ids:
            submit_vote(
                db_session,
                item_id=item_id,
                user_id=user,
                label="planet",
                confidence=3,
                config=WEIGHTED,
            )
        served += ids
    assert len(served) == len(set(served)), "an item was served twice to one vetter"
    assert set(served) == set(regular) | set(gold)
    assert queue_for_user(db_session, user, limit=4, rng=rng, policy=policy) == []


def test_queue_rejects_bad_limit(db_session: Session) -> None:
    (user,) = _users(db_session, 1)
    with pytest.raises(ValidationError, match="limit"):
        queue_for_user(
            db_session, user, limit=0, rng=np.random.default_rng(0), policy=QueuePolicy()
        )


# ---------------------------------------------------------------------------------------------
# Votes and consensus
# ---------------------------------------------------------------------------------------------


def test_vote_validation_and_duplicates(db_session: Session) -> None:
    (item,) = _open_items(db_session, 1)
    (user,) = _users(db_session, 1)

    def vote(**kw: object) -> VoteOutcome:
        args: dict[str, object] = {"item_id": item, "user_id": user, "label": "planet"}
        args.update({"confidence": 3, **kw})
        return submit_vote(db_session, config=WEIGHTED, **args)  # type: ignore[arg-type]

    with pytest.raises(ValidationError, match="planet, false_positive"):
        vote(label="candidate")
    for bad in (0, 6, True, "3", 2.5):
        with pytest.raises(ValidationError, match="confidence"):
            vote(confidence=bad)
    with pytest.raises(ValidationError, match="comment"):
        vote(comment="x" * (COMMENT_MAX_CHARS + 1))
    with pytest.raises(NotFoundError):
        vote(item_id=10**9)
    with pytest.raises(NotFoundError):
        vote(user_id=10**9)

    outcome = vote(comment="  looks like a V shape  ")
    assert outcome.n_votes == 1 and not outcome.settled and not outcome.changed
    stored = db_session.get(Vote, outcome.vote_id)
    assert stored is not None and stored.comment == "looks like a V shape"
    # A second vote of the same user changes theirs: the last one counts, history kept.
    second = vote(label="false_positive", confidence=5, comment="odd/even differ")
    assert second.changed and second.vote_id == outcome.vote_id and second.n_votes == 1
    assert second.previous == {
        "label": "planet",
        "confidence": 3,
        "comment": "looks like a V shape",
    }
    rows = db_session.scalars(select(Vote).where(Vote.item_id == item)).all()
    assert [(v.label, v.confidence, v.comment) for v in rows] == [
        ("false_positive", 5, "odd/even differ")
    ]
    assert rows[0].updated_at is not None
    history = db_session.scalars(
        select(VoteChange).where(VoteChange.item_id == item).order_by(VoteChange.id)
    ).all()
    assert [(h.label, h.confidence) for h in history] == [("planet", 3), ("false_positive", 5)]


def test_consensus_settles_item_updates_candidate_and_reputations(db_session: Session) -> None:
    (item_id,) = _open_items(db_session, 1)
    users = _users(db_session, 4)
    item = db_session.get(VettingItem, item_id)
    assert item is not None
    candidate = db_session.get(Candidate, item.candidate_id)
    assert candidate is not None and candidate.label == "candidate"

    # New vetters weigh the same (prior); 2 of 3 is a share of 0.667 < 0.70: no consensus.
    outcomes = [
        submit_vote(
            db_session, item_id=item_id, user_id=u, label=lab, confidence=5, config=WEIGHTED
        )
        for u, lab in zip(users[:3], ["false_positive", "false_positive", "planet"], strict=True)
    ]
    last = outcomes[-1]
    assert last.consensus is not None and not last.consensus.consensus
    assert last.consensus.share == pytest.approx(2 / 3)
    assert not any(o.settled for o in outcomes)

    final = submit_vote(
        db_session,
        item_id=item_id,
        user_id=users[3],
        label="false_positive",
        confidence=5,
        comment="secondary eclipse",
        config=WEIGHTED,
    )
    assert final.settled and final.consensus is not None
    assert final.consensus.label == "false_positive"
    assert final.consensus.share == pytest.approx(0.75)
    assert final.to_dict()["settled"] is True

    db_session.refresh(item)
    assert item.status == "settled" and item.consensus_label == "false_positive"
    assert item.consensus_share == pytest.approx(0.75)
    db_session.refresh(candidate)
    assert candidate.label == "false_positive" and candidate.origin == "curated"
    provenance = (candidate.features or {})["vetting"]
    assert provenance["item_id"] == item_id and provenance["n_votes"] == 4
    assert provenance["previous_label"] == "candidate"
    assert provenance["method"] == "weighted"
    assert sorted(v["user_id"] for v in provenance["votes"]) == sorted(users)
    assert {v["comment"] for v in provenance["votes"]} >= {"secondary eclipse"}
    assert provenance["prediction"]["probability"] == pytest.approx(0.5)

    # Agreement with the consensus raised 3 reputations above the prior; the dissenter's fell.
    reps = reputations_of(db_session, users)
    prior = WEIGHTED.reputation.prior_weight
    stored = {u: UserRepository(db_session).require(u).reputation for u in users}
    for u in (users[0], users[1], users[3]):
        assert reps[u].consensus_agree == 1 and reps[u].weight > prior
        assert stored[u] == pytest.approx(reps[u].weight)
    assert reps[users[2]].weight < prior

    # The item has left the queue: a later vote is refused and the rule does not fire again.
    (late,) = _users(db_session, 1)
    with pytest.raises(GoneError):
        submit_vote(
            db_session, item_id=item_id, user_id=late, label="planet", confidence=1, config=WEIGHTED
        )
    assert (
        settle(  # the conditional UPDATE refuses a second settlement
            db_session, item, final.consensus, [], {}, config=WEIGHTED
        )
        is False
    )


def test_confidence_and_reputation_weight_the_share(db_session: Session) -> None:
    items = _open_items(db_session, 2)
    users = _users(db_session, 3)
    # confidence 5, 5, 1: weights 1, 1, 0.5 of the prior: planet share 2 / 2.5 = 0.8 > 0.70
    for u, conf, lab in zip(users, (5, 5, 1), ("planet", "planet", "false_positive"), strict=True):
        outcome = submit_vote(
            db_session, item_id=items[0], user_id=u, label=lab, confidence=conf, config=WEIGHTED
        )
    assert outcome.settled and outcome.consensus is not None
    assert outcome.consensus.share == pytest.approx(0.8)

    # users[2] disagreed with consensus: their vote now weighs less than a new vetter's.
    reps = reputations_of(db_session, users)
    assert reps[users[2]].weight < reps[users[0]].weight


def test_gold_votes_move_reputation_and_never_settle(db_session: Session) -> None:
    _candidates(db_session, ["planet"] * 8)
    _open_items(db_session, 1)
    gold = top_up_gold(db_session, gold_rate=0.5, rng=np.random.default_rng(5), pool_min=8)
    assert len(gold) == 8
    good, bad = _users(db_session, 2)
    for item_id in gold:
        for user, label in ((good, "planet"), (bad, "false_positive")):
            outcome = submit_vote(
                db_session,
                item_id=item_id,
                user_id=user,
                label=label,
                confidence=4,
                config=WEIGHTED,
            )
            assert outcome.consensus is None and not outcome.settled
    reps = reputations_of(db_session, [good, bad])
    assert reps[good].gold_total == 8 and reps[good].gold_accuracy == 1.0
    assert reps[bad].gold_accuracy == 0.0
    assert reps[good].weight > 0.7 and reps[bad].weight == pytest.approx(0.01)
    assert UserRepository(db_session).require(bad).reputation == pytest.approx(0.01)
    for item_id in gold:
        item = db_session.get(VettingItem, item_id)
        assert item is not None and item.status == "open"
        assert db_session.get(Candidate, item.candidate_id).origin == "catalog"  # type: ignore[union-attr]


def test_dawid_skene_method_settles(db_session: Session) -> None:
    config = VettingConfig(method="dawid_skene", min_votes=3)
    (item_id,) = _open_items(db_session, 1)
    users = _users(db_session, 3)
    for u in users:
        outcome = submit_vote(
            db_session, item_id=item_id, user_id=u, label="planet", confidence=3, config=config
        )
    assert outcome.settled and outcome.consensus is not None
    assert outcome.consensus.method == "dawid_skene" and outcome.consensus.label == "planet"
    item = db_session.get(VettingItem, item_id)
    assert item is not None and item.status == "settled"
    candidate = db_session.get(Candidate, item.candidate_id)
    assert (
        candidate is not None and (candidate.features or {})["vetting"]["method"] == "dawid_skene"
    )


def test_stats_per_item_user_and_overall(db_session: Session) -> None:
    _candidates(db_session, ["planet", "false_positive"] * 5)
    items = _open_items(db_session, 3)
    gold = top_up_gold(db_session, gold_rate=0.5, rng=np.random.default_rng(7), pool_min=2)
    users = _users(db_session, 4)
    for u in users[:3]:
        submit_vote(
            db_session, item_id=items[0], user_id=u, label="planet", confidence=4, config=WEIGHTED
        )
    submit_vote(
        db_session,
        item_id=items[1],
        user_id=users[0],
        label="false_positive",
        confidence=2,
        config=WEIGHTED,
    )
    gold_item = db_session.get(VettingItem, gold[0])
    assert gold_item is not None
    submit_vote(
        db_session,
        item_id=gold[0],
        user_id=users[1],
        label=gold_item.gold_label or "planet",
        confidence=5,
        config=WEIGHTED,
    )

    out = stats(db_session, user_id=users[3], config=WEIGHTED)
    overall = out["overall"]
    assert overall["items_settled"] == 1 and overall["settled_planet"] == 1
    assert overall["items_open"] == 2 and overall["gold_items_open"] == len(gold)
    assert overall["votes"] == 5 and overall["vetters"] == 3
    assert overall["mean_votes_per_settled_item"] == pytest.approx(3.0)
    assert overall["gold_votes"] == 1 and overall["gold_accuracy"] == 1.0
    assert overall["method"] == "weighted" and overall["min_votes"] == 3

    by_user = {row["user_id"]: row for row in out["users"]}
    assert by_user[users[0]]["n_votes"] == 2 and by_user[users[0]]["consensus_agree"] == 1
    assert by_user[users[1]]["gold_total"] == 1 and by_user[users[1]]["gold_accuracy"] == 1.0
    assert out["me"]["user_id"] == users[3] and out["me"]["n_votes"] == 0
    assert out["me"]["reputation"] == pytest.approx(WEIGHTED.reputation.prior_weight)

    by_item = {row["item_id"]: row for row in out["items"]}
    assert set(by_item) == set(items)  # gold items stay hidden
    assert by_item[items[0]]["status"] == "settled" and by_item[items[0]]["n_planet"] == 3
    assert by_item[items[1]]["n_false_positive"] == 1
    assert by_item[items[1]]["mean_confidence"] == pytest.approx(2.0)
    assert "is_gold" not in by_item[items[0]]

    admin_view = stats(db_session, include_gold=True, config=WEIGHTED)
    assert {row["item_id"] for row in admin_view["items"]} == set(items) | set(gold)
    open_only = stats(db_session, item_status="open", config=WEIGHTED)
    assert all(row["status"] == "open" for row in open_only["items"])


def test_items_with_many_votes_stop_being_served(db_session: Session) -> None:
    items = _open_items(db_session, 2)
    users = _users(db_session, 3)
    for u, label in zip(users[:2], ("planet", "false_positive"), strict=True):
        submit_vote(
            db_session, item_id=items[0], user_id=u, label=label, confidence=3, config=WEIGHTED
        )
    capped = QueuePolicy(gold_rate=0.0, max_votes_per_item=2)
    served = queue_for_user(
        db_session, users[2], limit=5, rng=np.random.default_rng(0), policy=capped
    )
    assert [e.item_id for e in served] == [items[1]]
    skipped = queue_for_user(
        db_session,
        users[2],
        limit=5,
        rng=np.random.default_rng(0),
        policy=QueuePolicy(gold_rate=0.0),
        exclude_item_ids=[items[1]],
    )
    assert [e.item_id for e in skipped] == [items[0]]
    assert skipped[0].n_votes == 2


def test_enqueue_tops_up_gold_items(db_session: Session) -> None:
    _candidates(db_session, ["planet", "false_positive"] * 10)
    cands = _candidates(db_session, ["candidate"] * 6)
    preds = _predict(db_session, cands, [0.5] * 6, [0.3] * 6)
    policy = QueuePolicy(gold_rate=0.25)
    result = enqueue_uncertain(
        db_session, preds, policy=policy, rng=np.random.default_rng(4), gold_pool_min=0
    )
    assert len(result.enqueued) == 6 and len(result.gold_added) == 2  # ceil(6 / 3)
    assert result.to_dict()["gold_added"] == 2
    default = policy_from_settings(get_settings())
    assert default.gold_rate == get_settings().vetting_gold_rate
    assert default.max_votes_per_item == 3 * get_settings().vetting_min_votes
