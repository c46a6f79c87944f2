"""One star of a survey, from files to stored verdicts, with the seconds of each stage.

The stages reuse what an upload goes through (``exoguard.services.preprocessing``):
the light curve is read (several files of one star stitched by ``read_lightcurve``), searched
(``search_read_lightcurve``: detrend, BLS, diagnostics), cross-matched to the catalogs and
classified with the active model, and its candidates, predictions and vetting-queue entries
stored (``store_and_classify``) in the same transaction as the star's final status.

Stage seconds are CPU seconds of the worker process: ``read`` (file hash and reading),
``detrend``, ``search`` (grid, BLS, peak refinement, the star's catalog parameters),
``diagnostics`` (transit diagnostics, single event, alias flags), ``classify`` (catalog
cross-match and the model), ``store`` (writes); ``cpu`` all of them and the bookkeeping,
``wall`` the star's wall seconds.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from exoguard.config import Settings
from exoguard.errors import ExoguardError
from exoguard.jobs.execute import beats_in_database, holder_gone, replica_id
from exoguard.store.db import session_scope
from exoguard.store.survey_models import Survey, SurveyStar
from exoguard.store.types import utcnow
from exoguard.survey.service import STAGES

log = logging.getLogger(__name__)
_HASH_BLOCK = 1 << 20


def files_hash(files: Sequence[str]) -> str:
    """SHA-256 over the bytes of `files` in order (each file's length separates them)."""
    digest = hashlib.sha256()
    for name in files:
        with open(name, "rb") as fh:
            size = 0
            while block := fh.read(_HASH_BLOCK):
                digest.update(block)
                size += len(block)
        digest.update(f"\0{size}\0".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class StarOutcome:
    """What one run did with a star: ``done``, ``failed``, ``skipped`` or ``busy``."""

    star_id: int
    outcome: str
    n_candidates: int = 0
    reason: str | None = None


def _claim(
    factory: sessionmaker[Session], settings: Settings, star_id: int
) -> tuple[str, SurveyStar | None]:
    """Take star `star_id` for this process: ("run", row) or (why not, None)."""
    me = replica_id()
    with session_scope(factory) as session:
        star = session.get(SurveyStar, star_id)
        if star is None:
            return "missing", None
        if star.status in ("done", "failed"):
            return "finished", star
        if star.status == "running" and not holder_gone(
            star.worker_id,
            star.started_at,
            now=utcnow(),
            stale_s=settings.job_stale_s,
            process_decides=not beats_in_database(settings),
        ):
            return "busy", None
        claimed = session.execute(
            update(SurveyStar)
            .where(
                SurveyStar.id == star_id,
                SurveyStar.status == star.status,
                SurveyStar.attempts == star.attempts,
                or_(SurveyStar.worker_id.is_(None), SurveyStar.worker_id == star.worker_id),
            )
            .values(
                status="running",
                worker_id=me,
                started_at=utcnow(),
                attempts=star.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if not getattr(claimed, "rowcount", 0):
            return "busy", None
        session.expunge(star)
        return "run", star


def _still_mine(session: Session, star_id: int) -> SurveyStar | None:
    """The star row, locked, when this process still holds it running; else None."""
    star = session.get(SurveyStar, star_id, with_for_update=True, populate_existing=True)
    if star is None or star.status != "running" or star.worker_id != replica_id():
        return None
    return star


def _fail(
    factory: sessionmaker[Session],
    star_id: int,
    *,
    reason: str,
    file_hash: str | None,
    stage_s: dict[str, float],
) -> bool:
    with session_scope(factory) as session:
        star = _still_mine(session, star_id)
        if star is None:
            return False
        star.status = "failed"
        star.reason = reason[:4000]
        star.file_hash = file_hash
        star.timings = {k: round(v, 6) for k, v in stage_s.items()}
        star.worker_id = None
        star.finished_at = utcnow()
    return True


def process_star(factory: sessionmaker[Session], settings: Settings, star_id: int) -> StarOutcome:
    """Run one star of a survey to its stored result (see the module docstring)."""
    claim, star = _claim(factory, settings, star_id)
    if claim == "finished" and star is not None:
        # Done (or failed) before: skipped when the files are unchanged, else redone.
        if star.file_hash and star.file_hash == _safe_hash(star.files):
            return StarOutcome(star_id, "skipped", star.n_candidates)
        with session_scope(factory) as session:
            session.execute(
                update(SurveyStar)
                .where(SurveyStar.id == star_id, SurveyStar.status == star.status)
                .values(status="pending", worker_id=None)
                .execution_options(synchronize_session=False)
            )
        claim, star = _claim(factory, settings, star_id)
    if claim != "run" or star is None:
        return StarOutcome(star_id, "busy" if claim == "busy" else "skipped")
    with session_scope(factory) as session:
        survey = session.get(Survey, star.survey_id)
        assert survey is not None
        options, dataset_id, survey_id = dict(survey.options or {}), survey.dataset_id, survey.id
    stage_s = dict.fromkeys(STAGES, 0.0)
    file_hash: str | None = None
    # stage seconds are CPU seconds of this (single-threaded) process: what a star costs on
    # a core of its own, whatever else shares the machine; "wall" is the star's wall time
    clocks = (time.perf_counter(), _clock())
    try:
        file_hash = files_hash(star.files)
        frame, found, inputs = _read_and_search(
            factory, star, options=options, key=survey_id[:8], stage_s=stage_s,
            cpu_started=clocks[1],
        )  # fmt: skip
    except (ExoguardError, ValueError, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
        _fail(factory, star_id, reason=reason, file_hash=file_hash, stage_s=stage_s)
        log.info("survey star %s failed: %s", star.target, reason)
        return StarOutcome(star_id, "failed", reason=reason)
    except Exception as exc:  # a reader or search bug: recorded, the survey goes on
        log.exception("survey star %s failed", star.target)
        reason = f"{type(exc).__name__}: {exc}"
        _fail(factory, star_id, reason=reason, file_hash=file_hash, stage_s=stage_s)
        return StarOutcome(star_id, "failed", reason=reason)
    try:
        return _store_star(
            factory, settings, star_id, frame, found, inputs,
            dataset_id=str(dataset_id or survey_id), file_hash=file_hash, stage_s=stage_s,
            clocks=clocks,
        )  # fmt: skip
    except Exception as exc:  # the store failed (rolled back): recorded with its reason
        log.exception("survey star %s: storing failed", star.target)
        reason = f"storing failed: {type(exc).__name__}: {exc}"
        _fail(factory, star_id, reason=reason, file_hash=file_hash, stage_s=stage_s)
        return StarOutcome(star_id, "failed", reason=reason)


def _read_and_search(
    factory: sessionmaker[Session],
    star: SurveyStar,
    *,
    options: dict[str, Any],
    key: str,
    stage_s: dict[str, float],
    cpu_started: float,
) -> tuple[Any, Any, Any]:
    """Read the star's files, search, cross-match; CPU seconds added to ``stage_s``."""
    from exoguard import read_lightcurve
    from exoguard.services.preprocess_schemas import check_options
    from exoguard.services.preprocessing import cross_match, search_read_lightcurve

    files = [Path(f) for f in star.files]
    # the survey's name of the star (the manifest's target, or what the planner read from
    # the header): two stars read from copies of one file stay two stars
    lc = read_lightcurve(
        files if len(files) > 1 else files[0], mission=star.mission, target_id=star.target
    )
    stage_s["read"] = _clock() - cpu_started
    checked = check_options(options)
    lap = _clock()
    search_s: dict[str, float] = {}
    searched = search_read_lightcurve(
        lc,
        factory=factory,
        key=key,
        options=checked,
        progress=_no_progress,
        stage_s=search_s,
        stage_clock=_clock,
    )
    spent = _clock() - lap
    for stage in ("detrend", "search", "diagnostics"):
        stage_s[stage] = search_s.get(stage, 0.0)
    stage_s["search"] += max(spent - sum(search_s.values()), 0.0)  # star parameters
    lap = _clock()
    frame, found = cross_match(factory, searched.frame, searched.features, kind="lightcurve")
    stage_s["classify"] += _clock() - lap
    return frame, found, searched.inputs


def _store_star(
    factory: sessionmaker[Session],
    settings: Settings,
    star_id: int,
    frame: Any,
    found: Any,
    inputs: Any,
    *,
    dataset_id: str,
    file_hash: str,
    stage_s: dict[str, float],
    clocks: tuple[float, float],
) -> StarOutcome:
    """Store and classify the candidates and mark the star done (busy if taken meanwhile)."""
    from exoguard.services.preprocessing import store_and_classify

    started, cpu_started = clocks
    with session_scope(factory) as session:
        if _still_mine(session, star_id) is None:
            return StarOutcome(star_id, "busy", reason="taken by another process")
        _, ids, _verdicts, note = store_and_classify(
            session,
            frame,
            found,
            origin="search",
            dataset_id=dataset_id,
            curate=False,
            lightcurve=inputs,
            settings=settings,
            stage_s=stage_s,
            stage_clock=_clock,
        )
        session.execute(
            update(SurveyStar)
            .where(SurveyStar.id == star_id)
            .values(
                status="done",
                file_hash=file_hash,
                reason=note,
                timings={
                    **{k: round(v, 6) for k, v in stage_s.items()},
                    # all of this process's CPU seconds on the star (claims and
                    # bookkeeping too, but not the commit)
                    "cpu": round(_clock() - cpu_started, 6),
                    "wall": round(time.perf_counter() - started, 6),
                },
                n_candidates=len(ids),
                candidate_ids=ids,
                worker_id=None,
                finished_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )
    return StarOutcome(star_id, "done", len(ids))


def _clock() -> float:
    """CPU seconds of this process (a survey worker runs one thread: see ``survey.local``)."""
    return time.process_time()


def _no_progress(_fraction: float, _message: str | None = None) -> None:
    """A survey star reports no progress of its own: the survey counts stars."""


def _safe_hash(files: Sequence[str]) -> str | None:
    try:
        return files_hash(files)
    except OSError:
        return None


def run_chunk(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    survey_id: str,
    star_ids: Sequence[int],
    progress: Any = None,
) -> dict[str, Any]:
    """Run the stars of one chunk in order; counts of each outcome (JSON)."""
    from exoguard.survey.service import finish_if_complete

    with session_scope(factory) as session:
        known = set(
            session.scalars(
                select(SurveyStar.id).where(
                    SurveyStar.survey_id == survey_id, SurveyStar.id.in_(list(star_ids))
                )
            )
        )
    counts = {"done": 0, "failed": 0, "skipped": 0, "busy": 0, "n_candidates": 0}
    for position, star_id in enumerate(star_ids):
        if star_id not in known:
            raise ExoguardError(f"star {star_id} is not a star of survey {survey_id}")
        outcome = process_star(factory, settings, int(star_id))
        counts[outcome.outcome] += 1
        counts["n_candidates"] += outcome.n_candidates if outcome.outcome == "done" else 0
        if progress is not None:
            progress((position + 1) / len(star_ids), f"{position + 1} of {len(star_ids)} stars")
    finish_if_complete(factory, survey_id)
    return {"survey_id": survey_id, "n_stars": len(star_ids), **counts}


__all__ = ["StarOutcome", "files_hash", "process_star", "run_chunk"]
