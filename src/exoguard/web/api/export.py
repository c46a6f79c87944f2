"""Exports: candidates as CSV, vetting reports as PDF, and share links (create, list, revoke).

The renderers and the share-link rules live in `exoguard.reports`; these routes parse the
request, check who may see what, call them and map the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from exoguard.config import Settings
from exoguard.reports.csv_export import iter_csv
from exoguard.reports.export import MAX_EXPORT_IDS, ExportFilters, export_rows
from exoguard.reports.model import MAX_REPORT_CANDIDATES
from exoguard.reports.service import Explainer, build_reports, require_visible_candidate
from exoguard.reports.share import (
    DEFAULT_EXPIRES_HOURS,
    MAX_EXPIRES_HOURS,
    create_share_link,
    revoke_share_link,
)
from exoguard.store.models import ShareLink
from exoguard.store.repositories import ShareLinkRepository
from exoguard.store.types import utcnow
from exoguard.web.api._common import enforce_rate_limit
from exoguard.web.api.schemas import ShareCreatedOut, ShareLinksOut, ShareLinkView
from exoguard.web.deps import CurrentUser, SessionDep, SettingsDep
from exoguard.web.params import DbId, DbKey, IdPath

router = APIRouter(prefix="/export", tags=["export"])


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


class PdfResponse(Response):
    media_type = "application/pdf"


CSV_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "UTF-8 CSV, one row per candidate",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}
PDF_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "A PDF document",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class CsvExportIn(BaseModel):
    """Which candidates to export (every given filter applies; none: all visible ones)."""

    model_config = ConfigDict(extra="forbid")

    candidate_ids: list[DbId] | None = Field(default=None, max_length=MAX_EXPORT_IDS)
    mission: str | None = None
    label: str | None = None
    origin: str | None = None
    dataset_id: DbKey | None = None
    search: str | None = Field(default=None, max_length=200)
    model_version: DbKey | None = None
    scored_only: bool = False


class PdfExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate_ids: list[DbId] = Field(min_length=1, max_length=MAX_REPORT_CANDIDATES)
    plots: bool = Field(default=True, description="Light-curve plots (seconds per candidate).")


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate_id: DbId
    expires_in_hours: float = Field(default=DEFAULT_EXPIRES_HOURS, gt=0, le=MAX_EXPIRES_HOURS)


def explainer_for(settings: Settings) -> Explainer:
    """The cached SHAP explanation service, in the shape `exoguard.reports` expects."""

    def explain(session: Session, candidate_id: int, model_version: str) -> Mapping[str, Any]:
        from exoguard.services.models import explain as explain_candidate

        return explain_candidate(
            session, settings, candidate_id=candidate_id, version_id=model_version
        )

    return explain


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


@router.post("/csv", response_class=CsvResponse, responses=CSV_DOC)
def export_csv(
    body: CsvExportIn, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    """Candidates with their latest prediction and vetting state, spreadsheet-safe CSV."""
    from exoguard.vetting.state import state_policy

    filters = ExportFilters(**body.model_dump())
    rows = export_rows(session, filters=filters, user=user, policy=state_policy(settings))
    return StreamingResponse(
        iter_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="exoguard-candidates-{_stamp()}.csv"'
        },
    )


@router.post("/pdf", response_class=PdfResponse, responses=PDF_DOC)
def export_pdf(
    body: PdfExportIn,
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """One-page vetting report per candidate (a summary page first when there are several)."""
    enforce_rate_limit(request, user, action="export-pdf", limit=settings.rate_limit_per_minute)
    reports = build_reports(
        session,
        body.candidate_ids,
        settings=settings,
        user=user,
        explainer=explainer_for(settings),
        with_curves=body.plots,
    )
    session.commit()  # explanations computed for the report are kept on their predictions
    from exoguard.reports.pdf import render_reports_pdf  # matplotlib: imported on first use

    pdf = render_reports_pdf(reports)
    name = (reports[0].object_id if len(reports) == 1 else f"{len(reports)}-candidates").replace(
        '"', ""
    )
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="exoguard-report-{safe}.pdf"',
            "Cache-Control": "no-store",
        },
    )


def _state(link: ShareLink, now: datetime) -> str:
    if link.revoked_at is not None:
        return "revoked"
    if link.expires_at is not None and link.expires_at <= now:
        return "expired"
    return "active"


def _link_view(link: ShareLink, *, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": link.id,
        "target_kind": link.target_kind,
        "target_id": link.target_id,
        "created_at": link.created_at.isoformat() if link.created_at else None,
        "expires_at": link.expires_at.isoformat() if link.expires_at else None,
        "revoked_at": link.revoked_at.isoformat() if link.revoked_at else None,
        "state": _state(link, now or utcnow()),
    }


@router.post(
    "/share",
    status_code=status.HTTP_201_CREATED,
    response_model=ShareCreatedOut,
    response_model_exclude_unset=True,
)
def create_share(
    body: ShareIn, request: Request, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """A signed, expiring, read-only link to a candidate's result page (shown once)."""
    require_visible_candidate(session, body.candidate_id, user)
    created = create_share_link(
        session,
        target_kind="candidate",
        target_id=body.candidate_id,
        created_by=user.id,
        secret_key=settings.secret_key,
        expires_in_hours=body.expires_in_hours,
    )
    session.commit()
    url = str(request.base_url).rstrip("/") + f"/share/{created.token}"
    return {
        **_link_view(created.link),
        "token": created.token,
        "url": url,
        "report_url": f"{url}/report",
        "pdf_url": f"{url}/report.pdf",
    }


@router.get("/share", response_model=ShareLinksOut, response_model_exclude_unset=True)
def list_shares(user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """The share links this user created, newest first (tokens are never shown again)."""
    now = utcnow()
    links = ShareLinkRepository(session).list_for_user(user.id)
    return {"links": [_link_view(link, now=now) for link in links]}


@router.delete("/share/{link_id}", response_model=ShareLinkView, response_model_exclude_unset=True)
def revoke_share(link_id: IdPath, user: CurrentUser, session: SessionDep) -> dict[str, Any]:
    """Revoke a link (its creator or an admin); it answers 410 from now on."""
    link = revoke_share_link(session, link_id, user=user)
    session.commit()
    return _link_view(link)
