"""Model registry: versions (artifact directory, typed config, data hash, metrics), one active.

Artifacts live in ``settings.models_path / <version>/`` (LightGBM text files and JSON; never
pickles). Version records live behind a :class:`VersionStore`; the store layer keeps them in
one place, the database table ``model_versions`` (:mod:`exoguard.store.model_registry`, whose
``open_registry`` builds the registry of the settings: an unreachable or unmigrated server
database is an error, never a silent fallback). Activation follows one rule,
:func:`exoguard.store.activation.promote`. This module never touches the database.
Each artifact directory also holds a ``manifest.json`` so a version directory can be
re-registered in a database that has not seen it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from exoguard.errors import ModelNotReadyError, NotFoundError

logger = logging.getLogger(__name__)

STATUSES = ("registered", "active", "canary", "retired")
_VERSION_RE = re.compile(r"^(?P<kind>[a-z]+)-(?P<num>\d{4,})$")


@dataclass(frozen=True)
class VersionRecord:
    """One registered model version (the registry's view, independent of storage)."""

    id: str
    kind: str
    config: dict[str, Any]
    data_hash: str
    artifact_path: str
    metrics: dict[str, Any] = field(default_factory=dict)
    status: str = "registered"
    created_at: str | None = None
    activated_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "created_at": self.created_at,
            "activated_at": self.activated_at,
            "data_hash": self.data_hash,
            "artifact_path": self.artifact_path,
            "config": self.config,
            "metrics": self.metrics,
        }


class VersionStore(Protocol):
    """Where version records are kept: the database, in its own transactions
    (:class:`exoguard.store.model_registry.DatabaseVersionStore`) or in the caller's
    (:class:`exoguard.store.model_registry.SessionVersionStore`)."""

    def create(self, record: VersionRecord) -> VersionRecord: ...

    def get(self, version_id: str) -> VersionRecord | None: ...

    def list(self) -> list[VersionRecord]: ...

    def get_active(self) -> VersionRecord | None: ...

    def activate(self, version_id: str, *, reason: str = "activate") -> VersionRecord: ...

    def set_metrics(self, version_id: str, metrics: Mapping[str, Any]) -> VersionRecord: ...

    def record_metrics(
        self,
        version_id: str,
        values: Mapping[str, float],
        *,
        labels: Mapping[str, Any] | None = None,
    ) -> None: ...


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _legacy_active(models_path: Path) -> str | None:
    """The active id of a ``registry.json`` left by exoguard ≤ 0.x (records lived in a JSON
    file before the database became their one home); read once, when its versions move in."""
    path = models_path / "registry.json"
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return None
    return next((str(k) for k, d in data.items() if d.get("status") == "active"), None)


class ModelRegistry:
    """Versions of trained models and which one is active.

    Parameters
    ----------
    models_path : Path
        Root of the artifact directories.
    store : VersionStore
    """

    def __init__(self, models_path: Path, store: VersionStore) -> None:
        self.models_path = Path(models_path)
        self.store = store

    # -- versions ---------------------------------------------------------------------------
    def artifact_dir(self, version_id: str) -> Path:
        return self.models_path / version_id

    def next_version_id(self, kind: str) -> str:
        """``<kind>-NNNN``, one above every id in the store and on disk."""
        numbers = [0]
        ids = [r.id for r in self.store.list()]
        if self.models_path.exists():
            ids += [p.name for p in self.models_path.iterdir() if p.is_dir()]
        for i in ids:
            m = _VERSION_RE.match(i)
            if m and m.group("kind") == kind:
                numbers.append(int(m.group("num")))
        return f"{kind}-{max(numbers) + 1:04d}"

    def register(
        self,
        *,
        version_id: str,
        kind: str,
        config: Mapping[str, Any],
        data_hash: str,
        metrics: Mapping[str, Any],
        activate_if_none: bool = True,
    ) -> VersionRecord:
        """Record a version whose artifacts are already in :meth:`artifact_dir`."""
        directory = self.artifact_dir(version_id)
        if not directory.is_dir():
            raise NotFoundError(f"artifact directory of {version_id!r} missing: {directory}")
        record = VersionRecord(
            id=version_id,
            kind=kind,
            config=dict(config),
            data_hash=data_hash,
            artifact_path=str(directory),
            metrics=dict(metrics),
            created_at=_now(),
        )
        (directory / "manifest.json").write_text(json.dumps(record.to_dict(), indent=2))
        rec = self.store.create(record)
        if activate_if_none and self.store.get_active() is None:
            rec = self.store.activate(version_id)
        return rec

    def sync_from_artifacts(self) -> int:
        """Register artifact directories (with a manifest) the store does not know; count."""
        if not self.models_path.exists():
            return 0
        n = 0
        known = {r.id for r in self.store.list()}
        file_active = _legacy_active(self.models_path)
        for manifest in sorted(self.models_path.glob("*/manifest.json")):
            vid = manifest.parent.name
            if vid in known:
                continue
            try:
                d = json.loads(manifest.read_text())
                self.store.create(
                    VersionRecord(
                        id=vid,
                        kind=d["kind"],
                        config=d.get("config", {}),
                        data_hash=d.get("data_hash", ""),
                        artifact_path=str(manifest.parent),
                        metrics=d.get("metrics", {}),
                        created_at=d.get("created_at"),
                    )
                )
                n += 1
                if vid == file_active and self.store.get_active() is None:
                    self.store.activate(vid)
            except Exception as exc:  # a broken manifest must not break the registry
                logger.warning("skipping model directory %s: %s", manifest.parent, exc)
        return n

    def get(self, version_id: str) -> VersionRecord:
        rec = self.store.get(version_id)
        if rec is None:
            known = ", ".join(r.id for r in self.store.list()) or "none"
            raise NotFoundError(f"model version {version_id!r} not found (known: {known})")
        return rec

    def list(self) -> list[VersionRecord]:
        return self.store.list()

    def active(self) -> VersionRecord | None:
        return self.store.get_active()

    def require_active(self) -> VersionRecord:
        rec = self.active()
        if rec is None:
            raise ModelNotReadyError("no active model; train one with `exoguard train --model gbm`")
        return rec

    def activate(self, version_id: str) -> VersionRecord:
        self.get(version_id)
        if (
            not self.artifact_dir(version_id).is_dir()
            and not Path(self.get(version_id).artifact_path).is_dir()
        ):
            raise ModelNotReadyError(f"artifacts of {version_id!r} are missing; cannot activate")
        return self.store.activate(version_id)

    def update_metrics(self, version_id: str, metrics: Mapping[str, Any]) -> VersionRecord:
        """Merge ``metrics`` into the stored summary and into ``metrics.json``."""
        rec = self.get(version_id)
        merged = {**rec.metrics, **metrics}
        path = Path(rec.artifact_path) / "metrics.json"
        if path.parent.is_dir():
            path.write_text(json.dumps(merged, indent=2))
        return self.store.set_metrics(version_id, merged)

    def record_metric_points(
        self,
        version_id: str,
        values: Mapping[str, float],
        *,
        labels: Mapping[str, Any] | None = None,
    ) -> None:
        """Append scalar metrics to the time series (``model_metrics``)."""
        clean = {k: float(v) for k, v in values.items() if v is not None}
        self.store.record_metrics(version_id, clean, labels=labels)
