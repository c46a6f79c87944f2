"""The vetting queue and the vetting page of one item (votes go to /api/vetting/submit).

Logged-in vetters get their queue from `exoguard.vetting.service.queue_for_user` (gold items
mixed in, items they voted on left out); nothing on these pages tells a gold item apart,
and no archive label or disposition is shown, so the vote is the vetter's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from exoguard.errors import NotFoundError
from exoguard.store import access
from exoguard.store.models import User
from exoguard.store.repositories import VettingRepository, VoteRepository
from exoguard.web.deps import SessionDep, SettingsDep
from exoguard.web.pages._common import (
    PageUser,
    error_page,
    login_redirect,
    queue_policy,
    render,
    verdict_of,
)
from exoguard.web.pages._diagnostics import diagnostics_rows, warning_flags
from exoguard.web.params import IdPath

router = APIRouter(include_in_schema=False)
QUEUE_PAGE = 50


def _queue_rows(
    session: Session, request: Request, user: User | None, *, limit: int
) -> list[dict[str, Any]]:
    """The items this visitor would vet next, as table rows."""
    if user is not None:
        from exoguard.vetting.service import queue_for_user

        entries = queue_for_user(
            session,
            user.id,
            limit=limit,
            rng=np.random.default_rng(),
            settings=request.app.state.exoguard.settings,
        )
        return [
            {
                "item_id": e.item_id,
                "object_id": e.object_id,
                "host_id": e.host_id,
                "mission": e.mission,
                "probability": e.probability,
                "uncertainty": e.uncertainty,
                "period_days": e.parameters.get("period_days"),
                "n_votes": e.n_votes,
            }
            for e in entries
        ]
    rows = []
    # Gold items are served only to logged-in vetters, uploads' items only to vetters.
    visible = access.vetting_item_filter(None)
    for item in VettingRepository(session).list(status="open", visible=visible, limit=limit):
        prediction = item.prediction
        rows.append(
            {
                "item_id": item.id,
                "object_id": item.candidate.object_id,
                "host_id": item.candidate.host_id,
                "mission": item.candidate.mission,
                "probability": prediction.probability if prediction else None,
                "uncertainty": prediction.uncertainty if prediction else None,
                "period_days": item.candidate.period_days,
                "n_votes": len(item.votes),
            }
        )
    return rows


@router.get("/vetting", response_class=HTMLResponse)
def queue_page(request: Request, user: PageUser, session: SessionDep) -> Response:
    """The open items this visitor would vet next, most uncertain first."""
    queue = VettingRepository(session)
    my_votes = len(VoteRepository(session).list_for_user(user.id)) if user else 0
    return render(
        request,
        "vetting_queue.html",
        user=user,
        page_id="vetting",
        items=_queue_rows(session, request, user, limit=QUEUE_PAGE),
        n_open=queue.count(status="open"),
        n_settled=queue.count(status="settled"),
        my_votes=my_votes,
    )


@router.get("/vetting/next")
def next_item(request: Request, user: PageUser, session: SessionDep) -> Response:
    """The next item the vetting service serves this user."""
    if user is None:
        return login_redirect(request)
    rows = _queue_rows(session, request, user, limit=1)
    if not rows:
        return RedirectResponse("/vetting?flash=Nothing+left+to+vet+for+now.+Thank+you!", 303)
    return RedirectResponse(f"/vetting/{rows[0]['item_id']}", status_code=303)


@router.get("/vetting/{item_id}", response_class=HTMLResponse)
def item_page(
    item_id: IdPath, request: Request, user: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """Light curve, folded, odd/even and secondary views, diagnostics and the vote form."""
    try:
        item = access.require_vetting_item(session, item_id, user)
    except NotFoundError:
        return error_page(
            request,
            user=user,
            status_code=404,
            title="Not in the queue",
            message=f"There is no vetting item {item_id}.",
        )
    candidate = item.candidate
    votes = VoteRepository(session).list_for_item(item.id)
    mine = next((v for v in votes if user is not None and v.user_id == user.id), None)
    prediction = item.prediction
    return render(
        request,
        "vetting_item.html",
        user=user,
        page_id="vetting",
        item=item,
        candidate=candidate,
        prediction=prediction,
        verdict=verdict_of(
            prediction.label if prediction else None,
            prediction.probability if prediction else None,
            prediction.uncertainty if prediction else None,
            policy=queue_policy(settings),
        ),
        diagnostics=diagnostics_rows(candidate),
        flags=warning_flags(candidate),
        n_votes=len(votes),
        my_vote=mine,
        charts_url=f"/charts/vetting/{item.id}",
    )
