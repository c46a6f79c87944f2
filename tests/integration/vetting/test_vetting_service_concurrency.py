"""Concurrent writers: one vote per user and item, one settlement, one open item per candidate.

Each thread uses its own connection and commits, as API requests do. Every test runs twice: on
a fresh SQLite file (the embedded default, whose transactions begin IMMEDIATE so writers queue
instead of failing on "database is locked") and on the real PostgreSQL (row locks), where the
rows are deleted at the end. Without CI the PostgreSQL run skips when the server is
unreachable; with CI=true the `db_url` fixture fails instead, it never falls back.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from exoguard.errors import ConflictError, GoneError
from exoguard.store.db import make_engine, make_sessionmaker, session_scope
from exoguard.store.models import Candidate, ModelVersion, User, VettingItem, Vote, VoteChange
from exoguard.store.repositories import (
    CandidateRepository,
    ModelVersionRepository,
    PredictionRepository,
    UserRepository,
)
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.service.config import VettingConfig
from exoguard.vetting.service.enqueue import enqueue_uncertain
from exoguard.vetting.service.standing import reputations_of
from exoguard.vetting.service.votes import VoteOutcome, submit_vote

pytestmark = pytest.mark.integration

CONFIG = VettingConfig(method="weighted", min_votes=3)
POLICY = QueuePolicy(uncertainty_threshold=0.1, ambiguous_band=None, gold_rate=0.0)


class World:
    """Committed rows of one test, removed afterwards."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.tag = uuid.uuid4().hex[:10]
        self.user_ids: list[int] = []
        self.candidate_ids: list[int] = []
        self.version_ids: list[str] = []

    def users(self, n: int) -> list[int]:
        with session_scope(self.factory) as s:
            repo = UserRepository(s)
            ids = [
                repo.create(email=f"c{i}-{self.tag}@example.org", password_hash="x").id
                for i in range(len(self.user_ids), len(self.user_ids) + n)
            ]
        self.user_ids += ids
        return ids

    def items(self, n: int) -> list[int]:
        with session_scope(self.factory) as s:
            start = len(self.candidate_ids)
            names = [f"CC-{self.tag}-{i}" for i in range(start, start + n)]
            frame = pd.DataFrame(
                {"mission": "other", "object_id": names, "label": "candidate", "period_days": 3.0}
            )
            CandidateRepository(s).upsert_many(frame)
            cands = [
                int(c)
                for c in s.scalars(
                    select(Candidate.id)
                    .where(Candidate.object_id.in_(names))
                    .order_by(Candidate.id)
                )
            ]
            version = f"gbm-c{self.tag}{len(self.version_ids)}"
            ModelVersionRepository(s).create(
                version_id=version, kind="gbm", config={}, data_hash="0", artifact_path="unused"
            )
            preds = [
                PredictionRepository(s).create(
                    candidate_id=c,
                    model_version=version,
                    probability=0.5,
                    uncertainty=0.4,
                    label="planet",
                )
                for c in cands
            ]
            result = enqueue_uncertain(s, preds, policy=POLICY)
        self.candidate_ids += cands
        self.version_ids.append(version)
        return result.enqueued

    def cleanup(self) -> None:
        with session_scope(self.factory) as s:
            if self.candidate_ids:
                s.execute(delete(Candidate).where(Candidate.id.in_(self.candidate_ids)))
            if self.user_ids:
                s.execute(delete(User).where(User.id.in_(self.user_ids)))
            if self.version_ids:
                s.execute(delete(ModelVersion).where(ModelVersion.id.in_(self.version_ids)))


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "sqlite":
        engine = make_engine(request.getfixturevalue("sqlite_url"))
        try:
            yield World(make_sessionmaker(engine))
        finally:
            engine.dispose()
        return
    db_backend: str = request.getfixturevalue("db_backend")
    if db_backend != "postgresql":
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail("CI=true needs PostgreSQL for the concurrency tests", pytrace=False)
        pytest.skip("PostgreSQL unreachable (CI always has it)")
    db_engine: Engine = request.getfixturevalue("db_engine")
    w = World(make_sessionmaker(db_engine))
    try:
        yield w
    finally:
        w.cleanup()


