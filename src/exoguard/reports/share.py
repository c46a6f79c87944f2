"""Share links: signed, expiring, revocable, read-only URLs to a result.

A token is ``<payload>.<signature>``, both base64url: the payload is compact JSON with the
target, the expiry (Unix seconds) and a random nonce; the signature is HMAC-SHA256 of the
payload under a key derived from ``settings.secret_key``. Only the SHA-256 of the whole
token is stored (table ``share_links``), so a database leak does not leak usable links.

Resolving a token:

* a token whose signature does not verify (tampered, truncated, signed with another key)
  or that is not in the database -> `NotFoundError` (HTTP 404);
* a revoked or expired link -> `GoneError` (HTTP 410).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session

from exoguard.errors import GoneError, NotFoundError, PermissionDeniedError
from exoguard.store.models import ShareLink, User
from exoguard.store.repositories import ShareLinkRepository
from exoguard.store.types import utcnow

__all__ = [
    "DEFAULT_EXPIRES_HOURS",
    "MAX_EXPIRES_HOURS",
    "SHARE_TARGET_KINDS",
    "CreatedShareLink",
    "SharePayload",
    "create_share_link",
    "hash_token",
    "resolve_share_token",
    "revoke_share_link",
    "sign_token",
    "verify_token",
]

#: What a share link can point at.
SHARE_TARGET_KINDS: Final[tuple[str, ...]] = ("candidate",)
DEFAULT_EXPIRES_HOURS: Final = 7 * 24.0
MAX_EXPIRES_HOURS: Final = 90 * 24.0
_KEY_CONTEXT: Final = b"exoguard/share-link/v1"
_NOT_FOUND: Final = "share link not found"


@dataclass(frozen=True)
class SharePayload:
    """What a verified token says: its target and its expiry (UTC)."""

    target_kind: str
    target_id: str
    expires_at: datetime
    nonce: str


@dataclass(frozen=True)
class CreatedShareLink:
    """A new link: the stored row and the token (shown once, never stored)."""

    link: ShareLink
    token: str


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def _signing_key(secret_key: str) -> bytes:
    # A key of its own, so that a share-link signature can never pass as a session JWT's.
    return hmac.new(secret_key.encode("utf-8"), _KEY_CONTEXT, hashlib.sha256).digest()


def _signature(payload_b64: str, secret_key: str) -> str:
    mac = hmac.new(_signing_key(secret_key), payload_b64.encode("ascii"), hashlib.sha256)
    return _b64encode(mac.digest())


def hash_token(token: str) -> str:
    """The SHA-256 (hex) of a token: what the database stores."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def sign_token(*, target_kind: str, target_id: str, expires_at: datetime, secret_key: str) -> str:
    """A new signed token for a target, valid until `expires_at` (timezone-aware)."""
    if target_kind not in SHARE_TARGET_KINDS:
        raise ValueError(f"target_kind must be one of {SHARE_TARGET_KINDS}; got {target_kind!r}")
    if expires_at.tzinfo is None:
        raise ValueError("expires_at must be timezone-aware (e.g. datetime.now(UTC))")
    body = {
        "k": target_kind,
        "i": str(target_id),
        "e": int(expires_at.timestamp()),
        "n": secrets.token_urlsafe(16),
    }
    payload_b64 = _b64encode(json.dumps(body, separators=(",", ":")).encode("utf-8"))
    return f"{payload_b64}.{_signature(payload_b64, secret_key)}"


def verify_token(token: str, *, secret_key: str) -> SharePayload:
    """The payload of a token whose signature verifies; `NotFoundError` otherwise."""
    if not token or len(token) > 512 or token.count(".") != 1:
        raise NotFoundError(_NOT_FOUND)
    payload_b64, signature = token.split(".")
    try:
        payload_b64.encode("ascii")
        signature.encode("ascii")
    except UnicodeEncodeError as exc:
        raise NotFoundError(_NOT_FOUND) from exc
    if not hmac.compare_digest(signature, _signature(payload_b64, secret_key)):
        raise NotFoundError(_NOT_FOUND)
    try:
        body: dict[str, Any] = json.loads(_b64decode(payload_b64))
        payload = SharePayload(
            target_kind=str(body["k"]),
            target_id=str(body["i"]),
            expires_at=datetime.fromtimestamp(int(body["e"]), tz=UTC),
            nonce=str(body["n"]),
        )
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError) as exc:
        # Signed by us but unreadable: only possible after a format change.
        raise NotFoundError(_NOT_FOUND) from exc
    return payload


def create_share_link(
    session: Session,
    *,
    target_kind: str,
    target_id: str | int,
    created_by: int | None,
    secret_key: str,
    expires_in_hours: float = DEFAULT_EXPIRES_HOURS,
    now: datetime | None = None,
) -> CreatedShareLink:
    """Store a new link (its token hash only) and return it with its token."""
    if not 0 < expires_in_hours <= MAX_EXPIRES_HOURS:
        raise ValueError(
            f"expires_in_hours must be > 0 and <= {MAX_EXPIRES_HOURS:g} (90 days); "
            f"got {expires_in_hours}"
        )
    moment = now or utcnow()
    # Whole seconds: the token carries Unix seconds, the row the same instant.
    expires_at = (moment + timedelta(hours=expires_in_hours)).replace(microsecond=0)
    token = sign_token(
        target_kind=target_kind,
        target_id=str(target_id),
        expires_at=expires_at,
        secret_key=secret_key,
    )
    link = ShareLinkRepository(session).create(
        token_hash=hash_token(token),
        target_kind=target_kind,
        target_id=str(target_id),
        created_by=created_by,
        expires_at=expires_at,
    )
    return CreatedShareLink(link=link, token=token)


def resolve_share_token(
    session: Session, token: str, *, secret_key: str, now: datetime | None = None
) -> ShareLink:
    """The live link of a token: 404 (`NotFoundError`) if forged or unknown, 410
    (`GoneError`) if revoked or expired."""
    payload = verify_token(token, secret_key=secret_key)
    moment = now or utcnow()
    link = ShareLinkRepository(session).resolve(hash_token(token), now=moment)
    if (link.target_kind, link.target_id) != (payload.target_kind, payload.target_id):
        raise NotFoundError(_NOT_FOUND)  # a row that does not match its own token
    if payload.expires_at <= moment:
        raise GoneError("this share link has expired")
    return link


def revoke_share_link(
    session: Session, link_id: int, *, user: User, now: datetime | None = None
) -> ShareLink:
    """Revoke a link; only its creator or an admin may. Revoking twice is harmless."""
    repo = ShareLinkRepository(session)
    link = repo.get(link_id)
    if link is None:
        raise NotFoundError(f"share link {link_id} not found")
    if link.created_by != user.id and user.role != "admin":
        # Someone else's link: do not reveal more than that it is not theirs to revoke.
        raise PermissionDeniedError("only the creator of a share link or an admin can revoke it")
    return repo.revoke(link_id, now=now)
