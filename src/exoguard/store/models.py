"""The relational schema of exoguard (SQLAlchemy 2 typed ORM).

Every table of SPEC.md: users, datasets, candidates, predictions, vetting_queue, votes,
model_versions, model_metrics (a TimescaleDB hypertable when available), jobs, share_links.
Timestamps are timezone-aware (UTC); JSON columns are JSONB on PostgreSQL.

JSON columns are not mutation-tracked: assign a new dict instead of editing one in place.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from exoguard.catalogs.schema import LABELS, MISSIONS, PHYSICAL_COLUMNS
from exoguard.store.naming import candidate_name
from exoguard.store.types import JSONType, UTCDateTime, utcnow

# Allowed values of the enumerated text columns (kept as CHECK constraints, not native enums,
# so that SQLite and PostgreSQL behave the same and migrations stay simple).
Role = Literal["explorer", "researcher", "admin"]
ROLES: Final[tuple[str, ...]] = ("explorer", "researcher", "admin")
DatasetKind = Literal["lightcurve", "catalog"]
DATASET_KINDS: Final[tuple[str, ...]] = ("lightcurve", "catalog")
DatasetFormat = Literal["fits", "csv", "json"]
DATASET_FORMATS: Final[tuple[str, ...]] = ("fits", "csv", "json")
DatasetStatus = Literal[
    "uploaded", "validated", "invalid", "preprocessing", "preprocessed", "failed"
]
DATASET_STATUSES: Final[tuple[str, ...]] = (
    "uploaded",
    "validated",
    "invalid",
    "preprocessing",
    "preprocessed",
    "failed",
)
Origin = Literal["catalog", "search", "curated"]
ORIGINS: Final[tuple[str, ...]] = ("catalog", "search", "curated")
VoteLabel = Literal["planet", "false_positive"]
VOTE_LABELS: Final[tuple[str, ...]] = ("planet", "false_positive")
QueueStatus = Literal["open", "settled"]
QUEUE_STATUSES: Final[tuple[str, ...]] = ("open", "settled")
ModelKind = Literal["gbm", "multibranch", "ensemble"]
MODEL_KINDS: Final[tuple[str, ...]] = ("gbm", "multibranch", "ensemble")
ModelStatus = Literal["registered", "active", "canary", "retired"]
MODEL_STATUSES: Final[tuple[str, ...]] = ("registered", "active", "canary", "retired")
JobStatus = Literal["queued", "running", "succeeded", "failed"]
JOB_STATUSES: Final[tuple[str, ...]] = ("queued", "running", "succeeded", "failed")

NAMING_CONVENTION: Final[dict[str, str]] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def in_check(column: str, values: tuple[str, ...]) -> str:
    """The SQL of a CHECK that ``column`` holds one of ``values``."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    """Declarative base of every exoguard table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def created_at_column() -> Mapped[datetime]:
    """A ``created_at`` column: set on insert (UTC)."""
    return mapped_column(UTCDateTime(), nullable=False, default=utcnow, server_default=func.now())


