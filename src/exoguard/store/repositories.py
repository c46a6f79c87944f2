"""Thin, typed repositories over the ORM models.

Each repository wraps one `Session` and never commits: the caller owns the transaction
(`exoguard.store.db.session_scope`). Methods flush so that ids and constraint violations
appear at once. Bad argument values raise `ValueError` naming the allowed values; missing
rows raise `NotFoundError` from the `require*` methods; duplicates raise `ConflictError`.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Final

import pandas as pd
from sqlalchemy import ColumnElement, Select, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import HARMONISED_COLUMNS, LABELS, MISSIONS, PHYSICAL_COLUMNS
from exoguard.errors import ConflictError, GoneError, NotFoundError, ValidationError
from exoguard.store.models import (
    DATASET_FORMATS,
    DATASET_KINDS,
    DATASET_STATUSES,
    JOB_STATUSES,
    MODEL_KINDS,
    MODEL_STATUSES,
    ORIGINS,
    QUEUE_STATUSES,
    ROLES,
    VOTE_LABELS,
    Candidate,
    Dataset,
    Job,
    ModelMetric,
    ModelVersion,
    Prediction,
    ShareLink,
    User,
    VettingItem,
    Vote,
    VoteChange,
)
from exoguard.store.types import utcnow

#: Text columns of the harmonised schema stored on `candidates`.
CANDIDATE_TEXT_COLUMNS: Final[tuple[str, ...]] = (
    "name",
    "host_id",
    "label",
    "disposition",
    "source",
)
#: Columns `CandidateRepository.list` can sort by.
CANDIDATE_SORT_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "mission",
    "object_id",
    "host_id",
    "label",
    "created_at",
    "updated_at",
    *PHYSICAL_COLUMNS,
)
MAX_PAGE_SIZE: Final = 10_000
_IN_CHUNK: Final = 500


def _check(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")


def _page(stmt: Select[Any], limit: int | None, offset: int) -> Select[Any]:
    if offset < 0:
        raise ValueError(f"offset must be >= 0; got {offset}")
    if limit is not None:
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE} (or None); got {limit}")
        stmt = stmt.limit(limit)
    return stmt.offset(offset) if offset else stmt


def _chunks(values: Sequence[str], size: int = _IN_CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@contextmanager
def _conflict_on_integrity(session: Session, message: str) -> Iterator[None]:
    """Run a write in a savepoint; a unique-constraint violation becomes `ConflictError`."""
    try:
        with session.begin_nested():
            yield
            session.flush()
    except IntegrityError as exc:
        raise ConflictError(message) from exc


# --------------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpsertResult:
    """What `CandidateRepository.upsert_many` did, row by row.

    `protected` counts rows whose stored candidate is curated (a vetting consensus): they are
    never overwritten by a catalog or search upsert.
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    protected: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged + self.protected

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            inserted=self.inserted + other.inserted,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            protected=self.protected + other.protected,
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _clean_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _clean_float(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _clean_features(value: Any, *, column: str = "features") -> dict[str, Any] | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if not isinstance(value, Mapping):
        raise ValidationError(f"{column} must be a mapping (dict) or null; got {type(value)!r}")
    return dict(value)


def _rows_from_frame(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Harmonised-schema DataFrame → list of column dicts, validated, NaN → None."""
    missing = [c for c in ("mission", "object_id", "label") if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"candidate table lacks required column(s) {', '.join(missing)}; "
            f"expected the harmonised schema ({', '.join(HARMONISED_COLUMNS)})"
        )
    columns = {
        "physical": [c for c in PHYSICAL_COLUMNS if c in frame.columns],
        "text": [c for c in CANDIDATE_TEXT_COLUMNS if c in frame.columns],
    }
    values: dict[str, list[Any]] = {
        name: frame[name].tolist() for name in ("mission", "object_id", *columns["text"])
    }
    for name in columns["physical"]:
        try:
            values[name] = pd.to_numeric(frame[name], errors="raise").astype("float64").tolist()
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"column {name} is not numeric: {exc}") from exc
    for name in ("features", "catalog_match"):
        if name in frame.columns:
            values[name] = frame[name].tolist()

    rows: list[dict[str, Any]] = []
    for position in range(len(frame)):
        record: dict[str, Any] = {}
        mission = _clean_text(values["mission"][position])
        object_id = _clean_text(values["object_id"][position])
        if mission is None or object_id is None:
            raise ValidationError(f"row {position}: mission and object_id must not be empty")
        mission = mission.lower()
        if mission not in MISSIONS:
            raise ValidationError(
                f"row {position}: mission must be one of {', '.join(MISSIONS)}; got {mission!r}"
            )
        record["mission"] = mission
        record["object_id"] = object_id
        for name in columns["text"]:
            record[name] = _clean_text(values[name][position])
        if record.get("label") not in LABELS:
            raise ValidationError(
                f"row {position} ({object_id}): label must be one of {', '.join(LABELS)}; "
                f"got {record.get('label')!r}"
            )
        for name in columns["physical"]:
            record[name] = _clean_float(values[name][position])
        for name in ("features", "catalog_match"):
            if name in values:
                record[name] = _clean_features(values[name][position], column=name)
        rows.append(record)

    seen: dict[tuple[str, str], int] = {}
    duplicates: list[str] = []
    for position, record in enumerate(rows):
        key = (record["mission"], record["object_id"])
        if key in seen:
            duplicates.append(f"{key[0]}:{key[1]} (rows {seen[key]} and {position})")
        seen[key] = position
    if duplicates:
        shown = "; ".join(duplicates[:10])
        more = f" and {len(duplicates) - 10} more" if len(duplicates) > 10 else ""
        raise ValidationError(f"duplicate (mission, object_id): {shown}{more}")
    return rows


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, float) and isinstance(new, float):
        return old == new or (math.isnan(old) and math.isnan(new))
    return bool(old == new)


class CandidateRepository:
    """Candidates in the harmonised schema, keyed by (mission, object_id)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert_many(
        self,
        frame: pd.DataFrame,
        *,
        origin: str = "catalog",
        dataset_id: str | None = None,
    ) -> UpsertResult:
        """Insert new rows and update changed ones of a harmonised-schema DataFrame.

        Idempotent on (mission, object_id): a row is written only if one of the columns in
        `frame` differs from the stored value (NaN and NULL count as equal). Columns absent
        from `frame` are left as they are. `origin` and `dataset_id` are set on insert only.
        Curated candidates are never overwritten (counted as `protected`).

        Raises `ValidationError` for missing required columns (mission, object_id, label),
        unknown missions or labels, non-numeric physical columns and duplicate keys.
        """
        _check("origin", origin, ORIGINS)
        rows = _rows_from_frame(frame)
        if not rows:
            return UpsertResult()
        compared = [c for c in rows[0] if c not in ("mission", "object_id")]
        existing = self._existing(rows, compared)

        now = utcnow()
        to_insert: list[dict[str, Any]] = []
        to_update: list[dict[str, Any]] = []
        unchanged = protected = 0
        for record in rows:
            stored = existing.get((record["mission"], record["object_id"]))
            if stored is None:
                to_insert.append(
                    {
                        **record,
                        "origin": origin,
                        "dataset_id": dataset_id,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            elif stored["origin"] == "curated":
                protected += 1
            elif all(_same(stored[c], record[c]) for c in compared):
                unchanged += 1
            else:
                to_update.append({**record, "id": stored["id"], "updated_at": now})
        if to_insert:
            self.session.execute(insert(Candidate), to_insert)
        if to_update:
            for row in to_update:
                del row["mission"], row["object_id"]
            self.session.execute(update(Candidate), to_update)
        self.session.flush()
        return UpsertResult(
            inserted=len(to_insert),
            updated=len(to_update),
            unchanged=unchanged,
            protected=protected,
        )

    def _existing(
        self, rows: Sequence[Mapping[str, Any]], compared: Sequence[str]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        columns = [Candidate.id, Candidate.mission, Candidate.object_id, Candidate.origin]
        columns += [getattr(Candidate, c) for c in compared]
        by_mission: dict[str, list[str]] = {}
        for record in rows:
            by_mission.setdefault(record["mission"], []).append(record["object_id"])
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for mission, object_ids in by_mission.items():
            for chunk in _chunks(object_ids):
                stmt = select(*columns).where(
                    Candidate.mission == mission, Candidate.object_id.in_(chunk)
                )
                for row in self.session.execute(stmt).mappings():
                    found[(row["mission"], row["object_id"])] = dict(row)
        return found

    def get(self, candidate_id: int) -> Candidate | None:
        return self.session.get(Candidate, candidate_id)

    def require(self, candidate_id: int) -> Candidate:
        candidate = self.get(candidate_id)
        if candidate is None:
            raise NotFoundError(f"candidate {candidate_id} not found")
        return candidate

    def get_by_key(self, mission: str, object_id: str) -> Candidate | None:
        stmt = select(Candidate).where(
            Candidate.mission == mission, Candidate.object_id == object_id
        )
        return self.session.scalars(stmt).one_or_none()

    @staticmethod
    def _filters(
        *,
        mission: str | None,
        label: str | None,
        host_id: str | None,
        origin: str | None,
        dataset_id: str | None,
        search: str | None,
    ) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if mission is not None:
            _check("mission", mission, MISSIONS)
            conditions.append(Candidate.mission == mission)
        if label is not None:
            _check("label", label, LABELS)
            conditions.append(Candidate.label == label)
        if host_id is not None:
            conditions.append(Candidate.host_id == host_id)
        if origin is not None:
            _check("origin", origin, ORIGINS)
            conditions.append(Candidate.origin == origin)
        if dataset_id is not None:
            conditions.append(Candidate.dataset_id == dataset_id)
        if search:
            conditions.append(
                Candidate.object_id.icontains(search, autoescape=True)
                | Candidate.host_id.icontains(search, autoescape=True)
            )
        return conditions

    def list(
        self,
        *,
        mission: str | None = None,
        label: str | None = None,
        host_id: str | None = None,
        origin: str | None = None,
        dataset_id: str | None = None,
        search: str | None = None,
        sort: str = "id",
        descending: bool = False,
        limit: int | None = 50,
        offset: int = 0,
    ) -> Sequence[Candidate]:
        """Candidates matching every given filter, sorted (NULLs last, ties by id), one page.

        `search` matches a substring of object_id or host_id, case-insensitively.
        """
        _check("sort", sort, CANDIDATE_SORT_COLUMNS)
        column = getattr(Candidate, sort)
        order = column.desc() if descending else column.asc()
        stmt = (
            select(Candidate)
            .where(
                *self._filters(
                    mission=mission,
                    label=label,
                    host_id=host_id,
                    origin=origin,
                    dataset_id=dataset_id,
                    search=search,
                )
            )
            .order_by(order.nulls_last(), Candidate.id.asc())
        )
        return self.session.scalars(_page(stmt, limit, offset)).all()

    def count(
        self,
        *,
        mission: str | None = None,
        label: str | None = None,
        host_id: str | None = None,
        origin: str | None = None,
        dataset_id: str | None = None,
        search: str | None = None,
    ) -> int:
        stmt = select(func.count(Candidate.id)).where(
            *self._filters(
                mission=mission,
                label=label,
                host_id=host_id,
                origin=origin,
                dataset_id=dataset_id,
                search=search,
            )
        )
        return int(self.session.scalar(stmt) or 0)

    def count_by(self, column: str) -> dict[str, int]:
        """Number of candidates per value of `column` (mission, label or origin)."""
        _check("column", column, ("mission", "label", "origin"))
        attribute = getattr(Candidate, column)
        stmt = select(attribute, func.count(Candidate.id)).group_by(attribute)
        return {str(key): int(n) for key, n in self.session.execute(stmt).tuples()}

    def to_frame(
        self,
        *,
        mission: str | None = None,
        label: str | None = None,
        origin: str | None = None,
        dataset_id: str | None = None,
    ) -> pd.DataFrame:
        """Matching candidates as a DataFrame: `id`, the harmonised columns, origin, dataset_id.

        Physical columns are float64 with NaN where unknown; rows ordered by id.
        """
        names = ["id", *HARMONISED_COLUMNS, "origin", "dataset_id"]
        stmt = (
            select(*(getattr(Candidate, n) for n in names))
            .where(
                *self._filters(
                    mission=mission,
                    label=label,
                    host_id=None,
                    origin=origin,
                    dataset_id=dataset_id,
                    search=None,
                )
            )
            .order_by(Candidate.id)
        )
        frame = pd.DataFrame(self.session.execute(stmt).all(), columns=names)
        for name in PHYSICAL_COLUMNS:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        return frame

    def set_label(self, candidate_id: int, *, label: str, origin: str = "curated") -> Candidate:
        """Change a candidate's label (e.g. after a vetting consensus); marks it `origin`."""
        _check("label", label, LABELS)
        _check("origin", origin, ORIGINS)
        candidate = self.require(candidate_id)
        candidate.label = label
        candidate.origin = origin
        self.session.flush()
        return candidate


# --------------------------------------------------------------------------------------------
# Model registry and metrics
# --------------------------------------------------------------------------------------------


class ModelVersionRepository:
    """The model registry. At most one version is `active` and one `canary` (database-enforced)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        version_id: str,
        kind: str,
        config: Mapping[str, Any],
        data_hash: str,
        artifact_path: str,
        metrics: Mapping[str, Any] | None = None,
        status: str = "registered",
    ) -> ModelVersion:
        """Register a version; `status="active"` also activates it (demoting the old one)."""
        _check("kind", kind, MODEL_KINDS)
        _check("status", status, MODEL_STATUSES)
        version = ModelVersion(
            id=version_id,
            kind=kind,
            config=dict(config),
            data_hash=data_hash,
            metrics=dict(metrics or {}),
            artifact_path=artifact_path,
            status="registered",
        )
        with _conflict_on_integrity(self.session, f"model version {version_id!r} already exists"):
            self.session.add(version)
        if status != "registered":
            return self.set_status(version_id, status)
        return version

    def get(self, version_id: str) -> ModelVersion | None:
        return self.session.get(ModelVersion, version_id)

    def require(self, version_id: str) -> ModelVersion:
        version = self.get(version_id)
        if version is None:
            raise NotFoundError(f"model version {version_id!r} not found")
        return version

    def list(self, *, kind: str | None = None, status: str | None = None) -> Sequence[ModelVersion]:
        """Versions, newest first."""
        stmt = select(ModelVersion)
        if kind is not None:
            _check("kind", kind, MODEL_KINDS)
            stmt = stmt.where(ModelVersion.kind == kind)
        if status is not None:
            _check("status", status, MODEL_STATUSES)
            stmt = stmt.where(ModelVersion.status == status)
        stmt = stmt.order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
        return self.session.scalars(stmt).all()

    def get_active(self) -> ModelVersion | None:
        stmt = select(ModelVersion).where(ModelVersion.status == "active")
        return self.session.scalars(stmt).one_or_none()

    def get_canary(self) -> ModelVersion | None:
        stmt = select(ModelVersion).where(ModelVersion.status == "canary")
        return self.session.scalars(stmt).one_or_none()

    def activate(self, version_id: str, *, now: datetime | None = None) -> ModelVersion:
        """Make `version_id` the one active version; the previous one becomes `registered`."""
        version = self.require(version_id)
        if version.status == "active":
            return version
        current = self.get_active()
        if current is not None:
            current.status = "registered"
            self.session.flush()  # free the one-active slot before taking it
        version.status = "active"
        version.activated_at = now or utcnow()
        self.session.flush()
        return version

    def set_status(self, version_id: str, status: str) -> ModelVersion:
        """Change a version's status.

        "active" delegates to `activate`; "canary" replaces any other canary (which becomes
        "registered"). The active version cannot be demoted directly: activate another one
        first (raises `ConflictError`).
        """
        _check("status", status, MODEL_STATUSES)
        if status == "active":
            return self.activate(version_id)
        version = self.require(version_id)
        if version.status == "active":
            raise ConflictError(
                f"model version {version_id!r} is active; activate another version first"
            )
        if status == "canary":
            current = self.get_canary()
            if current is not None and current.id != version_id:
                current.status = "registered"
                self.session.flush()
        version.status = status
        self.session.flush()
        return version

    def set_metrics(self, version_id: str, metrics: Mapping[str, Any]) -> ModelVersion:
        """Replace the stored metrics summary of a version."""
        version = self.require(version_id)
        version.metrics = dict(metrics)
        self.session.flush()
        return version

    def next_version_id(self, kind: str) -> str:
        """The next free id for `kind`: "gbm-0001", "gbm-0002", ..."""
        _check("kind", kind, MODEL_KINDS)
        pattern = re.compile(rf"^{re.escape(kind)}-(\d+)$")
        ids = self.session.scalars(
            select(ModelVersion.id).where(ModelVersion.id.startswith(f"{kind}-", autoescape=True))
        ).all()
        numbers = [int(m.group(1)) for i in ids if (m := pattern.match(i))]
        return f"{kind}-{max(numbers, default=0) + 1:04d}"


class ModelMetricRepository:
    """Time series of model metrics (accuracy on vetted labels, drift, latency, ...)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        version_id: str,
        name: str,
        value: float,
        *,
        labels: Mapping[str, Any] | None = None,
        time: datetime | None = None,
    ) -> ModelMetric:
        """Store one point (time defaults to now, UTC)."""
        point = ModelMetric(
            version_id=version_id,
            name=name,
            value=float(value),
            labels=dict(labels) if labels is not None else None,
            time=time or utcnow(),
        )
        self.session.add(point)
        self.session.flush()
        return point

    def record_many(
        self,
        version_id: str,
        values: Mapping[str, float],
        *,
        labels: Mapping[str, Any] | None = None,
        time: datetime | None = None,
    ) -> int:
        """Store several metrics of one version at one time; returns how many."""
        when = time or utcnow()
        for name, value in values.items():
            self.session.add(
                ModelMetric(
                    version_id=version_id,
                    name=name,
                    value=float(value),
                    labels=dict(labels) if labels is not None else None,
                    time=when,
                )
            )
        self.session.flush()
        return len(values)

    def series(
        self,
        version_id: str,
        name: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[ModelMetric]:
        """Points of one metric of one version, oldest first, optionally within [since, until]."""
        stmt = select(ModelMetric).where(
            ModelMetric.version_id == version_id, ModelMetric.name == name
        )
        if since is not None:
            stmt = stmt.where(ModelMetric.time >= since)
        if until is not None:
            stmt = stmt.where(ModelMetric.time <= until)
        return self.session.scalars(stmt.order_by(ModelMetric.time)).all()

    def latest(self, version_id: str, name: str) -> ModelMetric | None:
        stmt = (
            select(ModelMetric)
            .where(ModelMetric.version_id == version_id, ModelMetric.name == name)
            .order_by(ModelMetric.time.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def names(self, version_id: str) -> Sequence[str]:
        """The metric names recorded for a version, sorted."""
        stmt = (
            select(ModelMetric.name)
            .where(ModelMetric.version_id == version_id)
            .distinct()
            .order_by(ModelMetric.name)
        )
        return self.session.scalars(stmt).all()


# --------------------------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewPrediction:
    """One prediction to store with `PredictionRepository.create_many`."""

    candidate_id: int
    model_version: str
    probability: float
    uncertainty: float
    label: str
    canary: bool = False
    explanation: Mapping[str, Any] | None = None


class PredictionRepository:
    """Verdicts of model versions on candidates."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        candidate_id: int,
        model_version: str,
        probability: float,
        uncertainty: float,
        label: str,
        canary: bool = False,
        explanation: Mapping[str, Any] | None = None,
    ) -> Prediction:
        _check("label", label, LABELS)
        prediction = Prediction(
            candidate_id=candidate_id,
            model_version=model_version,
            probability=float(probability),
            uncertainty=float(uncertainty),
            label=label,
            canary=canary,
            explanation=dict(explanation) if explanation is not None else None,
        )
        self.session.add(prediction)
        self.session.flush()
        return prediction

    def create_many(self, records: Iterable[NewPrediction]) -> int:
        """Bulk-insert predictions (no objects returned); returns how many."""
        now = utcnow()
        rows: list[dict[str, Any]] = []
        for record in records:
            _check("label", record.label, LABELS)
            row = asdict(record)
            row["probability"] = float(record.probability)
            row["uncertainty"] = float(record.uncertainty)
            row["explanation"] = dict(record.explanation) if record.explanation else None
            row["created_at"] = now
            rows.append(row)
        if rows:
            self.session.execute(insert(Prediction), rows)
            self.session.flush()
        return len(rows)

    def get(self, prediction_id: int) -> Prediction | None:
        return self.session.get(Prediction, prediction_id)

    def require(self, prediction_id: int) -> Prediction:
        prediction = self.get(prediction_id)
        if prediction is None:
            raise NotFoundError(f"prediction {prediction_id} not found")
        return prediction

    def list_for_candidate(self, candidate_id: int) -> Sequence[Prediction]:
        """Every prediction on a candidate, newest first."""
        stmt = (
            select(Prediction)
            .where(Prediction.candidate_id == candidate_id)
            .order_by(Prediction.id.desc())
        )
        return self.session.scalars(stmt).all()

    def latest_for_candidate(
        self, candidate_id: int, *, model_version: str | None = None
    ) -> Prediction | None:
        stmt = select(Prediction).where(Prediction.candidate_id == candidate_id)
        if model_version is not None:
            stmt = stmt.where(Prediction.model_version == model_version)
        return self.session.scalars(stmt.order_by(Prediction.id.desc()).limit(1)).first()

    def latest_by_candidate(
        self,
        candidate_ids: Iterable[int] | None = None,
        *,
        model_version: str | None = None,
    ) -> dict[int, Prediction]:
        """The newest prediction of each candidate (all candidates when `candidate_ids` is None)."""
        newest = select(func.max(Prediction.id)).group_by(Prediction.candidate_id)
        if model_version is not None:
            newest = newest.where(Prediction.model_version == model_version)
        ids = None if candidate_ids is None else [int(i) for i in candidate_ids]
        result: dict[int, Prediction] = {}
        if ids is None:
            stmt = select(Prediction).where(Prediction.id.in_(newest.scalar_subquery()))
            for prediction in self.session.scalars(stmt):
                result[prediction.candidate_id] = prediction
            return result
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            sub = newest.where(Prediction.candidate_id.in_(chunk)).scalar_subquery()
            stmt = select(Prediction).where(Prediction.id.in_(sub))
            for prediction in self.session.scalars(stmt):
                result[prediction.candidate_id] = prediction
        return result

    @staticmethod
    def _filters(
        model_version: str | None, canary: bool | None, since: datetime | None
    ) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if model_version is not None:
            conditions.append(Prediction.model_version == model_version)
        if canary is not None:
            conditions.append(Prediction.canary.is_(canary))
        if since is not None:
            conditions.append(Prediction.created_at >= since)
        return conditions

    def list(
        self,
        *,
        model_version: str | None = None,
        canary: bool | None = None,
        since: datetime | None = None,
        limit: int | None = 50,
        offset: int = 0,
    ) -> Sequence[Prediction]:
        """Predictions, newest first."""
        stmt = select(Prediction).where(*self._filters(model_version, canary, since))
        stmt = _page(stmt.order_by(Prediction.id.desc()), limit, offset)
        return self.session.scalars(stmt).all()

    def count(
        self,
        *,
        model_version: str | None = None,
        canary: bool | None = None,
        since: datetime | None = None,
    ) -> int:
        stmt = select(func.count(Prediction.id)).where(*self._filters(model_version, canary, since))
        return int(self.session.scalar(stmt) or 0)


# --------------------------------------------------------------------------------------------
# Vetting queue and votes
# --------------------------------------------------------------------------------------------


class VettingRepository:
    """Items of the vetting queue (`vetting_queue`)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self,
        *,
        candidate_id: int,
        priority: float,
        prediction_id: int | None = None,
        is_gold: bool = False,
        gold_label: str | None = None,
    ) -> VettingItem:
        if gold_label is not None:
            _check("gold_label", gold_label, VOTE_LABELS)
        if is_gold and gold_label is None:
            raise ValueError("a gold item needs gold_label (planet or false_positive)")
        item = VettingItem(
            candidate_id=candidate_id,
            prediction_id=prediction_id,
            priority=float(priority),
            status="open",
            is_gold=is_gold,
            gold_label=gold_label,
        )
        self.session.add(item)
        self.session.flush()
        return item

    def get(self, item_id: int) -> VettingItem | None:
        return self.session.get(VettingItem, item_id)

    def require(self, item_id: int) -> VettingItem:
        item = self.get(item_id)
        if item is None:
            raise NotFoundError(f"vetting item {item_id} not found")
        return item

    def open_for_candidate(self, candidate_id: int) -> VettingItem | None:
        """The open item of a candidate, if any (to avoid queueing it twice)."""
        stmt = (
            select(VettingItem)
            .where(VettingItem.candidate_id == candidate_id, VettingItem.status == "open")
            .order_by(VettingItem.id)
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def list(
        self,
        *,
        status: str | None = "open",
        exclude_voted_by: int | None = None,
        visible: ColumnElement[bool] | None = None,
        limit: int | None = 50,
        offset: int = 0,
    ) -> Sequence[VettingItem]:
        """Items by descending priority (ties: oldest first); optionally without a user's votes.

        `visible` (``exoguard.store.access.vetting_item_filter``) may name item and candidate
        columns: the candidate is joined for it.
        """
        stmt = select(VettingItem)
        if visible is not None:
            stmt = stmt.join(Candidate, Candidate.id == VettingItem.candidate_id).where(visible)
        if status is not None:
            _check("status", status, QUEUE_STATUSES)
            stmt = stmt.where(VettingItem.status == status)
        if exclude_voted_by is not None:
            voted = select(Vote.item_id).where(Vote.user_id == exclude_voted_by)
            stmt = stmt.where(VettingItem.id.not_in(voted))
        stmt = stmt.order_by(VettingItem.priority.desc(), VettingItem.id.asc())
        return self.session.scalars(_page(stmt, limit, offset)).all()

    def count(self, *, status: str | None = None) -> int:
        stmt = select(func.count(VettingItem.id))
        if status is not None:
            _check("status", status, QUEUE_STATUSES)
            stmt = stmt.where(VettingItem.status == status)
        return int(self.session.scalar(stmt) or 0)

    def settle(
        self,
        item_id: int,
        *,
        consensus_label: str,
        consensus_share: float,
        now: datetime | None = None,
    ) -> VettingItem:
        """Close an item with its consensus label and the share of (weighted) agreement."""
        _check("consensus_label", consensus_label, VOTE_LABELS)
        if not 0.0 <= consensus_share <= 1.0:
            raise ValueError(f"consensus_share must be within [0, 1]; got {consensus_share}")
        item = self.require(item_id)
        item.status = "settled"
        item.consensus_label = consensus_label
        item.consensus_share = float(consensus_share)
        item.settled_at = now or utcnow()
        self.session.flush()
        return item


class VoteRepository:
    """Votes on vetting items: one per user and item (database-enforced)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self,
        *,
        item_id: int,
        user_id: int,
        label: str,
        confidence: int,
        comment: str | None = None,
    ) -> Vote:
        """Store a vote; a second vote of the same user on the same item raises `ConflictError`."""
        _check("label", label, VOTE_LABELS)
        if not 1 <= int(confidence) <= 5:
            raise ValueError(f"confidence must be an integer from 1 to 5; got {confidence}")
        vote = Vote(
            item_id=item_id,
            user_id=user_id,
            label=label,
            confidence=int(confidence),
            comment=comment,
        )
        with _conflict_on_integrity(
            self.session, f"user {user_id} has already voted on item {item_id}"
        ):
            self.session.add(vote)
        self._record(vote)
        return vote

    def change(self, vote: Vote, *, label: str, confidence: int, comment: str | None) -> Vote:
        """Replace the label, confidence and comment of `vote`; the old one stays in the history."""
        _check("label", label, VOTE_LABELS)
        if not 1 <= int(confidence) <= 5:
            raise ValueError(f"confidence must be an integer from 1 to 5; got {confidence}")
        vote.label = label
        vote.confidence = int(confidence)
        vote.comment = comment
        vote.updated_at = utcnow()
        self.session.flush()
        self._record(vote)
        return vote

    def _record(self, vote: Vote) -> None:
        self.session.add(
            VoteChange(
                vote_id=vote.id,
                item_id=vote.item_id,
                user_id=vote.user_id,
                label=vote.label,
                confidence=vote.confidence,
                comment=vote.comment,
            )
        )
        self.session.flush()

    def get_for(self, *, item_id: int, user_id: int) -> Vote | None:
        """The vote of `user_id` on `item_id` (the one that counts), None if they have not voted."""
        stmt = select(Vote).where(Vote.item_id == item_id, Vote.user_id == user_id)
        return self.session.scalars(stmt).one_or_none()

    def history(self, *, user_id: int, item_id: int | None = None) -> Sequence[VoteChange]:
        """Every vote `user_id` submitted (on `item_id` only when given), oldest first."""
        stmt = select(VoteChange).where(VoteChange.user_id == user_id)
        if item_id is not None:
            stmt = stmt.where(VoteChange.item_id == item_id)
        return self.session.scalars(stmt.order_by(VoteChange.id)).all()

    def get(self, vote_id: int) -> Vote | None:
        return self.session.get(Vote, vote_id)

    def list_for_item(self, item_id: int) -> Sequence[Vote]:
        stmt = select(Vote).where(Vote.item_id == item_id).order_by(Vote.id)
        return self.session.scalars(stmt).all()

    def list_for_user(self, user_id: int) -> Sequence[Vote]:
        stmt = select(Vote).where(Vote.user_id == user_id).order_by(Vote.id)
        return self.session.scalars(stmt).all()

    def count_for_item(self, item_id: int) -> int:
        stmt = select(func.count(Vote.id)).where(Vote.item_id == item_id)
        return int(self.session.scalar(stmt) or 0)

    def list(self, *, item_status: str | None = None) -> Sequence[Vote]:
        """Every vote (for aggregation such as Dawid–Skene), optionally by item status."""
        stmt = select(Vote)
        if item_status is not None:
            _check("item_status", item_status, QUEUE_STATUSES)
            stmt = stmt.join(VettingItem, Vote.item_id == VettingItem.id).where(
                VettingItem.status == item_status
            )
        return self.session.scalars(stmt.order_by(Vote.id)).all()


# --------------------------------------------------------------------------------------------
# Users, datasets, jobs, share links
# --------------------------------------------------------------------------------------------


def normalize_email(email: str) -> str:
    """Emails are stored trimmed and lower-cased, so look-ups are case-insensitive."""
    return email.strip().lower()


class UserRepository:
    """Accounts. Passwords arrive already hashed (see exoguard.web.security)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        email: str,
        password_hash: str,
        name: str = "",
        role: str = "explorer",
        reputation: float = 1.0,
    ) -> User:
        """Create a user; an email already taken raises `ConflictError`."""
        _check("role", role, ROLES)
        address = normalize_email(email)
        if not address or "@" not in address:
            raise ValueError(f"email must look like name@domain; got {email!r}")
        if self.get_by_email(address) is not None:
            raise ConflictError(f"an account with email {address} already exists")
        user = User(
            email=address,
            name=name,
            password_hash=password_hash,
            role=role,
            reputation=float(reputation),
            is_active=True,
        )
        message = f"an account with email {address} already exists"
        with _conflict_on_integrity(self.session, message):
            self.session.add(user)
        return user

    def get(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def require(self, user_id: int) -> User:
        user = self.get(user_id)
        if user is None:
            raise NotFoundError(f"user {user_id} not found")
        return user

    def get_by_email(self, email: str) -> User | None:
        stmt = select(User).where(User.email == normalize_email(email))
        return self.session.scalars(stmt).one_or_none()

    def list(
        self, *, role: str | None = None, limit: int | None = 50, offset: int = 0
    ) -> Sequence[User]:
        stmt = select(User)
        if role is not None:
            _check("role", role, ROLES)
            stmt = stmt.where(User.role == role)
        return self.session.scalars(_page(stmt.order_by(User.id), limit, offset)).all()

    def count(self, *, role: str | None = None) -> int:
        stmt = select(func.count(User.id))
        if role is not None:
            _check("role", role, ROLES)
            stmt = stmt.where(User.role == role)
        return int(self.session.scalar(stmt) or 0)

    def set_role(self, user_id: int, role: str) -> User:
        _check("role", role, ROLES)
        user = self.require(user_id)
        user.role = role
        self.session.flush()
        return user

    def set_reputation(self, user_id: int, reputation: float) -> User:
        if not math.isfinite(reputation) or reputation < 0:
            raise ValueError(f"reputation must be a finite number >= 0; got {reputation}")
        user = self.require(user_id)
        user.reputation = float(reputation)
        self.session.flush()
        return user

    def set_active(self, user_id: int, active: bool) -> User:
        user = self.require(user_id)
        user.is_active = active
        self.session.flush()
        return user

    def set_password_hash(self, user_id: int, password_hash: str) -> User:
        user = self.require(user_id)
        user.password_hash = password_hash
        self.session.flush()
        return user


class DatasetRepository:
    """Uploaded files and their validation reports."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        filename: str,
        kind: str,
        format: str,
        size_bytes: int,
        sha256: str,
        storage_path: str,
        owner_id: int | None = None,
        dataset_id: str | None = None,
        status: str = "uploaded",
        validation_report: Mapping[str, Any] | None = None,
    ) -> Dataset:
        """Record a stored file; `dataset_id` defaults to a new UUID4 string."""
        _check("kind", kind, DATASET_KINDS)
        _check("format", format, DATASET_FORMATS)
        _check("status", status, DATASET_STATUSES)
        if size_bytes < 0:
            raise ValueError(f"size_bytes must be >= 0; got {size_bytes}")
        dataset = Dataset(
            id=dataset_id or str(uuid.uuid4()),
            owner_id=owner_id,
            filename=filename,
            kind=kind,
            format=format,
            size_bytes=int(size_bytes),
            sha256=sha256,
            storage_path=storage_path,
            status=status,
            validation_report=dict(validation_report) if validation_report is not None else None,
        )
        self.session.add(dataset)
        self.session.flush()
        return dataset

    def get(self, dataset_id: str) -> Dataset | None:
        return self.session.get(Dataset, dataset_id)

    def require(self, dataset_id: str) -> Dataset:
        dataset = self.get(dataset_id)
        if dataset is None:
            raise NotFoundError(f"dataset {dataset_id!r} not found")
        return dataset

    def find_by_sha256(self, sha256: str, *, owner_id: int | None = None) -> Dataset | None:
        """The oldest dataset with this content hash (of this owner when given)."""
        stmt = select(Dataset).where(Dataset.sha256 == sha256)
        if owner_id is not None:
            stmt = stmt.where(Dataset.owner_id == owner_id)
        return self.session.scalars(stmt.order_by(Dataset.created_at).limit(1)).first()

    def list(
        self,
        *,
        owner_id: int | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int | None = 50,
        offset: int = 0,
    ) -> Sequence[Dataset]:
        """Datasets, newest first."""
        stmt = select(Dataset)
        if owner_id is not None:
            stmt = stmt.where(Dataset.owner_id == owner_id)
        if kind is not None:
            _check("kind", kind, DATASET_KINDS)
            stmt = stmt.where(Dataset.kind == kind)
        if status is not None:
            _check("status", status, DATASET_STATUSES)
            stmt = stmt.where(Dataset.status == status)
        stmt = stmt.order_by(Dataset.created_at.desc(), Dataset.id)
        return self.session.scalars(_page(stmt, limit, offset)).all()

    def set_status(
        self,
        dataset_id: str,
        status: str,
        *,
        validation_report: Mapping[str, Any] | None = None,
    ) -> Dataset:
        """Change the status; replaces the validation report when one is given."""
        _check("status", status, DATASET_STATUSES)
        dataset = self.require(dataset_id)
        dataset.status = status
        if validation_report is not None:
            dataset.validation_report = dict(validation_report)
        self.session.flush()
        return dataset

    def delete(self, dataset_id: str) -> None:
        self.session.delete(self.require(dataset_id))
        self.session.flush()


class JobRepository:
    """Background job state (the runner — in-process or Celery — only moves it along)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        kind: str,
        params: Mapping[str, Any] | None = None,
        owner_id: int | None = None,
        job_id: str | None = None,
    ) -> Job:
        """A queued job; `job_id` defaults to a new UUID4 string."""
        job = Job(
            id=job_id or str(uuid.uuid4()),
            kind=kind,
            status="queued",
            progress=0.0,
            params=dict(params or {}),
            owner_id=owner_id,
            attempts=0,
        )
        self.session.add(job)
        self.session.flush()
        return job

    def get(self, job_id: str) -> Job | None:
        return self.session.get(Job, job_id)

    def require(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise NotFoundError(f"job {job_id!r} not found")
        return job

    def list(
        self,
        *,
        owner_id: int | None = None,
        kind: str | None = None,
        status: str | None = None,
        limit: int | None = 50,
        offset: int = 0,
    ) -> Sequence[Job]:
        """Jobs, newest first."""
        stmt = select(Job)
        if owner_id is not None:
            stmt = stmt.where(Job.owner_id == owner_id)
        if kind is not None:
            stmt = stmt.where(Job.kind == kind)
        if status is not None:
            _check("status", status, JOB_STATUSES)
            stmt = stmt.where(Job.status == status)
        stmt = stmt.order_by(Job.created_at.desc(), Job.id)
        return self.session.scalars(_page(stmt, limit, offset)).all()

    def mark_running(self, job_id: str, *, now: datetime | None = None) -> Job:
        """queued/failed → running; counts an attempt."""
        job = self.require(job_id)
        job.status = "running"
        job.attempts += 1
        job.started_at = now or utcnow()
        job.finished_at = None
        job.error = None
        self.session.flush()
        return job

    def set_progress(self, job_id: str, progress: float) -> Job:
        if not 0.0 <= progress <= 1.0:
            raise ValueError(f"progress must be within [0, 1]; got {progress}")
        job = self.require(job_id)
        job.progress = float(progress)
        self.session.flush()
        return job

    def mark_succeeded(
        self,
        job_id: str,
        *,
        result: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> Job:
        job = self.require(job_id)
        job.status = "succeeded"
        job.progress = 1.0
        job.result = dict(result) if result is not None else None
        job.finished_at = now or utcnow()
        self.session.flush()
        return job

    def mark_failed(self, job_id: str, *, error: str, now: datetime | None = None) -> Job:
        job = self.require(job_id)
        job.status = "failed"
        job.error = error
        job.finished_at = now or utcnow()
        self.session.flush()
        return job


class ShareLinkRepository:
    """Share links; only a hash of each token is stored."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        token_hash: str,
        target_kind: str,
        target_id: str,
        created_by: int | None = None,
        expires_at: datetime | None = None,
    ) -> ShareLink:
        link = ShareLink(
            token_hash=token_hash,
            target_kind=target_kind,
            target_id=str(target_id),
            created_by=created_by,
            expires_at=expires_at,
        )
        with _conflict_on_integrity(self.session, "a share link with this token already exists"):
            self.session.add(link)
        return link

    def get(self, link_id: int) -> ShareLink | None:
        return self.session.get(ShareLink, link_id)

    def get_by_token_hash(self, token_hash: str) -> ShareLink | None:
        stmt = select(ShareLink).where(ShareLink.token_hash == token_hash)
        return self.session.scalars(stmt).one_or_none()

    def resolve(self, token_hash: str, *, now: datetime | None = None) -> ShareLink:
        """The usable link for a token hash: `NotFoundError` if unknown, `GoneError` if
        revoked or expired."""
        link = self.get_by_token_hash(token_hash)
        if link is None:
            raise NotFoundError("share link not found")
        moment = now or utcnow()
        if link.revoked_at is not None:
            raise GoneError("this share link has been revoked")
        if link.expires_at is not None and link.expires_at <= moment:
            raise GoneError("this share link has expired")
        return link

    def revoke(self, link_id: int, *, now: datetime | None = None) -> ShareLink:
        link = self.get(link_id)
        if link is None:
            raise NotFoundError(f"share link {link_id} not found")
        if link.revoked_at is None:
            link.revoked_at = now or utcnow()
            self.session.flush()
        return link

    def list_for_user(self, user_id: int) -> Sequence[ShareLink]:
        """Links a user created, newest first."""
        stmt = (
            select(ShareLink)
            .where(ShareLink.created_by == user_id)
            .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
        )
        return self.session.scalars(stmt).all()


__all__ = [
    "CANDIDATE_SORT_COLUMNS",
    "CandidateRepository",
    "DatasetRepository",
    "JobRepository",
    "ModelMetricRepository",
    "ModelVersionRepository",
    "NewPrediction",
    "PredictionRepository",
    "ShareLinkRepository",
    "UpsertResult",
    "UserRepository",
    "VettingRepository",
    "VoteRepository",
    "normalize_email",
]
