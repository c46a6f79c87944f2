"""Accounts: registration, login check, server-side sessions, password and role changes."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from exoguard.errors import AuthError, ValidationError
from exoguard.services.credentials import (
    SessionClaims,
    create_session_token,
    hash_password,
    new_session_id,
    verify_password,
)
from exoguard.store.models import ROLES, LoginSession, User
from exoguard.store.repositories import UserRepository, normalize_email
from exoguard.store.types import utcnow

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 200
#: How long a login lasts (seconds).
SESSION_TTL_S = 12 * 3600
#: Live sessions kept per account; logging in once more revokes the oldest.
MAX_SESSIONS_PER_USER = 20
#: The email's local part is looked for inside the password from this length on.
MIN_LOCAL_PART_CHECKED = 3
_COMMON_PASSWORDS_FILE = "common-passwords.txt"

# Verifying against a fixed hash when the email is unknown keeps the response time the same
# whether or not an account exists (no account enumeration by timing).
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("exoguard-timing-equaliser")
    return _DUMMY_HASH


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of the most common passwords (lower case, 8+ characters)."""
    data = resources.files("exoguard.web").joinpath("data").joinpath(_COMMON_PASSWORDS_FILE)
    text = data.read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def _squashed(text: str) -> str:
    """Lower case without separators: ``Pass-Word_1`` and ``password1`` are the same guess."""
    return re.sub(r"[\s\-_.]+", "", text.lower())


