"""Preprocessing a dataset: catalog rows or a transit search → candidates → predictions.

The heavy work (reading, searching) happens outside any transaction; every domain write
(candidates, predictions, vetting-queue entries, the dataset's status and the job's success)
is applied in ONE transaction at the end, so a job killed mid-way leaves nothing behind.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from exoguard.catalogs.crossmatch import MatchQuery
from exoguard.catalogs.schema import HARMONISED_COLUMNS, PHYSICAL_COLUMNS
from exoguard.config import Settings
from exoguard.errors import ModelNotReadyError
from exoguard.jsonsafe import jsonable
from exoguard.services import predictions
from exoguard.services.catalog_match import (
    STELLAR_KEY,
    match_and_fill,
    query_for_row,
    stellar_record,
    with_features,
)
from exoguard.services.datasets import dataset_files
from exoguard.services.preprocess_schemas import (
    PreprocessResult,
    SearchedLightCurve,
    SearchOptions,
    check_options,
)
from exoguard.store.catalog_match import CatalogLookup, StarFromCatalog
from exoguard.store.db import session_scope
from exoguard.store.models import Candidate, User
from exoguard.store.repositories import CandidateRepository, DatasetRepository, JobRepository
from exoguard.store.types import utcnow

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from exoguard.core.lightcurve import LightCurve
    from exoguard.ml.service import LightCurveInputs

ProgressFn = Callable[[float, str | None], None]
_STAR_ARGS = {
    "star_teff_k": "teff_k",
    "star_logg_cgs": "logg_cgs",
    "star_radius_rsun": "radius_rsun",
    "star_mag": "mag",
}
_CURATING_ROLES = ("researcher", "admin")


def star_columns(star: Mapping[str, float]) -> list[str]:
    """The candidate columns of `StarParams` keyword arguments."""
    by_arg = {arg: column for column, arg in _STAR_ARGS.items()}
    return [by_arg[a] for a in star if a in by_arg]


# ----------------------------------------------------------------------------- reading
def catalog_frame(path: Any, *, display_name: str) -> pd.DataFrame:
    """The harmonised frame of a stored catalog table."""
    from exoguard.catalogs import read_catalog_bytes

    with open(path, "rb") as fh:
        data = fh.read()
    return read_catalog_bytes(data, name=display_name).frame


def _catalog_star(session: Session, host_id: str, *, mission: str | None) -> StarFromCatalog | None:
    """The star `host_id` names (any spelling) in the ingested catalogs, if any: only rows
    loaded by `exoguard ingest`, never another user's upload or typed-in values."""
    lookup = CatalogLookup(session)
    lookup.load([MatchQuery(host_ids=(host_id,), mission=mission)])
    return lookup.star([host_id], mission=mission)


def search_frame(
    paths: Sequence[Path],
    *,
    factory: sessionmaker[Session],
    dataset_id: str,
    options: SearchOptions,
    progress: ProgressFn,
) -> SearchedLightCurve:
    """Read a light curve (several files of one star are stitched, as `exoguard search`
    does) and search it for transits.

    The host star's catalog parameters (when the star is in the catalogs) go into the search,
    which then gives planet radius, equilibrium temperature and insolation; each candidate's
    features record them under ``stellar_parameters``.
    """
    from exoguard import read_lightcurve

    progress(
        0.05, "reading the light curve" + (f"s ({len(paths)} files)" if len(paths) > 1 else "")
    )
    lc = read_lightcurve(list(paths) if len(paths) > 1 else paths[0])
    return search_read_lightcurve(
        lc, factory=factory, key=dataset_id[:8], options=options, progress=progress
    )


#: Survey stages from the search's own (`SearchResult.stage_s`).
_SEARCH_STAGES: dict[str, tuple[str, ...]] = {
    "detrend": ("detrend",),
    "search": ("bls", "refine"),
    "diagnostics": ("diagnostics", "single_event"),
}


