"""Scoring candidates with the active model and storing the verdicts.

Predictions of a dataset are stored: one `Prediction` row per candidate with the model
version that made it, and those that need people enter the vetting queue. Typed-in
candidates are turned into harmonised rows here and scored by
:mod:`exoguard.services.manual_predictions`.
"""

from __future__ import annotations

import logging
import math
import threading
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from exoguard.catalogs.schema import (
    HARMONISED_COLUMNS,
    LABELS,
    MISSIONS,
    PHYSICAL_COLUMNS,
)
from exoguard.config import Settings
from exoguard.errors import ConflictError, ModelNotReadyError, ValidationError
from exoguard.jsonsafe import jsonable
from exoguard.ml.registry import ModelRegistry
from exoguard.ml.service import predict_frame
from exoguard.services.canary import predict_with_canary
from exoguard.store import naming
from exoguard.store.model_registry import open_registry
from exoguard.store.models import Candidate, Dataset, Prediction
from exoguard.store.repositories import (
    ModelVersionRepository,
)
from exoguard.store.types import utcnow
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.service.config import policy_from_settings
from exoguard.vetting.service.enqueue import enqueue_uncertain

log = logging.getLogger(__name__)

#: Most candidates one predict request may carry.
MAX_CANDIDATES_PER_REQUEST = 1000
MANUAL_SOURCE = naming.MANUAL_SOURCE


@dataclass(frozen=True)
class Verdict:
    """One prediction, as the API returns it (``candidate_id`` None when not stored)."""

    candidate_id: int | None
    probability: float
    uncertainty: float
    label: str
    model_version: str
    prediction_id: int | None = None
    #: What the verdict rests on: the pattern model that scored it, the fields that model
    #: uses, inputs outside its training range (None for models without patterns).
    basis: dict[str, Any] | None = None
    #: The catalog cross-match (``CatalogMatch.to_dict()``), and where the stellar
    #: parameters came from; shown beside the verdict, never model inputs.
    catalog_match: dict[str, Any] | None = None
    stellar_parameters: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("prediction_id")
        for key in ("catalog_match", "stellar_parameters"):
            if out[key] is None:
                out.pop(key)
        return out


# ----------------------------------------------------------------------------- the model
def active_version_id(session: Session) -> str:
    """The id of the active model version; `ModelNotReadyError` when there is none."""
    version = ModelVersionRepository(session).get_active()
    if version is None:
        raise ModelNotReadyError(
            "no active model; a researcher trains one (POST /api/models/train or "
            "`exoguard train --model gbm`)"
        )
    return version.id


_registries: dict[tuple[str, str], ModelRegistry] = {}
_registries_lock = threading.Lock()


def model_registry(settings: Settings) -> ModelRegistry:
    """The model registry of `settings` (one per database and model folder, built once)."""
    key = (settings.database_url, str(settings.models_path))
    with _registries_lock:
        registry = _registries.get(key)
        if registry is None:
            registry = open_registry(
                database_url=settings.database_url, models_path=settings.models_path
            )
            _registries[key] = registry
        return registry


def score_frame(
    frame: pd.DataFrame, *, version: str, settings: Settings, lightcurve: Any = None
) -> pd.DataFrame:
    """Probability, uncertainty and label of every row of a harmonised frame (same index).

    ``lightcurve``: an ``exoguard.ml.service.LightCurveInputs`` when the rows are search
    candidates of one light curve (the network then also sees the light curve).
    """
    scores = predict_frame(
        frame, version=version, registry=model_registry(settings), lightcurve=lightcurve
    )
    missing = {"probability", "uncertainty", "label"} - set(scores.columns)
    if missing:  # pragma: no cover - guards the contract with exoguard.ml
        raise ModelNotReadyError(f"model {version} returned no {', '.join(sorted(missing))}")
    return scores


