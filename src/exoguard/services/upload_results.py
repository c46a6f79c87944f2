"""What an upload gave: one row per candidate (name, ephemeris, verdict, catalog match) and
a summary (counts per verdict, flagged, matched to the archive); and the list of a user's
past uploads with those summaries ("My uploads").

The candidates of an upload are the ids its preprocess job recorded in the data set's
validation report (``report["preprocess"]["candidate_ids"]``), not ``candidates.dataset_id``:
an explorer's catalog upload of rows the archive already holds (300 TOIs) keeps the stored
archive rows, whose ``dataset_id`` stays NULL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from exoguard.store import access
from exoguard.store.models import Candidate, Dataset, Prediction, User
from exoguard.store.naming import candidate_name
from exoguard.store.repositories import PredictionRepository
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.state import verdict_of

#: Verdict keys of a row, in the order the summary lists them (``none``: not classified).
VERDICT_KEYS: Final[tuple[str, ...]] = ("planet", "false_positive", "uncertain", "none")
#: Most rows one upload's result lists (an upload never holds more candidates than this).
MAX_RESULT_ROWS: Final = 20_000
_CHUNK: Final = 500


def preprocess_record(dataset: Dataset) -> Mapping[str, Any]:
    """The preprocess job's record in the data set's report (empty before preprocessing)."""
    record = (dataset.validation_report or {}).get("preprocess")
    return record if isinstance(record, Mapping) else {}


def dataset_candidate_ids(dataset: Dataset) -> list[int]:
    """The candidates the data set's preprocess job stored, in the order it found them."""
    ids = preprocess_record(dataset).get("candidate_ids") or []
    return [int(i) for i in ids][:MAX_RESULT_ROWS]


def _visible_candidates(
    session: Session, ids: Sequence[int], user: User | None
) -> dict[int, Candidate]:
    out: dict[int, Candidate] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = list(ids[start : start + _CHUNK])
        stmt = select(Candidate).where(Candidate.id.in_(chunk), access.candidate_filter(user))
        out.update((c.id, c) for c in session.scalars(stmt))
    return out


def _flags(prediction: Prediction | None) -> list[str]:
    """Why a verdict is flagged: inputs outside what the model was trained on."""
    basis = ((prediction.explanation if prediction else None) or {}).get("basis") or {}
    off = basis.get("out_of_range") if isinstance(basis, Mapping) else None
    if not isinstance(off, list):
        return []
    return [str(o.get("feature")) for o in off if isinstance(o, Mapping) and o.get("feature")]


def _match_view(candidate: Candidate) -> dict[str, Any] | None:
    """The candidate's cross-match; an archive row (loaded by ``exoguard ingest``, which an
    explorer's table upload keeps as it is) is its own archive object."""
    match = candidate.catalog_match
    if not match and candidate.origin == "catalog" and candidate.dataset_id is None:
        parts = [p for p in (candidate.object_id, candidate.name) if p]
        disposition = candidate.disposition or "none given"
        return {
            "matched": True,
            "object_id": candidate.object_id,
            "name": candidate.name,
            "disposition": candidate.disposition,
            "summary": f"In the archive: {', '.join(parts)}, disposition {disposition}",
        }
    if not match:
        return None
    return {
        "matched": bool(match.get("matched")),
        "object_id": match.get("object_id"),
        "name": match.get("name"),
        "disposition": match.get("disposition"),
        "summary": match.get("summary"),
    }


def _finite(value: float | None) -> float | None:
    return None if value is None or value != value else float(value)


def result_row(
    candidate: Candidate, prediction: Prediction | None, *, policy: QueuePolicy
) -> dict[str, Any]:
    """One candidate as the result table shows it."""
    verdict = verdict_of(
        prediction.label if prediction else None,
        prediction.probability if prediction else None,
        prediction.uncertainty if prediction else None,
        policy=policy,
    )
    flags = _flags(prediction)
    basis = ((prediction.explanation if prediction else None) or {}).get("basis")
    return {
        "candidate_id": candidate.id,
        "name": candidate_name(candidate),
        "object_id": candidate.object_id,
        "archive_name": candidate.name,
        "mission": candidate.mission,
        "host_id": candidate.host_id,
        "origin": candidate.origin,
        "period_days": _finite(candidate.period_days),
        "t0_bjd": _finite(candidate.t0_bjd),
        "duration_hours": _finite(candidate.duration_hours),
        "depth_ppm": _finite(candidate.depth_ppm),
        "planet_radius_rearth": _finite(candidate.planet_radius_rearth),
        "verdict": verdict["key"],
        "verdict_words": verdict["words"],
        "label": prediction.label if prediction else None,
        "probability": prediction.probability if prediction else None,
        "uncertainty": prediction.uncertainty if prediction else None,
        "model_version": prediction.model_version if prediction else None,
        "flagged": bool(flags),
        "flags": flags,
        "basis": basis if isinstance(basis, Mapping) else None,
        "catalog_match": _match_view(candidate),
        "stellar_parameters": (candidate.features or {}).get("stellar_parameters"),
        "url": f"/candidates/{candidate.id}",
    }


