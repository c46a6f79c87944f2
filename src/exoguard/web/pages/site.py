"""Home, login and registration pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from exoguard.store.repositories import (
    CandidateRepository,
    ModelVersionRepository,
    PredictionRepository,
    VettingRepository,
)
from exoguard.web.deps import SessionDep
from exoguard.web.pages._common import PageUser, render, safe_next

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: PageUser, session: SessionDep) -> Response:
    """The landing page: what the tool does and where to start."""
    stats = {
        "candidates": CandidateRepository(session).count_by("mission"),
        "predictions": PredictionRepository(session).count(),
        "open_items": VettingRepository(session).count(status="open"),
        "active_model": ModelVersionRepository(session).get_active(),
    }
    return render(request, "home.html", user=user, page_id="home", stats=stats)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, user: PageUser, next: str | None = None) -> Response:
    """The login form (it posts to /api/auth/login from the page's script)."""
    target = safe_next(next)
    if user is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "login.html", user=None, page_id="login", next_url=target)


@router.get("/register", response_class=HTMLResponse)
def register_page(request: Request, user: PageUser, next: str | None = None) -> Response:
    """The registration form (explorer accounts; admins grant other roles)."""
    target = safe_next(next)
    if user is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "register.html", user=None, page_id="register", next_url=target)
