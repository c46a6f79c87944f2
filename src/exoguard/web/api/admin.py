"""Administration: list users, change roles, deactivate accounts (admin role only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from exoguard.services import accounts
from exoguard.store.models import Role
from exoguard.store.repositories import UserRepository
from exoguard.web.api.schemas import UserOut, UsersOut
from exoguard.web.deps import AdminUser, SessionDep, StateDep
from exoguard.web.params import IdPath, OffsetQuery

router = APIRouter(prefix="/admin", tags=["admin"])


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


@router.get("/users", response_model=UsersOut, response_model_exclude_unset=True)
def list_users(
    _admin: AdminUser,
    session: SessionDep,
    role: Role | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: OffsetQuery = 0,
) -> dict[str, Any]:
    """Accounts, oldest first."""
    repo = UserRepository(session)
    users = repo.list(role=role, limit=limit, offset=offset)
    return {"users": [accounts.user_view(u) for u in users], "total": repo.count(role=role)}


class ActiveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool


@router.post("/users/{user_id}/role", response_model=UserOut, response_model_exclude_unset=True)
def change_role(
    user_id: IdPath, body: RoleIn, admin: AdminUser, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """Give a user the role explorer, researcher or admin; their sessions end.

    The last active admin cannot give up the role (422)."""
    user = accounts.admin_set_role(session, admin=admin, user_id=user_id, role=body.role)
    session.commit()
    state.users.clear()  # this replica's predict cache forgets the revoked sessions now
    return {"user": accounts.user_view(user)}


@router.post("/users/{user_id}/active", response_model=UserOut, response_model_exclude_unset=True)
def change_active(
    user_id: IdPath, body: ActiveIn, admin: AdminUser, session: SessionDep, state: StateDep
) -> dict[str, Any]:
    """Deactivate (``active: false``: sessions end, log-in refused) or reactivate an account.
    An admin cannot deactivate their own account (422)."""
    user = accounts.set_active(session, admin=admin, user_id=user_id, active=body.active)
    session.commit()
    state.users.clear()
    return {"user": accounts.user_view(user)}
