"""The vetting report behind a share link: /share/{token}/report (HTML), .png and .pdf.

The share URL itself, /share/{token}, is the interactive candidate page (web/pages/
candidates.py); these routes add the one-page vetting report of the same candidate. Anyone
with the URL may look, nobody may change anything. A forged or unknown token gets 404, a
revoked or expired one 410. The responses are never cached and send no referrer, so the
token does not leak into other sites' logs.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from exoguard import __version__
from exoguard.config import Settings
from exoguard.errors import GoneError, NotFoundError
from exoguard.reports.model import CandidateReport
from exoguard.reports.service import build_report
from exoguard.reports.share import resolve_share_token
from exoguard.reports.tables import diagnostics_rows
from exoguard.store.models import ShareLink
from exoguard.web.api._common import enforce_rate_limit
from exoguard.web.api.export import explainer_for
from exoguard.web.deps import SessionDep, SettingsDep

router = APIRouter(include_in_schema=False)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "share"
_PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}
#: Renders (PNG/PDF) a client may ask of share links per minute, as a multiple of the
#: configured rate limit (the page itself asks for one PNG).
RENDER_LIMIT_FACTOR = 3


@lru_cache(maxsize=1)
def _templates() -> Jinja2Templates:
    return Jinja2Templates(directory=str(TEMPLATES_DIR))


def _percent(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{100 * value:.0f} %"


def _unavailable(request: Request, exc: NotFoundError | GoneError) -> HTMLResponse:
    gone = isinstance(exc, GoneError)
    response = _templates().TemplateResponse(
        request,
        "unavailable.html",
        {
            "title": "Link no longer valid" if gone else "Link not found",
            "message": str(exc) if gone else "This share link does not exist or was mistyped.",
            "version": __version__,
        },
        status_code=410 if gone else 404,
    )
    response.headers.update(_PRIVATE_HEADERS)
    return response


def _limit_renders(request: Request, settings: Settings) -> None:
    # Rendering costs seconds of CPU and needs no account: bound it per client address.
    enforce_rate_limit(
        request,
        None,
        action="share-render",
        limit=settings.rate_limit_per_minute * RENDER_LIMIT_FACTOR,
    )


def _report(
    session: Session, settings: Settings, token: str, *, with_curves: bool
) -> tuple[CandidateReport, ShareLink]:
    link = resolve_share_token(session, token, secret_key=settings.secret_key)
    report = build_report(
        session,
        int(link.target_id),
        settings=settings,
        explainer=explainer_for(settings),
        with_curves=with_curves,
    )
    return report, link


@router.get("/share/{token}/report", response_class=HTMLResponse, name="shared_report")
def shared_report(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The shared candidate's report: verdict, diagnostics, SHAP, votes and the page image."""
    try:
        report, link = _report(session, settings, token, with_curves=False)
    except (NotFoundError, GoneError) as exc:
        return _unavailable(request, exc)
    response = _templates().TemplateResponse(
        request,
        "result.html",
        {
            "report": report,
            "verdict": report.verdict,
            "rows": diagnostics_rows(report),
            "shap": report.top_shap(8),
            "votes": report.votes,
            "expires_at": link.expires_at,
            "page_url": str(request.base_url).rstrip("/") + f"/share/{token}",
            "png_url": str(request.url_for("shared_result_png", token=token)),
            "pdf_url": str(request.url_for("shared_result_pdf", token=token)),
            "percent": _percent,
            "version": __version__,
        },
    )
    response.headers.update(_PRIVATE_HEADERS)
    return response


@router.get("/share/{token}/report.png", name="shared_result_png")
def shared_result_png(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The one-page report as a PNG image."""
    _limit_renders(request, settings)
    try:
        report, _ = _report(session, settings, token, with_curves=True)
    except (NotFoundError, GoneError) as exc:
        return _unavailable(request, exc)
    from exoguard.reports.pdf import render_report_png  # matplotlib: imported on first use

    png = render_report_png(report, dpi=90)
    return Response(png, media_type="image/png", headers=_PRIVATE_HEADERS)


@router.get("/share/{token}/report.pdf", name="shared_result_pdf")
def shared_result_pdf(
    token: str, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """The one-page report as a PDF download."""
    _limit_renders(request, settings)
    try:
        report, _ = _report(session, settings, token, with_curves=True)
    except (NotFoundError, GoneError) as exc:
        return _unavailable(request, exc)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in report.object_id)[:60]
    headers = {
        **_PRIVATE_HEADERS,
        "Content-Disposition": f'attachment; filename="exoguard-report-{safe or "candidate"}.pdf"',
    }
    from exoguard.reports.pdf import render_report_pdf

    return Response(render_report_pdf(report), media_type="application/pdf", headers=headers)
