"""Load harmonised catalog tables (KOI, TOI, K2) into the `candidates` table, idempotently."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pandas as pd
from sqlalchemy.orm import Session

from exoguard.errors import ValidationError
from exoguard.store.repositories import CandidateRepository, UpsertResult

logger = logging.getLogger(__name__)


class ValidationReportLike(Protocol):
    def to_dict(self) -> Mapping[str, Any]: ...


class CatalogTableLike(Protocol):
    """What ingestion needs of `exoguard.catalogs.CatalogTable`."""

    @property
    def kind(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def frame(self) -> pd.DataFrame: ...

    @property
    def report(self) -> ValidationReportLike: ...


@dataclass(frozen=True)
class MissionIngest:
    """What ingestion did for one mission."""

    mission: str
    sources: tuple[str, ...]
    rows: int
    duplicates_skipped: int
    result: UpsertResult = field(default_factory=UpsertResult)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mission": self.mission,
            "sources": list(self.sources),
            "rows": self.rows,
            "duplicates_skipped": self.duplicates_skipped,
            **self.result.to_dict(),
        }


def ingest_catalog_tables(
    session: Session, tables: Iterable[CatalogTableLike]
) -> list[MissionIngest]:
    """Upsert the rows of catalog tables into `candidates`, mission by mission.

    Rows are grouped by their `mission` column. A (mission, object_id) seen twice (within a
    table or across two snapshots of one mission) keeps its first occurrence; the others are
    counted in `duplicates_skipped` and logged, never silently lost. Running this twice on the
    same tables changes nothing the second time (every row counts as unchanged).
    """
    frames: dict[str, list[pd.DataFrame]] = {}
    sources: dict[str, list[str]] = {}
    for table in tables:
        frame = table.frame
        if "mission" not in frame.columns:
            raise ValidationError(f"{table.source}: table has no mission column")
        if "source" not in frame.columns:
            frame = frame.assign(source=table.source)
        for mission, part in frame.groupby(frame["mission"].astype(str).str.lower(), sort=True):
            frames.setdefault(str(mission), []).append(part)
            sources.setdefault(str(mission), []).append(table.source)

    repository = CandidateRepository(session)
    results: list[MissionIngest] = []
    for mission in sorted(frames):
        combined = pd.concat(frames[mission], ignore_index=True)
        keys = combined["object_id"].astype(str).str.strip()
        duplicated = keys.duplicated(keep="first")
        n_duplicates = int(duplicated.sum())
        if n_duplicates:
            logger.warning(
                "%s: %d duplicate object ids skipped (first kept), e.g. %s",
                mission,
                n_duplicates,
                ", ".join(keys[duplicated].head(5)),
            )
        unique = combined.loc[~duplicated]
        result = repository.upsert_many(unique, origin="catalog")
        results.append(
            MissionIngest(
                mission=mission,
                sources=tuple(dict.fromkeys(sources[mission])),
                rows=len(combined),
                duplicates_skipped=n_duplicates,
                result=result,
            )
        )
        logger.info("%s: %s", mission, result.to_dict())
    return results
