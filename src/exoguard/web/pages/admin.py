"""The admin page: every account with its role and state; change a role, deactivate."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from exoguard.store.models import ROLES
from exoguard.store.repositories import UserRepository
from exoguard.web.deps import SessionDep
from exoguard.web.pages._common import PageUser, render, require_page_role

router = APIRouter(include_in_schema=False)

#: Accounts listed on the page (the API pages through more).
MAX_USERS = 500


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, user: PageUser, session: SessionDep) -> Response:
    """Users and roles (admins only; others get the log-in page or a 403 page)."""
    denied = require_page_role(request, user, "admin")
    if denied is not None:
        return denied
    repo = UserRepository(session)
    return render(
        request,
        "admin.html",
        user=user,
        page_id="admin",
        users=repo.list(limit=MAX_USERS),
        total=repo.count(),
        roles=ROLES,
    )
