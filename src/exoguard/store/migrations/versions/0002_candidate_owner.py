"""Candidates typed in by hand get an owner (issue 13: private data visible to others).

Manual entries were stored like archive rows, so every visitor could list them. They now
carry ``owner_id`` and are private to that user (see ``exoguard.store.access``). Manual
entries stored before this revision (object id ``manual-…``, no dataset) have no known
owner: they are handed to the first admin, which takes them out of the public rows; where
no admin exists yet they keep a NULL owner.

Revision ID: 0002_candidate_owner
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_candidate_owner"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The object-id prefix of typed-in candidates (exoguard.services.predictions.manual_rows).
MANUAL_PREFIX = "manual-"


def upgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_candidates_owner_id_users", "users", ["owner_id"], ["id"], ondelete="CASCADE"
        )
        batch.create_index("ix_candidates_owner_id", ["owner_id"])
    op.execute(
        sa.text(
            "UPDATE candidates SET owner_id = "
            "(SELECT MIN(id) FROM users WHERE role = 'admin') "
            "WHERE dataset_id IS NULL AND object_id LIKE :prefix"
        ).bindparams(prefix=MANUAL_PREFIX + "%")
    )


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.drop_index("ix_candidates_owner_id")
        batch.drop_constraint("fk_candidates_owner_id_users", type_="foreignkey")
        batch.drop_column("owner_id")
