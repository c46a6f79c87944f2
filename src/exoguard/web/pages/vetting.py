"""The vetting queue and the vetting page of one item (votes go to /api/vetting/submit).

The queue table lists the regular open items waiting for this visitor and its "Open" figure
counts the same rows (`exoguard.vetting.service.serving.queue_listing`); "Start vetting" serves from
`exoguard.vetting.service.serving.queue_for_user`, which mixes gold items in. Nothing on these pages
tells a gold item apart, and no archive label or disposition is shown, so the vote is the
vetter's own. A vetter may change their vote until the item settles; the comments of an item
are shown to researchers and to vetters who voted on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exoguard.errors import NotFoundError
from exoguard.store import access
from exoguard.store.models import User, VettingItem
from exoguard.store.repositories import VoteRepository
from exoguard.vetting.service.comments import item_comments, may_read_comments
from exoguard.vetting.service.config import VettingConfig, policy_from_settings
from exoguard.vetting.service.history import vetter_history
from exoguard.vetting.service.serving import queue_for_user, queue_listing
from exoguard.vetting.state import state_for_candidate, state_verdict
from exoguard.web.deps import SessionDep, SettingsDep
from exoguard.web.pages._common import (
    PageUser,
    error_page,
    login_redirect,
    queue_policy,
    render,
)
from exoguard.web.pages._diagnostics import diagnostics_rows, warning_flags
from exoguard.web.params import IdPath

router = APIRouter(include_in_schema=False)
QUEUE_PAGE = 50


def _queue_rows(
    session: Session, request: Request, user: User | None, *, limit: int
) -> tuple[int, list[dict[str, Any]]]:
    """How many items wait for this visitor, and the first `limit` of them as table rows.

    Count and rows come from one query (`exoguard.vetting.service.serving.queue_listing`), so the
    "Open" figure is the length of the list when it is not cut at `limit`.
    """
    total, entries = queue_listing(
        session, user, limit=limit, policy=policy_from_settings(request.app.state.exoguard.settings)
    )
    return total, [
        {
            "item_id": e.item_id,
            "object_id": e.object_id,
            "name": e.name,
            "host_id": e.host_id,
            "mission": e.mission,
            "probability": e.probability,
            "uncertainty": e.uncertainty,
            "period_days": e.parameters.get("period_days"),
            "n_votes": e.n_votes,
        }
        for e in entries
    ]


@router.get("/vetting", response_class=HTMLResponse)
def queue_page(request: Request, user: PageUser, session: SessionDep) -> Response:
    """The open items this visitor would vet next, most uncertain first."""
    my_votes = len(VoteRepository(session).list_for_user(user.id)) if user else 0
    n_open, items = _queue_rows(session, request, user, limit=QUEUE_PAGE)
    n_settled = int(
        session.scalar(
            select(func.count(VettingItem.id)).where(
                VettingItem.status == "settled", VettingItem.is_gold.is_(False)
            )
        )
        or 0
    )
    return render(
        request,
        "vetting_queue.html",
        user=user,
        page_id="vetting",
        items=items,
        n_open=n_open,
        n_settled=n_settled,
        my_votes=my_votes,
    )


@router.get("/vetting/me", response_class=HTMLResponse)
def history_page(
    request: Request, user: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """This vetter's own votes (with their changes) and reputation."""
    if user is None:
        return login_redirect(request)

    history = vetter_history(session, user.id, config=VettingConfig.from_settings(settings))
    return render(
        request,
        "vetting_me.html",
        user=user,
        page_id="vetting",
        reputation=history["reputation"],
        votes=history["votes"],
    )


@router.get("/vetting/guide", response_class=HTMLResponse)
def guide_page(request: Request, user: PageUser, settings: SettingsDep) -> Response:
    """The field guide: what a planet, an eclipsing binary, a blend and a systematic look like."""
    from exoguard.services.field_guide import guide_examples

    return render(
        request,
        "vetting_guide.html",
        user=user,
        page_id="vetting",
        charts_url="/charts/guide",
        examples=guide_examples(settings.data_dir),
    )


@router.get("/vetting/next")
def next_item(request: Request, user: PageUser, session: SessionDep) -> Response:
    """The next item the vetting service serves this user."""
    if user is None:
        return login_redirect(request)

    # The service's own order: gold items are mixed in here, disguised as regular ones.
    entries = queue_for_user(
        session,
        user.id,
        limit=1,
        rng=np.random.default_rng(),
        policy=policy_from_settings(request.app.state.exoguard.settings),
    )
    if not entries:
        return RedirectResponse("/vetting?flash=Nothing+left+to+vet+for+now.+Thank+you!", 303)
    return RedirectResponse(f"/vetting/{entries[0].item_id}", status_code=303)


@router.get("/vetting/{item_id}", response_class=HTMLResponse)
def item_page(
    item_id: IdPath, request: Request, user: PageUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """The folded light curve with odd/even and secondary views when the star's light curve
    is stored (else one card of the catalog parameters), the verdict and the vote form."""
    from exoguard.reports.lightcurve_files import candidate_lightcurve_files, is_manual_entry

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
    my_changes = (
        VoteRepository(session).history(user_id=user.id, item_id=item.id)
        if user is not None and mine is not None
        else []
    )
    prediction = item.prediction
    files, lightcurve_note = candidate_lightcurve_files(session, candidate, settings=settings)
    manual = is_manual_entry(candidate)
    return render(
        request,
        "vetting_item.html",
        user=user,
        page_id="vetting",
        item=item,
        # gold items never settle: their page must not look different
        settled=item.status == "settled" and not item.is_gold,
        candidate=candidate,
        prediction=prediction,
        verdict=state_verdict(
            state_for_candidate(session, candidate.id, policy=queue_policy(settings))
        ),
        diagnostics=diagnostics_rows(candidate),
        flags=warning_flags(candidate),
        n_votes=len(votes),
        my_vote=mine,
        my_changes=my_changes,
        comments=item_comments(session, item.id, user=user)
        if may_read_comments(session, item.id, user)
        else None,
        has_lightcurve=bool(files),
        lightcurve_note=lightcurve_note,
        parameters_title="Parameters of this manual entry" if manual else "Catalog parameters",
        is_manual=manual,
        charts_url=f"/charts/vetting/{item.id}",
    )
