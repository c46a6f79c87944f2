"""Votes can be changed until the item settles: ``votes.updated_at`` and ``vote_history``.

The ``votes`` row keeps the vote that counts (the last one); ``vote_history`` keeps every
submission, the first included. Existing votes are copied into the history.

Revision ID: 0006_vote_history
Revises: 0005_candidate_catalog_match
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_vote_history"
down_revision: str | None = "0005_candidate_catalog_match"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VOTE_LABELS = ("planet", "false_positive")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("votes") as batch:
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "vote_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vote_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_vote_history"),
        sa.ForeignKeyConstraint(
            ["vote_id"], ["votes.id"], name="fk_vote_history_vote_id_votes", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["vetting_queue.id"],
            name="fk_vote_history_item_id_vetting_queue",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_vote_history_user_id_users", ondelete="CASCADE"
        ),
        sa.CheckConstraint(_in("label", VOTE_LABELS), name="ck_vote_history_label"),
        sa.CheckConstraint(
            "confidence >= 1 AND confidence <= 5", name="ck_vote_history_confidence"
        ),
    )
    op.create_index("ix_vote_history_vote_id", "vote_history", ["vote_id"])
    op.create_index("ix_vote_history_user_id", "vote_history", ["user_id"])
    op.execute(
        "INSERT INTO vote_history (vote_id, item_id, user_id, label, confidence, comment, "
        "created_at) SELECT id, item_id, user_id, label, confidence, comment, created_at "
        "FROM votes ORDER BY id"
    )


def downgrade() -> None:
    op.drop_index("ix_vote_history_user_id", table_name="vote_history")
    op.drop_index("ix_vote_history_vote_id", table_name="vote_history")
    op.drop_table("vote_history")
    with op.batch_alter_table("votes") as batch:
        batch.drop_column("updated_at")
