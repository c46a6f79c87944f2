"""User accounts."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exoguard.errors import ConflictError, NotFoundError
from exoguard.store.models import ROLES, User
from exoguard.store.repositories._common import _check, _conflict_on_integrity, _page


def normalize_email(email: str) -> str:
    """Emails are stored trimmed and lower-cased, so look-ups are case-insensitive."""
    return email.strip().lower()


class UserRepository:
    """Accounts. Passwords arrive already hashed (see exoguard.web.security)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        email: str,
        password_hash: str,
        name: str = "",
        role: str = "explorer",
        reputation: float = 1.0,
    ) -> User:
        """Create a user; an email already taken raises `ConflictError`."""
        _check("role", role, ROLES)
        address = normalize_email(email)
        if not address or "@" not in address:
            raise ValueError(f"email must look like name@domain; got {email!r}")
        if self.get_by_email(address) is not None:
            raise ConflictError(f"an account with email {address} already exists")
        user = User(
            email=address,
            name=name,
            password_hash=password_hash,
            role=role,
            reputation=float(reputation),
            is_active=True,
        )
        message = f"an account with email {address} already exists"
        with _conflict_on_integrity(self.session, message):
            self.session.add(user)
        return user

    def get(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def require(self, user_id: int) -> User:
        user = self.get(user_id)
        if user is None:
            raise NotFoundError(f"user {user_id} not found")
        return user

    def get_by_email(self, email: str) -> User | None:
        stmt = select(User).where(User.email == normalize_email(email))
        return self.session.scalars(stmt).one_or_none()

    def list(
        self, *, role: str | None = None, limit: int | None = 50, offset: int = 0
    ) -> Sequence[User]:
        stmt = select(User)
        if role is not None:
            _check("role", role, ROLES)
            stmt = stmt.where(User.role == role)
        return self.session.scalars(_page(stmt.order_by(User.id), limit, offset)).all()

    def count(self, *, role: str | None = None) -> int:
        stmt = select(func.count(User.id))
        if role is not None:
            _check("role", role, ROLES)
            stmt = stmt.where(User.role == role)
        return int(self.session.scalar(stmt) or 0)

    def set_role(self, user_id: int, role: str) -> User:
        _check("role", role, ROLES)
        user = self.require(user_id)
        user.role = role
        self.session.flush()
        return user

    def set_reputation(self, user_id: int, reputation: float) -> User:
        if not math.isfinite(reputation) or reputation < 0:
            raise ValueError(f"reputation must be a finite number >= 0; got {reputation}")
        user = self.require(user_id)
        user.reputation = float(reputation)
        self.session.flush()
        return user

    def set_active(self, user_id: int, active: bool) -> User:
        user = self.require(user_id)
        user.is_active = active
        self.session.flush()
        return user

    def set_password_hash(self, user_id: int, password_hash: str) -> User:
        user = self.require(user_id)
        user.password_hash = password_hash
        self.session.flush()
        return user
