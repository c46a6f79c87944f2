"""The model registry as the API shows it: versions, metrics, activation, explanations."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from exoguard.config import Settings
from exoguard.errors import ModelNotReadyError, NotFoundError, ValidationError
from exoguard.ml.evalsets import EVAL_SETS, headline, named_sets, summary
from exoguard.ml.service import explain_with_inputs
from exoguard.services.predictions import frame_for_ids, model_registry
from exoguard.store.activation import promote
from exoguard.store.models import ModelVersion
from exoguard.store.repositories import (
    CandidateRepository,
    ModelMetricRepository,
    ModelVersionRepository,
    PredictionRepository,
)

log = logging.getLogger(__name__)

#: Contributions returned by the explain route (largest |SHAP| first).
TOP_CONTRIBUTIONS = 12


def headline_metrics(
    kind: str,
    metrics: Mapping[str, Any] | None,
    *,
    config: Mapping[str, Any] | None = None,
    set_name: str | None = None,
) -> dict[str, Any]:
    """The figures of a version on one named evaluation set (its primary set by default).

    ``{"set": name, "roc_auc": ..., "ece": ..., ...}``; only ``set`` when the version was not
    evaluated on it. One function for the versions table, the API and the charts' titles,
    so that the same set shows the same numbers everywhere (:mod:`exoguard.ml.evalsets`).
    """
    try:
        name, figures = headline(kind, metrics, config=config, set_name=set_name)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    return {"set": name, **figures}


def version_view(version: ModelVersion) -> dict[str, Any]:
    """The public fields of a model version (without the bulky evaluation).

    ``summary`` holds the figures on ``summary_set``; ``sets`` the figures on every named
    evaluation set the version was scored on.
    """

    metrics = version.metrics or {}
    head = headline_metrics(version.kind, metrics, config=version.config)
    name = head.pop("set")
    sets = named_sets(version.kind, metrics, config=version.config)
    return {
        "id": version.id,
        "kind": version.kind,
        "status": version.status,
        "config": version.config,
        "data_hash": version.data_hash,
        "created_at": version.created_at.isoformat() if version.created_at else None,
        "activated_at": version.activated_at.isoformat() if version.activated_at else None,
        "summary": {
            k: head.get(k) for k in ("roc_auc", "pr_auc", "accuracy", "brier", "ece") if k in head
        },
        "summary_set": name,
        "summary_source": f"{name}: {EVAL_SETS[name]}",
        "sets": {set_name: summary(block) for set_name, block in sets.items()},
        "evaluated": bool(sets),
    }


def list_versions(session: Session) -> list[dict[str, Any]]:
    return [version_view(v) for v in ModelVersionRepository(session).list()]


def resolve_version(session: Session, version_id: str | None) -> ModelVersion:
    """The given version, or the active one; NotFound / ModelNotReady otherwise."""
    repo = ModelVersionRepository(session)
    if version_id is not None:
        return repo.require(version_id)
    active = repo.get_active()
    if active is None:
        raise ModelNotReadyError("no active model version; train one first")
    return active


def _artifact_json(version: ModelVersion, name: str, settings: Settings) -> Any:
    for directory in (Path(version.artifact_path), settings.models_path / version.id):
        path = directory / name
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                log.warning("cannot read %s: %s", path, exc)
                return None
    return None


def metrics(session: Session, settings: Settings, version_id: str | None) -> dict[str, Any]:
    """The stored evaluation of a version: training metrics, evaluation report, importance."""
    version = resolve_version(session, version_id)
    series_repo = ModelMetricRepository(session)
    series = {}
    for name in series_repo.names(version.id):
        point = series_repo.latest(version.id, name)
        if point is not None:
            series[name] = {"value": point.value, "time": point.time.isoformat()}
    return {
        "version": version_view(version),
        "metrics": version.metrics or {},
        "importance": _artifact_json(version, "importance.json", settings) or [],
        "series_latest": series,
    }


def activate(
    session: Session, settings: Settings, version_id: str, *, actor_id: int | None = None
) -> ModelVersion:
    """Make a version the active one by the one activation rule
    (:func:`exoguard.store.activation.promote`). The caller commits."""
    promote(session, version_id, settings=settings, reason="activate", actor_id=actor_id)
    return ModelVersionRepository(session).require(version_id)


def explain(
    session: Session, settings: Settings, *, candidate_id: int, version_id: str | None
) -> dict[str, Any]:
    """SHAP contributions (log-odds; positive pushes towards planet) of one candidate.

    Stored on the candidate's latest prediction by that version the first time they are asked.
    """
    candidate = CandidateRepository(session).get(candidate_id)
    if candidate is None:
        raise NotFoundError(f"candidate {candidate_id} not found")
    version = resolve_version(session, version_id)
    predictions = PredictionRepository(session)
    latest = predictions.latest_for_candidate(candidate_id, model_version=version.id)
    cached = (latest.explanation or {}) if latest is not None else {}
    if cached.get("contributions"):
        return {"candidate_id": candidate_id, **cached}
    registry = model_registry(settings)
    frame = frame_for_ids(session, [candidate_id])
    contributions, features = explain_with_inputs(frame, version=version.id, registry=registry)
    row = contributions.iloc[0]
    base = float(row["base_value"])
    items = [
        {
            "feature": name,
            "value": None if features[name].isna().iloc[0] else float(features[name].iloc[0]),
            "contribution": float(row[name]),
        }
        for name in contributions.columns
        if name != "base_value" and pd.notna(row[name])  # absent fields contribute nothing
    ]
    items.sort(key=lambda item: abs(item["contribution"]), reverse=True)
    explanation = {
        "model_version": version.id,
        "base_value": base,
        "log_odds": base + sum(item["contribution"] for item in items),
        "contributions": items[:TOP_CONTRIBUTIONS],
        "n_features": len(items),
        "units": "log-odds (positive: towards planet)",
    }
    if latest is not None:  # keep what the verdict rests on, stored with the prediction
        latest.explanation = {**cached, **explanation}
    return {"candidate_id": candidate_id, **cached, **explanation}
