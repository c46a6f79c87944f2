"""The model lifecycle as the app runs it: evaluation of the canary on vetted labels,
promotion and rollback, retraining with the curated set, and the timeline.

The rules (routing buckets, metrics, the decision, the curated merge) are pure and live in
:mod:`exoguard.ml.lifecycle`; serving with a canary is :mod:`exoguard.services.canary`.
Activation, events and retention are :mod:`exoguard.store.activation`, re-exported here
(``promote``, ``rollback``, ``start_canary``) as the one way the CLI, the API and the jobs
change which version serves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exoguard.catalogs import load_default_catalogs
from exoguard.errors import NotFoundError, ValidationError
from exoguard.ml.dataset import labelled_data
from exoguard.ml.lifecycle import (
    CANARY_METRICS,
    DEFAULT_MIN_LABELS,
    DEFAULT_TOLERANCE,
    TIMELINE_METRICS,
    CanaryEvaluation,
    decide_canary,
    resolve_config,
    tables_with_curated,
)
from exoguard.ml.monitoring import drift_profiles, predicted_label, save_drift_reference
from exoguard.ml.train import n_boosters_to_train, train_gbm
from exoguard.services.monitoring import latest_predictions, vetted_labels
from exoguard.store.activation import (
    KEEP_DEPLOYABLE,
    LifecycleAction,
    artifacts_exist,
    enforce_retention,
    promote,
    record_event,
    rollback,
    start_canary,
)
from exoguard.store.model_registry import session_registry
from exoguard.store.models import ModelVersion, Prediction, VettingItem
from exoguard.store.repositories import (
    CandidateRepository,
    ModelMetricRepository,
    ModelVersionRepository,
)
from exoguard.store.types import utcnow

if TYPE_CHECKING:
    from exoguard.catalogs import CatalogTable
    from exoguard.config import Settings

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, str | None], None]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def paired_labels(session: Session, *, canary: ModelVersion, active: ModelVersion) -> pd.DataFrame:
    """Vetted candidates (settled after the canary was created) scored by both versions.

    Columns ``candidate_id``, ``y`` (1 planet), ``p_canary``, ``v_canary``, ``p_active``,
    ``v_active`` (``v`` = verdict 0/1), one row per candidate, ordered by id.
    """
    labels = vetted_labels(session, settled_after=canary.created_at)
    ids = sorted(labels)
    by_canary = latest_predictions(session, canary.id, ids)
    by_active = latest_predictions(session, active.id, ids)
    rows = []
    for cid in ids:
        if cid in by_canary and cid in by_active:
            pc, lc = by_canary[cid]
            pa, la = by_active[cid]
            rows.append(
                {
                    "candidate_id": cid,
                    "y": int(labels[cid][0] == "planet"),
                    "p_canary": pc,
                    "v_canary": int(predicted_label(pc, lc) == "planet"),
                    "p_active": pa,
                    "v_active": int(predicted_label(pa, la) == "planet"),
                }
            )
    columns = ["candidate_id", "y", "p_canary", "v_canary", "p_active", "v_active"]
    return pd.DataFrame(rows, columns=columns)


def _check_canary_args(metric: str, tolerance: float, min_labels: int) -> None:
    if metric not in CANARY_METRICS:
        raise ValidationError(f"metric must be one of {', '.join(CANARY_METRICS)}; got {metric!r}")
    if not 0.0 <= tolerance < 1.0:
        raise ValidationError(f"tolerance must be in [0, 1); got {tolerance}")
    if min_labels < 1:
        raise ValidationError(f"min_labels must be >= 1; got {min_labels}")


def _record_canary_figures(
    session: Session,
    result: CanaryEvaluation,
    *,
    metric: str,
    canary_id: str,
    active_id: str,
    now: datetime,
) -> None:
    """``canary_eval_<metric>`` on both versions (finite values) and ``canary_eval_n``."""
    assert result.canary_value is not None and result.active_value is not None
    metrics = ModelMetricRepository(session)
    labels = {"canary": canary_id, "active": active_id}
    name = f"canary_eval_{metric}"
    if math.isfinite(result.canary_value):
        metrics.record(canary_id, name, result.canary_value, labels=labels, time=now)
    if math.isfinite(result.active_value):
        metrics.record(active_id, name, result.active_value, labels=labels, time=now)
    metrics.record(canary_id, "canary_eval_n", float(result.n_labels), labels=labels, time=now)


def evaluate_canary(
    session: Session,
    *,
    metric: str = "accuracy",
    tolerance: float = DEFAULT_TOLERANCE,
    min_labels: int = DEFAULT_MIN_LABELS,
    decide_after_labels: int | None = None,
    apply: bool = True,
    settings: Settings | None = None,
) -> CanaryEvaluation:
    """Compare the canary with the active version on vetted labels and act on the result.

    Parameters
    ----------
    metric
        ``accuracy`` (default), ``balanced_accuracy``, ``roc_auc`` or ``brier``.
    tolerance
        Relative degradation above which the canary is rolled back (0.05 = 5 %).
    min_labels
        Paired vetted labels needed before any decision.
    decide_after_labels
        A canary within the tolerance but worse is held until this many labels (default
        ``4 * min_labels``), then promoted.
    apply
        False: report the decision without changing any status.

    The figures are recorded in ``model_metrics`` (``canary_eval_<metric>`` on both versions,
    and ``canary_eval_n``) and the evaluation in the canary's ``metrics["canary_evaluation"]``.
    """
    _check_canary_args(metric, tolerance, min_labels)
    hold_limit = decide_after_labels if decide_after_labels is not None else 4 * min_labels
    now = utcnow()
    repo = ModelVersionRepository(session)
    canary, active = repo.get_canary(), repo.get_active()
    base = CanaryEvaluation(
        decision="no_canary",
        canary=canary.id if canary else None,
        active=active.id if active else None,
        metric=metric,
        min_labels=min_labels,
        tolerance=tolerance,
        time=now.isoformat(timespec="seconds"),
    )
    if canary is None:
        return replace(base, reason="no canary version")
    if active is None:
        result = replace(base, decision="promoted", reason="no active version to compare with")
        if apply:
            promote(session, canary.id, settings=settings, reason="canary: no active version")
            result = replace(result, applied=True)
        return result

    pairs = paired_labels(session, canary=canary, active=active)
    result = decide_canary(base, pairs, active_id=active.id, hold_limit=hold_limit)
    if result.canary_value is not None and result.active_value is not None:
        _record_canary_figures(
            session, result, metric=metric, canary_id=canary.id, active_id=active.id, now=now
        )

    stored = dict(canary.metrics or {})
    stored["canary_evaluation"] = result.to_dict()
    canary.metrics = stored
    session.flush()
    if apply and result.decision == "rolled_back":
        rollback(session, settings=settings, reason=f"automatic: {result.reason}")
        result = replace(result, applied=True)
    elif apply and result.decision == "promoted":
        promote(session, canary.id, settings=settings, reason=f"canary: {result.reason}")
        result = replace(result, applied=True)
    logger.info("canary %s: %s (%s)", canary.id, result.decision, result.reason)
    return result


@dataclass(frozen=True)
class CuratedSet:
    """The curated data set: candidates labelled by vetting consensus.

    Attributes
    ----------
    frame : DataFrame
        ``id`` and the harmonised columns of curated candidates labelled planet or
        false_positive.
    settled_until : datetime or None
        The latest consensus included.
    """

    frame: pd.DataFrame
    settled_until: datetime | None


def load_curated(session: Session) -> CuratedSet:
    """Read the curated data set (candidates with ``origin = "curated"``)."""
    frame = CandidateRepository(session).to_frame(origin="curated")
    frame = frame[frame["label"].isin(["planet", "false_positive"])].reset_index(drop=True)
    until = session.scalar(
        select(func.max(VettingItem.settled_at)).where(
            VettingItem.status == "settled", VettingItem.is_gold.is_(False)
        )
    )
    return CuratedSet(frame=frame, settled_until=until)


def retrain(
    session: Session,
    *,
    settings: Settings,
    config: str = "default",
    overrides: Mapping[str, Any] | Sequence[str] = (),
    tables: Sequence[CatalogTable] | None = None,
    curated: CuratedSet | None = None,
    progress: ProgressFn | None = None,
    keep: int = KEEP_DEPLOYABLE,
) -> dict[str, Any]:
    """Train a gbm version on the archive tables plus the curated set; register it as canary.

    When no version is active the new one becomes active at once (there is nothing to compare
    it with). ``overrides`` are ``NAME=VALUE`` strings or a mapping, as for ``exoguard train``.
    The training distribution of every feature is saved with the artifacts for drift
    monitoring. The caller commits.

    ``curated`` defaults to :func:`load_curated` on ``session``. Pass it (read in an earlier,
    finished transaction) to keep ``session`` unused until the model is fitted: the retraining
    job does so, so that no transaction stays open during training. ``progress`` is only
    called before the first write of ``session`` (a progress writer on another connection
    would otherwise wait for this transaction on SQLite).
    """

    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(fraction, message)

    gbm_config = resolve_config(config, overrides)
    report(0.01, "reading the archive tables and the curated set")
    archive = list(tables) if tables is not None else load_default_catalogs(settings.catalogs_dir)
    chosen = curated if curated is not None else load_curated(session)
    merged = tables_with_curated(archive, chosen.frame)
    data = labelled_data(
        merged.tables, features=gbm_config.feature_names, missions=gbm_config.train_missions
    )
    profiles = drift_profiles(data.X)

    total = max(1, n_boosters_to_train(gbm_config))  # training, then the named evaluation sets
    done = [0]

    def on_booster(n: int) -> None:
        done[0] += n
        report(0.05 + 0.9 * min(done[0] / total, 1.0), f"fitted {done[0]} of {total} boosters")

    registry = session_registry(session, settings)
    record = train_gbm(
        gbm_config,
        catalogs_dir=settings.catalogs_dir,
        tables=merged.tables,
        registry=registry,
        progress=on_booster,
        eval_tables=archive,  # the named sets hold the archive's rows for every version
    )
    save_drift_reference(Path(record.artifact_path), profiles)

    version = ModelVersionRepository(session).require(record.id)
    stored = dict(version.metrics or {})
    stored["curated"] = {
        "n_curated": int(len(chosen.frame)),
        "relabelled_archive_rows": merged.relabelled,
        "added_rows": merged.added,
        "settled_until": _iso(chosen.settled_until),
    }
    version.metrics = stored
    retired = _register_retrained(session, version, settings=settings, keep=keep)
    session.flush()
    logger.info(
        "retrained %s (%s) with %d curated labels", version.id, version.status, len(chosen.frame)
    )
    return {
        "version": version.id,
        "status": version.status,
        "n_train": stored.get("n_train"),
        "curated": stored["curated"],
        "retired": retired,
        "oof": ((stored.get("oof") or {}).get("all") or {}),
    }


def _register_retrained(
    session: Session, version: ModelVersion, *, settings: Settings, keep: int
) -> list[str]:
    """Start the new version as canary (or record that it became active); apply retention."""
    if version.status != "active":
        start_canary(session, version.id, settings=settings)
        record_event(version, "registered_by_retraining")
    else:
        record_event(version, "activated_by_retraining", reason="no active version")
    return enforce_retention(session, keep=keep)


def timeline(session: Session, *, settings: Settings, limit: int = 20) -> dict[str, Any]:
    """Model versions newest first, with status, traffic share, latest metrics and events."""
    if not 1 <= limit <= 200:
        raise ValidationError(f"limit must be between 1 and 200; got {limit}")
    cfg = settings
    repo = ModelVersionRepository(session)
    metrics = ModelMetricRepository(session)
    versions = list(repo.list())[:limit]
    active, canary = repo.get_active(), repo.get_canary()
    fraction = cfg.canary_fraction if canary is not None else 0.0
    observed: float | None = None
    if canary is not None and active is not None:
        n_canary = _count(session, canary.id, since=None)
        n_active = _count(session, active.id, since=canary.created_at)
        observed = n_canary / n_active if n_active else None

    rows = []
    for v in versions:
        share = 0.0
        if v.status == "active":
            share = 1.0 - fraction
        elif v.status == "canary":
            share = fraction
        latest: dict[str, Any] = {}
        for name in TIMELINE_METRICS:
            point = metrics.latest(v.id, name)
            if point is not None:
                latest[name] = {"value": point.value, "time": point.time.isoformat()}
        stored = v.metrics or {}
        rows.append(
            {
                "id": v.id,
                "kind": v.kind,
                "status": v.status,
                "created_at": v.created_at.isoformat() if v.created_at else None,
                "activated_at": v.activated_at.isoformat() if v.activated_at else None,
                "deployable": v.status != "retired" and artifacts_exist(v, cfg),
                "traffic_share": share,
                "latest_metrics": latest,
                "canary_evaluation": stored.get("canary_evaluation"),
                "curated": stored.get("curated"),
                "events": list(stored.get("lifecycle") or []),
            }
        )
    return {
        "active": active.id if active else None,
        "canary": canary.id if canary else None,
        "canary_fraction": cfg.canary_fraction,
        "observed_canary_share": observed,
        "keep_deployable": KEEP_DEPLOYABLE,
        "versions": rows,
    }


def _count(session: Session, version_id: str, *, since: datetime | None) -> int:
    stmt = select(func.count(Prediction.id)).where(Prediction.model_version == version_id)
    if since is not None:
        stmt = stmt.where(Prediction.created_at >= since)
    return int(session.scalar(stmt) or 0)


def require_version(session: Session, version_id: str) -> ModelVersion:
    """The version or `NotFoundError`."""
    version = ModelVersionRepository(session).get(version_id)
    if version is None:
        raise NotFoundError(f"model version {version_id!r} not found")
    return version


__all__ = [
    "KEEP_DEPLOYABLE",
    "CuratedSet",
    "LifecycleAction",
    "artifacts_exist",
    "enforce_retention",
    "evaluate_canary",
    "load_curated",
    "paired_labels",
    "promote",
    "require_version",
    "retrain",
    "rollback",
    "start_canary",
    "timeline",
]