def _race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(0..n-1) in n threads released together; returns results or exceptions."""
    barrier = threading.Barrier(n)

    def run(i: int) -> Any:
        barrier.wait(timeout=30)
        try:
            return fn(i)
        except Exception as exc:  # collected and asserted by the test
            return exc

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(run, range(n)))


def _vote(world: World, item_id: int, user_id: int, label: str = "planet") -> VoteOutcome:
    with session_scope(world.factory) as s:
        return submit_vote(
            s, item_id=item_id, user_id=user_id, label=label, confidence=4, config=CONFIG
        )


def test_concurrent_duplicate_votes_leave_one_vote(world: World) -> None:
    """Eight votes of one user at once: one vote row, the first a new vote and the other
    seven changes of it (the item lock serialises them), all eight in the history."""
    items = world.items(4)
    (user,) = world.users(1)
    labels = ["planet", "false_positive"] * 4
    for item_id in items:
        results = _race(8, lambda i, item_id=item_id: _vote(world, item_id, user, labels[i]))
        ok = [r for r in results if isinstance(r, VoteOutcome)]
        assert len(ok) == 8, results
        assert sorted(r.changed for r in ok) == [False] + [True] * 7, results
        assert all(r.n_votes == 1 for r in ok), results
    with session_scope(world.factory) as s:
        for item_id in items:
            n = s.scalar(select(func.count(Vote.id)).where(Vote.item_id == item_id))
            assert n == 1
            changes = s.scalars(
                select(VoteChange).where(VoteChange.item_id == item_id).order_by(VoteChange.id)
            ).all()
            assert len(changes) == 8
            (vote,) = s.scalars(select(Vote).where(Vote.item_id == item_id)).all()
            assert vote.label == changes[-1].label  # the last vote applied is the one that counts


def test_concurrent_final_votes_settle_exactly_once(world: World) -> None:
    items = world.items(5)
    users = world.users(2 + 6)
    early, racers = users[:2], users[2:]
    for item_id in items:
        for u in early:
            assert not _vote(world, item_id, u).settled
    for item_id in items:
        results = _race(len(racers), lambda i, item_id=item_id: _vote(world, item_id, racers[i]))
        settled = [r for r in results if isinstance(r, VoteOutcome) and r.settled]
        others = [r for r in results if not (isinstance(r, VoteOutcome) and r.settled)]
        assert len(settled) == 1, results
        # every other racer either found the item settled (410) or voted before it settled
        assert all(
            isinstance(r, GoneError) or (isinstance(r, VoteOutcome) and not r.settled)
            for r in others
        ), results
        assert settled[0].n_votes == 3

    with session_scope(world.factory) as s:
        for item_id in items:
            item = s.get(VettingItem, item_id)
            assert item is not None and item.status == "settled"
            assert item.consensus_label == "planet"
            candidate = s.get(Candidate, item.candidate_id)
            assert candidate is not None and candidate.origin == "curated"
            features = candidate.features or {}
            assert features["vetting"]["item_id"] == item_id
            assert "vetting_history" not in features  # the candidate was updated once
            n_votes = s.scalar(select(func.count(Vote.id)).where(Vote.item_id == item_id))
            assert n_votes == len(features["vetting"]["votes"]) == 3
        reps = reputations_of(s, users)
        for u in early:
            assert reps[u].consensus_total == len(items)


def test_concurrent_enqueue_opens_one_item_per_candidate(world: World) -> None:
    (item_id,) = world.items(1)
    with session_scope(world.factory) as s:
        item = s.get(VettingItem, item_id)
        assert item is not None
        candidate_id = item.candidate_id
        s.execute(delete(VettingItem).where(VettingItem.id == item_id))

    def enqueue(_: int) -> int:
        with session_scope(world.factory) as s:
            preds = PredictionRepository(s).list_for_candidate(candidate_id)
            return len(enqueue_uncertain(s, preds, policy=POLICY).enqueued)

    results = _race(6, enqueue)
    assert sorted(results) == [0, 0, 0, 0, 0, 1], results
    with session_scope(world.factory) as s:
        n_open = s.scalar(
            select(func.count(VettingItem.id)).where(
                VettingItem.candidate_id == candidate_id, VettingItem.status == "open"
            )
        )
        assert n_open == 1


def _vote_in_process(url: str, item_id: int, user_id: int, start_at: float) -> str:
    """One vote from a separate process on its own engine: "new", "changed", "conflict" or
    the error."""
    engine = make_engine(url)
    try:
        time.sleep(max(0.0, start_at - time.time()))
        with session_scope(make_sessionmaker(engine)) as s:
            outcome = submit_vote(
                s, item_id=item_id, user_id=user_id, label="planet", confidence=4, config=CONFIG
            )
        return "changed" if outcome.changed else "new"
    except ConflictError:
        return "conflict"
    except Exception as exc:  # reported to the parent, which asserts on it
        return f"{type(exc).__name__}: {exc}"
    finally:
        engine.dispose()


def test_duplicate_and_distinct_votes_from_processes(world: World) -> None:
    """Real processes (as several server replicas would be): duplicates give one vote row,
    one new vote and the rest changes of it."""
    bind = world.factory.kw["bind"]
    url = bind.url.render_as_string(hide_password=False)
    items = world.items(4)
    (user,) = world.users(1)
    n = 6
    start_at = time.time() + 2.0  # every process is connected before they all start
    jobs = [(url, items[0], user, start_at) for _ in range(n)]
    jobs += [(url, item_id, user, start_at) for item_id in items[1:]]
    with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
        results = pool.starmap(_vote_in_process, jobs, chunksize=1)
    duplicates, distinct = results[:n], results[n:]
    assert sorted(duplicates) == ["changed"] * (n - 1) + ["new"], results
    assert distinct == ["new"] * len(items[1:]), results
    with session_scope(world.factory) as s:
        for item_id in items:
            assert s.scalar(select(func.count(Vote.id)).where(Vote.item_id == item_id)) == 1
