"""One rule for "the newest prediction of a candidate", pinned where every caller reads it.

Newest is the highest id, not the latest ``created_at``: the test stores an older-id
prediction with a later timestamp, and every reader (repository, results page, export,
monitoring, the candidate state, the in-memory rule of the vetting queue) must ignore it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from exoguard.reports.export import ExportFilters, export_rows
from exoguard.services.monitoring import latest_predictions
from exoguard.store.db import make_engine, make_sessionmaker
from exoguard.store.models import Prediction
from exoguard.store.repositories import (
    CandidateRepository,
    ModelVersionRepository,
    NewPrediction,
    PredictionRepository,
    UserRepository,
    newest_per_candidate,
    newest_prediction_ids,
)
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.state import state_for_candidate
from exoguard.web.pages._queries import ResultFilters, results

pytestmark = pytest.mark.integration

_LATER = datetime(2031, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["default", "sqlite"])
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """The rolled-back `db_session` (PostgreSQL when reachable), then a throw-away SQLite file."""
    if request.param == "default":
        yield request.getfixturevalue("db_session")
        return
    engine = make_engine(request.getfixturevalue("sqlite_url"))
    with make_sessionmaker(engine)() as sqlite_session:
        yield sqlite_session
    engine.dispose()


def _stored(session: Session) -> tuple[int, int, Prediction, Prediction]:
    """Two public candidates; the first has an old-id prediction stamped later than its
    higher-id one. Returns (first id, second id, the newer-by-id, the later-stamped)."""
    CandidateRepository(session).upsert_many(
        pd.DataFrame(
            {
                "object_id": ["K00752.01", "K00752.02"],
                "mission": ["kepler", "kepler"],
                "label": ["candidate", "candidate"],
                "period_days": [9.488036, 54.418383],
            }
        )
    )
    first, second = (c.id for c in CandidateRepository(session).list(sort="id"))
    ModelVersionRepository(session).create(
        version_id="gbm-0001",
        kind="gbm",
        config={},
        data_hash="sha256:abc",
        artifact_path="models/gbm-0001.joblib",
    )
    repo = PredictionRepository(session)
    stamped_later = repo.create(
        candidate_id=first,
        model_version="gbm-0001",
        probability=0.1,
        uncertainty=0.05,
        label="false_positive",
    )
    stamped_later.created_at = _LATER
    newer = repo.create(
        candidate_id=first,
        model_version="gbm-0001",
        probability=0.9,
        uncertainty=0.05,
        label="planet",
    )
    newer.created_at = _LATER - timedelta(days=365)
    # one bulk insert: the two rows of the second candidate share one created_at
    repo.create_many(
        NewPrediction(
            candidate_id=second,
            model_version="gbm-0001",
            probability=p,
            uncertainty=0.05,
            label="planet" if p > 0.5 else "false_positive",
        )
        for p in (0.2, 0.7)
    )
    session.flush()
    assert newer.id > stamped_later.id and newer.created_at < stamped_later.created_at
    return first, second, newer, stamped_later


def test_newest_is_the_highest_id_for_every_reader(session: Session) -> None:
    first, second, newer, stamped_later = _stored(session)
    repo = PredictionRepository(session)

    sub = newest_prediction_ids()
    newest_ids = dict(session.execute(select(sub.c.candidate_id, sub.c.id)).tuples().all())
    assert newest_ids[first] == newer.id
    latest = repo.latest_by_candidate()
    assert latest[first].id == newer.id
    # a created_at tie (one bulk insert) is broken by id: the later row of the batch wins
    assert latest[second].probability == pytest.approx(0.7, abs=1e-12)
    assert repo.latest_by_candidate([first, first])[first].id == newer.id
    assert repo.latest_for_candidate(first) is newer
    assert repo.latest_for_candidate(first, model_version="other") is None

    assert newest_per_candidate([newer, stamped_later])[first] is newer
    assert newest_per_candidate([stamped_later, newer])[first] is newer

    assert latest_predictions(session, "gbm-0001", [first, second]) == {
        first: (pytest.approx(0.9, abs=1e-12), "planet"),
        second: (pytest.approx(0.7, abs=1e-12), "planet"),
    }

    policy = QueuePolicy()
    rows, total = results(
        session, ResultFilters(sort="object_id"), user=None, policy=policy, limit=10
    )
    assert total == 2
    assert {c.id: p.id for c, p, *_ in rows}[first] == newer.id

    admin = UserRepository(session).create(
        email="newest@example.org", password_hash="x", role="admin"
    )
    exported = {
        r["candidate_id"]: r for r in export_rows(session, filters=ExportFilters(), user=admin)
    }
    assert exported[first]["probability"] == pytest.approx(0.9, abs=1e-12)
    assert exported[second]["probability"] == pytest.approx(0.7, abs=1e-12)

    assert state_for_candidate(session, first, policy=policy).source == "model"
    assert state_for_candidate(session, first, policy=policy).key == "planet"