def search_read_lightcurve(
    lc: LightCurve,
    *,
    factory: sessionmaker[Session],
    key: str,
    options: SearchOptions,
    progress: ProgressFn,
    stage_s: dict[str, float] | None = None,
    stage_clock: Callable[[], float] = time.perf_counter,
) -> SearchedLightCurve:
    """:func:`search_frame` on a light curve already read; candidate ids end in ``[key]``
    (one row per upload or survey and signal). `stage_s` gets the search's stage seconds,
    read on `stage_clock` (``time.process_time``: CPU seconds)."""
    from exoguard.core.search.multi import DEFAULT_MAX_PLANETS, search_lightcurve
    from exoguard.core.search.star import StarParams
    from exoguard.ml.service import LightCurveInputs

    with session_scope(factory) as session:
        catalog_star = _catalog_star(session, lc.target_id, mission=lc.mission)
    star = (
        {} if catalog_star is None else {_STAR_ARGS[c]: v for c, v in catalog_star.values.items()}
    )
    note = f"star parameters of {lc.target_id} from the catalogs" if star else "star unknown"
    progress(0.15, f"searching {lc.n_points} points for transits ({note})")

    passes = int(options.max_planets or DEFAULT_MAX_PLANETS)

    def on_step(done: int, total: int) -> None:
        progress(0.15 + 0.7 * done / max(total, 1), search_message(done, total, passes=passes))

    result = search_lightcurve(
        lc,
        star=StarParams(**star),
        progress=on_step,
        stage_clock=stage_clock,
        **options.to_dict(),
    )
    if stage_s is not None:
        for stage, parts in _SEARCH_STAGES.items():
            spent = sum(result.stage_s.get(part, 0.0) for part in parts)
            stage_s[stage] = stage_s.get(stage, 0.0) + spent
    found = list(result.candidates)
    single = result.single_event.to_dict() if result.single_event is not None else None
    progress(0.85, found_message(len(found), single_event=single is not None))
    rows: list[dict[str, Any]] = []
    features: list[dict[str, Any]] = []
    for number, cand in enumerate(found, start=1):
        row = dict(cand.to_harmonised())
        base = str(row.get("object_id") or f"{lc.target_id}.{number:02d}")
        # one row per dataset and signal: two uploads of one star never overwrite each other
        row["object_id"] = f"{base} [{key}]"[:64]
        row["host_id"] = row.get("host_id") or lc.target_id
        row["mission"] = row.get("mission") or lc.mission
        row["label"] = "candidate"
        rows.append(row)
        feats = jsonable(cand.to_dict())
        record = stellar_record(catalog_star, filled=sorted(star_columns(star)), given=[])
        if record is not None:
            feats[STELLAR_KEY] = record.to_dict()
        features.append(feats)
    frame = pd.DataFrame(rows, columns=list(HARMONISED_COLUMNS))
    for name in PHYSICAL_COLUMNS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    window = result.window_days if math.isfinite(result.window_days) else None
    return SearchedLightCurve(
        frame=frame,
        features=features,
        inputs=LightCurveInputs(
            lc=lc,
            candidates=found,
            star=dict(star),
            window_days=window,
            detrended=result.last_detrended,
        ),
        single_event=single,
    )


