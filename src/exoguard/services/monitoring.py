"""Model monitoring against the database: accuracy on vetted labels, prediction distribution
and feature drift of the deployed versions, recorded in ``model_metrics`` and exported to
Prometheus.

The statistics themselves (population stability index, prediction histogram, the metric
names) are :mod:`exoguard.ml.monitoring`; this module reads the rows they are computed on and
writes the results. The figures fill the Prometheus gauges of
:class:`exoguard.web.metrics.AppMetrics` (:func:`export_to_prometheus`).
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exoguard.catalogs import load_default_catalogs
from exoguard.catalogs.schema import HARMONISED_COLUMNS, PHYSICAL_COLUMNS
from exoguard.errors import NotFoundError
from exoguard.ml.configs import GBMConfig
from exoguard.ml.dataset import labelled_data
from exoguard.ml.features import build_features
from exoguard.ml.monitoring import (
    DEFAULT_BINS,
    DEFAULT_WINDOW,
    HIST_BINS,
    BinProfile,
    MonitoringSnapshot,
    drift_profiles,
    load_drift_reference,
    predicted_label,
    prediction_distribution,
    psi_per_feature,
    save_drift_reference,
)
from exoguard.store.models import Candidate, ModelMetric, ModelVersion, Prediction, VettingItem
from exoguard.store.repositories import (
    ModelMetricRepository,
    ModelVersionRepository,
    newest_prediction_ids,
)
from exoguard.store.types import utcnow

if TYPE_CHECKING:
    from exoguard.config import Settings
    from exoguard.web.metrics import AppMetrics

logger = logging.getLogger(__name__)

_IN_CHUNK: Final = 500


def vetted_labels(
    session: Session, *, settled_after: datetime | None = None
) -> dict[int, tuple[str, datetime | None]]:
    """Consensus label and settle time of every vetted (non-gold, settled) candidate.

    Of several settled items of one candidate the latest counts.
    """
    stmt = select(
        VettingItem.candidate_id, VettingItem.consensus_label, VettingItem.settled_at
    ).where(
        VettingItem.status == "settled",
        VettingItem.is_gold.is_(False),
        VettingItem.consensus_label.is_not(None),
    )
    if settled_after is not None:
        stmt = stmt.where(VettingItem.settled_at > settled_after)
    out: dict[int, tuple[str, datetime | None]] = {}
    ordered = stmt.order_by(VettingItem.settled_at, VettingItem.id)
    for candidate_id, label, settled_at in session.execute(ordered).tuples():
        out[int(candidate_id)] = (str(label), settled_at)
    return out


def latest_predictions(
    session: Session, version_id: str, candidate_ids: Sequence[int]
) -> dict[int, tuple[float, str]]:
    """Probability and label of the latest prediction of ``version_id`` on each candidate."""
    out: dict[int, tuple[float, str]] = {}
    ids = [int(i) for i in candidate_ids]
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        newest = newest_prediction_ids(model_version=version_id, candidate_ids=chunk)
        stmt = select(Prediction.candidate_id, Prediction.probability, Prediction.label).join(
            newest, newest.c.id == Prediction.id
        )
        for candidate_id, probability, label in session.execute(stmt):
            out[int(candidate_id)] = (float(probability), str(label))
    return out


def vetted_accuracy(session: Session, version: ModelVersion) -> tuple[float | None, int]:
    """Accuracy of ``version`` on consensus labels settled after it was created, and n."""
    labels = vetted_labels(session, settled_after=version.created_at)
    preds = latest_predictions(session, version.id, list(labels))
    if not preds:
        return None, 0
    hits = [predicted_label(p, lab) == labels[c][0] for c, (p, lab) in preds.items()]
    return float(np.mean(hits)), len(hits)


def _window_candidates(
    session: Session, version_id: str, *, since: datetime | None
) -> tuple[list[int], np.ndarray]:
    stmt = select(Prediction.candidate_id, Prediction.probability).where(
        Prediction.model_version == version_id
    )
    if since is not None:
        stmt = stmt.where(Prediction.created_at >= since)
    rows = session.execute(stmt.order_by(Prediction.id)).all()
    ids = sorted({int(c) for c, _ in rows})
    return ids, np.array([float(p) for _, p in rows], dtype=float)


def candidate_frame(session: Session, candidate_ids: Sequence[int]) -> pd.DataFrame:
    """Harmonised rows of candidates plus ``n_candidates_on_host`` counted over the database."""
    names = ["id", *HARMONISED_COLUMNS]
    rows: list[Any] = []
    ids = [int(i) for i in candidate_ids]
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        stmt = select(*(getattr(Candidate, n) for n in names)).where(Candidate.id.in_(chunk))
        rows += session.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=names)
    for name in PHYSICAL_COLUMNS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    hosts = frame.loc[frame["host_id"].notna(), ["mission", "host_id"]].drop_duplicates()
    counts: dict[tuple[str, str], int] = {}
    for mission in hosts["mission"].unique():
        names_m = hosts.loc[hosts["mission"] == mission, "host_id"].tolist()
        for start in range(0, len(names_m), _IN_CHUNK):
            stmt2 = (
                select(Candidate.host_id, func.count(Candidate.id))
                .where(
                    Candidate.mission == mission,
                    Candidate.host_id.in_(names_m[start : start + _IN_CHUNK]),
                )
                .group_by(Candidate.host_id)
            )
            for host, n in session.execute(stmt2):
                counts[(str(mission), str(host))] = int(n)
    frame["n_candidates_on_host"] = [
        float(counts.get((m, h), 1)) if h is not None else 1.0
        for m, h in zip(frame["mission"], frame["host_id"], strict=True)
    ]
    return frame


def _artifact_dir(version: ModelVersion, settings: Settings | None) -> Path:
    path = Path(version.artifact_path)
    if path.is_dir() or settings is None:
        return path
    return settings.models_path / version.id


def training_profiles(
    version: ModelVersion, *, settings: Settings | None = None, n_bins: int = DEFAULT_BINS
) -> dict[str, BinProfile] | None:
    """The training distribution of a version's features.

    Read from ``drift_reference.json`` in the artifact directory (written by the retraining
    job); for versions trained elsewhere it is computed once from the archive tables the
    version's config trains on and saved there. None when neither is possible.
    """
    directory = _artifact_dir(version, settings)
    profiles = load_drift_reference(directory)
    if profiles is not None:
        return profiles
    if version.kind != "gbm" or settings is None:
        return None
    try:
        config = GBMConfig.model_validate(version.config)
        tables = load_default_catalogs(settings.catalogs_dir)
        data = labelled_data(tables, features=config.feature_names, missions=config.train_missions)
    except Exception as exc:  # no catalogs or an old config: drift cannot be measured
        logger.warning("no training distribution for %s: %s", version.id, exc)
        return None
    profiles = drift_profiles(data.X, n_bins=n_bins)
    if directory.is_dir():
        save_drift_reference(directory, profiles, n_bins=n_bins)
    return profiles


def feature_drift(
    session: Session,
    version: ModelVersion,
    candidate_ids: Sequence[int],
    *,
    profiles: Mapping[str, BinProfile],
) -> dict[str, float]:
    """PSI per feature of the candidates against the training profiles."""
    if not candidate_ids:
        return {}
    frame = candidate_frame(session, candidate_ids)
    names = [n for n in profiles]
    features = build_features(
        frame, features=names, n_candidates_on_host=frame["n_candidates_on_host"].to_numpy()
    )
    return psi_per_feature(profiles, features)


def record_snapshot(
    session: Session,
    version_id: str,
    *,
    settings: Settings | None = None,
    since: datetime | None = None,
    profiles: Mapping[str, BinProfile] | None = None,
    now: datetime | None = None,
) -> MonitoringSnapshot:
    """Measure a version and append the figures to ``model_metrics`` (one time stamp).

    ``since`` bounds the prediction window (default: the last 30 days); ``profiles`` are the
    training distributions (default: :func:`training_profiles`).
    """
    version = ModelVersionRepository(session).get(version_id)
    if version is None:
        raise NotFoundError(f"model version {version_id!r} not found")
    moment = now or utcnow()
    start = since if since is not None else moment - DEFAULT_WINDOW
    values: dict[str, float] = {}

    accuracy, n_vetted = vetted_accuracy(session, version)
    values["vetted_n"] = float(n_vetted)
    if accuracy is not None:
        values["vetted_accuracy"] = accuracy

    candidate_ids, probabilities = _window_candidates(session, version.id, since=start)
    threshold = float((version.config or {}).get("threshold", 0.5))
    values.update(prediction_distribution(probabilities, threshold=threshold))

    refs = profiles if profiles is not None else training_profiles(version, settings=settings)
    drift = (
        feature_drift(session, version, candidate_ids, profiles=refs) if refs is not None else {}
    )
    finite_drift = {k: v for k, v in drift.items() if math.isfinite(v)}
    for name, value in finite_drift.items():
        values[f"drift_psi.{name}"] = value
    if finite_drift:
        values["drift_psi_max"] = max(finite_drift.values())

    ModelMetricRepository(session).record_many(
        version.id, values, labels={"window_start": start.isoformat()}, time=moment
    )
    return MonitoringSnapshot(version_id=version.id, time=moment, values=values, drift=finite_drift)


def monitor_deployed(
    session: Session, *, settings: Settings | None = None, since: datetime | None = None
) -> list[MonitoringSnapshot]:
    """:func:`record_snapshot` of the active and the canary version (those that exist)."""
    repo = ModelVersionRepository(session)
    versions = [v for v in (repo.get_active(), repo.get_canary()) if v is not None]
    return [record_snapshot(session, v.id, settings=settings, since=since) for v in versions]


class _LifecycleGauges:
    """Gauges beyond AppMetrics' own, registered once per Prometheus registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.prediction_mean = Gauge(
            "exoguard_prediction_mean",
            "Mean predicted planet probability (monitoring window)",
            ["model_version"],
            registry=registry,
        )
        self.prediction_share = Gauge(
            "exoguard_prediction_share",
            "Share of predicted probabilities per 0.1-wide bin (monitoring window)",
            ["model_version", "bin"],
            registry=registry,
        )
        self.vetted_n = Gauge(
            "exoguard_model_vetted_labels",
            "Vetted labels the accuracy gauge is computed on",
            ["model_version"],
            registry=registry,
        )
        self.model_status = Gauge(
            "exoguard_model_deployed",
            "1 for the deployed model versions, by role (active or canary)",
            ["model_version", "status"],
            registry=registry,
        )
        self.canary_fraction = Gauge(
            "exoguard_canary_fraction",
            "Share of predictions routed to the canary version (0 without a canary)",
            registry=registry,
        )


