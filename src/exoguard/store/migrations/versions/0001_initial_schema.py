"""Initial schema: every table of SPEC.md; model_metrics as a hypertable when TimescaleDB is there.

Revision ID: 0001
Revises:
Create Date: 2026-07-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from exoguard.store.timescale import apply_metrics_storage

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types (a migration must not change when the models do).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _created() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    )


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


MISSIONS = ("kepler", "k2", "tess", "other")
LABELS = ("planet", "false_positive", "candidate")
VOTE_LABELS = ("planet", "false_positive")
PHYSICAL_COLUMNS = (
    "period_days",
    "t0_bjd",
    "duration_hours",
    "depth_ppm",
    "impact",
    "planet_radius_rearth",
    "equilibrium_temp_k",
    "insolation_earth",
    "transit_snr",
    "star_teff_k",
    "star_logg_cgs",
    "star_radius_rsun",
    "star_mag",
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("reputation", sa.Float(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        _created(),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.CheckConstraint(_in("role", ("explorer", "researcher", "admin")), name="ck_users_role"),
    )

    op.create_table(
        "datasets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_path", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("validation_report", JSON, nullable=True),
        _created(),
        sa.PrimaryKeyConstraint("id", name="pk_datasets"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_datasets_owner_id_users", ondelete="SET NULL"
        ),
        sa.CheckConstraint(_in("kind", ("lightcurve", "catalog")), name="ck_datasets_kind"),
        sa.CheckConstraint(_in("format", ("fits", "csv", "json")), name="ck_datasets_format"),
        sa.CheckConstraint(
            _in(
                "status",
                ("uploaded", "validated", "invalid", "preprocessing", "preprocessed", "failed"),
            ),
            name="ck_datasets_status",
        ),
        sa.CheckConstraint("size_bytes >= 0", name="ck_datasets_size_bytes"),
    )
    op.create_index("ix_datasets_owner_id", "datasets", ["owner_id"])
    op.create_index("ix_datasets_sha256", "datasets", ["sha256"])

    op.create_table(
        "candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mission", sa.String(8), nullable=False),
        sa.Column("object_id", sa.String(64), nullable=False),
        sa.Column("host_id", sa.String(64), nullable=True),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("disposition", sa.String(64), nullable=True),
        sa.Column("source", sa.String(255), nullable=True),
        *(sa.Column(name, sa.Float(), nullable=True) for name in PHYSICAL_COLUMNS),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("dataset_id", sa.String(36), nullable=True),
        sa.Column("features", JSON, nullable=True),
        _created(),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_candidates"),
        sa.UniqueConstraint("mission", "object_id", name="uq_candidates_mission_object_id"),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name="fk_candidates_dataset_id_datasets",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(_in("mission", MISSIONS), name="ck_candidates_mission"),
        sa.CheckConstraint(_in("label", LABELS), name="ck_candidates_label"),
        sa.CheckConstraint(
            _in("origin", ("catalog", "search", "curated")), name="ck_candidates_origin"
        ),
    )
    op.create_index("ix_candidates_host_id", "candidates", ["host_id"])
    op.create_index("ix_candidates_label", "candidates", ["label"])
    op.create_index("ix_candidates_dataset_id", "candidates", ["dataset_id"])

    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("data_hash", sa.String(128), nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("artifact_path", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _created(),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_model_versions"),
        sa.CheckConstraint(
            _in("kind", ("gbm", "multibranch", "ensemble")), name="ck_model_versions_kind"
        ),
        sa.CheckConstraint(
            _in("status", ("registered", "active", "canary", "retired")),
            name="ck_model_versions_status",
        ),
    )
    for status in ("active", "canary"):
        op.create_index(
            f"uq_model_versions_one_{status}",
            "model_versions",
            ["status"],
            unique=True,
            sqlite_where=sa.text(f"status = '{status}'"),
            postgresql_where=sa.text(f"status = '{status}'"),
        )

    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("uncertainty", sa.Float(), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("canary", sa.Boolean(), nullable=False),
        sa.Column("explanation", JSON, nullable=True),
        _created(),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name="fk_predictions_candidate_id_candidates",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["model_version"],
            ["model_versions.id"],
            name="fk_predictions_model_version_model_versions",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint(_in("label", LABELS), name="ck_predictions_label"),
        sa.CheckConstraint(
            "probability >= 0 AND probability <= 1", name="ck_predictions_probability"
        ),
        sa.CheckConstraint("uncertainty >= 0", name="ck_predictions_uncertainty"),
    )
    op.create_index(
        "ix_predictions_candidate_id_created_at", "predictions", ["candidate_id", "created_at"]
    )
    op.create_index("ix_predictions_model_version", "predictions", ["model_version"])

    op.create_table(
        "vetting_queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("is_gold", sa.Boolean(), nullable=False),
        sa.Column("gold_label", sa.String(16), nullable=True),
        sa.Column("consensus_label", sa.String(16), nullable=True),
        sa.Column("consensus_share", sa.Float(), nullable=True),
        _created(),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_vetting_queue"),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["candidates.id"],
            name="fk_vetting_queue_candidate_id_candidates",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["predictions.id"],
            name="fk_vetting_queue_prediction_id_predictions",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(_in("status", ("open", "settled")), name="ck_vetting_queue_status"),
        sa.CheckConstraint(
            f"gold_label IS NULL OR {_in('gold_label', VOTE_LABELS)}", name="ck_vetting_queue_gold"
        ),
        sa.CheckConstraint(
            f"consensus_label IS NULL OR {_in('consensus_label', VOTE_LABELS)}",
            name="ck_vetting_queue_consensus",
        ),
        sa.CheckConstraint(
            "consensus_share IS NULL OR (consensus_share >= 0 AND consensus_share <= 1)",
            name="ck_vetting_queue_share",
        ),
    )
    op.create_index("ix_vetting_queue_status_priority", "vetting_queue", ["status", "priority"])
    op.create_index("ix_vetting_queue_candidate_id", "vetting_queue", ["candidate_id"])

    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(16), nullable=False),
        sa.Column("confidence", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _created(),
        sa.PrimaryKeyConstraint("id", name="pk_votes"),
        sa.UniqueConstraint("item_id", "user_id", name="uq_votes_item_id_user_id"),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["vetting_queue.id"],
            name="fk_votes_item_id_vetting_queue",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_votes_user_id_users", ondelete="CASCADE"
        ),
        sa.CheckConstraint(_in("label", VOTE_LABELS), name="ck_votes_label"),
        sa.CheckConstraint("confidence >= 1 AND confidence <= 5", name="ck_votes_confidence"),
    )
    op.create_index("ix_votes_user_id", "votes", ["user_id"])

    op.create_table(
        "model_metrics",
        sa.Column("version_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("labels", JSON, nullable=True),
        # `time` is part of the key: TimescaleDB requires it in every unique index.
        sa.PrimaryKeyConstraint("version_id", "name", "time", name="pk_model_metrics"),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name="fk_model_metrics_version_id_model_versions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_model_metrics_time", "model_metrics", ["time"])
    apply_metrics_storage(op.get_bind())

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("params", JSON, nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _created(),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name="fk_jobs_owner_id_users", ondelete="SET NULL"
        ),
        sa.CheckConstraint(
            _in("status", ("queued", "running", "succeeded", "failed")), name="ck_jobs_status"
        ),
        sa.CheckConstraint("progress >= 0 AND progress <= 1", name="ck_jobs_progress"),
    )
    op.create_index("ix_jobs_owner_id", "jobs", ["owner_id"])
    op.create_index("ix_jobs_status_created_at", "jobs", ["status", "created_at"])

    op.create_table(
        "share_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False),
        sa.Column("target_kind", sa.String(32), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _created(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_share_links"),
        sa.UniqueConstraint("token_hash", name="uq_share_links_token_hash"),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name="fk_share_links_created_by_users",
            ondelete="SET NULL",
        ),
    )
    op.create_index("ix_share_links_created_by", "share_links", ["created_by"])


def downgrade() -> None:
    for table in (
        "share_links",
        "jobs",
        "model_metrics",
        "votes",
        "vetting_queue",
        "predictions",
        "model_versions",
        "candidates",
        "datasets",
        "users",
    ):
        op.drop_table(table)