def search_message(done: int, total: int, *, passes: int) -> str:
    """The search's progress in the user's words: ``total`` counts trial periods over all
    ``passes`` (one per signal sought), as :func:`search_lightcurve` reports them."""
    if done >= total:
        return "period search done"
    per_pass = max(total // max(passes, 1), 1)
    current = min(done // per_pass + 1, passes)
    text = f"searching {per_pass:,} trial periods"
    if current == 1:
        return text + " for a repeating transit"
    return text + f" for another signal (pass {current} of at most {passes})"


def found_message(n_found: int, *, single_event: bool) -> str:
    """What the search found, in words."""
    if n_found:
        return f"found {n_found:,} candidate signal{'' if n_found == 1 else 's'}"
    if single_event:
        return "one transit-like event found; a period needs at least two"
    return "no transit-like signal found"


# ----------------------------------------------------------------------------- writing
def _ids_by_key(session: Session, frame: pd.DataFrame) -> list[int]:
    keys = list(zip(frame["mission"].str.lower(), frame["object_id"].astype(str), strict=True))
    found: dict[tuple[str, str], int] = {}
    by_mission: dict[str, list[str]] = {}
    for mission, object_id in keys:
        by_mission.setdefault(mission, []).append(object_id.strip())
    for mission, object_ids in by_mission.items():
        for start in range(0, len(object_ids), 500):
            chunk = object_ids[start : start + 500]
            stmt = select(Candidate.id, Candidate.object_id).where(
                Candidate.mission == mission, Candidate.object_id.in_(chunk)
            )
            for cid, oid in session.execute(stmt):
                found[(mission, oid)] = int(cid)
    return [found[(m, o.strip())] for m, o in keys]


def _write_candidates(
    session: Session, frame: pd.DataFrame, *, origin: str, dataset_id: str, curate: bool
) -> dict[str, int]:
    """Upsert (researchers) or insert-new-only (explorers: never alter stored candidates)."""
    repo = CandidateRepository(session)
    if curate or origin == "search":
        return repo.upsert_many(frame, origin=origin, dataset_id=dataset_id).to_dict()
    existing: set[tuple[str, str]] = set()
    keys = list(zip(frame["mission"].str.lower(), frame["object_id"].astype(str), strict=True))
    for mission in {m for m, _ in keys}:
        ids = [o.strip() for m, o in keys if m == mission]
        for start in range(0, len(ids), 500):
            stmt = select(Candidate.object_id).where(
                Candidate.mission == mission, Candidate.object_id.in_(ids[start : start + 500])
            )
            existing.update((mission, o) for o in session.scalars(stmt))
    is_new = [(m, o.strip()) not in existing for m, o in keys]
    result = repo.upsert_many(frame[is_new], origin=origin, dataset_id=dataset_id).to_dict()
    result["kept_stored"] = int(len(frame) - sum(is_new))
    return result


def preprocess_dataset(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    dataset_id: str,
    job_id: str | None,
    holder: str | None,
    options: Mapping[str, Any],
    progress: ProgressFn,
) -> PreprocessResult:
    """Turn a validated dataset into stored candidates and predictions (the preprocess job).

    With `job_id`, the job row is marked succeeded in the same transaction as the writes,
    only while `holder` (the runner's process id) still holds it.
    """
    with session_scope(factory) as session:
        dataset = DatasetRepository(session).require(dataset_id)
        paths = dataset_files(settings, dataset)
        kind, filename, owner_id = dataset.kind, dataset.filename, dataset.owner_id
        owner = session.get(User, owner_id) if owner_id is not None else None
        curate = owner is not None and owner.role in _CURATING_ROLES
    frame, features, lightcurve, single_event = _dataset_candidates(
        kind, paths, filename=filename, factory=factory, dataset_id=dataset_id,
        options=check_options(options), progress=progress,
    )  # fmt: skip
    origin = "catalog" if kind == "catalog" else "search"
    progress(0.88, f"matching {len(frame)} candidates to the catalogs")
    frame, features = _cross_match(factory, frame, features, kind=kind)
    progress(0.9, f"storing {len(frame)} candidates")

    with session_scope(factory) as session:
        dataset = DatasetRepository(session).require(dataset_id)
        written, ids, verdicts, note = store_and_classify(
            session,
            frame,
            features,
            origin=origin,
            dataset_id=dataset_id,
            curate=curate,
            lightcurve=lightcurve,
            settings=settings,
        )
        n_planets = sum(v.label == "planet" for v in verdicts)
        matches_by_id = dict(zip(ids, frame["catalog_match"], strict=True)) if ids else {}
        record: dict[str, Any] = {
            "job_id": job_id,
            "candidate_ids": ids,
            "n_candidates": len(ids),
            "n_predictions": len(verdicts),
            "finished_at": utcnow().isoformat(),
        }
        if single_event is not None:
            record["single_event"] = single_event  # shown again when the result is reopened
        report = dict(dataset.validation_report or {})
        report["preprocess"] = record
        DatasetRepository(session).set_status(dataset_id, "preprocessed", validation_report=report)
        result = PreprocessResult(
            dataset_id=dataset_id,
            kind=kind,
            candidate_ids=ids,
            written=written,
            n_predictions=len(verdicts),
            n_planet_verdicts=int(n_planets),
            predictions=[_with_match(v, matches_by_id) for v in verdicts[:1000]],
            note=note,
            single_event=single_event,
        )
        if job_id is not None:
            JobRepository(session).mark_succeeded(job_id, result=result.to_dict(), holder=holder)
    return result


def _dataset_candidates(
    kind: str,
    paths: list[Path],
    *,
    filename: str,
    factory: sessionmaker[Session],
    dataset_id: str,
    options: SearchOptions,
    progress: ProgressFn,
) -> tuple[
    pd.DataFrame,
    list[dict[str, Any] | None] | None,
    LightCurveInputs | None,
    dict[str, Any] | None,
]:
    """Candidate rows (catalog table or light-curve search), features, inputs, single event."""
    if kind == "catalog":
        progress(0.1, "reading the catalog table")
        frame = catalog_frame(paths[0], display_name=filename)
        # the validation report lists duplicate ids; the first row of each is kept
        frame = frame.drop_duplicates(subset=["mission", "object_id"], keep="first")
        return frame.reset_index(drop=True), None, None, None
    searched = search_frame(
        paths, factory=factory, dataset_id=dataset_id, options=options, progress=progress
    )
    return searched.frame, list(searched.features), searched.inputs, searched.single_event


def store_and_classify(
    session: Session,
    frame: pd.DataFrame,
    features: Sequence[dict[str, Any] | None] | None,
    *,
    origin: str,
    dataset_id: str,
    curate: bool,
    lightcurve: LightCurveInputs | None,
    settings: Settings,
    stage_s: dict[str, float] | None = None,
    stage_clock: Callable[[], float] = time.perf_counter,
) -> tuple[dict[str, int], list[int], list[predictions.Verdict], str | None]:
    """Write the candidates of `frame`, score them with the active model, store the
    predictions and queue the uncertain ones for vetting, in `session` (the caller commits).

    Returns (what was written, candidate ids, verdicts, why there are no predictions or None).
    `stage_s` gets the seconds of ``"store"`` (the writes) and ``"classify"`` (the scoring),
    read on `stage_clock`.
    """
    clock = stage_clock()

    def lap(stage: str) -> None:
        nonlocal clock
        if stage_s is not None:
            now = stage_clock()
            stage_s[stage] = stage_s.get(stage, 0.0) + now - clock
            clock = now

    frame = frame.assign(features=list(features) if features is not None else None)
    written = (
        _write_candidates(session, frame, origin=origin, dataset_id=dataset_id, curate=curate)
        if len(frame)
        else {}
    )
    ids = _ids_by_key(session, frame) if len(frame) else []
    verdicts: list[predictions.Verdict] = []
    note = None
    lap("store")
    if ids:
        try:
            version = predictions.active_version_id(session)
        except ModelNotReadyError as exc:
            note = f"no predictions: {exc}"
        else:
            scored = predictions.frame_for_ids(session, ids)
            scores = predictions.score_frame(
                scored, version=version, settings=settings, lightcurve=lightcurve
            )
            lap("classify")
            verdicts = predictions.store_predictions(
                session, ids, scores, version=version, settings=settings, enqueue=True
            )
    lap("store")
    return written, ids, verdicts, note


def cross_match(
    factory: sessionmaker[Session],
    frame: pd.DataFrame,
    features: Sequence[dict[str, Any] | None] | None,
    *,
    kind: str,
) -> tuple[pd.DataFrame, list[dict[str, Any] | None]]:
    """Match each row to the ingested catalogs (see :func:`_cross_match`)."""
    return _cross_match(factory, frame, features, kind=kind)


def _cross_match(
    factory: sessionmaker[Session],
    frame: pd.DataFrame,
    features: Sequence[dict[str, Any] | None] | None,
    *,
    kind: str,
) -> tuple[pd.DataFrame, list[dict[str, Any] | None]]:
    """Match each row to the ingested catalogs; table rows get missing stellar values from
    the matched star (search rows had theirs in the search). Adds ``catalog_match``."""
    if not len(frame):
        return frame.assign(catalog_match=[]), []
    records = frame.to_dict(orient="records")
    if kind == "catalog":
        queries = [
            query_for_row(r, object_ids=[t for k in ("object_id", "name") if (t := _text(r, k))])
            for r in records
        ]
    else:
        queries = [
            query_for_row(r, period_err_days=(f or {}).get("period_err_days"))
            for r, f in zip(records, features or [None] * len(records), strict=True)
        ]
    with session_scope(factory) as session:
        filled, context = match_and_fill(session, frame, queries, fill_star=kind == "catalog")
    if kind == "catalog":
        features = with_features(None, context.stellar)
    filled = filled.assign(catalog_match=[m.to_dict() for m in context.matches])
    return filled, list(features) if features is not None else [None] * len(filled)


def _text(record: Mapping[str, Any], key: str) -> str | None:
    value = record.get(key)
    return None if value is None or pd.isna(value) else str(value)


def _with_match(verdict: predictions.Verdict, matches: Mapping[int, Any]) -> dict[str, Any]:
    out = verdict.to_dict()
    if verdict.candidate_id is not None and verdict.candidate_id in matches:
        out["catalog_match"] = matches[verdict.candidate_id]
    return out


__all__ = [
    "cross_match",
    "preprocess_dataset",
    "search_read_lightcurve",
    "store_and_classify",
]
