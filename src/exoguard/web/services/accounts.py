"""Accounts: registration, login check, role changes."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from exoguard.errors import AuthError, ValidationError
from exoguard.store.models import ROLES, User
from exoguard.store.repositories import UserRepository, normalize_email
from exoguard.web.security import hash_password, verify_password

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_NAME_LENGTH = 200
#: How long a login lasts (seconds).
SESSION_TTL_S = 12 * 3600

# Verifying against a fixed hash when the email is unknown keeps the response time the same
# whether or not an account exists (no account enumeration by timing).
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("exoguard-timing-equaliser")
    return _DUMMY_HASH


def check_password_rules(password: str) -> None:
    """`ValidationError` unless the password has 8 to 1024 characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"password must have at most {MAX_PASSWORD_LENGTH} characters")


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
    check_password_rules(password)
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
    """Change a user's role (admins only; the route checks that)."""
    if role not in ROLES:
        raise ValidationError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    return UserRepository(session).set_role(user_id, role)


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
