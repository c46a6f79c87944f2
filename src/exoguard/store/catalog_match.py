"""The database side of the catalog cross-match: which ingested catalog objects may match.

"Ingested catalog objects" are the candidates loaded by ``exoguard ingest``: origin other than
``search``, no dataset (not an upload's row) and no owner (not a typed-in entry). The decision
itself is :func:`exoguard.catalogs.crossmatch.match_candidate`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from exoguard.catalogs.crossmatch import (
    CatalogEntry,
    CatalogMatch,
    MatchQuery,
    MatchTolerances,
    host_keys,
    match_candidate,
    object_key,
)
from exoguard.catalogs.schema import STAR_COLUMNS
from exoguard.store.models import Candidate

_CHUNK: Final = 400
_CANONICAL_PREFIXES: Final = ("KIC ", "EPIC ", "TIC ")
_COLUMNS = (
    Candidate.id,
    Candidate.object_id,
    Candidate.name,
    Candidate.host_id,
    Candidate.mission,
    Candidate.disposition,
    Candidate.source,
    Candidate.period_days,
    Candidate.t0_bjd,
    Candidate.duration_hours,
    *(getattr(Candidate, c) for c in STAR_COLUMNS),
)


def _ingested() -> list[ColumnElement[bool]]:
    return [
        Candidate.origin != "search",
        Candidate.dataset_id.is_(None),
        Candidate.owner_id.is_(None),
    ]


def _squashed(column: Any) -> Any:
    return func.upper(func.replace(column, " ", ""))


@dataclass(frozen=True)
class StarFromCatalog:
    """Stellar parameters of one catalog star and where they come from."""

    host_id: str
    catalog_file: str | None
    values: dict[str, float]

    @property
    def catalog_label(self) -> str:
        """``"KOI table"``, ``"TOI table"``, ``"K2 table"`` or the file name."""
        return catalog_label(self.catalog_file)


def catalog_label(source: str | None) -> str:
    """A reader's name for the catalog file a row came from."""
    name = (source or "").lower()
    for prefix, label in (("koi", "KOI table"), ("toi", "TOI table"), ("k2", "K2 table")):
        if name.startswith(prefix):
            return label
    return source or "catalog"


class CatalogLookup:
    """Catalog objects of the stars and identifiers of many queries, read in a few queries."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rows: dict[int, Any] = {}
        self._star_index: dict[str, list[Any]] | None = None

    def load(self, queries: Sequence[MatchQuery]) -> None:
        """Read every ingested catalog object that shares a host or an identifier with one of
        `queries` (chunked IN lists; one pass per kind of key)."""
        canonical: set[str] = set()
        names: set[str] = set()
        for query in queries:
            for host in query.host_ids:
                for key in host_keys(host, mission=query.mission):
                    (canonical if key.startswith(_CANONICAL_PREFIXES) else names).add(key)
        objects: set[str] = set()
        for query in queries:
            objects.update(k for k in (object_key(t) for t in query.object_ids) if k)
        self._select(Candidate.host_id, sorted(canonical))
        self._select(func.upper(Candidate.host_id), sorted(names))
        self._select(Candidate.object_id, sorted(objects))
        self._select(_squashed(Candidate.object_id), sorted(objects))
        self._select(_squashed(Candidate.name), sorted(objects))
        self._star_index = None

    def _select(self, column: Any, values: Sequence[str]) -> None:
        for start in range(0, len(values), _CHUNK):
            chunk = values[start : start + _CHUNK]
            stmt = select(*_COLUMNS).where(*_ingested(), column.in_(chunk))
            for row in self.session.execute(stmt):
                self._rows[int(row.id)] = row

    def entries(self) -> list[CatalogEntry]:
        """Every catalog object read so far, in id order."""
        return [_entry(self._rows[i]) for i in sorted(self._rows)]

    def match(
        self, queries: Sequence[MatchQuery], *, tolerances: MatchTolerances | None = None
    ) -> list[CatalogMatch]:
        """One match (or no-match with its reason) per query, after :meth:`load`."""
        entries = self.entries()
        by_host: dict[str, list[CatalogEntry]] = {}
        by_object: dict[str, list[CatalogEntry]] = {}
        for entry in entries:
            for key in host_keys(entry.host_id, mission=entry.mission):
                by_host.setdefault(key, []).append(entry)
            for id_key in {object_key(entry.object_id), object_key(entry.name)}:
                if id_key:
                    by_object.setdefault(id_key, []).append(entry)
        out: list[CatalogMatch] = []
        for query in queries:
            pool: dict[int, CatalogEntry] = {}
            for host in query.host_ids:
                for key in host_keys(host, mission=query.mission):
                    pool.update((id(e), e) for e in by_host.get(key, ()))
            for text in query.object_ids:
                wanted = object_key(text)
                if wanted:
                    pool.update((id(e), e) for e in by_object.get(wanted, ()))
            out.append(match_candidate(query, pool.values(), tolerances=tolerances))
        return out

    def star(
        self, host_ids: Iterable[str], *, mission: str | None = None
    ) -> StarFromCatalog | None:
        """Stellar parameters of the first of `host_ids` the catalogs know (first known value
        per column over its objects in id order), after :meth:`load`."""
        if self._star_index is None:
            index: dict[str, list[Any]] = {}
            for i in sorted(self._rows):
                stored = self._rows[i]
                for key in host_keys(stored.host_id, mission=stored.mission):
                    index.setdefault(key, []).append(stored)
            self._star_index = index
        for host in host_ids:
            rows: dict[int, Any] = {}
            for key in host_keys(host, mission=mission):
                rows.update((int(r.id), r) for r in self._star_index.get(key, ()))
            values: dict[str, float] = {}
            source: str | None = None
            for _, row in sorted(rows.items()):
                for column in STAR_COLUMNS:
                    value = getattr(row, column)
                    if value is not None and math.isfinite(value) and column not in values:
                        values[column] = float(value)
                        source = source or row.source
            if values:
                first = rows[min(rows)]
                return StarFromCatalog(
                    host_id=str(first.host_id), catalog_file=source, values=values
                )
        return None


def _entry(row: Any) -> CatalogEntry:
    return CatalogEntry(
        object_id=str(row.object_id),
        name=row.name,
        host_id=row.host_id,
        mission=str(row.mission),
        disposition=row.disposition,
        source=row.source,
        period_days=row.period_days,
        t0_bjd=row.t0_bjd,
        duration_hours=row.duration_hours,
        candidate_id=int(row.id),
    )


def match_queries(
    session: Session, queries: Sequence[MatchQuery], *, tolerances: MatchTolerances | None = None
) -> list[CatalogMatch]:
    """Match each query against the ingested catalogs (one lookup for all of them)."""
    lookup = CatalogLookup(session)
    lookup.load(queries)
    return lookup.match(queries, tolerances=tolerances)


__all__ = [
    "STAR_COLUMNS",
    "CatalogLookup",
    "StarFromCatalog",
    "catalog_label",
    "match_queries",
]
