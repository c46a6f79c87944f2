"""FastAPI dependencies: settings, a database session per request, the current user, roles."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from exoguard.config import Settings
from exoguard.errors import AuthError, PermissionDeniedError
from exoguard.services.accounts import resolve_session
from exoguard.services.credentials import decode_session_token
from exoguard.store.db import read_options, session_scope
from exoguard.store.models import User
from exoguard.web.security import SESSION_COOKIE
from exoguard.web.state import AppState

ROLES = ("explorer", "researcher", "admin")
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.exoguard
    return state


def get_settings_dep(request: Request) -> Settings:
    return get_state(request).settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed when the route returns, rolled back on error.

    GET/HEAD/OPTIONS requests only read: on SQLite their transactions begin deferred, so they
    never wait for a writer (every other request begins ``IMMEDIATE``; see `make_engine`).
    """
    state = get_state(request)
    options = read_options(state.sessions) if request.method in _READ_METHODS else {}
    with session_scope(state.sessions, **options) as session:
        yield session


# The dependencies below that only read request state are `async def`: FastAPI runs a plain
# `def` dependency in the thread pool, a hop that costs more than the work on hot routes.
async def _state_dependency(request: Request) -> AppState:
    return get_state(request)


async def _settings_dependency(request: Request) -> Settings:
    return get_state(request).settings


StateDep = Annotated[AppState, Depends(_state_dependency)]
SettingsDep = Annotated[Settings, Depends(_settings_dependency)]
SessionDep = Annotated[Session, Depends(get_session)]


def get_optional_user(request: Request, session: SessionDep) -> User | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    claims = decode_session_token(token, secret_key=get_state(request).settings.secret_key)
    user = resolve_session(session, claims)
    # End the login check's transaction now: on SQLite a write request's transaction holds
    # the write lock from its first statement, and a route that hands work to another
    # connection (a job row, a stored upload) would otherwise wait on its own request.
    session.commit()
    return user


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


async def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise AuthError("not logged in")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(minimum: str) -> Callable[[User], Awaitable[User]]:
    """Admit users whose role is `minimum` or higher (explorer < researcher < admin)."""
    if minimum not in _ROLE_RANK:
        raise ValueError(f"unknown role {minimum!r}; allowed: {ROLES}")

    async def dependency(user: CurrentUser) -> User:
        if _ROLE_RANK.get(user.role, -1) < _ROLE_RANK[minimum]:
            raise PermissionDeniedError(f"this needs the {minimum} role; you are {user.role}")
        return user

    return dependency


ResearcherUser = Annotated[User, Depends(require_role("researcher"))]
AdminUser = Annotated[User, Depends(require_role("admin"))]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _is_trusted(host: str, trusted: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host.strip())
    except ValueError:
        return False
    return any(address in network for network in trusted)


def resolve_client_address(
    peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]
) -> str:
    """The client's address: the TCP peer, unless the peer is a trusted proxy.

    Behind trusted proxies, ``X-Forwarded-For`` is read from the right (the hops our own
    proxies appended) and the first address that is not a trusted proxy is the client's.
    Anything a client writes further left is never believed.
    """
    host = peer or "unknown"
    if not trusted or not forwarded_for or not _is_trusted(host, trusted):
        return host
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return host  # garbage from a client: keep the last trusted hop
        host = hop
    return host


def client_address(request: Request) -> str:
    """The client address of `request` (``EXOGUARD_TRUSTED_PROXIES`` decides what to trust)."""
    trusted = get_state(request).trusted_networks
    peer = request.client.host if request.client else None
    return resolve_client_address(peer, request.headers.get("x-forwarded-for"), trusted)


def client_key(request: Request, user: User | None) -> str:
    """The rate-limit key: the user when logged in, the client address otherwise."""
    if user is not None:
        return f"user:{user.id}"
    return f"ip:{client_address(request)}"
