"""Model versions kept in the database: the stores behind `exoguard.ml.registry.ModelRegistry`.

`open_registry` builds the registry of the settings: records in the ``model_versions`` and
``model_metrics`` tables (the embedded SQLite database is migrated on first use; a server
database that is unreachable or not migrated is an error, never a silent fallback).
`SessionVersionStore` keeps them in the caller's transaction instead, so that registering a
version, making it the canary and recording its metrics commit together.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from exoguard.errors import ModelNotReadyError
from exoguard.ml.registry import ModelRegistry, VersionRecord
from exoguard.store.activation import promote
from exoguard.store.db import make_engine, make_sessionmaker, read_only, session_scope
from exoguard.store.migrate import is_up_to_date, upgrade
from exoguard.store.repositories import ModelMetricRepository, ModelVersionRepository

if TYPE_CHECKING:
    from exoguard.config import Settings


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def record_of(version: Any) -> VersionRecord:
    """The registry's view of a stored ``model_versions`` row (an ORM ``ModelVersion``)."""
    return VersionRecord(
        id=version.id,
        kind=version.kind,
        config=dict(version.config or {}),
        data_hash=version.data_hash,
        artifact_path=version.artifact_path,
        metrics=dict(version.metrics or {}),
        status=version.status,
        created_at=_iso(version.created_at),
        activated_at=_iso(version.activated_at),
    )


class DatabaseVersionStore:
    """Records in the ``model_versions`` / ``model_metrics`` tables, one transaction a call
    (each call is :class:`SessionVersionStore`'s over a session of its own)."""

    def __init__(self, database_url: str, *, models_path: Path | None = None) -> None:
        self.engine = make_engine(database_url)
        self.factory = make_sessionmaker(self.engine)
        # reads never wait for a writer (a job scoring inside its own write transaction
        # reads the active version through here)
        self.read_factory = make_sessionmaker(read_only(self.engine))
        self.models_path = models_path

    @contextmanager
    def _store(self, *, write: bool) -> Iterator[SessionVersionStore]:
        with session_scope(self.factory if write else self.read_factory) as session:
            yield SessionVersionStore(session, models_path=self.models_path)

    def create(self, record: VersionRecord) -> VersionRecord:
        with self._store(write=True) as store:
            return store.create(record)

    def get(self, version_id: str) -> VersionRecord | None:
        with self._store(write=False) as store:
            return store.get(version_id)

    def list(self) -> list[VersionRecord]:
        with self._store(write=False) as store:
            return store.list()

    def get_active(self) -> VersionRecord | None:
        with self._store(write=False) as store:
            return store.get_active()

    def activate(self, version_id: str, *, reason: str = "activate") -> VersionRecord:
        with self._store(write=True) as store:
            return store.activate(version_id, reason=reason)

    def set_metrics(self, version_id: str, metrics: Mapping[str, Any]) -> VersionRecord:
        with self._store(write=True) as store:
            return store.set_metrics(version_id, metrics)

    def record_metrics(
        self,
        version_id: str,
        values: Mapping[str, float],
        *,
        labels: Mapping[str, Any] | None = None,
    ) -> None:
        with self._store(write=True) as store:
            store.record_metrics(version_id, values, labels=labels)


def require_database(url: str) -> None:
    """Raise :class:`ModelNotReadyError` naming the problem when the database at ``url``
    cannot hold version records; migrate an embedded SQLite database on first use."""
    try:
        ready = is_up_to_date(url)
    except Exception as exc:  # unreachable server, unreadable file: say which and why
        raise ModelNotReadyError(
            f"the model registry's database is not usable ({type(exc).__name__}: {exc}); "
            "check DATABASE_URL or start the server"
        ) from exc
    if ready:
        return
    if url.startswith("sqlite"):
        upgrade(url)
        return
    raise ModelNotReadyError(
        "the model registry's database is not at the current schema; run `exoguard db upgrade`"
    )


class SessionVersionStore:
    """`exoguard.ml.registry.VersionStore` over the caller's session (it never commits).

    With it, registering a version, making it the canary and recording its metrics happen in
    one transaction, and the registry sees rows the transaction has not committed yet.
    """

    def __init__(self, session: Session, *, models_path: Path | None = None) -> None:
        self.session = session
        self.repo = ModelVersionRepository(session)
        self.models_path = models_path

    def create(self, record: VersionRecord) -> VersionRecord:
        version = self.repo.create(
            version_id=record.id,
            kind=record.kind,
            config=record.config,
            data_hash=record.data_hash,
            artifact_path=record.artifact_path,
            metrics=record.metrics,
            status=record.status,
        )
        return record_of(version)

    def get(self, version_id: str) -> VersionRecord | None:
        version = self.repo.get(version_id)
        return None if version is None else record_of(version)

    def list(self) -> list[VersionRecord]:
        return [record_of(v) for v in self.repo.list()]

    def get_active(self) -> VersionRecord | None:
        version = self.repo.get_active()
        return None if version is None else record_of(version)

    def activate(self, version_id: str, *, reason: str = "activate") -> VersionRecord:
        promote(self.session, version_id, reason=reason, models_path=self.models_path)
        return record_of(self.repo.require(version_id))

    def set_metrics(self, version_id: str, metrics: Mapping[str, Any]) -> VersionRecord:
        return record_of(self.repo.set_metrics(version_id, metrics))

    def record_metrics(
        self,
        version_id: str,
        values: Mapping[str, float],
        *,
        labels: Mapping[str, Any] | None = None,
    ) -> None:
        ModelMetricRepository(self.session).record_many(version_id, dict(values), labels=labels)


def session_registry(session: Session, settings: Settings) -> ModelRegistry:
    """A model registry whose records live in ``session``'s transaction."""
    return ModelRegistry(settings.models_path, SessionVersionStore(session))


def open_registry(*, database_url: str, models_path: Path) -> ModelRegistry:
    """The registry over a database and model folder (an error when it is not usable)."""
    path = Path(models_path)
    require_database(database_url)
    registry = ModelRegistry(path, DatabaseVersionStore(database_url, models_path=path))
    registry.sync_from_artifacts()
    return registry


def settings_registry(settings: Settings) -> ModelRegistry:
    """:func:`open_registry` over the database and model folder of ``settings``."""
    return open_registry(database_url=settings.database_url, models_path=settings.models_path)


__all__ = [
    "DatabaseVersionStore",
    "SessionVersionStore",
    "open_registry",
    "record_of",
    "require_database",
    "session_registry",
    "settings_registry",
]