def warm_up(factory: sessionmaker[Session], settings: Settings) -> str | None:
    """Load the active model by scoring one typed-in row (nothing is stored); its version.

    None when there is no active model; a model that fails to load is logged, not raised:
    the server still starts, and predict answers with the error.
    """
    session = factory()
    try:
        version = active_version_id(session)
    except ModelNotReadyError:
        return None
    finally:
        session.close()
    try:
        score_frame(manual_frame([{"period_days": 10.0}]), version=version, settings=settings)
    except Exception:
        log.exception("could not load the active model %s at start-up", version)
        return None
    return version


# ----------------------------------------------------------------------------- inputs
def manual_rows(candidates: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Harmonised rows of typed-in candidates (each gets a fresh ``manual-…`` object id).

    Only the physical columns, ``mission`` and ``host_id`` are taken from the input; the label
    is ``candidate`` (unknown), whatever the client says. ``n_candidates_on_host`` counts the
    candidates of the same host *in this request*.
    """
    if not candidates:
        raise ValidationError("candidates must hold at least one candidate")
    if len(candidates) > MAX_CANDIDATES_PER_REQUEST:
        raise ValidationError(
            f"at most {MAX_CANDIDATES_PER_REQUEST} candidates per request; got {len(candidates)}"
        )
    rows = []
    for position, cand in enumerate(candidates):
        mission = str(cand.get("mission") or "other").lower()
        if mission not in MISSIONS:
            raise ValidationError(
                f"candidates[{position}].mission must be one of {', '.join(MISSIONS)}; "
                f"got {mission!r}"
            )
        host = str(cand.get("host_id") or "").strip()[:64] or None
        name = str(cand.get("object_id") or "").strip()[:200]
        row: dict[str, Any] = {
            "typed_object_id": name or None,
            "object_id": f"manual-{uuid.uuid4().hex[:12]}",
            "host_id": host,
            "mission": mission,
            "label": "candidate",
            "disposition": None,
            "source": f"{MANUAL_SOURCE}: {name}" if name else MANUAL_SOURCE,
        }
        for column in PHYSICAL_COLUMNS:
            value = cand.get(column)
            row[column] = float("nan") if value is None else float(value)
        rows.append(row)
    per_host = Counter(r["host_id"] for r in rows if r["host_id"] is not None)
    for row in rows:
        row["n_candidates_on_host"] = float(per_host[row["host_id"]] if row["host_id"] else 1)
    return rows


def frame_from_rows(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A harmonised frame (plus ``n_candidates_on_host``) of rows from :func:`manual_rows`."""
    columns = [*HARMONISED_COLUMNS, "n_candidates_on_host"]
    data: dict[str, Any] = {c: [r.get(c) for r in rows] for c in columns}
    for column in (*PHYSICAL_COLUMNS, "n_candidates_on_host"):
        data[column] = np.asarray(data[column], dtype="float64")
    return pd.DataFrame(data, columns=columns)


def manual_frame(candidates: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The frame of :func:`manual_rows` (one request's typed-in candidates)."""
    return frame_from_rows(manual_rows(candidates))


def _none_if_nan(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float | np.floating) and not math.isfinite(float(value)):
        return None
    return value


# ----------------------------------------------------------------------------- storing
def store_predictions(
    session: Session,
    candidate_ids: Sequence[int],
    scores: pd.DataFrame,
    *,
    version: str,
    settings: Settings | None = None,
    enqueue: bool = False,
) -> list[Verdict]:
    """Insert one prediction per candidate (rows of `scores` in the order of `candidate_ids`).

    With `enqueue`, predictions that need people (``exoguard.vetting.queue.enters_queue``)
    put their candidate in the vetting queue unless it already has an open item. The caller
    commits.
    """
    if len(candidate_ids) != len(scores):
        raise ValueError(f"{len(candidate_ids)} candidate ids but {len(scores)} score rows")
    if not candidate_ids:
        return []
    probability = scores["probability"].to_numpy(dtype=float)
    uncertainty = scores["uncertainty"].to_numpy(dtype=float)
    labels = [str(v) for v in scores["label"]]
    for label in set(labels):
        if label not in LABELS:  # pragma: no cover - guards the contract with exoguard.ml
            raise ModelNotReadyError(f"model {version} returned the unknown label {label!r}")
    now = utcnow()
    # what the verdict rests on (pattern model, its inputs, inputs off its training range)
    bases = list(scores["basis"]) if "basis" in scores.columns else [None] * len(labels)
    rows: list[dict[str, Any]] = [
        {
            "candidate_id": int(cid),
            "model_version": version,
            "probability": float(np.clip(p, 0.0, 1.0)),
            "uncertainty": clean_uncertainty(float(u)),
            "label": lab,
            "canary": False,
            "explanation": {"basis": jsonable(basis)} if basis else None,
            "created_at": now,
        }
        for cid, p, u, lab, basis in zip(
            candidate_ids, probability, uncertainty, labels, bases, strict=True
        )
    ]
    stmt = insert(Prediction).returning(Prediction.id, sort_by_parameter_order=True)
    ids = list(session.scalars(stmt, rows))
    verdicts = [
        Verdict(
            candidate_id=row["candidate_id"],
            probability=row["probability"],
            uncertainty=row["uncertainty"],
            label=row["label"],
            model_version=version,
            prediction_id=int(pid),
            basis=(row["explanation"] or {}).get("basis"),
        )
        for row, pid in zip(rows, ids, strict=True)
    ]
    if enqueue:
        _enqueue_uncertain(session, verdicts, settings=settings)
    return verdicts


def _enqueue_uncertain(
    session: Session, verdicts: Sequence[Verdict], *, settings: Settings | None
) -> int:
    ids = [v.prediction_id for v in verdicts if v.prediction_id is not None]
    rows: list[Prediction] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows.extend(session.scalars(select(Prediction).where(Prediction.id.in_(chunk))))
    policy = policy_from_settings(settings) if settings is not None else None
    if policy is None:
        policy = QueuePolicy()
    return len(enqueue_uncertain(session, rows, policy=policy).enqueued)


def insert_candidates(
    session: Session,
    frame: pd.DataFrame,
    *,
    origin: str,
    owner_ids: Sequence[int | None] | None = None,
    catalog_matches: Sequence[dict[str, Any] | None] | None = None,
    features: Sequence[dict[str, Any] | None] | None = None,
) -> list[int]:
    """Insert new candidate rows (no upsert) and return their ids in frame order.

    `owner_ids` (one per row) makes typed-in rows private to who typed them in
    (``exoguard.store.access``); None leaves every row without an owner. `catalog_matches`
    and `features` (one per row) fill those JSON columns.
    """
    if owner_ids is not None and len(owner_ids) != len(frame):
        raise ValueError(f"{len(owner_ids)} owner ids for {len(frame)} candidate rows")
    now = utcnow()
    rows = []
    records = frame[list(HARMONISED_COLUMNS)].to_dict(orient="records")
    for position, record in enumerate(records):
        row = {k: _none_if_nan(record.get(k)) for k in HARMONISED_COLUMNS}
        row.update({"origin": origin, "created_at": now, "updated_at": now})
        row["owner_id"] = None if owner_ids is None else owner_ids[position]
        row["catalog_match"] = None if catalog_matches is None else catalog_matches[position]
        row["features"] = None if features is None else features[position]
        rows.append(row)
    stmt = insert(Candidate).returning(Candidate.id, sort_by_parameter_order=True)
    return [int(i) for i in session.scalars(stmt, rows)]


def clean_uncertainty(value: float) -> float:
    """A stored uncertainty: never negative, 0 when not finite."""
    return max(value, 0.0) if math.isfinite(value) else 0.0


# ----------------------------------------------------------------------------- datasets
def dataset_candidate_ids(session: Session, dataset: Dataset) -> list[int]:
    """Candidates a dataset produced: those recorded by its preprocessing, else by dataset_id."""
    record = (dataset.validation_report or {}).get("preprocess") or {}
    ids = [int(i) for i in record.get("candidate_ids") or []]
    if ids:
        return ids
    stmt = select(Candidate.id).where(Candidate.dataset_id == dataset.id).order_by(Candidate.id)
    return [int(i) for i in session.scalars(stmt)]


def predict_dataset(session: Session, dataset: Dataset, *, settings: Settings) -> list[Verdict]:
    """Score every candidate of a preprocessed dataset with the active model (caller commits)."""
    ids = dataset_candidate_ids(session, dataset)
    if not ids:
        if dataset.status != "preprocessed":
            raise ConflictError(
                f"dataset {dataset.id} has no candidates yet; run POST /api/data/preprocess "
                "first (status: " + dataset.status + ")"
            )
        return []
    frame = frame_for_ids(session, ids)
    version = active_version_id(session)
    if ModelVersionRepository(session).get_canary() is not None:
        verdicts = _predict_with_canary(session, frame, ids, settings=settings)
    else:
        scores = score_frame(frame, version=version, settings=settings)
        verdicts = store_predictions(
            session, ids, scores, version=version, settings=settings, enqueue=True
        )
    return with_stored_matches(session, verdicts)


def with_stored_matches(session: Session, verdicts: Sequence[Verdict]) -> list[Verdict]:
    """The verdicts with their candidates' stored catalog match and stellar-parameter source."""
    ids = [v.candidate_id for v in verdicts if v.candidate_id is not None]
    stored: dict[int, tuple[Any, Any]] = {}
    for start in range(0, len(ids), 500):
        stmt = select(Candidate.id, Candidate.catalog_match, Candidate.features).where(
            Candidate.id.in_(ids[start : start + 500])
        )
        for cid, match, features in session.execute(stmt):
            stored[int(cid)] = (match, (features or {}).get("stellar_parameters"))
    return [
        replace(
            v, catalog_match=stored[v.candidate_id][0], stellar_parameters=stored[v.candidate_id][1]
        )
        if v.candidate_id in stored
        else v
        for v in verdicts
    ]


def _predict_with_canary(
    session: Session, frame: pd.DataFrame, ids: Sequence[int], *, settings: Settings
) -> list[Verdict]:
    """A canary is deployed: it serves its deterministic share; both versions are logged."""
    routed = predict_with_canary(
        session, frame, candidate_ids=ids, settings=settings, registry=model_registry(settings)
    )
    verdicts = [
        Verdict(
            candidate_id=int(row.candidate_id),
            probability=float(row.probability),
            uncertainty=float(row.uncertainty),
            label=str(row.label),
            model_version=str(row.model_version),
            prediction_id=int(row.prediction_id),
        )
        for row in routed.served.itertuples(index=False)
    ]
    _enqueue_uncertain(session, verdicts, settings=settings)
    return verdicts


def frame_for_ids(session: Session, ids: Sequence[int]) -> pd.DataFrame:
    """Harmonised frame of stored candidates, one row per id in the order of `ids`."""
    columns = ["id", *HARMONISED_COLUMNS]
    selected = select(*(getattr(Candidate, c) for c in columns))
    rows: list[Any] = []
    wanted = [int(i) for i in ids]
    for start in range(0, len(wanted), 500):  # stay far below SQLite's bound-parameter limit
        chunk = wanted[start : start + 500]
        rows.extend(session.execute(selected.where(Candidate.id.in_(chunk))).all())
    frame = pd.DataFrame(rows, columns=columns).set_index("id", drop=False)
    missing = [i for i in wanted if i not in frame.index]
    if missing:
        raise ConflictError(f"candidates {missing[:10]} of this dataset no longer exist")
    frame = frame.loc[wanted].reset_index(drop=True)
    for name in PHYSICAL_COLUMNS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    return frame