def result_rows(
    session: Session, ids: Sequence[int], *, user: User | None, policy: QueuePolicy
) -> list[dict[str, Any]]:
    """The rows of the candidates `ids` that `user` may see, in the order of `ids`."""
    candidates = _visible_candidates(session, ids, user)
    predictions = PredictionRepository(session).latest_by_candidate(candidates)
    return [
        result_row(candidates[i], predictions.get(i), policy=policy)
        for i in dict.fromkeys(ids)
        if i in candidates
    ]


@dataclass(frozen=True, slots=True)
class ResultSummary:
    """Counts of result rows: per verdict, flagged, matched to the archive or not."""

    n_candidates: int
    #: Rows per verdict key of :data:`VERDICT_KEYS`, in that order.
    verdicts: dict[str, int]
    n_flagged: int
    n_matched: int
    n_unmatched: int
    n_not_matched_yet: int

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["verdicts"] = dict(self.verdicts)
        return out


@dataclass(frozen=True, slots=True)
class UploadRecord:
    """The fields of an upload a person reads (no storage path, no owner)."""

    id: str
    filename: str
    kind: str
    format: str
    size_bytes: int
    status: str
    #: ISO 8601 times (None: not yet).
    created_at: str | None
    preprocessed_at: str | None
    #: The lone transit-like event of a search without a period (None: none).
    single_event: dict[str, Any] | None
    url: str

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(UploadRecord)}


@dataclass(frozen=True, slots=True)
class UploadSummary(UploadRecord):
    """An upload with the summary of its result and its three most planet-like rows."""

    summary: ResultSummary
    #: ``{"name", "url", "verdict"}`` of each row.
    top: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {**UploadRecord.to_dict(self), "summary": self.summary.to_dict(), "top": self.top}


@dataclass(frozen=True, slots=True)
class DatasetResults:
    """An upload, the summary of its result and one row per candidate (:func:`result_row`)."""

    dataset: UploadRecord
    summary: ResultSummary
    rows: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset.to_dict(),
            "summary": self.summary.to_dict(),
            "rows": self.rows,
        }


def summarise(rows: Sequence[Mapping[str, Any]]) -> ResultSummary:
    """Counts of result rows: per verdict, flagged, matched to the archive or not."""
    verdicts = Counter(str(r["verdict"]) for r in rows)
    matches = [r.get("catalog_match") for r in rows]
    return ResultSummary(
        n_candidates=len(rows),
        verdicts={key: int(verdicts.get(key, 0)) for key in VERDICT_KEYS},
        n_flagged=sum(bool(r.get("flagged")) for r in rows),
        n_matched=sum(bool(m and m.get("matched")) for m in matches),
        n_unmatched=sum(bool(m and not m.get("matched")) for m in matches),
        n_not_matched_yet=sum(m is None for m in matches),
    )


def _upload_fields(dataset: Dataset) -> dict[str, Any]:
    record = preprocess_record(dataset)
    return {
        "id": dataset.id,
        "filename": dataset.filename,
        "kind": dataset.kind,
        "format": dataset.format,
        "size_bytes": dataset.size_bytes,
        "status": dataset.status,
        "created_at": dataset.created_at.isoformat() if dataset.created_at else None,
        "preprocessed_at": record.get("finished_at"),
        "single_event": record.get("single_event"),
        "url": f"/explore?dataset={dataset.id}",
    }


def upload_view(dataset: Dataset) -> UploadRecord:
    """The fields of an upload a person reads (no storage path, no owner)."""
    return UploadRecord(**_upload_fields(dataset))


def dataset_results(
    session: Session, dataset: Dataset, *, user: User | None, policy: QueuePolicy
) -> DatasetResults:
    """An upload, the summary of its result and one row per candidate (its result page)."""
    rows = result_rows(session, dataset_candidate_ids(dataset), user=user, policy=policy)
    return DatasetResults(dataset=upload_view(dataset), summary=summarise(rows), rows=rows)


def user_uploads(
    session: Session, user: User, *, policy: QueuePolicy, limit: int = 100, offset: int = 0
) -> list[UploadSummary]:
    """`user`'s own uploads, newest first, each with the summary of its result."""
    stmt = (
        select(Dataset)
        .where(Dataset.owner_id == user.id)
        .order_by(Dataset.created_at.desc(), Dataset.id)
        .limit(limit)
        .offset(offset)
    )
    datasets = list(session.scalars(stmt))
    ids_of = {d.id: dataset_candidate_ids(d) for d in datasets}
    every = [i for ids in ids_of.values() for i in ids]
    candidates = _visible_candidates(session, every, user)
    predictions = PredictionRepository(session).latest_by_candidate(candidates)
    out = []
    for dataset in datasets:
        rows = [
            result_row(candidates[i], predictions.get(i), policy=policy)
            for i in dict.fromkeys(ids_of[dataset.id])
            if i in candidates
        ]
        top = sorted(rows, key=lambda r: -(r["probability"] or 0.0))[:3]
        out.append(
            UploadSummary(
                **_upload_fields(dataset),
                summary=summarise(rows),
                top=[{"name": r["name"], "url": r["url"], "verdict": r["verdict"]} for r in top],
            )
        )
    return out


__all__ = [
    "VERDICT_KEYS",
    "DatasetResults",
    "ResultSummary",
    "UploadRecord",
    "UploadSummary",
    "dataset_candidate_ids",
    "dataset_results",
    "result_row",
    "result_rows",
    "summarise",
    "upload_view",
    "user_uploads",
]
