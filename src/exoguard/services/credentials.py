"""Password hashing (argon2id, memory-hard) and JWT session tokens.

The accounts service (`exoguard.services.accounts`) issues and checks them; the web layer
(`exoguard.web.deps`) reads the token from its cookie.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from exoguard.errors import AuthError

JWT_ALGORITHM = "HS256"
#: Largest user id a token may name (the ``users.id`` column is a 32-bit integer).
MAX_USER_ID = 2**31 - 1
#: Longest session id (``jti``) a token may carry; ours are 32 characters.
MAX_SESSION_ID_LENGTH = 64

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


@dataclass(frozen=True)
class SessionClaims:
    """What a valid session token says: whose session, and which server-side session row."""

    user_id: int
    session_id: str


def new_session_id() -> str:
    """A random session id (the token's ``jti``, the ``sessions`` table's key)."""
    return secrets.token_urlsafe(24)


def create_session_token(
    *, user_id: int, role: str, session_id: str, secret_key: str, ttl_s: int
) -> str:
    """A signed JWT naming the user and the server-side session, valid for `ttl_s` seconds.

    The token alone does not authenticate: the session row `session_id` must exist, belong
    to `user_id` and be neither revoked nor expired (see ``accounts.resolve_session``).
    """
    now = datetime.now(UTC)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "jti": session_id,
        "role": role,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_s)).timestamp()),
    }
    return jwt.encode(payload, secret_key, algorithm=JWT_ALGORITHM)


def decode_session_token(token: str, *, secret_key: str) -> SessionClaims:
    """The claims of a valid token; `AuthError` when expired, tampered or malformed.

    A correctly signed token whose ``sub`` is not a user id or that lacks a ``jti`` is
    malformed too (401, never 500).
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret_key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "sub", "jti"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("session expired; log in again") from exc
    except jwt.PyJWTError as exc:
        raise AuthError("invalid session token") from exc
    sub, jti = claims.get("sub"), claims.get("jti")
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit():
        raise AuthError("invalid session token")
    user_id = int(sub)
    if not 1 <= user_id <= MAX_USER_ID:
        raise AuthError("invalid session token")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_SESSION_ID_LENGTH:
        raise AuthError("invalid session token")
    return SessionClaims(user_id=user_id, session_id=jti)


__all__ = [
    "JWT_ALGORITHM",
    "MAX_SESSION_ID_LENGTH",
    "MAX_USER_ID",
    "SessionClaims",
    "create_session_token",
    "decode_session_token",
    "hash_password",
    "new_session_id",
    "verify_password",
]
