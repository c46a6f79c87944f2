"""The rows of a candidates export: one query over candidates, predictions and vetting.

`exoguard.reports.csv_export` writes these rows as CSV; the survey export reuses them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import HARMONISED_COLUMNS, LABELS, MISSIONS
from exoguard.errors import ValidationError
from exoguard.store import access
from exoguard.store.models import ORIGINS, Candidate, Prediction, User, VettingItem, Vote
from exoguard.store.naming import display_name
from exoguard.store.repositories import newest_prediction_ids
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.state import candidate_state

#: The most rows one CSV export holds.
MAX_EXPORT_ROWS: Final = 100_000
#: The most candidate ids one request may list.
MAX_EXPORT_IDS: Final = 10_000


@dataclass(frozen=True)
class ExportFilters:
    """Which candidates an export holds (all given filters apply)."""

    candidate_ids: Sequence[int] | None = None
    mission: str | None = None
    label: str | None = None
    origin: str | None = None
    dataset_id: str | None = None
    search: str | None = None
    model_version: str | None = None  # predictions of this version only (default: latest any)
    scored_only: bool = False  # leave out candidates without a prediction

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("mission", self.mission, MISSIONS),
            ("label", self.label, LABELS),
            ("origin", self.origin, ORIGINS),
        ):
            if value is not None and value not in allowed:
                raise ValidationError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
        if self.candidate_ids is not None and not 1 <= len(self.candidate_ids) <= MAX_EXPORT_IDS:
            raise ValidationError(
                f"candidate_ids must list 1 to {MAX_EXPORT_IDS} ids; got {len(self.candidate_ids)}"
            )


def _export_stmt(filters: ExportFilters, user: User) -> Select[Any]:
    pred_ids = newest_prediction_ids(model_version=filters.model_version)
    item_ids = (
        select(VettingItem.candidate_id.label("candidate_id"), func.max(VettingItem.id).label("id"))
        .group_by(VettingItem.candidate_id)
        .subquery()
    )
    vote_counts = (
        select(Vote.item_id.label("item_id"), func.count(Vote.id).label("n"))
        .group_by(Vote.item_id)
        .subquery()
    )
    columns = [
        Candidate.id.label("candidate_id"),
        *(getattr(Candidate, name) for name in HARMONISED_COLUMNS),
        Candidate.origin,
        Candidate.dataset_id,
        Prediction.probability,
        Prediction.uncertainty,
        Prediction.label.label("predicted_label"),
        Prediction.model_version,
        Prediction.canary,
        Prediction.created_at.label("predicted_at"),
        VettingItem.status.label("vetting_status"),
        vote_counts.c.n.label("n_votes"),
        VettingItem.consensus_label,
        VettingItem.consensus_share,
        Candidate.catalog_match.label("catalog_match_json"),
        Candidate.features.label("features_json"),
    ]
    stmt = (
        select(*columns)
        .outerjoin(pred_ids, pred_ids.c.candidate_id == Candidate.id)
        .outerjoin(Prediction, Prediction.id == pred_ids.c.id)
        .outerjoin(item_ids, item_ids.c.candidate_id == Candidate.id)
        .outerjoin(VettingItem, VettingItem.id == item_ids.c.id)
        .outerjoin(vote_counts, vote_counts.c.item_id == VettingItem.id)
    )
    conditions: list[ColumnElement[bool]] = []
    conditions.append(access.candidate_filter(user))
    if filters.candidate_ids is not None:
        conditions.append(Candidate.id.in_([int(i) for i in filters.candidate_ids]))
    for name in ("mission", "label", "origin", "dataset_id"):
        value = getattr(filters, name)
        if value is not None:
            conditions.append(getattr(Candidate, name) == value)
    if filters.search:
        conditions.append(
            Candidate.object_id.icontains(filters.search, autoescape=True)
            | Candidate.host_id.icontains(filters.search, autoescape=True)
        )
    if filters.scored_only:
        conditions.append(Prediction.id.is_not(None))
    return stmt.where(and_(*conditions)).order_by(Candidate.id)


def export_rows(
    session: Session,
    *,
    filters: ExportFilters,
    user: User,
    max_rows: int = MAX_EXPORT_ROWS,
    policy: QueuePolicy | None = None,
) -> list[dict[str, Any]]:
    """The rows of a candidates export, ordered by candidate id.

    ``state`` and ``state_source`` are `exoguard.vetting.state.candidate_state` of each row
    (``policy``: which predictions are uncertain; the queue's defaults when not given).
    Raises `ValidationError` when more than `max_rows` candidates match (narrow the filters).
    """
    state_rule = policy if policy is not None else QueuePolicy()
    stmt = _export_stmt(filters, user).limit(max_rows + 1)
    rows = [dict(row) for row in session.execute(stmt).mappings()]
    if len(rows) > max_rows:
        raise ValidationError(
            f"more than {max_rows} candidates match; narrow the export with mission, label, "
            "origin, dataset_id, search or candidate_ids"
        )
    for row in rows:
        if row.get("n_votes") is None and row.get("vetting_status") is not None:
            row["n_votes"] = 0
        row["display_name"] = display_name(
            object_id=str(row.get("object_id") or ""),
            origin=row.get("origin"),
            source=row.get("source"),
            catalog_match=row.get("catalog_match_json"),
            period_days=row.get("period_days"),
        )
        row.update(catalog_columns(row.pop("catalog_match_json"), row.pop("features_json")))
        state = candidate_state(
            predicted_label=row.get("predicted_label"),
            probability=row.get("probability"),
            uncertainty=row.get("uncertainty"),
            vetting_status=row.get("vetting_status"),
            consensus_label=row.get("consensus_label"),
            consensus_share=row.get("consensus_share"),
            policy=state_rule,
        )
        row["state"] = state.key
        row["state_words"] = state.words
        row["state_source"] = state.source
    return rows


def catalog_columns(
    match: Mapping[str, Any] | None, features: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The export's catalog cross-match cells of one candidate (empty when never matched)."""
    out: dict[str, Any] = {}
    if match:
        out = {
            "catalog_match": match.get("summary"),
            "catalog_object_id": match.get("object_id"),
            "catalog_name": match.get("name"),
            "catalog_disposition": match.get("disposition"),
            "catalog_match_method": match.get("method"),
            "catalog_file": match.get("catalog_file"),
            "catalog_period_ratio": match.get("period_ratio"),
            "catalog_epoch_offset_durations": match.get("epoch_offset_durations"),
        }
    stellar = (features or {}).get("stellar_parameters")
    if isinstance(stellar, Mapping) and stellar.get("from_catalog"):
        out["stellar_parameters_from"] = stellar.get("summary")
    return out
