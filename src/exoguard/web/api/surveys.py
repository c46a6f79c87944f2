"""Survey mode: start a survey of a folder or manifest, watch it, export it (researchers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from exoguard.survey import control as service
from exoguard.survey.export import survey_csv, survey_pdf
from exoguard.survey.service import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, require_survey
from exoguard.web.api.export import CSV_DOC, PDF_DOC, CsvResponse, PdfResponse
from exoguard.web.deps import ResearcherUser, SessionDep, StateDep

router = APIRouter(prefix="/surveys", tags=["surveys"])


class SurveyIn(BaseModel):
    """A survey to start: a folder or manifest CSV relative to the survey folder."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(min_length=1, max_length=1000, examples=["lightcurves/tess"])
    name: str | None = Field(default=None, max_length=200)
    chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, ge=1, le=MAX_CHUNK_SIZE)
    max_planets: int | None = Field(default=None, ge=1, le=10)


class SurveyProgressView(BaseModel):
    """Where a survey stands (:class:`exoguard.survey.service.SurveyProgress`)."""

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
    finished: int
    fraction: float


class SurveyFailureView(BaseModel):
    """A star that failed: its target, file names and the reason."""

    target: str
    files: list[str]
    reason: str | None


class SurveyView(SurveyProgressView):
    """A survey's progress, seconds per star by stage, its first failures and export links."""

    created_at: str
    chunk_size: int
    stage_s_per_star: dict[str, float]
    failures: list[SurveyFailureView]
    csv_url: str
    pdf_url: str


class SurveyStartOut(SurveyView):
    """A started survey: its view and the ids of the chunk jobs queued."""

    job_ids: list[str]


class SurveysOut(BaseModel):
    surveys: list[SurveyProgressView]


@router.post("", status_code=202, response_model=SurveyStartOut)
def start(body: SurveyIn, user: ResearcherUser, state: StateDep) -> dict[str, Any]:
    """Plan the survey's stars, store them and queue its chunks; the survey's progress."""
    return service.start_survey(
        state.sessions,
        state.settings,
        state.jobs,
        source=body.source,
        name=body.name,
        chunk_size=body.chunk_size,
        max_planets=body.max_planets,
        owner_id=user.id,
    )


@router.get("", response_model=SurveysOut)
def list_all(
    user: ResearcherUser, state: StateDep, limit: int = Query(default=20, ge=1, le=200)
) -> dict[str, Any]:
    """The newest surveys with their progress."""
    return {"surveys": service.survey_rows(state.sessions, limit=limit)}


@router.get("/{survey_id}", response_model=SurveyView)
def get_one(survey_id: str, user: ResearcherUser, state: StateDep) -> dict[str, Any]:
    """Stars done, failed, running and pending, candidates, rate and ETA, stage seconds."""
    return service.survey_view(state.sessions, survey_id)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@router.get("/{survey_id}/candidates.csv", response_class=CsvResponse, responses=CSV_DOC)
def export_csv(survey_id: str, user: ResearcherUser, session: SessionDep) -> Response:
    """The survey's candidates with their latest prediction and vetting state (CSV)."""
    require_survey(session, survey_id)
    return Response(
        survey_csv(session, survey_id, user=user),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="survey-{survey_id[:8]}-{_stamp()}.csv"'
        },
    )


@router.get("/{survey_id}/report.pdf", response_class=PdfResponse, responses=PDF_DOC)
def export_pdf(
    survey_id: str,
    user: ResearcherUser,
    state: StateDep,
    top: int = Query(default=10, ge=0, le=50),
) -> Response:
    """Counts, a period–depth plot and the top candidates' one-page reports (PDF)."""
    pdf = survey_pdf(state.sessions, survey_id, settings=state.settings, user=user, top=top)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="survey-{survey_id[:8]}-{_stamp()}.pdf"'
        },
    )
