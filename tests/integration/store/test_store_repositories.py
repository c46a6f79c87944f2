"""Repositories on the test database (PostgreSQL when reachable) and on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exoguard.errors import ConflictError, GoneError, NotFoundError, ValidationError
from exoguard.store.db import make_engine, make_sessionmaker, session_scope
from exoguard.store.models import Candidate, ModelVersion, Vote
from exoguard.store.repositories import (
    CandidateRepository,
    DatasetRepository,
    JobRepository,
    ModelMetricRepository,
    ModelVersionRepository,
    NewPrediction,
    PredictionRepository,
    ShareLinkRepository,
    UserRepository,
    VettingRepository,
    VoteRepository,
)

pytestmark = pytest.mark.integration


@pytest.fixture(params=["default", "sqlite"])
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    """The rolled-back `db_session` (PostgreSQL when reachable), then a throw-away SQLite file."""
    if request.param == "default":
        yield request.getfixturevalue("db_session")
        return
    engine = make_engine(request.getfixturevalue("sqlite_url"))
    factory = make_sessionmaker(engine)
    with factory() as sqlite_session:
        yield sqlite_session
    engine.dispose()


def _catalog() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "object_id": ["K00752.01", "K00752.02", "TOI-114.01", "K2-18 b"],
            "host_id": ["KIC 10797460", "KIC 10797460", "TIC 25155310", "K2-18"],
            "mission": ["kepler", "kepler", "tess", "k2"],
            "label": ["planet", "false_positive", "candidate", "planet"],
            "disposition": ["CONFIRMED", "FALSE POSITIVE", "PC", "CONFIRMED"],
            "source": ["koi.csv", "koi.csv", "toi.csv", "k2.csv"],
            "period_days": [9.488036, 54.418383, 3.2888, 32.94],
            "t0_bjd": [2454833.0 + 170.5387, np.nan, 2458326.1, np.nan],
            "duration_hours": [2.9575, 4.507, 2.1, np.nan],
            "depth_ppm": [615.8, 874.8, 1200.0, 2800.0],
            "impact": [0.146, 0.586, np.nan, np.nan],
            "planet_radius_rearth": [2.26, 2.83, 3.1, 2.6],
            "equilibrium_temp_k": [793.0, 443.0, np.nan, 255.0],
            "insolation_earth": [93.59, 9.11, np.nan, 1.0],
            "transit_snr": [35.8, 25.8, 12.0, np.nan],
            "star_teff_k": [5455.0, 5455.0, 6000.0, 3457.0],
            "star_logg_cgs": [4.467, 4.467, 4.3, 4.86],
            "star_radius_rsun": [0.927, 0.927, 1.2, 0.41],
            "star_mag": [15.347, 15.347, 10.1, 12.5],
        }
    )


def _model(repo: ModelVersionRepository, version_id: str) -> ModelVersion:
    return repo.create(
        version_id=version_id,
        kind="gbm",
        config={"learning_rate": 0.05},
        data_hash="sha256:abc",
        artifact_path=f"models/{version_id}.joblib",
    )


def test_candidate_upsert_twice_changes_nothing(session: Session) -> None:
    repo = CandidateRepository(session)
    first = repo.upsert_many(_catalog())
    assert first.to_dict() == {"inserted": 4, "updated": 0, "unchanged": 0, "protected": 0}
    stamp_query = select(Candidate.id, Candidate.updated_at)
    stamps = dict(session.execute(stamp_query).tuples().all())
    session.expire_all()

    second = repo.upsert_many(_catalog())
    assert second.to_dict() == {"inserted": 0, "updated": 0, "unchanged": 4, "protected": 0}
    assert repo.count() == 4
    assert dict(session.execute(stamp_query).tuples().all()) == stamps

    stored = repo.get_by_key("kepler", "K00752.02")
    assert stored is not None and stored.t0_bjd is None and stored.label == "false_positive"
    assert stored.period_days == 54.418383  # float64 stored exactly


def test_candidate_upsert_updates_only_changed_rows_and_spares_curated(session: Session) -> None:
    repo = CandidateRepository(session)
    repo.upsert_many(_catalog())
    k2 = repo.get_by_key("k2", "K2-18 b")
    assert k2 is not None
    repo.set_label(k2.id, label="false_positive")  # a vetting consensus: origin becomes curated

    changed = _catalog()
    changed.loc[0, "depth_ppm"] = 616.0
    changed.loc[2, "impact"] = 0.5  # NaN -> value
    result = repo.upsert_many(changed)
    assert result.to_dict() == {"inserted": 0, "updated": 2, "unchanged": 1, "protected": 1}
    session.expire_all()
    kepler = repo.get_by_key("kepler", "K00752.01")
    assert kepler is not None and kepler.depth_ppm == 616.0
    k2_after = repo.get_by_key("k2", "K2-18 b")
    assert k2_after is not None
    assert (k2_after.label, k2_after.origin) == ("false_positive", "curated")


def test_candidate_upsert_refuses_duplicates(session: Session) -> None:
    frame = pd.concat([_catalog(), _catalog().iloc[[0]]], ignore_index=True)
    with pytest.raises(ValidationError, match="kepler:K00752.01"):
        CandidateRepository(session).upsert_many(frame)


def test_candidate_list_filters_sort_and_pages(session: Session) -> None:
    repo = CandidateRepository(session)
    repo.upsert_many(_catalog())
    assert [c.object_id for c in repo.list(mission="kepler")] == ["K00752.01", "K00752.02"]
    by_period = repo.list(sort="period_days", descending=True)
    assert [c.period_days for c in by_period] == [54.418383, 32.94, 9.488036, 3.2888]
    by_impact = repo.list(sort="impact")  # NULLs last on both backends
    assert [c.impact for c in by_impact][:2] == [0.146, 0.586]
    assert [c.object_id for c in repo.list(sort="object_id", limit=2, offset=1)] == [
        "K00752.02",
        "K2-18 b",
    ]
    assert repo.count(label="planet") == 2
    assert repo.count(search="kic 1079") == 2
    assert repo.count_by("mission") == {"kepler": 2, "tess": 1, "k2": 1}
    with pytest.raises(ValueError, match="sort must be one of"):
        repo.list(sort="koi_score")
    frame = repo.to_frame(mission="kepler")
    assert list(frame["object_id"]) == ["K00752.01", "K00752.02"]
    assert frame["t0_bjd"].isna().tolist() == [False, True]


def test_one_vote_per_user_and_item(session: Session) -> None:
    CandidateRepository(session).upsert_many(_catalog())
    candidate = CandidateRepository(session).list(limit=1)[0]
    user = UserRepository(session).create(email="Ada@Example.org", password_hash="x")
    item = VettingRepository(session).enqueue(candidate_id=candidate.id, priority=0.4)
    votes = VoteRepository(session)
    votes.add(item_id=item.id, user_id=user.id, label="planet", confidence=4)
    with pytest.raises(ConflictError, match="already voted"):
        votes.add(item_id=item.id, user_id=user.id, label="false_positive", confidence=2)
    assert votes.count_for_item(item.id) == 1  # the session survived the refused vote
    with pytest.raises(ValueError, match="confidence must be an integer from 1 to 5"):
        votes.add(item_id=item.id, user_id=user.id, label="planet", confidence=6)

    # The database itself enforces both rules, whatever code writes the rows.
    for bad in (
        Vote(item_id=item.id, user_id=user.id, label="planet", confidence=3),
        Vote(item_id=item.id, user_id=user.id + 999, label="planet", confidence=0),
    ):
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(bad)
            session.flush()
    assert session.scalar(select(func.count(Vote.id))) == 1


def test_vetting_queue_order_exclusion_and_settle(session: Session) -> None:
    CandidateRepository(session).upsert_many(_catalog())
    ids = [c.id for c in CandidateRepository(session).list()]
    vetting = VettingRepository(session)
    low = vetting.enqueue(candidate_id=ids[0], priority=0.1)
    high = vetting.enqueue(candidate_id=ids[1], priority=0.9)
    gold = vetting.enqueue(candidate_id=ids[2], priority=0.5, is_gold=True, gold_label="planet")
    user = UserRepository(session).create(email="v@example.org", password_hash="x")
    VoteRepository(session).add(item_id=high.id, user_id=user.id, label="planet", confidence=5)
    assert [i.id for i in vetting.list()] == [high.id, gold.id, low.id]
    assert [i.id for i in vetting.list(exclude_voted_by=user.id)] == [gold.id, low.id]
    settled = vetting.settle(high.id, consensus_label="planet", consensus_share=1.0)
    assert settled.settled_at is not None and settled.settled_at.tzinfo is not None
    assert vetting.count(status="open") == 2
    assert vetting.open_for_candidate(ids[1]) is None
    assert len(VoteRepository(session).list(item_status="settled")) == 1


def test_exactly_one_active_model(session: Session) -> None:
    repo = ModelVersionRepository(session)
    assert repo.next_version_id("gbm") == "gbm-0001"
    for version_id in ("gbm-0001", "gbm-0002", "gbm-0003"):
        _model(repo, version_id)
    assert repo.next_version_id("gbm") == "gbm-0004"
    assert repo.get_active() is None
    repo.activate("gbm-0001")
    repo.activate("gbm-0002")
    repo.activate("gbm-0002")  # idempotent
    repo.set_status("gbm-0003", "canary")
    repo.set_status("gbm-0001", "canary")  # replaces the previous canary
    statuses = {v.id: v.status for v in repo.list()}
    assert statuses == {"gbm-0001": "canary", "gbm-0002": "active", "gbm-0003": "registered"}
    active = repo.get_active()
    assert active is not None and active.id == "gbm-0002" and active.activated_at is not None
    with pytest.raises(ConflictError, match="activate another version first"):
        repo.set_status("gbm-0002", "retired")
    with pytest.raises(ConflictError, match="already exists"):
        _model(repo, "gbm-0001")
    with pytest.raises(NotFoundError):
        repo.activate("gbm-9999")

    # The one-active rule holds in the database, not only in the repository.
    third = repo.require("gbm-0003")
    with pytest.raises(IntegrityError), session.begin_nested():
        third.status = "active"
        session.flush()
    session.expire_all()
    assert (
        session.scalar(
            select(func.count()).select_from(ModelVersion).where(ModelVersion.status == "active")
        )
        == 1
    )


def test_metric_series_is_time_ordered_and_utc(session: Session) -> None:
    _model(ModelVersionRepository(session), "gbm-0001")
    metrics = ModelMetricRepository(session)
    t0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    paris = timezone(timedelta(hours=2))
    metrics.record("gbm-0001", "accuracy", 0.91, time=t0 + timedelta(hours=2))
    metrics.record("gbm-0001", "accuracy", 0.90, time=t0.astimezone(paris), labels={"n": 40})
    metrics.record("gbm-0001", "accuracy", 0.93, time=t0 + timedelta(hours=1))
    metrics.record_many("gbm-0001", {"ece": 0.02, "drift_psi": 0.1}, time=t0)
    session.expire_all()
    series = metrics.series("gbm-0001", "accuracy")
    assert [p.value for p in series] == [0.90, 0.93, 0.91]
    assert series[0].time == t0 and series[0].time.tzinfo == UTC
    assert series[0].labels == {"n": 40} and series[1].labels is None
    later = metrics.series("gbm-0001", "accuracy", since=t0 + timedelta(hours=1))
    assert [p.value for p in later] == [0.93, 0.91]
    latest = metrics.latest("gbm-0001", "accuracy")
    assert latest is not None and latest.value == 0.91
    assert list(metrics.names("gbm-0001")) == ["accuracy", "drift_psi", "ece"]


def test_predictions_latest_per_candidate(session: Session) -> None:
    CandidateRepository(session).upsert_many(_catalog())
    ids = [c.id for c in CandidateRepository(session).list()]
    _model(ModelVersionRepository(session), "gbm-0001")
    predictions = PredictionRepository(session)
    first = predictions.create(
        candidate_id=ids[0],
        model_version="gbm-0001",
        probability=0.2,
        uncertainty=0.1,
        label="false_positive",
        explanation={"period_days": -0.3},
    )
    n = predictions.create_many(
        NewPrediction(
            candidate_id=i,
            model_version="gbm-0001",
            probability=0.8,
            uncertainty=0.05,
            label="planet",
            canary=(i == ids[1]),
        )
        for i in ids
    )
    assert n == 4 and predictions.count() == 5 and predictions.count(canary=True) == 1
    latest = predictions.latest_by_candidate()
    assert set(latest) == set(ids) and all(p.probability == 0.8 for p in latest.values())
    assert set(predictions.latest_by_candidate([ids[0]])) == {ids[0]}
    assert [p.id for p in predictions.list_for_candidate(ids[0])][-1] == first.id
    assert predictions.require(first.id).explanation == {"period_days": -0.3}
    with pytest.raises(ValueError, match="label must be one of"):
        predictions.create(
            candidate_id=ids[0],
            model_version="gbm-0001",
            probability=0.5,
            uncertainty=0.0,
            label="unknown",
        )


def test_users_datasets_jobs_share_links(session: Session) -> None:
    users = UserRepository(session)
    ada = users.create(email=" Ada@Example.org ", password_hash="h", name="Ada", role="researcher")
    with pytest.raises(ConflictError):
        users.create(email="ada@example.ORG", password_hash="h")
    with pytest.raises(ValueError, match="role must be one of explorer, researcher, admin"):
        users.create(email="b@example.org", password_hash="h", role="root")
    assert users.get_by_email("ADA@example.org") is not None
    users.set_role(ada.id, "admin")
    assert users.count(role="admin") == 1

    datasets = DatasetRepository(session)
    dataset = datasets.create(
        filename="kplr.fits",
        kind="lightcurve",
        format="fits",
        size_bytes=1024,
        sha256="0" * 64,
        storage_path="uploads/x",
        owner_id=ada.id,
    )
    assert len(dataset.id) == 36
    datasets.set_status(dataset.id, "validated", validation_report={"ok": True, "errors": []})
    session.expire_all()
    assert datasets.require(dataset.id).validation_report == {"ok": True, "errors": []}
    assert datasets.find_by_sha256("0" * 64) is not None

    jobs = JobRepository(session)
    job = jobs.create(kind="train", params={"model": "gbm"}, owner_id=ada.id)
    jobs.mark_running(job.id)
    jobs.set_progress(job.id, 0.5)
    jobs.mark_failed(job.id, error="boom")
    jobs.mark_running(job.id)
    done = jobs.mark_succeeded(job.id, result={"version": "gbm-0001"})
    assert (done.status, done.attempts, done.progress, done.error) == ("succeeded", 2, 1.0, None)
    assert [j.id for j in jobs.list(status="succeeded")] == [job.id]
    with pytest.raises(ValueError, match="progress must be within"):
        jobs.set_progress(job.id, 1.5)

    links = ShareLinkRepository(session)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    live = links.create(
        token_hash="a" * 64,
        target_kind="candidate",
        target_id="7",
        created_by=ada.id,
        expires_at=now + timedelta(days=1),
    )
    links.create(
        token_hash="b" * 64,
        target_kind="report",
        target_id="7",
        expires_at=now - timedelta(seconds=1),
    )
    assert links.resolve("a" * 64, now=now).id == live.id
    with pytest.raises(GoneError, match="expired"):
        links.resolve("b" * 64, now=now)
    links.revoke(live.id)
    with pytest.raises(GoneError, match="revoked"):
        links.resolve("a" * 64, now=now)
    with pytest.raises(NotFoundError):
        links.resolve("c" * 64)
    with pytest.raises(ConflictError):
        links.create(token_hash="a" * 64, target_kind="candidate", target_id="8")
    assert [link.id for link in links.list_for_user(ada.id)] == [live.id]


def test_session_scope_commits_and_rolls_back(db_sessionmaker: object) -> None:
    from sqlalchemy.orm import sessionmaker

    assert isinstance(db_sessionmaker, sessionmaker)
    with session_scope(db_sessionmaker) as s:
        UserRepository(s).create(email="kept@example.org", password_hash="h")
    with pytest.raises(RuntimeError), session_scope(db_sessionmaker) as s:
        UserRepository(s).create(email="lost@example.org", password_hash="h")
        raise RuntimeError("abort")
    with session_scope(db_sessionmaker) as s:
        users = UserRepository(s)
        assert users.get_by_email("kept@example.org") is not None
        assert users.get_by_email("lost@example.org") is None


def test_db_session_rolls_back_between_tests_a(db_session: Session) -> None:
    UserRepository(db_session).create(email="isolation@example.org", password_hash="h")
    db_session.commit()  # commits the savepoint only; the outer transaction is rolled back


def test_db_session_rolls_back_between_tests_b(db_session: Session) -> None:
    assert UserRepository(db_session).get_by_email("isolation@example.org") is None


def test_job_succeeds_only_for_its_holder(session: Session) -> None:
    """`mark_succeeded(holder=...)` is the runner's check: a job another process took over, or
    one finished already, is refused with ConflictError and keeps its state."""
    jobs = JobRepository(session)
    job = jobs.create(kind="predict")
    jobs.mark_running(job.id)
    job.worker_id = "host:1:aaaa"
    session.flush()
    with pytest.raises(
        ConflictError, match=r"no longer held by this process \(running, held by host:1:aaaa\)"
    ):
        jobs.mark_succeeded(job.id, result={"n": 1}, holder="host:2:bbbb")
    assert (jobs.require(job.id).status, jobs.require(job.id).result) == ("running", None)
    done = jobs.mark_succeeded(job.id, result={"n": 2}, holder="host:1:aaaa")
    assert (done.status, done.progress, done.result) == ("succeeded", 1.0, {"n": 2})
    assert done.finished_at is not None
    with pytest.raises(ConflictError, match=r"\(succeeded, held by"):
        jobs.mark_succeeded(job.id, result={"n": 3}, holder="host:1:aaaa")
    assert jobs.require(job.id).result == {"n": 2}
    with pytest.raises(ConflictError, match="vanished"):
        jobs.mark_succeeded("no-such-job", holder="host:1:aaaa")
    with pytest.raises(NotFoundError, match="no-such-job"):
        jobs.mark_succeeded("no-such-job")