def check_password_rules(password: str, *, email: str | None = None) -> None:
    """`ValidationError` unless the password has 8 to 1024 characters, is not one of the
    common passwords, and is not (and does not contain) the account's email or its name part.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"password must have at most {MAX_PASSWORD_LENGTH} characters")
    lowered = password.lower()
    common = common_passwords()
    if lowered in common or _squashed(password) in common:
        raise ValidationError("password is too common (it is in a list of leaked passwords)")
    if email:
        address = normalize_email(email)
        local = address.partition("@")[0]
        if lowered == address or (
            len(local) >= MIN_LOCAL_PART_CHECKED and _squashed(local) in _squashed(password)
        ):
            raise ValidationError("password must not contain the email address or its name")


def check_email(email: str) -> str:
    """The normalised address, or `ValidationError` when it does not look like name@domain."""
    address = normalize_email(email)
    local, _, domain = address.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in address) or len(address) > 320:
        raise ValidationError(f"email must look like name@domain.tld; got {email!r}")
    return address


def register_user(
    session: Session, *, email: str, password: str, name: str, role: str = "explorer"
) -> User:
    """Create an account (explorer unless an admin tool says otherwise).

    Raises `ValidationError` for a bad email, password or name and `ConflictError` when the
    email is taken.
    """
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    address = check_email(email)
    check_password_rules(password, email=address)
    clean_name = name.strip()
    if len(clean_name) > MAX_NAME_LENGTH:
        raise ValidationError(f"name must have at most {MAX_NAME_LENGTH} characters")
    user = UserRepository(session).create(
        email=address, password_hash=hash_password(password), name=clean_name, role=role
    )
    log.info("registered user %s (%s)", user.id, role)
    return user


def authenticate(session: Session, *, email: str, password: str) -> User:
    """The active user with this email and password; `AuthError` otherwise (same message)."""
    user = UserRepository(session).get_by_email(email)
    if user is None:
        verify_password(_dummy_hash(), password)
        raise AuthError("wrong email or password")
    if not verify_password(user.password_hash, password) or not user.is_active:
        raise AuthError("wrong email or password")
    return user


def set_role(session: Session, *, user_id: int, role: str) -> User:
    """Change a user's role (admins only; the route checks that).

    A real change ends the user's sessions: they log in again under the new role.
    """
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    repo = UserRepository(session)
    changed = repo.require(user_id).role != role
    user = repo.set_role(user_id, role)
    if changed:
        revoke_sessions(session, user_id=user_id)
    return user


def _other_active_admins(session: Session, *, user_id: int) -> int:
    return sum(
        1
        for u in UserRepository(session).list(role="admin", limit=None)
        if u.is_active and u.id != user_id
    )


def admin_set_role(session: Session, *, admin: User, user_id: int, role: str) -> User:
    """An admin changes a role; the last active admin cannot give up the role."""
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    target = UserRepository(session).require(user_id)
    if (
        target.role == "admin"
        and role != "admin"
        and not _other_active_admins(session, user_id=user_id)
    ):
        raise ValidationError(
            f"{target.email} is the last active admin; make another account admin first"
        )
    return set_role(session, user_id=user_id, role=role)


def set_active(session: Session, *, admin: User, user_id: int, active: bool) -> User:
    """Deactivate (sessions end, log-in refused) or reactivate an account.

    An admin cannot deactivate their own account, so the site always keeps one admin.
    """
    repo = UserRepository(session)
    target = repo.require(user_id)
    if not active and target.id == admin.id:
        raise ValidationError("you cannot deactivate your own account; ask another admin")
    user = repo.set_active(user_id, active)
    if not active:
        revoke_sessions(session, user_id=user_id)
        log.info("admin %s deactivated user %s; sessions revoked", admin.id, user_id)
    return user


def change_password(
    session: Session, *, user: User, current_password: str, new_password: str
) -> User:
    """Replace `user`'s password after checking the current one; every session of the
    account is revoked (the caller starts a new one for the request that asked)."""
    if not verify_password(user.password_hash, current_password):
        raise AuthError("the current password is wrong")
    check_password_rules(new_password, email=user.email)
    updated = UserRepository(session).set_password_hash(user.id, hash_password(new_password))
    revoke_sessions(session, user_id=user.id)
    log.info("user %s changed their password; sessions revoked", user.id)
    return updated


# --------------------------------------------------------------------------- sessions
def start_session(
    session: Session, *, user: User, secret_key: str, ttl_s: int = SESSION_TTL_S
) -> str:
    """Record a new login of `user` and return its signed session token.

    Expired rows are deleted on the way, and the account keeps at most
    ``MAX_SESSIONS_PER_USER`` live sessions (the oldest are revoked).
    """
    now = utcnow()
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    session_id = new_session_id()
    session.add(
        LoginSession(
            id=session_id,
            user_id=user.id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    session.flush()
    surplus = session.scalars(
        select(LoginSession.id)
        .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
        .order_by(LoginSession.created_at.desc(), LoginSession.id)
        .offset(MAX_SESSIONS_PER_USER)
    ).all()
    if surplus:
        session.execute(
            update(LoginSession).where(LoginSession.id.in_(surplus)).values(revoked_at=now)
        )
    return create_session_token(
        user_id=user.id,
        role=user.role,
        session_id=session_id,
        secret_key=secret_key,
        ttl_s=ttl_s,
    )


def resolve_session(session: Session, claims: SessionClaims) -> User:
    """The active user of a live session; `AuthError` when the session was revoked, has
    expired, belongs to someone else, or the account is gone or deactivated."""
    row = session.get(LoginSession, claims.session_id)
    if row is None or row.user_id != claims.user_id:
        raise AuthError("unknown session; log in again")
    if row.revoked_at is not None:
        raise AuthError("this session was ended (logout, password or role change); log in again")
    if row.expires_at <= utcnow():
        raise AuthError("session expired; log in again")
    user = session.get(User, claims.user_id)
    if user is None or not user.is_active:
        raise AuthError("the account of this session no longer exists")
    return user


def end_session(session: Session, *, session_id: str) -> None:
    """Revoke one session (logout); a no-op when it is unknown or already revoked."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_sessions(session: Session, *, user_id: int) -> int:
    """Revoke every live session of a user; how many were live."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def user_view(user: User) -> dict[str, Any]:
    """The public fields of an account."""
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "reputation": user.reputation,
        "is_active": user.is_active,
        "created_at": user.created_at.isoformat() if user.created_at else None,
    }
