"""Surveys started and watched from the researcher page: sources, chunks, progress views.

A survey started here reads a folder or manifest under ``settings.surveys_root``
(``EXOGUARD_SURVEY_DIR``, default the data folder), given relative to it; its chunks are jobs
of the app's runner (in-process threads by default, Celery workers when configured).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings
from exoguard.errors import NotFoundError, ValidationError
from exoguard.jobs.runner import JobRunner
from exoguard.store.db import session_scope
from exoguard.survey.service import (
    CHUNK_KIND,
    chunk_params,
    create_survey,
    failures,
    list_surveys,
    require_survey,
    stage_means,
    survey_progress,
    unfinished_chunks,
)


def resolve_source(settings: Settings, relative: str) -> Path:
    """The folder or manifest `relative` names under the surveys root; refused outside it."""
    text = (relative or "").strip().replace("\\", "/")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise ValidationError("source must not contain control characters (NUL, newline, ...)")
    parts = PurePosixPath(text).parts
    if not text or text.startswith("/") or ".." in parts:
        raise ValidationError(
            "source must be a folder or manifest CSV given relative to the survey folder "
            "(EXOGUARD_SURVEY_DIR), e.g. lightcurves/tess; no absolute path and no '..'"
        )
    root = settings.surveys_root.resolve()
    path = (root / text).resolve()
    if path != root and root not in path.parents:
        raise ValidationError("source must stay inside the survey folder (EXOGUARD_SURVEY_DIR)")
    if not path.exists():
        raise NotFoundError(f"{text}: no such folder or manifest in the survey folder")
    return path


def start_survey(
    factory: sessionmaker[Session],
    settings: Settings,
    runner: JobRunner,
    *,
    source: str,
    name: str | None,
    chunk_size: int,
    max_planets: int | None,
    owner_id: int | None,
) -> dict[str, Any]:
    """Create the survey of `source` and submit its chunks to `runner`; its view."""
    path = resolve_source(settings, source)
    options = {"max_planets": max_planets} if max_planets else {}
    survey_id = create_survey(
        factory,
        source=path,
        name=name or source,
        owner_id=owner_id,
        chunk_size=chunk_size,
        options=options,
    )
    job_ids = [
        runner.submit(CHUNK_KIND, chunk_params(survey_id, ids), owner_id=owner_id)
        for ids in unfinished_chunks(factory, survey_id)
    ]
    view = survey_view(factory, survey_id)
    view["job_ids"] = job_ids
    return view


def survey_view(factory: sessionmaker[Session], survey_id: str) -> dict[str, Any]:
    """Progress (done, failed, candidates, ETA), seconds per star by stage, failures."""
    progress = survey_progress(factory, survey_id).to_dict()
    with session_scope(factory) as session:
        survey = require_survey(session, survey_id)
        created = survey.created_at.isoformat()
        chunk_size = survey.chunk_size
    return {
        **progress,
        "created_at": created,
        "chunk_size": chunk_size,
        "stage_s_per_star": stage_means(factory, survey_id),
        "failures": failures(factory, survey_id, limit=20),
        "csv_url": f"/api/surveys/{survey_id}/candidates.csv",
        "pdf_url": f"/api/surveys/{survey_id}/report.pdf",
    }


def survey_rows(factory: sessionmaker[Session], *, limit: int = 20) -> list[dict[str, Any]]:
    """The newest surveys with their progress, for the page's list."""
    with session_scope(factory) as session:
        ids = [s.id for s in list_surveys(session, limit=limit)]
    return [survey_progress(factory, i).to_dict() for i in ids]


__all__ = ["resolve_source", "start_survey", "survey_rows", "survey_view"]
