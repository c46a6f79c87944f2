"""Researcher mode: start a survey of many light curves and watch it (progress from the DB)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from exoguard.survey.control import survey_rows, survey_view
from exoguard.survey.service import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE
from exoguard.web.deps import StateDep
from exoguard.web.pages._common import PageUser, render, require_page_role

router = APIRouter(include_in_schema=False)


@router.get("/research/surveys", response_class=HTMLResponse)
def surveys_page(
    request: Request, user: PageUser, state: StateDep, survey: str | None = None
) -> Response:
    """The survey form, the newest surveys and the chosen one's progress."""
    denied = require_page_role(request, user, "researcher")
    if denied is not None:
        return denied
    rows = survey_rows(state.sessions)
    chosen = survey or (rows[0]["survey_id"] if rows else None)
    shown = survey_view(state.sessions, chosen) if chosen else None
    return render(
        request,
        "surveys.html",
        user=user,
        page_id="research",
        surveys=rows,
        shown=shown,
        default_chunk_size=DEFAULT_CHUNK_SIZE,
        max_chunk_size=MAX_CHUNK_SIZE,
    )
