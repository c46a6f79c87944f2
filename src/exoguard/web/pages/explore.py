"""Explorer mode: upload a light curve or type a candidate in, read the verdict; and the
list of one's past uploads ("My uploads")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from exoguard.errors import ValidationError
from exoguard.services import upload_results
from exoguard.store.repositories import CandidateRepository
from exoguard.web.deps import SessionDep
from exoguard.web.pages._common import PageUser, queue_policy, render
from exoguard.web.params import MAX_DB_INT

router = APIRouter(include_in_schema=False)

#: Most candidate ids one /explore/candidates request may name.
MAX_IDS = 100


@router.get("/explore", response_class=HTMLResponse)
def explore_page(request: Request, user: PageUser) -> HTMLResponse:
    """The upload and manual-entry forms; the page's script calls the JSON API (and shows
    the upload ``?dataset=`` or the typed-in candidates ``?candidates=`` after a reload)."""
    from exoguard.services.datasets import MAX_FILES_PER_UPLOAD

    return render(
        request,
        "explore.html",
        user=user,
        page_id="explore",
        max_upload_files=MAX_FILES_PER_UPLOAD,
    )


@router.get("/uploads", response_class=HTMLResponse)
def uploads_page(request: Request, user: PageUser, session: SessionDep) -> HTMLResponse:
    """The logged-in user's past uploads with the summary of each result, newest first."""
    uploads: list[upload_results.UploadSummary] = []
    if user is not None:
        policy = queue_policy(request.app.state.exoguard.settings)
        uploads = upload_results.user_uploads(session, user, policy=policy, limit=200)
    return render(request, "uploads.html", user=user, page_id="uploads", uploads=uploads)


def _ids(raw: str) -> list[int]:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if not parts or len(parts) > MAX_IDS:
        raise ValidationError(f"ids must list 1 to {MAX_IDS} candidate ids separated by commas")
    out = []
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= MAX_DB_INT:
            raise ValidationError(f"ids must be candidate ids from 1 to {MAX_DB_INT}; got {part!r}")
        out.append(int(part))
    return out


@router.get("/explore/candidates")
def explore_candidates(
    request: Request,
    user: PageUser,
    session: SessionDep,
    ids: str = Query(max_length=1200),
) -> dict[str, Any]:
    """Result rows of typed-in candidates (`ids`, comma-separated) the user may see."""
    policy = queue_policy(request.app.state.exoguard.settings)
    rows = upload_results.result_rows(session, _ids(ids), user=user, policy=policy)
    return {"summary": upload_results.summarise(rows).to_dict(), "rows": rows}


@router.get("/explore/datasets/{dataset_id}/candidates")
def dataset_candidates(
    dataset_id: str, user: PageUser, session: SessionDep
) -> dict[str, list[dict[str, Any]]]:
    """Name, ephemeris and catalog match of the candidates a search found in an upload (for
    the cards)."""
    from exoguard.web.pages.chartdata import visible_dataset

    dataset = visible_dataset(session, dataset_id, user)
    rows = CandidateRepository(session).list(dataset_id=dataset.id, limit=100)
    return {
        "candidates": [
            {
                "id": c.id,
                "name": c.display_name,
                "object_id": c.object_id,
                "host_id": c.host_id,
                "period_days": c.period_days,
                "depth_ppm": c.depth_ppm,
                "duration_hours": c.duration_hours,
                "catalog_match": c.catalog_match,
                "stellar_parameters": (c.features or {}).get("stellar_parameters"),
            }
            for c in rows
        ]
    }
