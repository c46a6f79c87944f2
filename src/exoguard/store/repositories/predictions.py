"""Predictions: verdicts of model versions on candidates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Subquery, func, insert, select
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import LABELS
from exoguard.errors import NotFoundError
from exoguard.store.models import Prediction
from exoguard.store.repositories._common import _IN_CHUNK, _check, _page
from exoguard.store.types import utcnow


def newest_prediction_ids(
    *, model_version: str | None = None, candidate_ids: Sequence[int] | None = None
) -> Subquery:
    """Each candidate's newest prediction, as a subquery of ``(candidate_id, id)``.

    This is the one definition of "newest prediction per candidate". Newest is the highest
    ``id``: ids grow with every insert, while ``created_at`` cannot order predictions (every row
    of one `PredictionRepository.create_many` shares one timestamp, and clocks of several
    workers disagree). Join it on ``Prediction.id == sub.c.id`` (or outer-join on
    ``candidate_id``); `model_version` restricts to one version's predictions and
    `candidate_ids` to some candidates (keep that list under a few hundred ids per query).
    """
    stmt = select(
        Prediction.candidate_id.label("candidate_id"), func.max(Prediction.id).label("id")
    )
    if model_version is not None:
        stmt = stmt.where(Prediction.model_version == model_version)
    if candidate_ids is not None:
        stmt = stmt.where(Prediction.candidate_id.in_([int(i) for i in candidate_ids]))
    return stmt.group_by(Prediction.candidate_id).subquery("newest_prediction")


def newest_per_candidate(predictions: Iterable[Prediction]) -> dict[int, Prediction]:
    """`newest_prediction_ids`'s rule over predictions in memory: the highest id wins.

    A prediction not flushed yet (no id) counts as older than any stored one; of equal ids the
    first one given wins.
    """
    newest: dict[int, Prediction] = {}
    for prediction in predictions:
        current = newest.get(prediction.candidate_id)
        if current is None or (prediction.id or 0) > (current.id or 0):
            newest[prediction.candidate_id] = prediction
    return newest


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
        """The newest prediction of one candidate (`newest_prediction_ids`), or None."""
        return self.latest_by_candidate([candidate_id], model_version=model_version).get(
            candidate_id
        )

    def latest_by_candidate(
        self,
        candidate_ids: Iterable[int] | None = None,
        *,
        model_version: str | None = None,
    ) -> dict[int, Prediction]:
        """The newest prediction of each candidate (all candidates when `candidate_ids` is None).

        "Newest" is the rule of `newest_prediction_ids`; candidates without a prediction (of
        `model_version`, when given) are absent from the result.
        """
        if candidate_ids is None:
            chunks: list[list[int] | None] = [None]
        else:
            ids = list(dict.fromkeys(int(i) for i in candidate_ids))
            chunks = [ids[start : start + _IN_CHUNK] for start in range(0, len(ids), _IN_CHUNK)]
        result: dict[int, Prediction] = {}
        for chunk in chunks:
            newest = newest_prediction_ids(model_version=model_version, candidate_ids=chunk)
            stmt = select(Prediction).join(newest, newest.c.id == Prediction.id)
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
