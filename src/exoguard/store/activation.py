"""Which model version serves: the one activation rule, rollback and retention.

Every way to change the active model — ``exoguard models activate``, the API, the lifecycle's
canary decision, a first training run, the bundled model — goes through :func:`promote`:
the version must exist, not be retired and have its artifacts on disk; the change is
written as events on both versions; and retention runs (the active version, the canary, the
components of an active or canary ensemble and the :data:`KEEP_DEPLOYABLE` most recent
others stay deployable). :func:`rollback` undoes the latest change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy.orm import Session

from exoguard.errors import ConflictError, ModelNotReadyError
from exoguard.store.models import ModelVersion
from exoguard.store.repositories import ModelVersionRepository
from exoguard.store.types import utcnow

if TYPE_CHECKING:
    from exoguard.config import Settings

logger = logging.getLogger(__name__)

KEEP_DEPLOYABLE: Final = 3
"""Most recent versions (besides the active one and the canary) that stay deployable."""


def artifacts_exist(
    version: ModelVersion, settings: Settings | None = None, *, models_path: Path | None = None
) -> bool:
    """True when the version's artifact directory is on disk (its recorded path, or its
    directory under ``models_path`` or ``settings.models_path``)."""
    if Path(version.artifact_path).is_dir():
        return True
    roots = [r for r in (models_path, settings.models_path if settings else None) if r]
    return any((Path(r) / version.id).is_dir() for r in roots)


def ensemble_components(versions: Iterable[ModelVersion]) -> set[str]:
    """Ids of the versions an ensemble among ``versions`` is built from (its network and GBM)."""
    out: set[str] = set()
    for v in versions:
        if v.kind == "ensemble":
            config = v.config or {}
            out.update(str(config[k]) for k in ("mb_version", "gbm_version") if config.get(k))
    return out


def record_event(version: ModelVersion, action: str, **details: Any) -> None:
    """Append a lifecycle event (time, action, details) to the version's metrics."""
    metrics = dict(version.metrics or {})
    events = list(metrics.get("lifecycle") or [])
    events.append({"time": utcnow().isoformat(timespec="seconds"), "action": action, **details})
    metrics["lifecycle"] = events
    version.metrics = metrics  # a new dict: JSON columns are not mutation-tracked


@dataclass(frozen=True)
class LifecycleAction:
    """What a promotion, rollback or canary start did."""

    action: str
    version: str | None
    previous_active: str | None
    active: str | None
    canary: str | None
    retired: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "version": self.version,
            "previous_active": self.previous_active,
            "active": self.active,
            "canary": self.canary,
            "retired": list(self.retired),
        }


def _state(session: Session) -> tuple[str | None, str | None]:
    repo = ModelVersionRepository(session)
    active, canary = repo.get_active(), repo.get_canary()
    return (active.id if active else None, canary.id if canary else None)


def enforce_retention(session: Session, *, keep: int = KEEP_DEPLOYABLE) -> list[str]:
    """Retire versions beyond the ``keep`` most recent (never the active one, the canary or
    a component of an active or canary ensemble).

    Returns the ids retired now.
    """
    if keep < 1:
        raise ValueError(f"keep must be >= 1; got {keep}")
    repo = ModelVersionRepository(session)
    versions = [v for v in repo.list() if v.status != "retired"]  # newest first
    serving = [v for v in versions if v.status in ("active", "canary")]
    protected = {v.id for v in serving} | ensemble_components(serving)
    others = [v for v in versions if v.id not in protected]
    retired = []
    for version in others[keep:]:
        repo.set_status(version.id, "retired")
        record_event(version, "retired", reason=f"older than the {keep} most recent versions")
        retired.append(version.id)
    if retired:
        session.flush()
        logger.info("retired model versions %s", ", ".join(retired))
    return retired


