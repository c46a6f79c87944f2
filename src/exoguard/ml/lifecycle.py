"""The model lifecycle: canary routing, evaluation on vetted labels, promotion and rollback,
retention of deployable versions, and retraining with the curated set.

Canary routing
--------------
While a version has status ``canary``, a deterministic share (``settings.canary_fraction``,
10 %) of candidates is served by it: candidate ``c`` goes to the canary when
``int(sha256(str(c))[:8 bytes]) / 2**64 < fraction`` — the same candidate always takes the
same route, on every replica and in every process (Python's ``hash`` is salted per process and
would not be). The active version scores every candidate; on the routed ones its prediction
is logged as a shadow next to the canary's, so the two versions can be compared on exactly the
same candidates. Predictions carry ``canary = True`` when the canary version made them.

Evaluation and decision (:func:`evaluate_canary`)
-------------------------------------------------
Labels are vetting consensus labels settled *after* the canary was created (earlier ones may
be in its training set, which would flatter it). On the candidates where both versions have a
logged prediction, the metric of each is computed and the relative degradation

    ``(active - canary) / active``   (``(canary - active) / active`` for the Brier score)

decides: more than ``tolerance`` (5 %) worse → automatic rollback (the canary is retired);
not worse → promotion; worse by at most the tolerance → hold for more labels, and promote
once ``decide_after_labels`` labels agree that it stays within the tolerance. Fewer than
``min_labels`` paired labels → pending.

Retention
---------
The active version, the canary and the three most recent other versions stay deployable; older
versions are marked ``retired`` (their artifacts stay on disk; the active version is never
retired). A retired version cannot be promoted.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import HARMONISED_COLUMNS, LABELS
from exoguard.errors import (
    ExoguardError,
    ModelNotReadyError,
    NotFoundError,
    ValidationError,
)
from exoguard.ml.monitoring import (
    drift_profiles,
    latest_predictions,
    predicted_label,
    save_drift_reference,
    vetted_labels,
)
from exoguard.ml.registry import ModelRegistry, VersionRecord, record_of
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
    from exoguard.ml.configs import GBMConfig

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE: Final = 0.05
DEFAULT_MIN_LABELS: Final = 50
CANARY_METRICS: Final[tuple[str, ...]] = ("accuracy", "balanced_accuracy", "roc_auc", "brier")
_LOWER_IS_BETTER: Final = frozenset({"brier"})
CanaryDecision = Literal["no_canary", "pending", "hold", "promoted", "rolled_back"]
ProgressFn = Callable[[float, str | None], None]


# --------------------------------------------------------------------------------------------
# The registry inside one transaction
# --------------------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


class SessionVersionStore:
    """`exoguard.ml.registry.VersionStore` over the caller's session (it never commits).

    With it, registering a version, making it the canary and recording its metrics happen in
    one transaction, and the registry sees rows the transaction has not committed yet.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.repo = ModelVersionRepository(session)

    def create(self, record: VersionRecord) -> VersionRecord:
        version = self.repo.create(
            version_id=record.id,
            kind=record.kind,
            config=record.config,
            data_hash=record.data_hash,
            artifact_path=record.artifact_path,
            metrics=record.metrics,
            status=record.status,
        )
        return record_of(version)

    def get(self, version_id: str) -> VersionRecord | None:
        version = self.repo.get(version_id)
        return None if version is None else record_of(version)

    def list(self) -> list[VersionRecord]:
        return [record_of(v) for v in self.repo.list()]

    def get_active(self) -> VersionRecord | None:
        version = self.repo.get_active()
        return None if version is None else record_of(version)

    def activate(self, version_id: str, *, reason: str = "activate") -> VersionRecord:
        promote(self.session, version_id, reason=reason)
        return record_of(self.repo.require(version_id))

    def set_metrics(self, version_id: str, metrics: Mapping[str, Any]) -> VersionRecord:
        return record_of(self.repo.set_metrics(version_id, metrics))

    def record_metrics(
        self,
        version_id: str,
        values: Mapping[str, float],
        *,
        labels: Mapping[str, Any] | None = None,
    ) -> None:
        ModelMetricRepository(self.session).record_many(version_id, dict(values), labels=labels)