class User(Base):
    """A person with an account: explorer (default), researcher or admin."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(in_check("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False, default="explorer")
    reputation: Mapped[float] = mapped_column(Float, nullable=False, default=1.0)
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    created_at: Mapped[datetime] = created_at_column()


class Dataset(Base):
    """An uploaded file (light curve or catalog table) and its validation report."""

    __tablename__ = "datasets"
    __table_args__ = (
        CheckConstraint(in_check("kind", DATASET_KINDS), name="kind"),
        CheckConstraint(in_check("format", DATASET_FORMATS), name="format"),
        CheckConstraint(in_check("status", DATASET_STATUSES), name="status"),
        CheckConstraint("size_bytes >= 0", name="size_bytes"),
        Index(None, "owner_id"),
        Index(None, "sha256"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    format: Mapped[str] = mapped_column(String(8), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    storage_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="uploaded")
    validation_report: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = created_at_column()


class Candidate(Base):
    """One transit-like signal in the harmonised schema (a KOI, TOI, K2 object or our own find).

    Physical columns carry their units in their names and are NULL where unknown.
    """

    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("mission", "object_id"),
        CheckConstraint(in_check("mission", MISSIONS), name="mission"),
        CheckConstraint(in_check("label", LABELS), name="label"),
        CheckConstraint(in_check("origin", ORIGINS), name="origin"),
        Index(None, "host_id"),
        Index(None, "label"),
        Index(None, "dataset_id"),
        Index(None, "owner_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mission: Mapped[str] = mapped_column(String(8), nullable=False)
    object_id: Mapped[str] = mapped_column(String(64), nullable=False)
    #: The archive's planet name (KOI kepler_name, K2 pl_name); NULL for TOIs and our finds.
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    host_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    label: Mapped[str] = mapped_column(String(16), nullable=False)
    disposition: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str | None] = mapped_column(String(255), nullable=True)

    period_days: Mapped[float | None] = mapped_column(Float, nullable=True)
    t0_bjd: Mapped[float | None] = mapped_column(Float, nullable=True)
    duration_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    depth_ppm: Mapped[float | None] = mapped_column(Float, nullable=True)
    impact: Mapped[float | None] = mapped_column(Float, nullable=True)
    planet_radius_rearth: Mapped[float | None] = mapped_column(Float, nullable=True)
    equilibrium_temp_k: Mapped[float | None] = mapped_column(Float, nullable=True)
    insolation_earth: Mapped[float | None] = mapped_column(Float, nullable=True)
    transit_snr: Mapped[float | None] = mapped_column(Float, nullable=True)
    star_teff_k: Mapped[float | None] = mapped_column(Float, nullable=True)
    star_logg_cgs: Mapped[float | None] = mapped_column(Float, nullable=True)
    star_radius_rsun: Mapped[float | None] = mapped_column(Float, nullable=True)
    star_mag: Mapped[float | None] = mapped_column(Float, nullable=True)

    origin: Mapped[str] = mapped_column(String(16), nullable=False, default="catalog")
    dataset_id: Mapped[str | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), nullable=True
    )
    # Who typed this candidate in (manual entry): private to them, as an upload's candidates
    # are private to the dataset's owner. NULL for archive rows and upload candidates.
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    features: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    #: The catalog object this candidate is (``exoguard.catalogs.crossmatch.CatalogMatch``
    #: as a dict), or why there is none; shown beside the verdict, never a model input.
    catalog_match: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(),
        nullable=False,
        default=utcnow,
        onupdate=utcnow,
        server_default=func.now(),
    )

    @property
    def display_name(self) -> str:
        """The name shown for this candidate everywhere (``exoguard.store.naming``)."""
        return candidate_name(self)


# The ORM must mirror the harmonised schema exactly; fail at import if someone adds a column
# to exoguard.catalogs.schema without a migration.
_missing = set(PHYSICAL_COLUMNS) - set(Candidate.__table__.columns.keys())
if _missing:  # pragma: no cover - guards a programming error
    raise RuntimeError(f"candidates table lacks physical columns {sorted(_missing)}")


class ModelVersion(Base):
    """A trained model in the registry: artifact, typed config, data hash, metrics, status."""

    __tablename__ = "model_versions"
    __table_args__ = (
        CheckConstraint(in_check("kind", MODEL_KINDS), name="kind"),
        CheckConstraint(in_check("status", MODEL_STATUSES), name="status"),
        # At most one active and one canary version, enforced by the database.
        Index(
            "uq_model_versions_one_active",
            "status",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "uq_model_versions_one_canary",
            "status",
            unique=True,
            sqlite_where=text("status = 'canary'"),
            postgresql_where=text("status = 'canary'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. "gbm-0001"
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    data_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    artifact_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="registered")
    created_at: Mapped[datetime] = created_at_column()
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Prediction(Base):
    """One verdict of one model version on one candidate, with uncertainty and explanation."""

    __tablename__ = "predictions"
    __table_args__ = (
        CheckConstraint(in_check("label", LABELS), name="label"),
        CheckConstraint("probability >= 0 AND probability <= 1", name="probability"),
        CheckConstraint("uncertainty >= 0", name="uncertainty"),
        Index(None, "candidate_id", "created_at"),
        Index(None, "model_version"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), nullable=False
    )
    model_version: Mapped[str] = mapped_column(
        ForeignKey("model_versions.id", ondelete="RESTRICT"), nullable=False
    )
    probability: Mapped[float] = mapped_column(Float, nullable=False)
    uncertainty: Mapped[float] = mapped_column(Float, nullable=False)
    label: Mapped[str] = mapped_column(String(16), nullable=False)
    canary: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    explanation: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    created_at: Mapped[datetime] = created_at_column()

    candidate: Mapped[Candidate] = relationship()


class VettingItem(Base):
    """An entry of the vetting queue (table `vetting_queue`)."""

    __tablename__ = "vetting_queue"
    __table_args__ = (
        CheckConstraint(in_check("status", QUEUE_STATUSES), name="status"),
        CheckConstraint(
            f"gold_label IS NULL OR {in_check('gold_label', VOTE_LABELS)}", name="gold"
        ),
        CheckConstraint(
            f"consensus_label IS NULL OR {in_check('consensus_label', VOTE_LABELS)}",
            name="consensus",
        ),
        CheckConstraint(
            "consensus_share IS NULL OR (consensus_share >= 0 AND consensus_share <= 1)",
            name="share",
        ),
        Index(None, "status", "priority"),
        Index(None, "candidate_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), nullable=False
    )
    prediction_id: Mapped[int | None] = mapped_column(
        ForeignKey("predictions.id", ondelete="SET NULL"), nullable=True
    )
    priority: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="open")
    is_gold: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    gold_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    consensus_label: Mapped[str | None] = mapped_column(String(16), nullable=True)
    consensus_share: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    candidate: Mapped[Candidate] = relationship()
    prediction: Mapped[Prediction | None] = relationship()
    votes: Mapped[list[Vote]] = relationship(
        back_populates="item", cascade="all, delete-orphan", passive_deletes=True
    )


class Vote(Base):
    """One vetter's vote on one queue item (unique per item and user)."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("item_id", "user_id"),
        CheckConstraint(in_check("label", VOTE_LABELS), name="label"),
        CheckConstraint("confidence >= 1 AND confidence <= 5", name="confidence"),
        Index(None, "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("vetting_queue.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    label: Mapped[str] = mapped_column(String(16), nullable=False)
    confidence: Mapped[int] = mapped_column(Integer, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    """When the vetter last changed this vote (None: never changed)."""

    item: Mapped[VettingItem] = relationship(back_populates="votes")


class VoteChange(Base):
    """Every vote a vetter submitted on an item, oldest first (table `vote_history`).

    The `votes` row holds the one that counts (the last); a vetter may change it until the
    item settles, and each submission, the first included, is kept here.
    """

    __tablename__ = "vote_history"
    __table_args__ = (
        CheckConstraint(in_check("label", VOTE_LABELS), name="label"),
        CheckConstraint("confidence >= 1 AND confidence <= 5", name="confidence"),
        Index(None, "vote_id"),
        Index(None, "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), nullable=False)
    item_id: Mapped[int] = mapped_column(
        ForeignKey("vetting_queue.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    label: Mapped[str] = mapped_column(String(16), nullable=False)
    confidence: Mapped[int] = mapped_column(Integer, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = created_at_column()


class ModelMetric(Base):
    """One point of a model's metric time series (TimescaleDB hypertable when available)."""

    __tablename__ = "model_metrics"
    __table_args__ = (Index(None, "time"),)

    version_id: Mapped[str] = mapped_column(
        ForeignKey("model_versions.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True, default=utcnow)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    labels: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)


class Job(Base):
    """A background job; its state lives here, whichever runner executes it."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(in_check("status", JOB_STATUSES), name="status"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        Index(None, "owner_id"),
        Index(None, "status", "created_at"),
        Index(None, "status", "heartbeat_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[datetime] = created_at_column()
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: The replica or worker process holding the job (``host:pid:token``), None while a
    #: job waits in the Celery broker.
    worker_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: Last time the holder said it is alive (every ``EXOGUARD_JOB_HEARTBEAT_S`` seconds).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ShareLink(Base):
    """A revocable, expiring link to a result; only the hash of its token is stored."""

    __tablename__ = "share_links"
    __table_args__ = (Index(None, "created_by"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    target_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    target_id: Mapped[str] = mapped_column(String(64), nullable=False)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LoginSession(Base):
    """A login: the server-side half of a session token (its ``jti``).

    A token authenticates only while its row exists, is not revoked and has not expired:
    logout, a password change and a role change revoke rows.
    """

    __tablename__ = "sessions"
    __table_args__ = (Index(None, "user_id"), Index(None, "expires_at"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    created_at: Mapped[datetime] = created_at_column()
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


__all__ = [
    "Base",
    "LoginSession",
    "Candidate",
    "Dataset",
    "Job",
    "ModelMetric",
    "ModelVersion",
    "Prediction",
    "ShareLink",
    "User",
    "Vote",
    "VettingItem",
]

# The survey tables live in exoguard.store.survey_models; importing it here puts them on
# Base.metadata for every user of the schema (migrations, the schema checks), whichever
# module is imported first.
from exoguard.store import survey_models as _survey_models  # noqa: E402, F401