def promote(
    session: Session,
    version_id: str,
    *,
    settings: Settings | None = None,
    reason: str = "manual",
    actor_id: int | None = None,
    keep: int = KEEP_DEPLOYABLE,
    models_path: Path | None = None,
) -> LifecycleAction:
    """Make ``version_id`` the active version (the previous one stays deployable).

    The one activation rule: the CLI (``exoguard models activate``), the API, the canary
    decision, a first training run and the bundled model all come here.

    Raises
    ------
    NotFoundError
        Unknown version.
    ConflictError
        The version is retired (only the recent versions are deployable).
    ModelNotReadyError
        Its artifacts are missing.
    """
    repo = ModelVersionRepository(session)
    version = repo.require(version_id)
    previous, _ = _state(session)
    if version.status == "active":
        return LifecycleAction("unchanged", version.id, previous, previous, _state(session)[1])
    if version.status == "retired":
        raise ConflictError(
            f"model version {version_id!r} is retired; deployable versions are the active one, "
            f"the canary and the {keep} most recent others"
        )
    if not artifacts_exist(version, settings, models_path=models_path):
        raise ModelNotReadyError(f"the artifacts of {version_id!r} are missing; cannot activate")
    was_canary = version.status == "canary"
    repo.activate(version.id)
    record_event(
        version,
        "promoted",
        reason=reason,
        previous_active=previous,
        from_canary=was_canary,
        actor_id=actor_id,
    )
    if previous is not None:
        old = repo.require(previous)
        record_event(old, "replaced", by=version.id, reason=reason, actor_id=actor_id)
    session.flush()
    retired = enforce_retention(session, keep=keep)
    active, canary = _state(session)
    logger.info("model %s promoted (%s); previous active %s", version.id, reason, previous)
    return LifecycleAction("promoted", version.id, previous, active, canary, retired)


def start_canary(
    session: Session,
    version_id: str,
    *,
    settings: Settings | None = None,
    actor_id: int | None = None,
) -> LifecycleAction:
    """Make a registered version the canary (a running canary goes back to ``registered``)."""
    repo = ModelVersionRepository(session)
    version = repo.require(version_id)
    if version.status == "active":
        raise ConflictError(f"model version {version_id!r} is active already")
    if version.status == "retired":
        raise ConflictError(f"model version {version_id!r} is retired; it cannot be a canary")
    if not artifacts_exist(version, settings):
        raise ModelNotReadyError(f"the artifacts of {version_id!r} are missing")
    previous_canary = repo.get_canary()
    repo.set_status(version.id, "canary")
    if previous_canary is not None and previous_canary.id != version.id:
        record_event(previous_canary, "canary_replaced", by=version.id, actor_id=actor_id)
    record_event(version, "canary_started", actor_id=actor_id)
    session.flush()
    active, canary = _state(session)
    return LifecycleAction("canary_started", version.id, active, active, canary)


def rollback(
    session: Session,
    *,
    settings: Settings | None = None,
    reason: str = "manual",
    actor_id: int | None = None,
) -> LifecycleAction:
    """Undo the latest change: stop the canary if there is one, else restore the previous active.

    The version rolled back is retired. Without a canary, the previous active version is the
    most recently activated deployable one (with its artifacts on disk).

    Raises
    ------
    ConflictError
        No canary and no earlier version to return to.
    """
    repo = ModelVersionRepository(session)
    canary = repo.get_canary()
    active = repo.get_active()
    if canary is not None:
        active_id = active.id if active is not None else None
        repo.set_status(canary.id, "retired")
        record_event(canary, "rolled_back", reason=reason, actor_id=actor_id, active=active_id)
        session.flush()
        logger.warning("canary %s rolled back: %s", canary.id, reason)
        return LifecycleAction("canary_rolled_back", canary.id, active_id, active_id, None)
    if active is None:
        raise ConflictError("there is no active model version to roll back")
    candidates = [
        v
        for v in repo.list(status="registered")
        if v.activated_at is not None and artifacts_exist(v, settings)
    ]
    if not candidates:
        raise ConflictError(
            f"no earlier deployable version to return to from {active.id!r}; "
            "promote a registered version instead"
        )
    target = max(candidates, key=lambda v: (v.activated_at, v.id))
    repo.activate(target.id)
    repo.set_status(active.id, "retired")
    record_event(active, "rolled_back", reason=reason, actor_id=actor_id, restored=target.id)
    record_event(target, "restored", reason=reason, actor_id=actor_id, replaced=active.id)
    session.flush()
    logger.warning("model %s rolled back to %s: %s", active.id, target.id, reason)
    return LifecycleAction("rolled_back", active.id, active.id, target.id, None)
