"""Accounts: register, login (JWT in an HttpOnly cookie + a CSRF cookie), logout, me."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from exoguard.web.api._common import enforce_rate_limit
from exoguard.web.api.schemas import LoginOut, OkOut, UserOut
from exoguard.web.deps import CurrentUser, SessionDep, SettingsDep
from exoguard.web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    create_session_token,
    new_csrf_token,
)
from exoguard.web.services import accounts

router = APIRouter(prefix="/auth", tags=["auth"])

#: Login attempts allowed per email address and minute (slows down password guessing).
LOGIN_ATTEMPTS_PER_MINUTE = 30


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


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    response_model_exclude_unset=True,
)
def register(body: RegisterIn, session: SessionDep) -> dict[str, Any]:
    """Create an explorer account (admins grant other roles)."""
    user = accounts.register_user(session, email=body.email, password=body.password, name=body.name)
    session.commit()
    return {"user": accounts.user_view(user)}


@router.post("/login", response_model=LoginOut, response_model_exclude_unset=True)
def login(
    body: LoginIn, request: Request, response: Response, session: SessionDep, settings: SettingsDep
) -> dict[str, Any]:
    """Check the password; set the session cookie (HttpOnly) and the CSRF cookie (readable)."""
    enforce_rate_limit(
        request,
        None,
        action=f"login:{body.email.strip().lower()}",
        limit=LOGIN_ATTEMPTS_PER_MINUTE,
    )
    user = accounts.authenticate(session, email=body.email, password=body.password)
    token = create_session_token(
        user_id=user.id,
        role=user.role,
        secret_key=settings.secret_key,
        ttl_s=accounts.SESSION_TTL_S,
    )
    csrf = new_csrf_token()
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
    return {"user": accounts.user_view(user), "csrf_token": csrf}


@router.post("/logout", response_model=OkOut, response_model_exclude_unset=True)
def logout(response: Response, settings: SettingsDep) -> dict[str, bool]:
    """Forget the session (the cookies are cleared)."""
    secure = settings.environment != "development"
    for name, httponly in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=httponly, samesite="lax")
    return {"ok": True}


@router.get("/me", response_model=UserOut, response_model_exclude_unset=True)
def me(user: CurrentUser) -> dict[str, Any]:
    """The logged-in account (401 without a session)."""
    return {"user": accounts.user_view(user)}
