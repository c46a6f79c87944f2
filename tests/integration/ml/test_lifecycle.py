"""Model lifecycle on the test database (PostgreSQL in CI) with real LightGBM versions.

Three small gbm versions are trained once per module on disjoint stars of the real KOI table
(through ``exoguard.ml.train.train_gbm`` and a file registry): a mediocre one (300 rows, two
features), a deliberately worse one (labels flipped) and a better one (every feature, all
training rows). Each test registers the versions it needs in its rolled-back transaction,
routes real predictions through the canary, settles vetting consensus on held-out KOIs and
lets :func:`exoguard.services.lifecycle.evaluate_canary` decide.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from tests._registry import sqlite_registry

from exoguard.catalogs import CatalogTable, read_catalog
from exoguard.config import Settings, get_settings
from exoguard.errors import ConflictError, ModelNotReadyError
from exoguard.ml import lifecycle as ml_lifecycle
from exoguard.ml.configs import apply_overrides, get_config
from exoguard.ml.registry import VersionRecord
from exoguard.ml.train import train_gbm
from exoguard.services import canary as canary_service
from exoguard.services import lifecycle
from exoguard.store.models import Candidate, ModelVersion, VettingItem
from exoguard.store.repositories import (
    CandidateRepository,
    ModelMetricRepository,
    ModelVersionRepository,
    PredictionRepository,
)
from exoguard.store.types import utcnow

pytestmark = pytest.mark.integration

KOI_FILE = "koi_cumulative_2026-06-22.csv.gz"
FAST = ["n_ensemble=2", "calibration_folds=2", "n_threads=1", "train_missions=kepler"]


def _split(frame: pd.DataFrame) -> np.ndarray:
    """0..99 per star from a hash of its host id (a split that never divides a star)."""
    hosts = frame["host_id"].fillna(frame["object_id"]).astype(str)
    return np.array([int(hashlib.sha256(h.encode()).hexdigest()[:8], 16) % 100 for h in hosts])


@pytest.fixture(scope="module")
def koi() -> pd.DataFrame:
    table = read_catalog(get_settings().catalogs_dir / KOI_FILE, kind="koi")
    return table.frame


@pytest.fixture(scope="module")
def splits(koi: pd.DataFrame) -> dict[str, pd.DataFrame]:
    labelled = koi[koi["label"].isin(["planet", "false_positive"])].reset_index(drop=True)
    bucket = _split(labelled)
    return {
        "train": labelled[bucket < 60].reset_index(drop=True),
        "phase_a": labelled[(bucket >= 60) & (bucket < 80)].reset_index(drop=True),
        "phase_b": labelled[bucket >= 80].reset_index(drop=True),
    }


@pytest.fixture(scope="module")
def trained(
    splits: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, VersionRecord]:
    """gbm versions trained once: mediocre, worse (labels flipped) and better."""
    models = tmp_path_factory.mktemp("lifecycle_models")
    registry = sqlite_registry(models)
    train = splits["train"]
    flipped = train.copy()
    flipped["label"] = np.where(train["label"] == "planet", "false_positive", "planet")
    small = get_config("small")
    specs = {
        "mediocre": (
            train.iloc[:300],
            apply_overrides(small, [*FAST, "features=log10_period_days,star_teff_k"]),
        ),
        "worse": (flipped, apply_overrides(small, FAST)),
        "better": (train, apply_overrides(small, FAST)),
    }
    out = {}
    for name, (frame, config) in specs.items():
        table = CatalogTable(kind="koi", source=f"{KOI_FILE} ({name} subset)", frame=frame)
        out[name] = train_gbm(
            config,
            catalogs_dir=get_settings().catalogs_dir,
            tables=[table],
            registry=registry,
            activate_if_none=False,
            with_evaluation=False,
        )
    return out


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return get_settings().model_copy(
        update={"model_dir": tmp_path / "models", "canary_fraction": 0.10}
    )


@pytest.fixture(autouse=True)
def _fresh_model_cache() -> Iterator[None]:
    # Loaded models are cached by version id; other modules may use the same ids.
    from exoguard.ml.service import clear_cache

    clear_cache()
    yield
    clear_cache()


def _register(session: Session, record: VersionRecord, *, status: str = "registered") -> str:
    ModelVersionRepository(session).create(
        version_id=record.id,
        kind=record.kind,
        config=record.config,
        data_hash=record.data_hash,
        artifact_path=record.artifact_path,
        metrics=record.metrics,
        status=status,
    )
    return record.id


def _store(session: Session, frame: pd.DataFrame) -> list[int]:
    """Insert the KOI rows as candidates; their ids in frame order."""
    CandidateRepository(session).upsert_many(frame)
    rows = session.execute(
        select(Candidate.object_id, Candidate.id).where(
            Candidate.mission == "kepler", Candidate.object_id.in_(frame["object_id"].tolist())
        )
    ).tuples()
    ids = {str(o): int(i) for o, i in rows}
    return [int(ids[o]) for o in frame["object_id"]]


def _vet(session: Session, candidate_ids: list[int], labels: list[str]) -> None:
    """Settle one vetting item per candidate with the given consensus label (now)."""
    now = utcnow()
    session.execute(
        insert(VettingItem),
        [
            {
                "candidate_id": c,
                "priority": 0.5,
                "status": "settled",
                "is_gold": False,
                "consensus_label": lab,
                "consensus_share": 0.9,
                "created_at": now,
                "settled_at": now,
            }
            for c, lab in zip(candidate_ids, labels, strict=True)
        ],
    )
    session.flush()


def test_canary_routing_is_deterministic_sha256() -> None:
    ids = list(range(1, 100_001))
    mask = ml_lifecycle.canary_mask(ids, fraction=0.10)
    assert abs(mask.mean() - 0.10) < 0.003  # binomial sd 0.001
    expected = int.from_bytes(hashlib.sha256(b"12345").digest()[:8], "big") / 2.0**64
    assert ml_lifecycle.canary_bucket(12345) == expected
    assert ml_lifecycle.canary_bucket(12345) == ml_lifecycle.canary_bucket("12345")
    assert not ml_lifecycle.canary_mask(ids[:1000], fraction=0.0).any()
    assert ml_lifecycle.canary_mask(ids[:1000], fraction=1.0).all()
    # a larger fraction keeps the candidates of a smaller one (a ramp-up only adds)
    assert (ml_lifecycle.canary_mask(ids, fraction=0.2) >= mask).all()
    with pytest.raises(ValueError, match="fraction"):
        ml_lifecycle.routes_to_canary(1, fraction=1.5)


def test_canary_share_over_5000_predictions(
    db_session: Session,
    koi: pd.DataFrame,
    trained: dict[str, VersionRecord],
    settings: Settings,
) -> None:
    frame = koi.iloc[:5000].reset_index(drop=True)
    ids = _store(db_session, frame)
    active = _register(db_session, trained["mediocre"], status="active")
    canary = _register(db_session, trained["better"], status="canary")

    routed = canary_service.predict_with_canary(
        db_session, frame, candidate_ids=ids, settings=settings
    )
    share = routed.n_canary / len(ids)
    print(f"canary share over {len(ids)} predictions: {share:.4f}")
    assert 0.08 <= share <= 0.12
    expected = ml_lifecycle.canary_mask(ids, fraction=0.10)
    assert (routed.served["canary"].to_numpy() == expected).all()
    served_by = routed.served["model_version"].to_numpy()
    assert set(served_by[expected]) == {canary} and set(served_by[~expected]) == {active}

    # both versions are logged: the active one on every candidate, the canary on its share
    repo = PredictionRepository(db_session)
    assert repo.count(model_version=active, canary=False) == len(ids)
    assert repo.count(model_version=canary, canary=True) == routed.n_canary
    assert routed.n_logged == len(ids) + routed.n_canary
    latest = repo.latest_by_candidate(ids)
    routed_ids = [c for c, m in zip(ids, expected, strict=True) if m]
    assert all(latest[c].model_version == canary for c in routed_ids)
    served_ids = routed.served["prediction_id"].tolist()
    assert [latest[c].id for c in ids] == served_ids  # the served row is each one's latest

    again = canary_service.predict_with_canary(
        db_session, frame, candidate_ids=ids, settings=settings
    )
    assert (again.served["canary"].to_numpy() == expected).all()
    assert np.allclose(again.served["probability"], routed.served["probability"])


def test_worse_canary_rolled_back_and_better_one_promoted(
    db_session: Session,
    splits: dict[str, pd.DataFrame],
    trained: dict[str, VersionRecord],
    settings: Settings,
) -> None:
    active = _register(db_session, trained["mediocre"], status="active")

    # Phase A: the deliberately worse model is the canary.
    worse = _register(db_session, trained["worse"])
    lifecycle.start_canary(db_session, worse, settings=settings)
    phase_a = splits["phase_a"]
    ids_a = _store(db_session, phase_a)
    canary_service.predict_with_canary(db_session, phase_a, candidate_ids=ids_a, settings=settings)
    pending = lifecycle.evaluate_canary(db_session, min_labels=50, settings=settings)
    assert pending.decision == "pending" and pending.n_labels == 0

    _vet(db_session, ids_a, phase_a["label"].tolist())
    result = lifecycle.evaluate_canary(db_session, min_labels=50, settings=settings)
    print("worse canary:", json.dumps(result.to_dict()))
    assert result.decision == "rolled_back" and result.applied
    assert result.n_labels >= 50
    assert result.canary_value is not None and result.active_value is not None
    assert result.degradation is not None and result.degradation > 0.05
    versions = ModelVersionRepository(db_session)
    assert versions.require(worse).status == "retired"
    assert versions.require(active).status == "active" and versions.get_canary() is None
    events = [e["action"] for e in versions.require(worse).metrics["lifecycle"]]
    assert events[-1] == "rolled_back"
    points = ModelMetricRepository(db_session)
    assert points.latest(worse, "canary_eval_accuracy").value == pytest.approx(  # type: ignore[union-attr]
        result.canary_value
    )
    assert points.latest(active, "canary_eval_accuracy").value == pytest.approx(  # type: ignore[union-attr]
        result.active_value
    )
    with pytest.raises(ConflictError, match="retired"):
        lifecycle.promote(db_session, worse, settings=settings)

    # Phase B: the better model is the canary; only labels settled after it started count.
    better = _register(db_session, trained["better"])
    lifecycle.start_canary(db_session, better, settings=settings)
    phase_b = splits["phase_b"]
    ids_b = _store(db_session, phase_b)
    canary_service.predict_with_canary(db_session, phase_b, candidate_ids=ids_b, settings=settings)
    assert lifecycle.evaluate_canary(db_session, min_labels=50).decision == "pending"
    _vet(db_session, ids_b, phase_b["label"].tolist())
    result = lifecycle.evaluate_canary(db_session, min_labels=50, settings=settings)
    print("better canary:", json.dumps(result.to_dict()))
    assert result.decision == "promoted" and result.applied
    assert result.canary_value is not None and result.active_value is not None
    assert result.canary_value > result.active_value
    assert versions.require(better).status == "active"
    assert versions.require(active).status == "registered"
    assert lifecycle.evaluate_canary(db_session).decision == "no_canary"

    # Everything is now served by the promoted version.
    routed = canary_service.predict_with_canary(
        db_session, phase_b.iloc[:200], candidate_ids=ids_b[:200], settings=settings
    )
    assert set(routed.served["model_version"]) == {better} and routed.n_canary == 0

    view = lifecycle.timeline(db_session, settings=settings)
    assert view["active"] == better and view["canary"] is None
    rows = {r["id"]: r for r in view["versions"]}
    assert rows[better]["traffic_share"] == 1.0 and rows[worse]["status"] == "retired"
    assert rows[better]["canary_evaluation"]["decision"] == "promoted"
    assert "canary_eval_accuracy" in rows[better]["latest_metrics"]
    assert [e["action"] for e in rows[better]["events"]][-1] == "promoted"


def _dummy_version(session: Session, tmp: Path, name: str, *, artifacts: bool = True) -> str:
    directory = tmp / name
    if artifacts:
        directory.mkdir(parents=True)
    ModelVersionRepository(session).create(
        version_id=name, kind="gbm", config={}, data_hash="0", artifact_path=str(directory)
    )
    return name


def test_manual_promotion_rollback_and_retention(db_session: Session, tmp_path: Path) -> None:
    repo = ModelVersionRepository(db_session)
    with pytest.raises(ConflictError, match="no active"):
        lifecycle.rollback(db_session)
    names = []
    for i in range(1, 6):  # train, deploy, train, deploy, ...
        names.append(_dummy_version(db_session, tmp_path, f"gbm-{i:04d}"))
        action = lifecycle.promote(db_session, names[-1])
        assert action.active == names[-1]
    # active gbm-0005 plus the three most recent others stay deployable
    assert repo.require("gbm-0001").status == "retired"
    assert [repo.require(n).status for n in names[1:]] == [
        "registered",
        "registered",
        "registered",
        "active",
    ]
    with pytest.raises(ConflictError, match="retired"):
        lifecycle.promote(db_session, "gbm-0001")
    assert lifecycle.promote(db_session, "gbm-0005").action == "unchanged"

    back = lifecycle.rollback(db_session, reason="bad night")
    assert back.previous_active == "gbm-0005" and back.active == "gbm-0004"
    assert repo.require("gbm-0005").status == "retired"
    events = repo.require("gbm-0004").metrics["lifecycle"]
    assert events[-1]["action"] == "restored" and events[-1]["reason"] == "bad night"

    lifecycle.start_canary(db_session, "gbm-0003")
    assert repo.get_canary() is not None
    stopped = lifecycle.rollback(db_session)
    assert stopped.action == "canary_rolled_back" and stopped.active == "gbm-0004"
    assert repo.require("gbm-0003").status == "retired" and repo.get_canary() is None

    _dummy_version(db_session, tmp_path, "gbm-0006", artifacts=False)
    with pytest.raises(ModelNotReadyError, match="artifacts"):
        lifecycle.promote(db_session, "gbm-0006")
    with pytest.raises(ModelNotReadyError):
        lifecycle.start_canary(db_session, "gbm-0006")
    with pytest.raises(ConflictError, match="active"):
        lifecycle.start_canary(db_session, "gbm-0004")


def _known_predictions(
    session: Session, tmp: Path, *, n: int, active_right: int, canary_right: int
) -> None:
    """Active and canary versions whose logged verdicts are right on a known number of items."""
    _dummy_version(session, tmp, "gbm-0101")
    lifecycle.promote(session, "gbm-0101")
    _dummy_version(session, tmp, "gbm-0102")
    lifecycle.start_canary(session, "gbm-0102")
    frame = pd.DataFrame(
        {
            "mission": "other",
            "object_id": [f"KNOWN-{tmp.name}-{i}" for i in range(n)],
            "label": "candidate",
        }
    )
    CandidateRepository(session).upsert_many(frame)
    ids = [
        int(i)
        for i in session.scalars(
            select(Candidate.id)
            .where(Candidate.object_id.in_(frame["object_id"].tolist()))
            .order_by(Candidate.id)
        )
    ]
    truth = ["planet" if i % 2 else "false_positive" for i in range(n)]
    repo = PredictionRepository(session)
    for version, right in (("gbm-0101", active_right), ("gbm-0102", canary_right)):
        for i, (cid, lab) in enumerate(zip(ids, truth, strict=True)):
            said = lab if i < right else ("planet" if lab == "false_positive" else "false_positive")
            repo.create(
                candidate_id=cid,
                model_version=version,
                probability=0.8 if said == "planet" else 0.2,
                uncertainty=0.1,
                label=said,
                canary=version == "gbm-0102",
            )
    _vet(session, ids, truth)


def test_canary_within_tolerance_is_held_then_promoted(db_session: Session, tmp_path: Path) -> None:
    _known_predictions(db_session, tmp_path, n=100, active_right=80, canary_right=78)
    held = lifecycle.evaluate_canary(db_session, min_labels=50)
    assert held.decision == "hold" and not held.applied
    assert held.degradation == pytest.approx((0.80 - 0.78) / 0.80)
    assert ModelVersionRepository(db_session).require("gbm-0102").status == "canary"
    assert lifecycle.evaluate_canary(db_session, min_labels=200).decision == "pending"
    dry = lifecycle.evaluate_canary(db_session, min_labels=50, decide_after_labels=100, apply=False)
    assert dry.decision == "promoted" and not dry.applied
    assert ModelVersionRepository(db_session).require("gbm-0102").status == "canary"
    done = lifecycle.evaluate_canary(db_session, min_labels=50, decide_after_labels=100)
    assert done.decision == "promoted" and done.applied
    assert ModelVersionRepository(db_session).require("gbm-0102").status == "active"


def test_canary_worse_by_more_than_tolerance_is_rolled_back(
    db_session: Session, tmp_path: Path
) -> None:
    _known_predictions(db_session, tmp_path, n=100, active_right=80, canary_right=75)
    # accuracy 0.75 against 0.80 is 6.25 % worse (> 5 %); the Brier score agrees
    brier = lifecycle.evaluate_canary(db_session, metric="brier", min_labels=50, apply=False)
    assert brier.decision == "rolled_back" and brier.degradation is not None
    assert brier.canary_value is not None and brier.active_value is not None
    assert brier.canary_value > brier.active_value
    result = lifecycle.evaluate_canary(db_session, min_labels=50)
    assert result.decision == "rolled_back"
    assert result.degradation == pytest.approx(0.0625)
    repo = ModelVersionRepository(db_session)
    assert repo.require("gbm-0102").status == "retired"
    assert repo.require("gbm-0101").status == "active"


def test_labels_settled_before_the_canary_do_not_count(db_session: Session, tmp_path: Path) -> None:
    _dummy_version(db_session, tmp_path, "gbm-0201")
    lifecycle.promote(db_session, "gbm-0201")
    frame = pd.DataFrame(
        {"mission": "other", "object_id": [f"OLD-{i}" for i in range(60)], "label": "candidate"}
    )
    CandidateRepository(db_session).upsert_many(frame)
    ids = [int(i) for i in db_session.scalars(select(Candidate.id).order_by(Candidate.id))][-60:]
    _vet(db_session, ids, ["planet"] * 60)  # settled before the canary existed
    _dummy_version(db_session, tmp_path, "gbm-0202")
    lifecycle.start_canary(db_session, "gbm-0202")
    repo = PredictionRepository(db_session)
    for cid in ids:
        for v in ("gbm-0201", "gbm-0202"):
            repo.create(
                candidate_id=cid, model_version=v, probability=0.9, uncertainty=0.0, label="planet"
            )
    result = lifecycle.evaluate_canary(db_session, min_labels=10)
    assert result.decision == "pending" and result.n_labels == 0


def test_retraining_uses_the_curated_set_and_registers_a_canary(
    db_session: Session,
    koi: pd.DataFrame,
    splits: dict[str, pd.DataFrame],
    trained: dict[str, VersionRecord],
    settings: Settings,
) -> None:
    active = _register(db_session, trained["mediocre"], status="active")
    unlabelled = koi[koi["label"] == "candidate"].iloc[:40].reset_index(drop=True)
    ids = _store(db_session, unlabelled)
    candidates = CandidateRepository(db_session)
    for i, cid in enumerate(ids):
        candidates.set_label(cid, label="planet" if i % 2 else "false_positive", origin="curated")
    own = pd.DataFrame(  # a find of our own search, vetted: in no archive table
        {
            "mission": ["kepler"],
            "object_id": ["KIC 1234567 search-1"],
            "host_id": ["KIC 1234567"],
            "label": ["planet"],
            "period_days": [12.3],
            "duration_hours": [3.1],
            "depth_ppm": [800.0],
        }
    )
    (own_id,) = _store(db_session, own)
    candidates.set_label(own_id, label="planet", origin="curated")

    train = splits["train"].iloc[:1500]
    tables = [CatalogTable(kind="koi", source=KOI_FILE, frame=pd.concat([train, unlabelled]))]
    progress: list[float] = []
    out = lifecycle.retrain(
        db_session,
        settings=settings,
        config="small",
        overrides={
            "n_ensemble": 2,
            "calibration_folds": 2,
            "n_threads": 1,
            "train_missions": ["kepler"],
        },
        tables=tables,
        progress=lambda f, _m: progress.append(f),
    )
    assert out["status"] == "canary"
    assert out["curated"]["n_curated"] == 41
    assert out["curated"]["relabelled_archive_rows"] == 40 and out["curated"]["added_rows"] == 1
    assert out["n_train"] == 1500 + 40 + 1
    assert progress == sorted(progress) and progress[-1] == pytest.approx(0.95)
    repo = ModelVersionRepository(db_session)
    version = repo.require(out["version"])
    assert version.status == "canary" and repo.require(active).status == "active"
    directory = Path(version.artifact_path)
    assert directory.parent == settings.models_path
    reference = json.loads((directory / "drift_reference.json").read_text())
    assert set(reference["features"]) == set(version.metrics["features"])
    assert ModelMetricRepository(db_session).latest(version.id, "oof_roc_auc") is not None
    assert [e["action"] for e in version.metrics["lifecycle"]][:2] == [
        "canary_started",
        "registered_by_retraining",
    ]

    # without an active version the retrained model is activated directly
    db_session.delete(repo.require(version.id))
    active_row = db_session.get(ModelVersion, active)
    assert active_row is not None
    active_row.status = "registered"
    db_session.flush()
    out2 = lifecycle.retrain(
        db_session,
        settings=settings,
        config="small",
        overrides=[*FAST, "n_estimators=20"],
        tables=tables,
    )
    assert out2["status"] == "active"
    n_versions = db_session.scalar(select(func.count(ModelVersion.id)))
    assert n_versions == 2


def test_tables_with_curated_is_pure() -> None:
    frame = pd.DataFrame(
        {
            "mission": ["kepler", "kepler"],
            "object_id": ["A", "B"],
            "host_id": ["H", "H"],
            "label": ["candidate", "planet"],
        }
    )
    table = CatalogTable(kind="koi", source="t", frame=frame)
    curated = pd.DataFrame(
        {"mission": ["kepler", "tess"], "object_id": ["A", "Z"], "label": ["planet", "planet"]}
    )
    merged = ml_lifecycle.tables_with_curated([table], curated)
    assert merged.relabelled == 1 and merged.added == 1
    assert merged.tables[0].frame["label"].tolist() == ["planet", "planet"]
    assert frame["label"].tolist() == ["candidate", "planet"]  # the input is untouched
    assert merged.tables[1].frame["object_id"].tolist() == ["Z"]
    assert ml_lifecycle.tables_with_curated([table], curated.iloc[:0]).tables == [table]
