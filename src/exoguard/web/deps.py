"""FastAPI dependencies: settings, a database session per request, the current user, roles."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from exoguard.config import Settings
from exoguard.errors import AuthError, PermissionDeniedError
from exoguard.store.db import read_only
from exoguard.store.models import User
from exoguard.web.security import SESSION_COOKIE, decode_session_token
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
    if request.method in _READ_METHODS:
        session = state.sessions(bind=read_only(state.engine))
    else:
        session = state.sessions()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


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
    user = session.get(User, int(claims["sub"]))
    if user is None or not user.is_active:
        raise AuthError("the account of this session no longer exists")
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


def client_key(request: Request, user: User | None) -> str:
    """The rate-limit key: the user when logged in, the client address otherwise."""
    if user is not None:
        return f"user:{user.id}"
    host = request.client.host if request.client else "unknown"
    return f"ip:{host}"
