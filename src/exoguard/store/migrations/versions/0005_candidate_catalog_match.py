"""Candidates: the planet name from the archive, and the catalog cross-match of each candidate.

``name`` holds ``kepler_name`` (KOI) or ``pl_name`` (K2) at ingest (TOIs have none).
``catalog_match`` holds the outcome of ``exoguard.catalogs.crossmatch`` for search finds,
uploaded table rows and typed-in candidates: shown beside the verdict, never a model input.

Revision ID: 0005_candidate_catalog_match
Revises: 0004_jobs_heartbeat
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_candidate_catalog_match"
down_revision: str | None = "0004_jobs_heartbeat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.add_column(sa.Column("name", sa.String(200), nullable=True))
        batch.add_column(sa.Column("catalog_match", _JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("candidates") as batch:
        batch.drop_column("catalog_match")
        batch.drop_column("name")
