"""Data sets: upload (streamed, size-limited, sniffed), validation report, preprocessing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from exoguard.errors import ConflictError
from exoguard.services import datasets, upload_results
from exoguard.services.multi_upload import create_lightcurve_set
from exoguard.services.preprocess_schemas import check_options
from exoguard.store.models import Dataset, DatasetKind
from exoguard.vetting.queue import QueuePolicy
from exoguard.web import uploads
from exoguard.web.api._common import enforce_rate_limit
from exoguard.web.api.schemas import (
    DatasetResultsOut,
    DatasetsOut,
    JobQueuedOut,
    UploadOut,
    UploadsOut,
    ValidationReportOut,
)
from exoguard.web.deps import CurrentUser, SessionDep, StateDep
from exoguard.web.params import DbKey, KeyPath, KeyQuery, OffsetQuery
from exoguard.web.state import AppState

router = APIRouter(prefix="/data", tags=["data"])

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [uploads.FILE_FIELD],
                    "properties": {
                        uploads.FILE_FIELD: {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "minItems": 1,
                            "maxItems": datasets.MAX_FILES_PER_UPLOAD,
                            "description": (
                                "FITS, CSV or JSON: a light curve or a catalog table; or several "
                                "light-curve files of ONE star (repeat the field), stitched "
                                "into one dataset"
                            ),
                        }
                    },
                }
            }
        },
    }
}


class PreprocessIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: DbKey
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Transit-search options: min_period_days, max_period_days, max_planets.",
    )


def _store(state: AppState, incoming: list[datasets.IncomingFile], owner_id: int) -> Dataset:
    session = state.sessions()
    try:
        if len(incoming) == 1:
            return datasets.create_dataset(session, state.settings, incoming[0], owner_id=owner_id)
        return create_lightcurve_set(session, state.settings, incoming, owner_id=owner_id)
    finally:
        session.close()


@router.post(
    "/upload",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_BODY,
    response_model=UploadOut,
    response_model_exclude_unset=True,
)
async def upload(request: Request, user: CurrentUser, state: StateDep) -> dict[str, Any]:
    """Upload one file (multipart field `file`), or several light-curve files of one star
    (the field repeated); everything is validated before anything is kept."""
    settings = state.settings
    enforce_rate_limit(request, user, action="upload", limit=settings.upload_rate_limit_per_minute)
    incoming = await uploads.receive_multipart_files(
        request.stream(),
        content_type=request.headers.get("content-type"),
        content_length=request.headers.get("content-length"),
        settings=settings,
    )
    try:
        dataset = await run_in_threadpool(_store, state, incoming, user.id)
    finally:
        for received in incoming:
            received.discard()  # no-op once the file has moved to its final place
    return {"dataset_id": dataset.id, "dataset": datasets.dataset_view(dataset, with_report=True)}


@router.get("/validate", response_model=ValidationReportOut, response_model_exclude_unset=True)
def validate(dataset_id: KeyQuery, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """The validation report written when the file was uploaded."""
    dataset = datasets.get_visible_dataset(session, dataset_id, user)
    return {
        "dataset_id": dataset.id,
        "status": dataset.status,
        "report": dataset.validation_report or {},
    }


@router.post(
    "/preprocess",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobQueuedOut,
    response_model_exclude_unset=True,
)
def preprocess(body: PreprocessIn, user: CurrentUser, session: SessionDep, state: StateDep) -> dict:
    """Start a job: catalog rows or a transit search → candidates → predictions."""
    dataset = datasets.get_visible_dataset(session, body.dataset_id, user)
    if dataset.status not in ("validated", "preprocessed", "failed"):
        raise ConflictError(f"dataset {dataset.id} is {dataset.status}; it cannot be preprocessed")
    options = check_options(body.options)
    session.commit()
    job_id = state.jobs.submit(
        "preprocess", {"dataset_id": dataset.id, "options": options.to_dict()}, owner_id=user.id
    )
    return {"job_id": job_id, "status": "queued"}


@router.get("/datasets", response_model=DatasetsOut, response_model_exclude_unset=True)
def list_datasets(
    user: CurrentUser,
    session: SessionDep,
    kind: DatasetKind | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Own data sets (every data set for researchers and admins), newest first."""
    rows = datasets.list_datasets(session, user, limit=limit, offset=offset, kind=kind)
    return {"datasets": [datasets.dataset_view(d) for d in rows]}


@router.get(
    "/datasets/{dataset_id}/results",
    response_model=DatasetResultsOut,
    response_model_exclude_unset=True,
)
def dataset_results(
    dataset_id: KeyPath, user: CurrentUser, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """An upload's result: counts per verdict, flagged and archive matches, then one row per
    candidate with its name, ephemeris, verdict and catalog match."""
    dataset = datasets.get_visible_dataset(session, dataset_id, user)
    policy = QueuePolicy.from_settings(state.settings)
    results = upload_results.dataset_results(session, dataset, user=user, policy=policy)
    return results.to_dict()


@router.get("/uploads", response_model=UploadsOut, response_model_exclude_unset=True)
def my_uploads(
    user: CurrentUser,
    session: SessionDep,
    state: StateDep,
    limit: int = Query(default=50, ge=1, le=500),
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """The caller's own uploads, newest first, each with the summary of its result."""
    policy = QueuePolicy.from_settings(state.settings)
    rows = upload_results.user_uploads(session, user, policy=policy, limit=limit, offset=offset)
    return {"uploads": [row.to_dict() for row in rows]}
