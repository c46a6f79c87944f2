"""Share links (only a hash of each token is stored)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from exoguard.errors import GoneError, NotFoundError
from exoguard.store.models import ShareLink
from exoguard.store.repositories._common import _conflict_on_integrity
from exoguard.store.types import utcnow


class ShareLinkRepository:
    """Share links; only a hash of each token is stored."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        token_hash: str,
        target_kind: str,
        target_id: str,
        created_by: int | None = None,
        expires_at: datetime | None = None,
    ) -> ShareLink:
        link = ShareLink(
            token_hash=token_hash,
            target_kind=target_kind,
            target_id=str(target_id),
            created_by=created_by,
            expires_at=expires_at,
        )
        with _conflict_on_integrity(self.session, "a share link with this token already exists"):
            self.session.add(link)
        return link

    def get(self, link_id: int) -> ShareLink | None:
        return self.session.get(ShareLink, link_id)

    def get_by_token_hash(self, token_hash: str) -> ShareLink | None:
        stmt = select(ShareLink).where(ShareLink.token_hash == token_hash)
        return self.session.scalars(stmt).one_or_none()

    def resolve(self, token_hash: str, *, now: datetime | None = None) -> ShareLink:
        """The usable link for a token hash: `NotFoundError` if unknown, `GoneError` if
        revoked or expired."""
        link = self.get_by_token_hash(token_hash)
        if link is None:
            raise NotFoundError("share link not found")
        moment = now or utcnow()
        if link.revoked_at is not None:
            raise GoneError("this share link has been revoked")
        if link.expires_at is not None and link.expires_at <= moment:
            raise GoneError("this share link has expired")
        return link

    def revoke(self, link_id: int, *, now: datetime | None = None) -> ShareLink:
        link = self.get(link_id)
        if link is None:
            raise NotFoundError(f"share link {link_id} not found")
        if link.revoked_at is None:
            link.revoked_at = now or utcnow()
            self.session.flush()
        return link

    def list_for_user(self, user_id: int) -> Sequence[ShareLink]:
        """Links a user created, newest first."""
        stmt = (
            select(ShareLink)
            .where(ShareLink.created_by == user_id)
            .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
        )
        return self.session.scalars(stmt).all()
