"""Queries over surveys' per-star rows that other aggregates need (reports, pages)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from exoguard.store.survey_models import SurveyStar


def star_files_of_candidate(session: Session, survey_id: str, candidate_id: int) -> list[str]:
    """The light-curve files of the survey star that found `candidate_id` (empty if none)."""
    rows = session.execute(
        select(SurveyStar.files, SurveyStar.candidate_ids).where(
            SurveyStar.survey_id == survey_id,
            SurveyStar.status == "done",
            SurveyStar.n_candidates > 0,
        )
    )
    for files, ids in rows:
        if candidate_id in (ids or []):
            return list(files)
    return []


__all__ = ["star_files_of_candidate"]
