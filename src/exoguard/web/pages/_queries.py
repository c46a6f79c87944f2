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
from exoguard.store.models import Candidate, Prediction, User, VettingItem
from exoguard.store.repositories import newest_prediction_ids
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


def _settled(item: Any) -> ColumnElement[bool]:
    """The SQL twin of `exoguard.vetting.state.candidate_state`'s first rule: a settled
    consensus (planet or false positive) decides."""
    return and_(
        func.coalesce(item.c.status, "") == "settled",
        func.coalesce(item.c.consensus_label, "").in_(("planet", "false_positive")),
    )


def _conditions(
    filters: ResultFilters, *, policy: QueuePolicy, item: Any
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    uncertain = _uncertain(policy)
    settled = _settled(item)
    if filters.verdict == "uncertain":
        conditions.append(and_(~settled, uncertain))
    elif filters.verdict is not None:
        conditions.append(
            or_(
                and_(settled, item.c.consensus_label == filters.verdict),
                and_(~settled, Prediction.label == filters.verdict, ~uncertain),
            )
        )
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


def _newest_item() -> Any:
    """Each candidate's newest vetting item: status and consensus (the state's inputs)."""
    newest = (
        select(func.max(VettingItem.id).label("item_id"))
        .group_by(VettingItem.candidate_id)
        .subquery()
    )
    return (
        select(
            VettingItem.candidate_id,
            VettingItem.status,
            VettingItem.consensus_label,
            VettingItem.consensus_share,
        )
        .join(newest, newest.c.item_id == VettingItem.id)
        .subquery()
    )


def _joined(item: Any) -> Select[Any]:
    newest = newest_prediction_ids()
    return (
        select(Candidate, Prediction, item.c.status, item.c.consensus_label, item.c.consensus_share)
        .join(Prediction, Prediction.candidate_id == Candidate.id)
        .join(newest, newest.c.id == Prediction.id)
        .outerjoin(item, item.c.candidate_id == Candidate.id)
    )


def results(
    session: Session,
    filters: ResultFilters,
    *,
    user: User | None,
    policy: QueuePolicy,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[tuple[Candidate, Prediction, str | None, str | None, float | None]], int]:
    """One page of the rows `user` may see — (candidate, newest prediction, vetting status,
    consensus label, consensus share) — and their number. The verdict filter follows
    `exoguard.vetting.state.candidate_state`: a settled consensus wins over the model."""
    item = _newest_item()
    conditions = [*_conditions(filters, policy=policy, item=item), access.candidate_filter(user)]
    stmt = _joined(item).where(*conditions)
    total = int(
        session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    )
    column = SORT_COLUMNS[filters.sort]
    order = column.desc() if filters.descending else column.asc()
    rows = session.execute(
        stmt.order_by(order.nulls_last(), Candidate.id.asc()).limit(limit).offset(offset)
    ).tuples()
    return list(rows), total
