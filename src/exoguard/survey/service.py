"""A survey's state in the database: creating it, its chunks, claiming stars, progress.

Every star is a row of ``survey_stars``. A run takes a star with a conditional UPDATE (from
``pending``, or from ``running`` when the process holding it is gone), and stores the star's
candidates, predictions and final status in ONE transaction that first checks the star is
still its own. So a chunk delivered twice, a worker killed mid-star or a survey resumed after
Ctrl-C never stores a star twice, and a star already finished with the same file hash is
skipped.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from exoguard.errors import NotFoundError, ValidationError
from exoguard.store.db import session_scope
from exoguard.store.models import Dataset, Job
from exoguard.store.survey_models import Survey, SurveyStar
from exoguard.store.types import utcnow
from exoguard.survey.inputs import StarFiles, plan_stars

log = logging.getLogger(__name__)

#: The job kind of one chunk of stars.
CHUNK_KIND = "survey_chunk"
DEFAULT_CHUNK_SIZE = 8
MAX_CHUNK_SIZE = 500
STAGES = ("read", "detrend", "search", "diagnostics", "classify", "store")
FINISHED_STATUSES = ("done", "failed")


def _check_chunk_size(chunk_size: int) -> int:
    if not 1 <= int(chunk_size) <= MAX_CHUNK_SIZE:
        raise ValidationError(
            f"chunk size must be between 1 and {MAX_CHUNK_SIZE}; got {chunk_size}"
        )
    return int(chunk_size)


def create_survey(
    factory: sessionmaker[Session],
    *,
    source: Path,
    name: str | None = None,
    owner_id: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    options: dict[str, Any] | None = None,
    stars: Sequence[StarFiles] | None = None,
) -> str:
    """Plan the stars of `source` (folder or manifest) and store the survey; its id."""
    from exoguard.services.preprocess_schemas import check_options

    chunk_size = _check_chunk_size(chunk_size)
    checked = check_options(options or {}).to_dict()
    planned = list(stars) if stars is not None else plan_stars(source)
    survey_id = str(uuid.uuid4())
    label = (name or source.name or "survey")[:200]
    with session_scope(factory) as session:
        # The survey's candidates hang under one dataset row: private to its owner, like an
        # upload's (exoguard.store.access), with nothing stored under uploads/.
        session.add(
            Dataset(
                id=survey_id,
                owner_id=owner_id,
                filename=f"survey {label}"[:255],
                kind="lightcurve",
                format="fits",
                size_bytes=0,
                sha256="0" * 64,
                storage_path=f"surveys/{survey_id}",
                status="preprocessing",
                validation_report={"survey_id": survey_id, "n_stars": len(planned)},
            )
        )
        session.flush()
        session.add(
            Survey(
                id=survey_id,
                name=label,
                source=str(source)[:1024],
                status="running",
                n_stars=len(planned),
                chunk_size=chunk_size,
                options=checked,
                dataset_id=survey_id,
                owner_id=owner_id,
            )
        )
        session.flush()
        session.execute(
            insert(SurveyStar),
            [
                {
                    "survey_id": survey_id,
                    "position": i,
                    "target": star.target[:64],
                    "mission": star.mission,
                    "files": list(star.files),
                    "status": "pending",
                    "n_candidates": 0,
                    "attempts": 0,
                }
                for i, star in enumerate(planned)
            ],
        )
    log.info("survey %s: %d stars from %s", survey_id, len(planned), source)
    return survey_id


def require_survey(session: Session, survey_id: str) -> Survey:
    survey = session.get(Survey, survey_id)
    if survey is None:
        raise NotFoundError(f"survey {survey_id} does not exist")
    return survey


def latest_survey_for(factory: sessionmaker[Session], source: Path) -> str | None:
    """The newest survey of `source` (for ``--resume``), or None."""
    with session_scope(factory) as session:
        return session.scalar(
            select(Survey.id)
            .where(Survey.source == str(source)[:1024])
            .order_by(Survey.created_at.desc())
            .limit(1)
        )


def unfinished_chunks(
    factory: sessionmaker[Session], survey_id: str, *, chunk_size: int | None = None
) -> list[list[int]]:
    """The ids of the stars not yet done or failed, in order, in chunks."""
    with session_scope(factory) as session:
        survey = require_survey(session, survey_id)
        size = _check_chunk_size(chunk_size or survey.chunk_size)
        ids = list(
            session.scalars(
                select(SurveyStar.id)
                .where(
                    SurveyStar.survey_id == survey_id,
                    SurveyStar.status.not_in(FINISHED_STATUSES),
                )
                .order_by(SurveyStar.position)
            )
        )
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def chunk_params(survey_id: str, star_ids: Sequence[int]) -> dict[str, Any]:
    """The JSON params of a chunk job."""
    return {"survey_id": survey_id, "star_ids": [int(i) for i in star_ids]}


def chunk_jobs(factory: sessionmaker[Session], survey_id: str) -> list[Job]:
    """The chunk jobs of a survey (newest last)."""
    with session_scope(factory) as session:
        jobs = [
            job
            for job in session.scalars(
                select(Job).where(Job.kind == CHUNK_KIND).order_by(Job.created_at)
            )
            if (job.params or {}).get("survey_id") == survey_id
        ]
        session.expunge_all()
    return jobs


def fail_unfinished_chunks(factory: sessionmaker[Session], survey_id: str, *, reason: str) -> int:
    """Fail the survey's chunk jobs still queued or running (their stars are taken again by
    the next run); how many."""
    ids = [j.id for j in chunk_jobs(factory, survey_id) if j.status in ("queued", "running")]
    if not ids:
        return 0
    with session_scope(factory) as session:
        done = session.execute(
            update(Job)
            .where(Job.id.in_(ids), Job.status.in_(("queued", "running")))
            .values(status="failed", error=reason[:4000], finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(getattr(done, "rowcount", 0) or 0)


def finish_if_complete(factory: sessionmaker[Session], survey_id: str) -> bool:
    """Mark the survey finished when no star is left pending or running; whether it is."""
    with session_scope(factory) as session:
        left = session.scalar(
            select(func.count())
            .select_from(SurveyStar)
            .where(SurveyStar.survey_id == survey_id, SurveyStar.status.not_in(FINISHED_STATUSES))
        )
        if left:
            return False
        session.execute(
            update(Survey)
            .where(Survey.id == survey_id, Survey.status == "running")
            .values(status="finished", finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Dataset)
            .where(Dataset.id == survey_id, Dataset.status == "preprocessing")
            .values(status="preprocessed")
            .execution_options(synchronize_session=False)
        )
    return True


@dataclass(frozen=True)
class SurveyProgress:
    """Where a survey stands, from its star rows."""

    survey_id: str
    name: str
    status: str
    n_stars: int
    done: int
    failed: int
    running: int
    pending: int
    n_candidates: int
    elapsed_s: float
    stars_per_s: float | None
    eta_s: float | None

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def fraction(self) -> float:
        return self.finished / self.n_stars if self.n_stars else 1.0

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["finished"] = self.finished
        out["fraction"] = round(self.fraction, 6)
        return out


def survey_progress(
    factory: sessionmaker[Session], survey_id: str, *, since: Any = None
) -> SurveyProgress:
    """Counts per status, candidates found, the rate of finished stars and the ETA.

    The rate counts the stars finished since `since` (default: the survey's first star start),
    so a resumed survey's ETA is that of this run.
    """
    with session_scope(factory) as session:
        survey = require_survey(session, survey_id)
        counts = dict(
            session.execute(
                select(SurveyStar.status, func.count())
                .where(SurveyStar.survey_id == survey_id)
                .group_by(SurveyStar.status)
            ).all()
        )
        n_candidates = session.scalar(
            select(func.coalesce(func.sum(SurveyStar.n_candidates), 0)).where(
                SurveyStar.survey_id == survey_id
            )
        )
        first = since or session.scalar(
            select(func.min(SurveyStar.started_at)).where(SurveyStar.survey_id == survey_id)
        )
        recent = 0
        if first is not None:
            recent = int(
                session.scalar(
                    select(func.count())
                    .select_from(SurveyStar)
                    .where(
                        SurveyStar.survey_id == survey_id,
                        SurveyStar.status.in_(FINISHED_STATUSES),
                        SurveyStar.finished_at >= first,
                    )
                )
                or 0
            )
        name, status, n_stars = survey.name, survey.status, survey.n_stars
    done, failed = int(counts.get("done", 0)), int(counts.get("failed", 0))
    running, pending = int(counts.get("running", 0)), int(counts.get("pending", 0))
    elapsed = (utcnow() - first).total_seconds() if first is not None else 0.0
    rate = recent / elapsed if elapsed > 0 and recent else None
    left = n_stars - done - failed
    eta = left / rate if rate else (0.0 if left == 0 else None)
    return SurveyProgress(
        survey_id=survey_id,
        name=name,
        status=status,
        n_stars=n_stars,
        done=done,
        failed=failed,
        running=running,
        pending=pending,
        n_candidates=int(n_candidates or 0),
        elapsed_s=round(elapsed, 3),
        stars_per_s=round(rate, 4) if rate else None,
        eta_s=round(eta, 1) if eta is not None else None,
    )


def stage_means(factory: sessionmaker[Session], survey_id: str) -> dict[str, float]:
    """Mean CPU seconds per finished star of each stage (read, detrend, ... store), their
    total, ``cpu``: all CPU seconds of the worker process per star (its cost on a core of its
    own), and ``wall``: its wall seconds (longer when other programs share the cores)."""
    sums = dict.fromkeys((*STAGES, "cpu", "wall"), 0.0)
    n = 0
    with session_scope(factory) as session:
        for timings in session.scalars(
            select(SurveyStar.timings).where(
                SurveyStar.survey_id == survey_id, SurveyStar.status == "done"
            )
        ):
            if not timings:
                continue
            n += 1
            for stage in sums:
                sums[stage] += float(timings.get(stage, 0.0))
    out = {stage: (sums[stage] / n if n else 0.0) for stage in STAGES}
    out["total"] = sum(out.values())
    out["cpu"] = sums["cpu"] / n if n else 0.0
    out["wall"] = sums["wall"] / n if n else 0.0
    out["n_stars"] = float(n)
    return out


def failures(
    factory: sessionmaker[Session], survey_id: str, *, limit: int = 50
) -> list[dict[str, Any]]:
    """The failed stars: target, files and reason."""
    with session_scope(factory) as session:
        rows = session.execute(
            select(SurveyStar.target, SurveyStar.files, SurveyStar.reason)
            .where(SurveyStar.survey_id == survey_id, SurveyStar.status == "failed")
            .order_by(SurveyStar.position)
            .limit(limit)
        ).all()
    return [
        {"target": t, "files": [Path(f).name for f in files], "reason": r} for t, files, r in rows
    ]


def survey_candidate_ids(session: Session, survey_id: str) -> list[int]:
    """The candidate ids the survey's stars stored, in star order."""
    ids: list[int] = []
    for row in session.scalars(
        select(SurveyStar.candidate_ids)
        .where(SurveyStar.survey_id == survey_id, SurveyStar.status == "done")
        .order_by(SurveyStar.position)
    ):
        ids.extend(int(i) for i in row or [])
    return ids


def list_surveys(session: Session, *, owner_id: int | None = None, limit: int = 50) -> list[Survey]:
    stmt = select(Survey).order_by(Survey.created_at.desc()).limit(limit)
    if owner_id is not None:
        stmt = stmt.where(Survey.owner_id == owner_id)
    return list(session.scalars(stmt))


__all__ = [
    "CHUNK_KIND",
    "DEFAULT_CHUNK_SIZE",
    "STAGES",
    "SurveyProgress",
    "chunk_jobs",
    "chunk_params",
    "create_survey",
    "fail_unfinished_chunks",
    "failures",
    "finish_if_complete",
    "latest_survey_for",
    "list_surveys",
    "require_survey",
    "stage_means",
    "survey_candidate_ids",
    "survey_progress",
    "unfinished_chunks",
]
