"""Surveys: one row per survey and one per star (status, file hash, reason, stage timings).

Revision ID: 0007_survey
Revises: 0006_vote_history
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_survey"
down_revision: str | None = "0006_vote_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    op.create_table(
        "surveys",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("n_stars", sa.Integer(), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("options", _JSON, nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'cancelled')", name=op.f("ck_surveys_status")
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_surveys_dataset_id_datasets"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_surveys_owner_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
    )
    op.create_index(op.f("ix_surveys_owner_id"), "surveys", ["owner_id"])
    op.create_table(
        "survey_stars",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("mission", sa.String(8), nullable=True),
        sa.Column("files", _JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("file_hash", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("timings", _JSON, nullable=True),
        sa.Column("n_candidates", sa.Integer(), nullable=False),
        sa.Column("candidate_ids", _JSON, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(128), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'done', 'failed')",
            name=op.f("ck_survey_stars_status"),
        ),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_survey_stars_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_stars")),
        sa.UniqueConstraint("survey_id", "target", name=op.f("uq_survey_stars_survey_id_target")),
    )
    op.create_index(
        op.f("ix_survey_stars_survey_id_status"), "survey_stars", ["survey_id", "status"]
    )
    op.create_index(
        op.f("ix_survey_stars_survey_id_position"), "survey_stars", ["survey_id", "position"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_survey_stars_survey_id_position"), table_name="survey_stars")
    op.drop_index(op.f("ix_survey_stars_survey_id_status"), table_name="survey_stars")
    op.drop_table("survey_stars")
    op.drop_index(op.f("ix_surveys_owner_id"), table_name="surveys")
    op.drop_table("surveys")
