"""The result page of one candidate, and its read-only twin behind a share link."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from exoguard.errors import ExoguardError, GoneError, NotFoundError
from exoguard.ml.missing import basis_sentences
from exoguard.reports.export import catalog_columns
from exoguard.reports.lightcurve_files import candidate_lightcurve_files, is_manual_entry
from exoguard.store.models import Candidate, User
from exoguard.store.repositories import (
    CandidateRepository,
    PredictionRepository,
    VettingRepository,
    VoteRepository,
)
from exoguard.vetting.state import state_for_candidate, state_verdict
from exoguard.web.deps import SessionDep, SettingsDep
from exoguard.web.pages._common import (
    PageUser,
    error_page,
    queue_policy,
    render,
)
from exoguard.web.pages._diagnostics import diagnostics_rows, warning_flags
from exoguard.web.pages._figures import DISPLAY_MAX_POINTS
from exoguard.web.pages.chartdata import candidate_payload, candidate_visible
from exoguard.web.params import IdPath

router = APIRouter(include_in_schema=False)


def candidate_context(
    request: Request, session: Session, candidate: Candidate, user: User | None
) -> dict[str, Any]:
    """What the candidate template shows (shared by the normal and the shared page)."""
    policy = queue_policy(request.app.state.exoguard.settings)
    predictions = PredictionRepository(session).list_for_candidate(candidate.id)
    latest = predictions[0] if predictions else None
    queue = VettingRepository(session)
    item = queue.open_for_candidate(candidate.id)
    votes = VoteRepository(session).list_for_item(item.id) if item is not None else []
    files, lightcurve_note = candidate_lightcurve_files(
        session, candidate, settings=request.app.state.exoguard.settings
    )
    return {
        "candidate": candidate,
        # no chart boxes without a light curve to draw: a card says why instead
        "has_lightcurve": bool(files),
        "lightcurve_note": lightcurve_note,
        "is_manual": is_manual_entry(candidate),
        "latest": latest,
        "verdict": state_verdict(state_for_candidate(session, candidate.id, policy=policy)),
        "history": predictions[:10],
        "diagnostics": diagnostics_rows(candidate),
        "flags": warning_flags(candidate),
        "item": item,
        "n_votes": len(votes),
        "votes_planet": sum(1 for v in votes if v.label == "planet"),
        "already_voted": user is not None and any(v.user_id == user.id for v in votes),
        "catalog_match": _catalog_match(candidate),
        "basis": basis_sentences(((latest.explanation or {}) if latest else {}).get("basis")),
        "stellar_note": catalog_columns(None, candidate.features).get("stellar_parameters_from"),
    }


def _catalog_match(candidate: Candidate) -> dict[str, Any] | None:
    """The stored cross-match with its sentence (made again when an old row lacks it)."""
    if not candidate.catalog_match:
        return None
    from exoguard.catalogs.crossmatch import CatalogMatch

    return CatalogMatch.from_dict(candidate.catalog_match).to_dict()


def _full_data_url(request: Request, session: Session, candidate: Candidate) -> str | None:
    """The CSV of the whole light curve when the candidate has one (the charts are binned)."""
    from exoguard.web.deps import get_state

    paths, _ = candidate_lightcurve_files(session, candidate, settings=get_state(request).settings)
    return f"/charts/candidates/{candidate.id}/lightcurve.csv" if paths else None


@router.get("/candidates/{candidate_id}", response_class=HTMLResponse)
def candidate_page(
    candidate_id: IdPath, request: Request, user: PageUser, session: SessionDep
) -> Response:
    """Verdict, charts, diagnostics, explanation and exports of one candidate."""
    candidate = CandidateRepository(session).get(candidate_id)
    if candidate is None or not candidate_visible(session, candidate, user):
        if user is None:
            # The same answer for a private and a missing id: asked to log in, no hint.
            return error_page(
                request,
                user=None,
                status_code=401,
                title="Log in to see this candidate",
                message=(
                    f"Candidate {candidate_id} is not public, or does not exist. "
                    "If it is yours, log in to see it."
                ),
                login_next=f"/candidates/{candidate_id}",
            )
        return error_page(
            request,
            user=user,
            status_code=404,
            title="Candidate not found",
            message=f"There is no candidate {candidate_id}.",
        )
    return render(
        request,
        "candidate.html",
        user=user,
        page_id="results",
        read_only=False,
        charts_url=f"/charts/candidates/{candidate.id}",
        full_data_url=_full_data_url(request, session, candidate),
        display_max_points=DISPLAY_MAX_POINTS,
        **candidate_context(request, session, candidate, user),
    )


def _shared_candidate(session: Session, token: str, secret_key: str) -> Candidate:
    from exoguard.reports.share import resolve_share_token

    link = resolve_share_token(session, token, secret_key=secret_key)
    if link.target_kind != "candidate":
        raise NotFoundError("share link not found")
    return CandidateRepository(session).require(int(link.target_id))


@router.get("/share/{token}", response_class=HTMLResponse)
def shared_page(
    token: str, request: Request, user: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """The read-only result page a share link opens (404 forged or unknown, 410 expired)."""
    try:
        candidate = _shared_candidate(session, token, settings.secret_key)
    except GoneError as exc:
        return error_page(
            request, user=user, status_code=410, title="This link has expired", message=str(exc)
        )
    except (NotFoundError, ValueError):
        return error_page(
            request,
            user=user,
            status_code=404,
            title="Link not found",
            message="This share link does not exist or was mistyped.",
        )
    response = render(
        request,
        "candidate.html",
        user=user,
        page_id="share",
        read_only=True,
        charts_url=f"/share/{token}/charts",
        **candidate_context(request, session, candidate, None),
    )
    response.headers["X-Robots-Tag"] = "noindex"
    response.headers["Referrer-Policy"] = "no-referrer"  # keep the token out of Referer
    return response


@router.get("/share/{token}/charts")
def shared_charts(token: str, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    """The charts of a shared candidate (same checks as the page)."""
    try:
        candidate = _shared_candidate(session, token, settings.secret_key)
    except ValueError as exc:
        raise NotFoundError("share link not found") from exc
    except ExoguardError:
        raise
    return candidate_payload(session, settings, candidate)
