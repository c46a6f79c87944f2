"""Read-only queries behind the pages that the repositories do not offer (no router here).

The results table joins every candidate with its newest prediction and filters on the
prediction's verdict, probability and uncertainty; the repositories filter one table at a
time, so this join lives here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import MISSIONS
from exoguard.store import access
from exoguard.store.models import Candidate, Prediction, User
from exoguard.vetting.queue import QueuePolicy

VERDICTS: Final[tuple[str, ...]] = ("planet", "false_positive", "uncertain")
SORT_COLUMNS: Final[dict[str, Any]] = {
    "object_id": Candidate.object_id,
    "mission": Candidate.mission,
    "period_days": Candidate.period_days,
    "depth_ppm": Candidate.depth_ppm,
    "probability": Prediction.probability,
    "uncertainty": Prediction.uncertainty,
    "predicted_at": Prediction.id,
}


@dataclass(frozen=True)
class ResultFilters:
    """What the results table shows; None means "any"."""

    verdict: str | None = None
    mission: str | None = None
    min_probability: float | None = None
    max_probability: float | None = None
    max_uncertainty: float | None = None
    search: str | None = None
    sort: str = "probability"
    descending: bool = True

    def __post_init__(self) -> None:
        if self.verdict is not None and self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}; got {self.verdict!r}")
        if self.mission is not None and self.mission not in MISSIONS:
            raise ValueError(f"mission must be one of {', '.join(MISSIONS)}; got {self.mission!r}")
        if self.sort not in SORT_COLUMNS:
            raise ValueError(f"sort must be one of {', '.join(SORT_COLUMNS)}; got {self.sort!r}")
        for name in ("min_probability", "max_probability", "max_uncertainty"):
            value = getattr(self, name)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1]; got {value}")


def _uncertain(policy: QueuePolicy) -> ColumnElement[bool]:
    """The SQL twin of `exoguard.vetting.queue.enters_queue` (and the "candidate" label)."""
    parts: list[ColumnElement[bool]] = [Prediction.label == "candidate"]
    if policy.uncertainty_threshold is not None:
        parts.append(Prediction.uncertainty > policy.uncertainty_threshold)
    if policy.ambiguous_band is not None:
        low, high = policy.ambiguous_band
        parts.append(Prediction.probability.between(low, high))
    return or_(*parts)


def _conditions(filters: ResultFilters, *, policy: QueuePolicy) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    uncertain = _uncertain(policy)
    if filters.verdict == "uncertain":
        conditions.append(uncertain)
    elif filters.verdict is not None:
        conditions.append(and_(Prediction.label == filters.verdict, ~uncertain))
    if filters.mission is not None:
        conditions.append(Candidate.mission == filters.mission)
    if filters.min_probability is not None:
        conditions.append(Prediction.probability >= filters.min_probability)
    if filters.max_probability is not None:
        conditions.append(Prediction.probability <= filters.max_probability)
    if filters.max_uncertainty is not None:
        conditions.append(Prediction.uncertainty <= filters.max_uncertainty)
    if filters.search:
        conditions.append(
            Candidate.object_id.icontains(filters.search, autoescape=True)
            | Candidate.host_id.icontains(filters.search, autoescape=True)
            | Candidate.name.icontains(filters.search, autoescape=True)
            | Candidate.source.icontains(filters.search, autoescape=True)
        )
    return conditions


def _joined() -> Select[Candidate, Prediction]:
    newest = (
        select(func.max(Prediction.id).label("prediction_id"))
        .group_by(Prediction.candidate_id)
        .subquery()
    )
    return (
        select(Candidate, Prediction)
        .join(Prediction, Prediction.candidate_id == Candidate.id)
        .join(newest, newest.c.prediction_id == Prediction.id)
    )


def results(
    session: Session,
    filters: ResultFilters,
    *,
    user: User | None,
    policy: QueuePolicy,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[tuple[Candidate, Prediction]], int]:
    """One page of the (candidate, newest prediction) rows `user` may see, and their number."""
    conditions = [*_conditions(filters, policy=policy), access.candidate_filter(user)]
    stmt = _joined().where(*conditions)
    total = int(
        session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    )
    column = SORT_COLUMNS[filters.sort]
    order = column.desc() if filters.descending else column.asc()
    rows = session.execute(
        stmt.order_by(order.nulls_last(), Candidate.id.asc()).limit(limit).offset(offset)
    ).tuples()
    return list(rows), total