_extra: weakref.WeakKeyDictionary[CollectorRegistry, _LifecycleGauges] = weakref.WeakKeyDictionary()


def _gauges(registry: CollectorRegistry) -> _LifecycleGauges:
    gauges = _extra.get(registry)
    if gauges is None:
        gauges = _LifecycleGauges(registry)
        _extra[registry] = gauges
    return gauges


def _latest_values(session: Session, version_id: str) -> dict[str, float]:
    """The latest value of every metric name of a version."""
    newest = (
        select(ModelMetric.name.label("name"), func.max(ModelMetric.time).label("time"))
        .where(ModelMetric.version_id == version_id)
        .group_by(ModelMetric.name)
        .subquery()
    )
    stmt = (
        select(ModelMetric.name, ModelMetric.value)
        .join(newest, (ModelMetric.name == newest.c.name) & (ModelMetric.time == newest.c.time))
        .where(ModelMetric.version_id == version_id)
    )
    return {str(n): float(v) for n, v in session.execute(stmt).tuples()}


def export_to_prometheus(
    metrics: AppMetrics, session: Session, *, canary_fraction: float | None = None
) -> dict[str, dict[str, float]]:
    """Fill the model gauges of ``metrics`` from the latest ``model_metrics`` points.

    Sets ``exoguard_model_accuracy_vetted`` and ``exoguard_feature_drift_psi`` (AppMetrics)
    plus ``exoguard_prediction_mean``, ``exoguard_prediction_share``,
    ``exoguard_model_vetted_labels``, ``exoguard_model_deployed`` and
    ``exoguard_canary_fraction`` for the active and the canary version. Series of versions
    that are no longer deployed are removed. Returns the values used, per version.
    """
    extra = _gauges(metrics.registry)
    for gauge in (
        metrics.model_accuracy,
        metrics.drift,
        extra.prediction_mean,
        extra.prediction_share,
        extra.vetted_n,
        extra.model_status,
    ):
        gauge.clear()
    repo = ModelVersionRepository(session)
    deployed = [
        (v, role)
        for v, role in ((repo.get_active(), "active"), (repo.get_canary(), "canary"))
        if v is not None
    ]
    out: dict[str, dict[str, float]] = {}
    for version, role in deployed:
        values = _latest_values(session, version.id)
        out[version.id] = values
        extra.model_status.labels(version.id, role).set(1)
        if "vetted_accuracy" in values:
            metrics.model_accuracy.labels(version.id).set(values["vetted_accuracy"])
        if "vetted_n" in values:
            extra.vetted_n.labels(version.id).set(values["vetted_n"])
        if "prediction_mean" in values:
            extra.prediction_mean.labels(version.id).set(values["prediction_mean"])
        for name, value in values.items():
            if name.startswith("drift_psi."):
                metrics.drift.labels(version.id, name.removeprefix("drift_psi.")).set(value)
            elif name.startswith("prediction_hist_"):
                i = int(name.removeprefix("prediction_hist_"))
                label = f"{i / HIST_BINS:.1f}-{(i + 1) / HIST_BINS:.1f}"
                extra.prediction_share.labels(version.id, label).set(value)
    has_canary = any(role == "canary" for _, role in deployed)
    extra.canary_fraction.set(float(canary_fraction or 0.0) if has_canary else 0.0)
    return out


def observe_predictions(
    metrics: AppMetrics, version_id: str, probabilities: Iterable[float]
) -> None:
    """Add served probabilities to the ``exoguard_prediction_probability`` histogram."""
    histogram = metrics.predictions.labels(version_id)
    for p in probabilities:
        if math.isfinite(float(p)):
            histogram.observe(float(p))


__all__ = [
    "candidate_frame",
    "export_to_prometheus",
    "feature_drift",
    "latest_predictions",
    "monitor_deployed",
    "observe_predictions",
    "record_snapshot",
    "training_profiles",
    "vetted_accuracy",
    "vetted_labels",
]
