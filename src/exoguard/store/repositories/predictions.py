"""Predictions: verdicts of model versions on candidates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import LABELS
from exoguard.errors import NotFoundError
from exoguard.store.models import Prediction
from exoguard.store.repositories._common import _IN_CHUNK, _check, _page
from exoguard.store.types import utcnow


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
