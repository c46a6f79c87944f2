"""Accounts: register, login (JWT in an HttpOnly cookie + a CSRF cookie), logout, me, password.

Login, registration and password changes compute argon2id hashes: they are throttled (per
account and per client address) before any hashing, and hash inside the process-wide
`HashGate`, so a flood of them can neither exhaust memory nor starve other routes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from exoguard.config import Settings
from exoguard.errors import AuthError
from exoguard.services import accounts
from exoguard.services.credentials import decode_session_token
from exoguard.store.db import session_scope
from exoguard.store.repositories import UserRepository, normalize_email
from exoguard.web.api._common import enforce_limit
from exoguard.web.api.schemas import LoginOut, OkOut, UserOut
from exoguard.web.deps import CurrentUser, SessionDep, StateDep, client_address
from exoguard.web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    csrf_token_for,
)
from exoguard.web.state import AppState

router = APIRouter(prefix="/auth", tags=["auth"])


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320, examples=["vera@example.org"])
    password: str = Field(
        min_length=accounts.MIN_PASSWORD_LENGTH, max_length=accounts.MAX_PASSWORD_LENGTH
    )
    name: str = Field(default="", max_length=accounts.MAX_NAME_LENGTH)


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(max_length=320)
    password: str = Field(max_length=accounts.MAX_PASSWORD_LENGTH)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(max_length=accounts.MAX_PASSWORD_LENGTH)
    new_password: str = Field(
        min_length=accounts.MIN_PASSWORD_LENGTH, max_length=accounts.MAX_PASSWORD_LENGTH
    )


def _set_session_cookies(response: Response, token: str, settings: Settings) -> str:
    """Set the session cookie (HttpOnly) and the CSRF cookie (readable); the CSRF token."""
    csrf = csrf_token_for(token, secret_key=settings.secret_key)
    secure = settings.environment != "development"
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=accounts.SESSION_TTL_S,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        max_age=accounts.SESSION_TTL_S,
        httponly=False,  # the page's script echoes it in the X-CSRF-Token header
        samesite="lax",
        secure=secure,
        path="/",
    )
    return csrf


def _register(state: AppState, body: RegisterIn) -> dict[str, Any]:
    with session_scope(state.sessions) as session:
        user = accounts.register_user(
            session, email=body.email, password=body.password, name=body.name
        )
        session.flush()
        return accounts.user_view(user)


def _login(state: AppState, body: LoginIn) -> tuple[dict[str, Any], str]:
    with session_scope(state.sessions) as session:
        user = accounts.authenticate(session, email=body.email, password=body.password)
        token = accounts.start_session(session, user=user, secret_key=state.settings.secret_key)
        return accounts.user_view(user), token


def _change_password(state: AppState, user_id: int, body: PasswordIn) -> tuple[dict, str]:
    with session_scope(state.sessions) as session:
        user = UserRepository(session).require(user_id)
        accounts.change_password(
            session,
            user=user,
            current_password=body.current_password,
            new_password=body.new_password,
        )
        token = accounts.start_session(session, user=user, secret_key=state.settings.secret_key)
        return accounts.user_view(user), token


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    response_model_exclude_unset=True,
)
async def register(body: RegisterIn, request: Request, state: StateDep) -> dict[str, Any]:
    """Create an explorer account (admins grant other roles); throttled per client address."""
    await enforce_limit(
        request,
        f"register:ip:{client_address(request)}",
        limit=state.settings.registrations_per_address_per_hour,
        window_s=3600,
        what="registrations an hour from one address",
    )
    async with state.hash_gate.slot():
        user = await run_in_threadpool(_register, state, body)
    return {"user": user}


@router.post("/login", response_model=LoginOut, response_model_exclude_unset=True)
async def login(
    body: LoginIn, request: Request, response: Response, state: StateDep
) -> dict[str, Any]:
    """Check the password; start a server-side session and set its cookies.

    Throttled per account and per client address (``X-Forwarded-For`` counts only from
    ``EXOGUARD_TRUSTED_PROXIES``), before any password is hashed.
    """
    settings = state.settings
    await enforce_limit(
        request,
        f"login:ip:{client_address(request)}",
        limit=settings.login_per_address_per_minute,
        window_s=60,
        what="login attempts a minute from one address",
    )
    await enforce_limit(
        request,
        f"login:account:{normalize_email(body.email)}",
        limit=settings.login_per_account_per_minute,
        window_s=60,
        what="login attempts a minute for one account",
    )
    async with state.hash_gate.slot():
        user, token = await run_in_threadpool(_login, state, body)
    csrf = _set_session_cookies(response, token, settings)
    return {"user": user, "csrf_token": csrf}


@router.post("/logout", response_model=OkOut, response_model_exclude_unset=True)
def logout(
    request: Request, response: Response, session: SessionDep, state: StateDep
) -> dict[str, bool]:
    """End the session on the server (the token is refused from now on) and clear the cookies.

    The predict route's short user cache (``EXOGUARD_AUTH_CACHE_S``) may honour the token on
    another replica for at most that long.
    """
    settings = state.settings
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            claims = decode_session_token(token, secret_key=settings.secret_key)
        except AuthError:
            pass  # expired or broken: nothing to revoke
        else:
            accounts.end_session(session, session_id=claims.session_id)
            session.commit()
        state.users.forget(token)
    secure = settings.environment != "development"
    for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=httponly, samesite="lax")
    return {"ok": True}


@router.post("/password", response_model=LoginOut, response_model_exclude_unset=True)
async def change_password(
    body: PasswordIn,
    request: Request,
    response: Response,
    user: CurrentUser,
    state: StateDep,
) -> dict[str, Any]:
    """Change your password: every session of the account ends, this client gets a new one."""
    await enforce_limit(
        request,
        f"password:user:{user.id}",
        limit=state.settings.login_per_account_per_minute,
        window_s=60,
        what="password changes a minute",
    )
    async with state.hash_gate.slot():
        view, token = await run_in_threadpool(_change_password, state, user.id, body)
    state.users.clear()
    csrf = _set_session_cookies(response, token, state.settings)
    return {"user": view, "csrf_token": csrf}


@router.get("/me", response_model=UserOut, response_model_exclude_unset=True)
def me(user: CurrentUser) -> dict[str, Any]:
    """The logged-in account (401 without a session)."""
    return {"user": accounts.user_view(user)}
