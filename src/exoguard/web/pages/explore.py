"""Explorer mode: upload a light curve or type a candidate in, read the verdict."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from exoguard.store.repositories import CandidateRepository
from exoguard.web.deps import SessionDep
from exoguard.web.pages._common import PageUser, render

router = APIRouter(include_in_schema=False)


@router.get("/explore", response_class=HTMLResponse)
def explore_page(request: Request, user: PageUser) -> HTMLResponse:
    """The upload and manual-entry forms; the page's script calls the JSON API."""
    from exoguard.web.services.datasets import MAX_FILES_PER_UPLOAD

    return render(
        request,
        "explore.html",
        user=user,
        page_id="explore",
        max_upload_files=MAX_FILES_PER_UPLOAD,
    )


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
