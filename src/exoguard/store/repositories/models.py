"""Model versions (the registry rows) and their metric time series."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exoguard.errors import ConflictError, NotFoundError
from exoguard.store.models import MODEL_KINDS, MODEL_STATUSES, ModelMetric, ModelVersion
from exoguard.store.repositories._common import _check, _conflict_on_integrity
from exoguard.store.types import utcnow


class ModelVersionRepository:
    """The model registry. At most one version is `active` and one `canary` (database-enforced)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(
        self,
        *,
        version_id: str,
        kind: str,
        config: Mapping[str, Any],
        data_hash: str,
        artifact_path: str,
        metrics: Mapping[str, Any] | None = None,
        status: str = "registered",
    ) -> ModelVersion:
        """Register a version; `status="active"` also activates it (demoting the old one)."""
        _check("kind", kind, MODEL_KINDS)
        _check("status", status, MODEL_STATUSES)
        version = ModelVersion(
            id=version_id,
            kind=kind,
            config=dict(config),
            data_hash=data_hash,
            metrics=dict(metrics or {}),
            artifact_path=artifact_path,
            status="registered",
        )
        with _conflict_on_integrity(self.session, f"model version {version_id!r} already exists"):
            self.session.add(version)
        if status != "registered":
            return self.set_status(version_id, status)
        return version

    def get(self, version_id: str) -> ModelVersion | None:
        return self.session.get(ModelVersion, version_id)

    def require(self, version_id: str) -> ModelVersion:
        version = self.get(version_id)
        if version is None:
            raise NotFoundError(f"model version {version_id!r} not found")
        return version

    def list(self, *, kind: str | None = None, status: str | None = None) -> Sequence[ModelVersion]:
        """Versions, newest first."""
        stmt = select(ModelVersion)
        if kind is not None:
            _check("kind", kind, MODEL_KINDS)
            stmt = stmt.where(ModelVersion.kind == kind)
        if status is not None:
            _check("status", status, MODEL_STATUSES)
            stmt = stmt.where(ModelVersion.status == status)
        stmt = stmt.order_by(ModelVersion.created_at.desc(), ModelVersion.id.desc())
        return self.session.scalars(stmt).all()

    def get_active(self) -> ModelVersion | None:
        stmt = select(ModelVersion).where(ModelVersion.status == "active")
        return self.session.scalars(stmt).one_or_none()

    def get_canary(self) -> ModelVersion | None:
        stmt = select(ModelVersion).where(ModelVersion.status == "canary")
        return self.session.scalars(stmt).one_or_none()

    def activate(self, version_id: str, *, now: datetime | None = None) -> ModelVersion:
        """Make `version_id` the one active version; the previous one becomes `registered`."""
        version = self.require(version_id)
        if version.status == "active":
            return version
        current = self.get_active()
        if current is not None:
            current.status = "registered"
            self.session.flush()  # free the one-active slot before taking it
        version.status = "active"
        version.activated_at = now or utcnow()
        self.session.flush()
        return version

    def set_status(self, version_id: str, status: str) -> ModelVersion:
        """Change a version's status.

        "active" delegates to `activate`; "canary" replaces any other canary (which becomes
        "registered"). The active version cannot be demoted directly: activate another one
        first (raises `ConflictError`).
        """
        _check("status", status, MODEL_STATUSES)
        if status == "active":
            return self.activate(version_id)
        version = self.require(version_id)
        if version.status == "active":
            raise ConflictError(
                f"model version {version_id!r} is active; activate another version first"
            )
        if status == "canary":
            current = self.get_canary()
            if current is not None and current.id != version_id:
                current.status = "registered"
                self.session.flush()
        version.status = status
        self.session.flush()
        return version

    def set_metrics(self, version_id: str, metrics: Mapping[str, Any]) -> ModelVersion:
        """Replace the stored metrics summary of a version."""
        version = self.require(version_id)
        version.metrics = dict(metrics)
        self.session.flush()
        return version

    def next_version_id(self, kind: str) -> str:
        """The next free id for `kind`: "gbm-0001", "gbm-0002", ..."""
        _check("kind", kind, MODEL_KINDS)
        pattern = re.compile(rf"^{re.escape(kind)}-(\d+)$")
        ids = self.session.scalars(
            select(ModelVersion.id).where(ModelVersion.id.startswith(f"{kind}-", autoescape=True))
        ).all()
        numbers = [int(m.group(1)) for i in ids if (m := pattern.match(i))]
        return f"{kind}-{max(numbers, default=0) + 1:04d}"


class ModelMetricRepository:
    """Time series of model metrics (accuracy on vetted labels, drift, latency, ...)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        version_id: str,
        name: str,
        value: float,
        *,
        labels: Mapping[str, Any] | None = None,
        time: datetime | None = None,
    ) -> ModelMetric:
        """Store one point (time defaults to now, UTC)."""
        point = ModelMetric(
            version_id=version_id,
            name=name,
            value=float(value),
            labels=dict(labels) if labels is not None else None,
            time=time or utcnow(),
        )
        self.session.add(point)
        self.session.flush()
        return point

    def record_many(
        self,
        version_id: str,
        values: Mapping[str, float],
        *,
        labels: Mapping[str, Any] | None = None,
        time: datetime | None = None,
    ) -> int:
        """Store several metrics of one version at one time; returns how many."""
        when = time or utcnow()
        for name, value in values.items():
            self.session.add(
                ModelMetric(
                    version_id=version_id,
                    name=name,
                    value=float(value),
                    labels=dict(labels) if labels is not None else None,
                    time=when,
                )
            )
        self.session.flush()
        return len(values)

    def series(
        self,
        version_id: str,
        name: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Sequence[ModelMetric]:
        """Points of one metric of one version, oldest first, optionally within [since, until]."""
        stmt = select(ModelMetric).where(
            ModelMetric.version_id == version_id, ModelMetric.name == name
        )
        if since is not None:
            stmt = stmt.where(ModelMetric.time >= since)
        if until is not None:
            stmt = stmt.where(ModelMetric.time <= until)
        return self.session.scalars(stmt.order_by(ModelMetric.time)).all()

    def latest(self, version_id: str, name: str) -> ModelMetric | None:
        stmt = (
            select(ModelMetric)
            .where(ModelMetric.version_id == version_id, ModelMetric.name == name)
            .order_by(ModelMetric.time.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def names(self, version_id: str) -> Sequence[str]:
        """The metric names recorded for a version, sorted."""
        stmt = (
            select(ModelMetric.name)
            .where(ModelMetric.version_id == version_id)
            .distinct()
            .order_by(ModelMetric.name)
        )
        return self.session.scalars(stmt).all()
