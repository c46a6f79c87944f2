"""Cross-match candidates to the ingested catalogs and fill missing stellar parameters.

Used by preprocessing (search finds, uploaded table rows) and by typed-in predictions. The
match is stored with each candidate (``Candidate.catalog_match``) and shown beside the
verdict; the archive disposition it carries is never a model input. Stellar parameters the
user or the file gave are never overwritten; those taken from the matched star are recorded
in the candidate's features JSON under ``stellar_parameters``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from exoguard.catalogs.crossmatch import CatalogMatch, MatchQuery, host_keys
from exoguard.reports.model import finite_or_none
from exoguard.store.catalog_match import STAR_COLUMNS, CatalogLookup, StarFromCatalog

#: The key of the features JSON that records where the stellar parameters came from.
STELLAR_KEY = "stellar_parameters"


@dataclass(frozen=True, slots=True)
class StellarRecord:
    """Where a candidate's stellar parameters came from (its features' ``stellar_parameters``).

    Attributes
    ----------
    host_id, catalog_file, catalog
        The catalog star, the file it was read from, and the table's label.
    from_catalog
        Stellar columns filled from the catalog star.
    given
        Stellar columns the user or the file gave (never overwritten).
    summary
        One line for the pages (:func:`stellar_summary`).
    """

    host_id: str
    catalog_file: str | None
    catalog: str
    from_catalog: list[str]
    given: list[str]
    summary: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON entry stored in the features and shown beside a verdict."""
        return asdict(self)


@dataclass(frozen=True)
class CatalogContext:
    """Per-row outcome: the match, and where the stellar parameters came from."""

    matches: list[CatalogMatch]
    stellar: list[StellarRecord | None]


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def query_for_row(
    row: Mapping[str, Any],
    *,
    object_ids: Sequence[str] = (),
    host_ids: Sequence[str] = (),
    period_err_days: float | None = None,
) -> MatchQuery:
    """The match query of one harmonised row (plus identifiers the file or the user gave);
    a host that names no star (:func:`host_keys` has no key for it) is left out."""
    hosts = [h for h in (_text(row.get("host_id")), *host_ids) if h and host_keys(h)]
    return MatchQuery(
        object_ids=tuple(dict.fromkeys(t for t in object_ids if t)),
        host_ids=tuple(dict.fromkeys(hosts)),
        mission=_text(row.get("mission")),
        period_days=finite_or_none(row.get("period_days")),
        t0_bjd=finite_or_none(row.get("t0_bjd")),
        duration_hours=finite_or_none(row.get("duration_hours")),
        period_err_days=finite_or_none(period_err_days),
    )


def stellar_record(
    star: StarFromCatalog | None, *, filled: Sequence[str], given: Sequence[str]
) -> StellarRecord | None:
    """The ``stellar_parameters`` entry of a candidate's features (None when no star)."""
    if star is None:
        return None
    return StellarRecord(
        host_id=star.host_id,
        catalog_file=star.catalog_file,
        catalog=star.catalog_label,
        from_catalog=list(filled),
        given=list(given),
        summary=stellar_summary(star, filled),
    )


def stellar_summary(star: StarFromCatalog, filled: Sequence[str]) -> str:
    """``stellar parameters from KIC 10797460 (KOI table): star_teff_k, ...``."""
    if not filled:
        return f"stellar parameters as given (the catalogs know {star.host_id} too)"
    return f"stellar parameters from {star.host_id} ({star.catalog_label}): {', '.join(filled)}"


def match_and_fill(
    session: Session,
    frame: pd.DataFrame,
    queries: Sequence[MatchQuery],
    *,
    fill_star: bool = True,
) -> tuple[pd.DataFrame, CatalogContext]:
    """Match every row of `frame` (one query per row) and fill its missing stellar columns
    from the matched star (or, without a planet match, from the star its host id names).

    Returns a copy of `frame` with the stellar columns filled, and the per-row context.
    """
    if len(queries) != len(frame):
        raise ValueError(f"{len(queries)} queries for {len(frame)} rows")
    lookup = CatalogLookup(session)
    lookup.load(queries)
    matches = lookup.match(queries)
    out = frame.copy()
    stellar: list[StellarRecord | None] = []
    for position, (query, match) in enumerate(zip(queries, matches, strict=True)):
        hosts = [h for h in ((match.host_id,) if match.matched else ()) if h]
        star = lookup.star([*hosts, *query.host_ids], mission=query.mission)
        filled: list[str] = []
        given: list[str] = []
        for column in STAR_COLUMNS:
            current = finite_or_none(out[column].iat[position]) if column in out.columns else None
            if current is not None:
                given.append(column)
            elif fill_star and star is not None and column in star.values:
                out.loc[out.index[position], column] = star.values[column]
                filled.append(column)
        stellar.append(stellar_record(star, filled=filled, given=given))
    return out, CatalogContext(matches=matches, stellar=stellar)


def with_features(
    features: Sequence[Mapping[str, Any] | None] | None, stellar: Sequence[StellarRecord | None]
) -> list[dict[str, Any] | None]:
    """Each row's features JSON with its ``stellar_parameters`` entry added (when any)."""
    base = list(features) if features is not None else [None] * len(stellar)
    out: list[dict[str, Any] | None] = []
    for feats, record in zip(base, stellar, strict=True):
        if record is None:
            out.append(dict(feats) if feats is not None else None)
        else:
            out.append({**(feats or {}), STELLAR_KEY: record.to_dict()})
    return out


__all__ = [
    "STELLAR_KEY",
    "CatalogContext",
    "StellarRecord",
    "match_and_fill",
    "query_for_row",
    "stellar_record",
    "stellar_summary",
    "with_features",
]