def session_registry(session: Session, settings: Settings) -> ModelRegistry:
    """A model registry whose records live in ``session``'s transaction."""
    return ModelRegistry(settings.models_path, SessionVersionStore(session))


# --------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------


def canary_bucket(candidate_id: int | str) -> float:
    """A uniform number in [0, 1) fixed by the candidate id (first 8 bytes of its SHA-256)."""
    digest = hashlib.sha256(str(candidate_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def routes_to_canary(candidate_id: int | str, *, fraction: float) -> bool:
    """True when the candidate belongs to the canary's share ``fraction`` (0–1)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction!r}")
    return canary_bucket(candidate_id) < fraction


def canary_mask(candidate_ids: Iterable[int | str], *, fraction: float) -> np.ndarray:
    """Boolean mask, shape (n,): which candidates the canary serves."""
    return np.array([routes_to_canary(c, fraction=fraction) for c in candidate_ids], dtype=bool)


@dataclass(frozen=True)
class RoutedPredictions:
    """What :func:`predict_with_canary` served and logged.

    Attributes
    ----------
    served : DataFrame, index of the input frame
        ``candidate_id``, ``probability``, ``uncertainty``, ``label``, ``model_version``,
        ``canary`` (served by the canary version) and ``prediction_id`` (the stored row).
    active_version, canary_version
        The versions involved (``canary_version`` None without a canary).
    n_logged
        Prediction rows written (served plus the active version's shadow predictions).
    """

    served: pd.DataFrame
    active_version: str
    canary_version: str | None
    n_logged: int

    @property
    def n_canary(self) -> int:
        return int(self.served["canary"].sum()) if len(self.served) else 0

    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per served prediction."""
        return [
            {
                "candidate_id": int(r.candidate_id),
                "probability": float(r.probability),
                "uncertainty": float(r.uncertainty),
                "label": str(r.label),
                "model_version": str(r.model_version),
                "canary": bool(r.canary),
                "prediction_id": int(r.prediction_id),
            }
            for r in self.served.itertuples(index=False)
        ]


def _rows(
    candidate_ids: Sequence[int], scores: pd.DataFrame, *, version: str, canary: bool
) -> list[dict[str, Any]]:
    now = utcnow()
    out = []
    for cid, p, u, label in zip(
        candidate_ids,
        scores["probability"].to_numpy(dtype=float),
        scores["uncertainty"].to_numpy(dtype=float),
        scores["label"].astype(str),
        strict=True,
    ):
        if label not in LABELS:  # pragma: no cover - guards the contract with exoguard.ml
            raise ModelNotReadyError(f"model {version} returned the unknown label {label!r}")
        out.append(
            {
                "candidate_id": int(cid),
                "model_version": version,
                "probability": float(np.clip(p, 0.0, 1.0)),
                "uncertainty": float(max(u, 0.0)) if math.isfinite(u) else 0.0,
                "label": label,
                "canary": canary,
                "created_at": now,
            }
        )
    return out


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    if not rows:
        return []
    stmt = insert(Prediction).returning(Prediction.id, sort_by_parameter_order=True)
    return [int(i) for i in session.scalars(stmt, rows)]


def predict_with_canary(
    session: Session,
    frame: pd.DataFrame,
    *,
    candidate_ids: Sequence[int],
    settings: Settings,
    registry: ModelRegistry | None = None,
) -> RoutedPredictions:
    """Score stored candidates with the active version (and the canary on its share); log all.

    Parameters
    ----------
    frame : DataFrame, shape (n, ...)
        Harmonised rows of the candidates (what ``exoguard.ml.service.predict_frame`` takes).
    candidate_ids : sequence of int, length n
        The stored candidate of each row (routing key and foreign key of the predictions).
    settings, registry
        ``settings.canary_fraction`` and where model artifacts are; the registry defaults to
        one reading versions through ``session``.

    Raises
    ------
    ModelNotReadyError
        No active version. A canary that cannot be loaded is skipped (logged), never fatal.
    """
    from exoguard.ml.service import predict_frame

    if len(candidate_ids) != len(frame):
        raise ValueError(f"{len(candidate_ids)} candidate ids for {len(frame)} rows")
    repo = ModelVersionRepository(session)
    active = repo.get_active()
    if active is None:
        raise ModelNotReadyError("no active model version; train one first")
    canary = repo.get_canary()
    reg = registry or session_registry(session, settings)
    ids = [int(c) for c in candidate_ids]

    served = predict_frame(frame, version=active.id, registry=reg)
    served = served.assign(canary=False, model_version=active.id)
    mask = (
        canary_mask(ids, fraction=settings.canary_fraction)
        if canary is not None
        else np.zeros(len(ids), dtype=bool)
    )
    canary_scores: pd.DataFrame | None = None
    if canary is not None and mask.any():
        try:
            canary_scores = predict_frame(frame[mask], version=canary.id, registry=reg)
        except (ExoguardError, OSError) as exc:
            logger.warning("canary %s cannot predict (%s); serving %s", canary.id, exc, active.id)
            mask[:] = False

    # The active version's rows first, so the canary's row is each routed candidate's latest.
    active_ids = _insert(session, _rows(ids, served, version=active.id, canary=False))
    prediction_ids = np.array(active_ids, dtype=np.int64)
    n_logged = len(active_ids)
    if canary is not None and canary_scores is not None:
        routed = [c for c, m in zip(ids, mask, strict=True) if m]
        canary_ids = _insert(session, _rows(routed, canary_scores, version=canary.id, canary=True))
        n_logged += len(canary_ids)
        for column in ("probability", "uncertainty", "label"):
            served.loc[mask, column] = canary_scores[column].to_numpy()
        served.loc[mask, "model_version"] = canary.id
        served.loc[mask, "canary"] = True
        prediction_ids[mask] = canary_ids
    served = served.assign(candidate_id=ids, prediction_id=prediction_ids)
    served["canary"] = served["canary"].astype(bool)
    columns = ["candidate_id", "probability", "uncertainty", "label", "model_version", "canary"]
    return RoutedPredictions(
        served=served[[*columns, "prediction_id"]],
        active_version=active.id,
        canary_version=canary.id if canary is not None else None,
        n_logged=n_logged,
    )


# --------------------------------------------------------------------------------------------
# Canary evaluation
# --------------------------------------------------------------------------------------------


def score(metric: str, y_true: np.ndarray, probability: np.ndarray, verdict: np.ndarray) -> float:
    """One metric of binary predictions: 0/1 truth, probabilities and 0/1 verdicts, shape (n,).

    ``roc_auc`` is NaN when only one class is present.
    """
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(probability, dtype=float)
    v = np.asarray(verdict, dtype=int)
    if metric == "accuracy":
        return float((v == y).mean())
    if metric == "balanced_accuracy":
        recalls = [float((v[y == k] == k).mean()) for k in (0, 1) if (y == k).any()]
        return float(np.mean(recalls))
    if metric == "brier":
        return float(np.mean((p - y) ** 2))
    if metric == "roc_auc":
        if len(np.unique(y)) < 2:
            return float("nan")
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(y, p))
    raise ValueError(f"metric must be one of {', '.join(CANARY_METRICS)}; got {metric!r}")


def degradation(metric: str, *, active: float, canary: float) -> float:
    """How much worse the canary is, relative to the active version (negative: better)."""
    scale = max(abs(active), 1e-12)
    if metric in _LOWER_IS_BETTER:
        return (canary - active) / scale
    return (active - canary) / scale


@dataclass(frozen=True)
class CanaryEvaluation:
    """The comparison of the canary with the active version on vetted labels."""

    decision: CanaryDecision
    canary: str | None
    active: str | None
    metric: str
    canary_value: float | None = None
    active_value: float | None = None
    degradation: float | None = None
    n_labels: int = 0
    min_labels: int = DEFAULT_MIN_LABELS
    tolerance: float = DEFAULT_TOLERANCE
    applied: bool = False
    reason: str = ""
    time: str = ""

    def to_dict(self) -> dict[str, Any]:
        def finite(x: float | None) -> float | None:
            return x if x is None or math.isfinite(x) else None

        return {
            "decision": self.decision,
            "canary": self.canary,
            "active": self.active,
            "metric": self.metric,
            "canary_value": finite(self.canary_value),
            "active_value": finite(self.active_value),
            "degradation": finite(self.degradation),
            "n_labels": self.n_labels,
            "min_labels": self.min_labels,
            "tolerance": self.tolerance,
            "applied": self.applied,
            "reason": self.reason,
            "time": self.time,
        }


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
    if metric not in CANARY_METRICS:
        raise ValidationError(f"metric must be one of {', '.join(CANARY_METRICS)}; got {metric!r}")
    if not 0.0 <= tolerance < 1.0:
        raise ValidationError(f"tolerance must be in [0, 1); got {tolerance}")
    if min_labels < 1:
        raise ValidationError(f"min_labels must be >= 1; got {min_labels}")
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
    n = len(pairs)
    if n < min_labels:
        result = replace(
            base,
            decision="pending",
            n_labels=n,
            reason=f"{n} vetted labels since the canary started; {min_labels} needed",
        )
    else:
        y = pairs["y"].to_numpy()
        value_c = score(metric, y, pairs["p_canary"].to_numpy(), pairs["v_canary"].to_numpy())
        value_a = score(metric, y, pairs["p_active"].to_numpy(), pairs["v_active"].to_numpy())
        worse = degradation(metric, active=value_a, canary=value_c)
        if not math.isfinite(worse):
            decision: CanaryDecision = "pending"
            reason = f"{metric} is undefined on these labels (one class only)"
        elif worse > tolerance:
            decision = "rolled_back"
            reason = (
                f"{metric} {value_c:.4f} is {worse:.1%} worse than {active.id}'s {value_a:.4f} "
                f"(tolerance {tolerance:.0%})"
            )
        elif worse <= 0.0:
            decision = "promoted"
            reason = f"{metric} {value_c:.4f} is not worse than {active.id}'s {value_a:.4f}"
        elif n >= hold_limit:
            decision = "promoted"
            reason = (
                f"{metric} {value_c:.4f} stays within {tolerance:.0%} of {active.id}'s "
                f"{value_a:.4f} over {n} labels"
            )
        else:
            decision = "hold"
            reason = (
                f"{metric} {value_c:.4f} is {worse:.1%} worse than {value_a:.4f}, within the "
                f"tolerance; waiting for {hold_limit} labels"
            )
        result = replace(
            base,
            decision=decision,
            canary_value=value_c,
            active_value=value_a,
            degradation=worse,
            n_labels=n,
            reason=reason,
        )
        metrics = ModelMetricRepository(session)
        labels = {"canary": canary.id, "active": active.id}
        if math.isfinite(value_c):
            metrics.record(canary.id, f"canary_eval_{metric}", value_c, labels=labels, time=now)
        if math.isfinite(value_a):
            metrics.record(active.id, f"canary_eval_{metric}", value_a, labels=labels, time=now)
        metrics.record(canary.id, "canary_eval_n", float(n), labels=labels, time=now)

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


# --------------------------------------------------------------------------------------------
# Retraining with the curated set
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CuratedMerge:
    """Archive tables with the vetting consensus applied."""

    tables: list[CatalogTable]
    relabelled: int
    added: int


def tables_with_curated(tables: Sequence[CatalogTable], curated: pd.DataFrame) -> CuratedMerge:
    """Apply the curated labels to the archive tables.

    Rows of ``tables`` whose (mission, object_id) is in ``curated`` take the curated label;
    curated candidates not in any table (own transit-search finds, typed-in candidates) are
    added as one more harmonised table. Nothing else changes, so host multiplicities stay
    those of the archive.
    """
    from exoguard.catalogs import CatalogTable

    if len(curated) == 0:
        return CuratedMerge(tables=list(tables), relabelled=0, added=0)
    keys = curated["mission"].astype(str) + "\x1f" + curated["object_id"].astype(str)
    label_of = dict(zip(keys, curated["label"].astype(str), strict=True))
    used: set[str] = set()
    out: list[CatalogTable] = []
    relabelled = 0
    for table in tables:
        frame = table.frame
        row_keys = frame["mission"].astype(str) + "\x1f" + frame["object_id"].astype(str)
        hit = row_keys.isin(label_of.keys()).to_numpy()
        if hit.any():
            frame = frame.copy()
            frame.loc[hit, "label"] = row_keys[hit].map(label_of).to_numpy()
            relabelled += int(hit.sum())
            used.update(row_keys[hit])
            table = CatalogTable(
                kind=table.kind,
                source=table.source,
                frame=frame,
                report=table.report,
                archive_stamp=table.archive_stamp,
            )
        out.append(table)
    extra = curated[~keys.isin(used).to_numpy()]
    if len(extra):
        frame = extra.reindex(columns=list(HARMONISED_COLUMNS)).reset_index(drop=True)
        out.append(
            CatalogTable(kind="harmonised", source="curated (vetting consensus)", frame=frame)
        )
    return CuratedMerge(tables=out, relabelled=relabelled, added=len(extra))


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


def resolve_config(config: str, overrides: Mapping[str, Any] | Sequence[str] = ()) -> GBMConfig:
    """The named gbm config with ``NAME=VALUE`` overrides (strings or a mapping).

    Raises `ValidationError` naming the known configs or parameters.
    """
    from exoguard.ml.configs import apply_overrides, get_config

    items: list[str] = []
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            if isinstance(value, list | tuple):
                text = ",".join(str(v) for v in value)
            else:
                text = "none" if value is None else str(value)
            items.append(f"{key}={text}")
    else:
        items = [str(o) for o in overrides]
    try:
        return apply_overrides(get_config(config), items)
    except ExoguardError as exc:
        raise ValidationError(str(exc)) from exc


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
    from exoguard.catalogs import load_default_catalogs
    from exoguard.ml.dataset import labelled_data
    from exoguard.ml.train import n_boosters_to_train, train_gbm

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
        tables=merged.tables,
        registry=registry,
        progress=on_booster,
        eval_tables=archive,  # the named sets hold the archive's rows for every version
    )
    save_drift_reference(Path(record.artifact_path), profiles)

    repo = ModelVersionRepository(session)
    version = repo.require(record.id)
    stored = dict(version.metrics or {})
    stored["curated"] = {
        "n_curated": int(len(chosen.frame)),
        "relabelled_archive_rows": merged.relabelled,
        "added_rows": merged.added,
        "settled_until": _iso(chosen.settled_until),
    }
    version.metrics = stored
    if version.status != "active":
        start_canary(session, version.id, settings=settings)
        record_event(version, "registered_by_retraining")
    else:
        record_event(version, "activated_by_retraining", reason="no active version")
    retired = enforce_retention(session, keep=keep)
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


# --------------------------------------------------------------------------------------------
# Timeline
# --------------------------------------------------------------------------------------------

TIMELINE_METRICS: Final[tuple[str, ...]] = (
    "vetted_accuracy",
    "vetted_n",
    "prediction_n",
    "prediction_mean",
    "prediction_planet_share",
    "drift_psi_max",
    "canary_eval_accuracy",
    "canary_eval_n",
    "oof_roc_auc",
    "oof_accuracy",
    "oof_brier",
    "oof_ece",
)


def timeline(session: Session, *, settings: Settings, limit: int = 20) -> dict[str, Any]:
    """Model versions newest first, with status, traffic share, latest metrics and events."""
    if not 1 <= limit <= 200:
        raise ValidationError(f"limit must be between 1 and 200; got {limit}")
    repo = ModelVersionRepository(session)
    metrics = ModelMetricRepository(session)
    versions = list(repo.list())[:limit]
    active, canary = repo.get_active(), repo.get_canary()
    fraction = settings.canary_fraction if canary is not None else 0.0
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
                "deployable": v.status != "retired" and artifacts_exist(v, settings),
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
        "canary_fraction": settings.canary_fraction,
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
    "CANARY_METRICS",
    "KEEP_DEPLOYABLE",
    "CanaryEvaluation",
    "CuratedMerge",
    "LifecycleAction",
    "RoutedPredictions",
    "SessionVersionStore",
    "artifacts_exist",
    "canary_bucket",
    "canary_mask",
    "CuratedSet",
    "load_curated",
    "degradation",
    "enforce_retention",
    "evaluate_canary",
    "paired_labels",
    "predict_with_canary",
    "promote",
    "resolve_config",
    "retrain",
    "rollback",
    "routes_to_canary",
    "score",
    "session_registry",
    "start_canary",
    "tables_with_curated",
    "timeline",
]
