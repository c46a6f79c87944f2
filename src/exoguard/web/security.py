"""Password hashing (argon2id, memory-hard), JWT session tokens and CSRF tokens."""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from exoguard.errors import AuthError

SESSION_COOKIE = "exoguard_session"
CSRF_COOKIE = "exoguard_csrf"
CSRF_HEADER = "X-CSRF-Token"
JWT_ALGORITHM = "HS256"

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) defaults


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether `password` matches `password_hash` (constant time, never raises on mismatch)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def create_session_token(*, user_id: int, role: str, secret_key: str, ttl_s: int) -> str:
    """A signed JWT carrying the user id and role, valid for `ttl_s` seconds."""
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
    }
    return jwt.encode(payload, secret_key, algorithm=JWT_ALGORITHM)


def decode_session_token(token: str, *, secret_key: str) -> dict[str, Any]:
    """The claims of a valid token; `AuthError` when expired, tampered or malformed."""
    try:
        claims: dict[str, Any] = jwt.decode(token, secret_key, algorithms=[JWT_ALGORITHM])
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("session expired; log in again") from exc
    except jwt.PyJWTError as exc:
        raise AuthError("invalid session token") from exc
    return claims


def new_csrf_token() -> str:
    """A random token for the double-submit CSRF cookie."""
    return secrets.token_urlsafe(32)


def csrf_matches(cookie_value: str | None, header_value: str | None) -> bool:
    """Double-submit check: the header must echo the cookie (constant-time comparison)."""
    if not cookie_value or not header_value:
        return False
    return hmac.compare_digest(cookie_value, header_value)
