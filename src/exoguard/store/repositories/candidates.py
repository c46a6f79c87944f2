"""Candidates: the harmonised catalog rows, upserted idempotently, listed and filtered."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import pandas as pd
from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.orm import Session

from exoguard.catalogs.schema import HARMONISED_COLUMNS, LABELS, MISSIONS, PHYSICAL_COLUMNS
from exoguard.errors import NotFoundError, ValidationError
from exoguard.store.models import ORIGINS, Candidate
from exoguard.store.repositories._common import _check, _chunks, _page
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
