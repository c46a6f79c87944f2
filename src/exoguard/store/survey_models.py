"""The survey tables: a survey (many stars searched and classified) and its stars.

Defined on :class:`exoguard.store.models.Base`, which imports this module so that the
schema always holds them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from exoguard.store.models import Base, created_at_column, in_check
from exoguard.store.types import JSONType, UTCDateTime

SurveyStatus = Literal["running", "finished", "cancelled"]
SURVEY_STATUSES: Final[tuple[str, ...]] = ("running", "finished", "cancelled")
StarStatus = Literal["pending", "running", "done", "failed"]
STAR_STATUSES: Final[tuple[str, ...]] = ("pending", "running", "done", "failed")


class Survey(Base):
    """A survey: many stars' light curves searched and classified (``exoguard survey``).

    Its candidates are stored under ``dataset_id`` (a dataset row standing for the survey),
    so they are private to the survey's owner like an upload's.
    """

    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint(in_check("status", SURVEY_STATUSES), name="status"),
        Index(None, "owner_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    source: Mapped[str] = mapped_column(String(1024), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="running")
    n_stars: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    chunk_size: Mapped[int] = mapped_column(Integer, nullable=False, default=8)
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    dataset_id: Mapped[str | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), nullable=True
    )
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SurveyStar(Base):
    """One star of a survey: its files, status, file hash, failure reason and stage timings."""

    __tablename__ = "survey_stars"
    __table_args__ = (
        UniqueConstraint("survey_id", "target"),
        CheckConstraint(in_check("status", STAR_STATUSES), name="status"),
        Index(None, "survey_id", "status"),
        Index(None, "survey_id", "position"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[str] = mapped_column(
        ForeignKey("surveys.id", ondelete="CASCADE"), nullable=False
    )
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    target: Mapped[str] = mapped_column(String(64), nullable=False)
    mission: Mapped[str | None] = mapped_column(String(8), nullable=True)
    #: The star's light-curve files (paths as given: absolute, or relative to the manifest).
    files: Mapped[list[str]] = mapped_column(JSONType, nullable=False, default=list)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending")
    #: SHA-256 over the files' bytes of the run that finished (done or failed).
    file_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Seconds per stage: read, detrend, search, diagnostics, classify, store.
    timings: Mapped[dict[str, Any] | None] = mapped_column(JSONType, nullable=True)
    n_candidates: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    candidate_ids: Mapped[list[int] | None] = mapped_column(JSONType, nullable=True)
    #: Runs started on this star (a run killed before it stored anything counts too).
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    #: The process running it (``host:pid:token``) while running.
    worker_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


__all__ = [
    "STAR_STATUSES",
    "SURVEY_STATUSES",
    "StarStatus",
    "Survey",
    "SurveyStar",
    "SurveyStatus",
]
