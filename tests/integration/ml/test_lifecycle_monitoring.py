"""model_metrics time series and Prometheus export on the test database (PostgreSQL in CI).

Drift is measured on real KOI rows: a random half of the stars against the other half (no
drift) and the same rows with every period multiplied by five (drift in the period features).
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import generate_latest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from exoguard.catalogs import read_catalog
from exoguard.config import get_settings
from exoguard.ml import monitoring as ml_monitoring
from exoguard.ml.features import build_features
from exoguard.services import lifecycle, monitoring
from exoguard.store.models import Candidate, VettingItem
from exoguard.store.repositories import (
    CandidateRepository,
    ModelMetricRepository,
    ModelVersionRepository,
    NewPrediction,
    PredictionRepository,
)
from exoguard.store.types import utcnow
from exoguard.web.metrics import AppMetrics

pytestmark = pytest.mark.integration

FEATURES = ("log10_period_days", "duration_ratio", "planet_radius_rearth", "star_teff_k")


@pytest.fixture(scope="module")
def halves() -> tuple[pd.DataFrame, pd.DataFrame]:
    koi = read_catalog(get_settings().catalogs_dir / "koi_cumulative_2026-06-22.csv.gz").frame
    hosts = koi["host_id"].fillna(koi["object_id"]).astype(str)
    bucket = np.array([hashlib.sha256(h.encode()).digest()[0] % 2 for h in hosts])
    return koi[bucket == 0].reset_index(drop=True), koi[bucket == 1].reset_index(drop=True)


def _version(session: Session, tmp: Path, name: str, *, status: str = "registered") -> str:
    directory = tmp / name
    directory.mkdir(parents=True)
    ModelVersionRepository(session).create(
        version_id=name,
        kind="gbm",
        config={"threshold": 0.5, "features": list(FEATURES)},
        data_hash="0",
        artifact_path=str(directory),
        status=status,
    )
    return name


def _store(session: Session, frame: pd.DataFrame) -> list[int]:
    CandidateRepository(session).upsert_many(frame)
    rows = session.execute(
        select(Candidate.object_id, Candidate.id).where(
            Candidate.mission == frame["mission"].iloc[0],
            Candidate.object_id.in_(frame["object_id"].tolist()),
        )
    ).tuples()
    ids = {str(o): int(i) for o, i in rows}
    return [ids[o] for o in frame["object_id"]]


def _log(session: Session, version: str, ids: list[int], probs: np.ndarray) -> None:
    PredictionRepository(session).create_many(
        NewPrediction(
            candidate_id=c,
            model_version=version,
            probability=float(p),
            uncertainty=0.05,
            label="planet" if p >= 0.5 else "false_positive",
        )
        for c, p in zip(ids, probs, strict=True)
    )


def test_snapshot_records_accuracy_distribution_and_drift(
    db_session: Session, tmp_path: Path, halves: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    reference, current = halves
    profiles = ml_monitoring.drift_profiles(build_features(reference, features=FEATURES))
    version = _version(db_session, tmp_path, "gbm-0301", status="active")
    ml_monitoring.save_drift_reference(tmp_path / version, profiles)

    # a random sample: the table's row order is not random (early KOIs come first)
    order = np.random.default_rng(0).permutation(len(current))
    sample = current.iloc[order[:1000]].reset_index(drop=True)
    ids = _store(db_session, sample)
    probs = np.linspace(0.0, 1.0, len(ids))
    _log(db_session, version, ids, probs)
    # 200 vetted labels: the verdict (p >= 0.5) is right on the first 150 of them
    truth = ["planet" if p >= 0.5 else "false_positive" for p in probs[:200]]
    flipped = {"planet": "false_positive", "false_positive": "planet"}
    truth = truth[:150] + [flipped[t] for t in truth[150:]]
    now = utcnow()
    db_session.execute(
        insert(VettingItem),
        [
            {
                "candidate_id": c,
                "priority": 0.0,
                "status": "settled",
                "is_gold": False,
                "consensus_label": t,
                "consensus_share": 0.9,
                "created_at": now,
                "settled_at": now,
            }
            for c, t in zip(ids[:200], truth, strict=True)
        ],
    )

    snap = monitoring.record_snapshot(db_session, version, settings=get_settings())
    values = snap.values
    assert values["vetted_n"] == 200 and values["vetted_accuracy"] == pytest.approx(0.75)
    assert values["prediction_n"] == 1000
    assert values["prediction_mean"] == pytest.approx(0.5)
    assert sum(values[f"prediction_hist_{i:02d}"] for i in range(10)) == pytest.approx(1.0)
    assert values["prediction_planet_share"] == pytest.approx(0.5)
    # the other half of the stars follows the training distribution
    assert set(snap.drift) == set(FEATURES)
    assert max(snap.drift.values()) < 0.1, snap.drift
    assert values["drift_psi_max"] == pytest.approx(max(snap.drift.values()))

    points = ModelMetricRepository(db_session)
    assert points.latest(version, "vetted_accuracy").value == pytest.approx(0.75)  # type: ignore[union-attr]
    assert "drift_psi.log10_period_days" in points.names(version)

    # Shifted traffic: the same kind of rows with every period five times longer.
    shifted = current.iloc[order[1000:1600]].copy()
    shifted["period_days"] = shifted["period_days"] * 5.0
    shifted["object_id"] = shifted["object_id"] + "-shifted"
    shifted_ids = _store(db_session, shifted.reset_index(drop=True))
    later = utcnow() + timedelta(seconds=1)
    _log(db_session, version, shifted_ids, np.full(len(shifted_ids), 0.9))
    snap2 = monitoring.record_snapshot(
        db_session, version, profiles=profiles, since=later - timedelta(seconds=1), now=later
    )
    assert snap2.drift["log10_period_days"] > 1.0, snap2.drift
    assert snap2.drift["star_teff_k"] < 0.1  # the stars did not change
    series = points.series(version, "drift_psi.log10_period_days")
    assert [p.value for p in series][-1] == pytest.approx(snap2.drift["log10_period_days"])
    assert len(series) == 2


def test_prometheus_export_follows_the_deployed_versions(
    db_session: Session, tmp_path: Path, halves: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    active = _version(db_session, tmp_path, "gbm-0401", status="active")
    canary = _version(db_session, tmp_path, "gbm-0402")
    lifecycle.start_canary(db_session, canary)
    points = ModelMetricRepository(db_session)
    t0 = utcnow()
    points.record_many(
        active,
        {
            "vetted_accuracy": 0.81,
            "vetted_n": 120,
            "prediction_mean": 0.4,
            "prediction_hist_03": 0.25,
            "drift_psi.star_teff_k": 0.07,
        },
        time=t0,
    )
    points.record_many(active, {"vetted_accuracy": 0.83}, time=t0 + timedelta(seconds=5))
    points.record_many(canary, {"vetted_accuracy": 0.86, "drift_psi.log10_period_days": 0.3})

    metrics = AppMetrics()
    out = monitoring.export_to_prometheus(metrics, db_session, canary_fraction=0.1)
    assert out[active]["vetted_accuracy"] == pytest.approx(0.83)  # the latest point wins
    text = generate_latest(metrics.registry).decode()
    assert f'exoguard_model_accuracy_vetted{{model_version="{active}"}} 0.83' in text
    assert f'exoguard_model_accuracy_vetted{{model_version="{canary}"}} 0.86' in text
    assert (
        f'exoguard_feature_drift_psi{{feature="log10_period_days",model_version="{canary}"}} 0.3'
        in text
    )
    assert f'exoguard_prediction_share{{bin="0.3-0.4",model_version="{active}"}} 0.25' in text
    assert f'exoguard_model_deployed{{model_version="{canary}",status="canary"}} 1.0' in text
    assert "exoguard_canary_fraction 0.1" in text

    lifecycle.rollback(db_session)  # the canary goes: its series leave /metrics
    monitoring.export_to_prometheus(metrics, db_session, canary_fraction=0.1)
    text = generate_latest(metrics.registry).decode()
    assert canary not in text and "exoguard_canary_fraction 0.0" in text
    assert f'exoguard_model_accuracy_vetted{{model_version="{active}"}} 0.83' in text


def test_monitor_deployed_and_training_profiles(
    db_session: Session, tmp_path: Path, halves: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    active = _version(db_session, tmp_path, "gbm-0501", status="active")
    canary = _version(db_session, tmp_path, "gbm-0502")
    lifecycle.start_canary(db_session, canary)
    version = ModelVersionRepository(db_session).require(active)
    assert monitoring.training_profiles(version) is None  # no reference saved, no settings
    reference, _ = halves
    profiles = ml_monitoring.drift_profiles(build_features(reference, features=FEATURES))
    ml_monitoring.save_drift_reference(tmp_path / active, profiles)
    loaded = monitoring.training_profiles(version)
    assert loaded is not None and loaded["star_teff_k"] == profiles["star_teff_k"]

    snaps = monitoring.monitor_deployed(db_session)
    assert [s.version_id for s in snaps] == [active, canary]
    assert all(s.values["vetted_n"] == 0 and s.drift == {} for s in snaps)
