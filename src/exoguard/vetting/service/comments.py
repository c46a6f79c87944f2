"""The comments of an item, and who may read them."""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from exoguard.errors import PermissionDeniedError
from exoguard.store.models import User
from exoguard.store.models import Vote as VoteRow
from exoguard.store.repositories import VoteRepository

COMMENT_ROLES: Final[tuple[str, ...]] = ("researcher", "admin")
"""Roles that read every comment; other vetters read an item's comments once they voted."""


def may_read_comments(session: Session, item_id: int, user: User | None) -> bool:
    """Researchers and admins always; a vetter once they voted on the item; nobody else."""
    if user is None:
        return False
    if user.role in COMMENT_ROLES:
        return True
    return VoteRepository(session).get_for(item_id=item_id, user_id=user.id) is not None


def item_comments(session: Session, item_id: int, *, user: User | None) -> list[dict[str, Any]]:
    """The comments on an item (the vote that counts of each vetter), oldest first.

    Raises `PermissionDeniedError` unless :func:`may_read_comments`: a vetter reads the
    others' comments only after forming their own view.
    """
    if not may_read_comments(session, item_id, user):
        raise PermissionDeniedError(
            f"the comments on vetting item {item_id} are shown to researchers and admins, "
            "and to vetters who have voted on it"
        )
    stmt = (
        select(VoteRow, User.name)
        .join(User, User.id == VoteRow.user_id)
        .where(VoteRow.item_id == item_id, VoteRow.comment.is_not(None))
        .order_by(VoteRow.id)
    )
    viewer = user.id if user is not None else None
    return [
        {
            "label": vote.label,
            "confidence": vote.confidence,
            "comment": vote.comment,
            "vetter": name or "a vetter",
            "mine": vote.user_id == viewer,
            "at": (vote.updated_at or vote.created_at).isoformat()
            if (vote.updated_at or vote.created_at)
            else None,
        }
        for vote, name in session.execute(stmt).tuples()
    ]
