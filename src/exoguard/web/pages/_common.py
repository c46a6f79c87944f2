"""Helpers of the HTML pages (no router here): templates, the optional user, rendering."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from exoguard import __version__
from exoguard.config import Settings
from exoguard.errors import AuthError
from exoguard.store.models import User
from exoguard.vetting.queue import QueuePolicy
from exoguard.vetting.state import state_policy
from exoguard.web.assets import plotly_url
from exoguard.web.deps import ROLES, SessionDep, get_optional_user, get_state

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


@dataclass(frozen=True)
class NavItem:
    id: str
    label: str
    href: str
    min_role: str | None = None  # None: shown to everyone


NAV: tuple[NavItem, ...] = (
    NavItem("home", "Home", "/"),
    NavItem("explore", "Explore", "/explore"),
    NavItem("uploads", "My uploads", "/uploads", min_role="explorer"),
    NavItem("results", "Results", "/results"),
    NavItem("vetting", "Vetting", "/vetting"),
    NavItem("research", "Research", "/research", min_role="researcher"),
    NavItem("admin", "Admin", "/admin", min_role="admin"),
)


def _fmt(value: Any, digits: int = 3) -> str:
    """A number for a table cell: `digits` significant digits, '—' when missing."""
    if value is None:
        return "—"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "—"
    if abs(number) >= 1e6 or 0 < abs(number) < 1e-3:
        return f"{number:.{digits}g}"
    if abs(number) >= 10**digits:
        return f"{number:,.0f}"
    return f"{number:.{digits}g}"


def _fixed(value: Any, digits: int = 3) -> str:
    """A number with `digits` decimals (metrics in [0, 1]), '—' when missing."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{number:.{digits}f}" if math.isfinite(number) else "—"


def _pct(value: Any, digits: int = 1) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "—"
    return f"{100 * number:.{digits}f}%" if math.isfinite(number) else "—"


def static_url(path: str) -> str:
    """The root-relative URL of a static file.

    Root-relative, not absolute: the pages name no host at all, so nothing can point them at
    another origin, and they work behind any proxy. No version query: the ES modules import
    each other by plain relative URLs, and one module under two URLs would run twice.
    """
    return f"/static/{path.lstrip('/')}"


@lru_cache(maxsize=1)
def templates() -> Jinja2Templates:
    """The Jinja2 environment of the pages (autoescaping on; built on first use)."""
    env = Jinja2Templates(directory=str(TEMPLATES_DIR))
    env.env.filters["num"] = _fmt
    env.env.filters["pct"] = _pct
    env.env.filters["fixed"] = _fixed
    env.env.globals["version"] = __version__
    env.env.globals["static_url"] = static_url
    env.env.globals["plotly_url"] = plotly_url
    env.env.globals["headline_metrics"] = _headline
    return env


def _headline(version: Any, set_name: str | None = None) -> dict[str, Any]:
    from exoguard.services.models import headline_metrics

    return headline_metrics(
        str(version.kind), version.metrics, config=version.config, set_name=set_name
    )


def has_role(user: User | None, minimum: str) -> bool:
    """Whether `user` holds `minimum` or a higher role (explorer < researcher < admin)."""
    if user is None:
        return False
    return _ROLE_RANK.get(user.role, -1) >= _ROLE_RANK[minimum]


def get_page_user(request: Request, session: SessionDep) -> User | None:
    """The logged-in user, or None; an expired or broken session counts as logged out."""
    try:
        return get_optional_user(request, session)
    except AuthError:
        return None


PageUser = Annotated[User | None, Depends(get_page_user)]


def render(
    request: Request,
    template: str,
    *,
    user: User | None,
    page_id: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render `template` with the layout context (navigation, user, limits)."""
    settings = get_state(request).settings
    nav = [item for item in NAV if item.min_role is None or has_role(user, item.min_role)]
    response: HTMLResponse = templates().TemplateResponse(
        request,
        template,
        {
            "user": user,
            "page_id": page_id,
            "nav": nav,
            "max_upload_mb": settings.max_upload_mb,
            "policy": queue_policy(settings),
            "is_researcher": has_role(user, "researcher"),
            "is_admin": has_role(user, "admin"),
            **context,
        },
        status_code=status_code,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def login_redirect(request: Request) -> RedirectResponse:
    """Send an anonymous visitor to the login page, back here afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def require_page_role(request: Request, user: User | None, minimum: str) -> Response | None:
    """None when `user` may see the page; otherwise the login redirect or a 403 page."""
    if user is None:
        return login_redirect(request)
    if not has_role(user, minimum):
        return error_page(
            request,
            user=user,
            status_code=403,
            title="Not allowed",
            message=f"This page is for the {minimum} role; your account is {user.role}. "
            "An admin can change your role.",
        )
    return None


def error_page(
    request: Request,
    *,
    user: User | None,
    status_code: int,
    title: str,
    message: str,
    login_next: str | None = None,
) -> HTMLResponse:
    """A friendly error page with the given status (and a login link back to `login_next`)."""
    return render(
        request,
        "error.html",
        user=user,
        page_id="error",
        status_code=status_code,
        title=title,
        message=message,
        login_next=login_next,
    )


def queue_policy(settings: Settings) -> QueuePolicy:
    """The vetting-queue policy of these settings: which predictions need people."""
    return state_policy(settings)


def safe_next(target: str | None) -> str:
    """A same-site path to go to after logging in (never another origin)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
