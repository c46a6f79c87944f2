"""The registry of job kinds. A task takes plain JSON params and returns a JSON result.

Tasks receive ids, never objects (STYLE habit 9), so the same function runs in-process or in
a Celery worker on another machine. A task applies its domain writes in one transaction at
its end, so a job killed mid-way leaves nothing half-applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exoguard.config import Settings

ProgressFn = Callable[[float, str | None], None]


@dataclass(frozen=True)
class JobContext:
    job_id: str
    params: dict[str, Any]
    settings: Settings
    progress: ProgressFn
    owner_id: int | None = None


TaskFn = Callable[[JobContext], dict[str, Any]]
_TASKS: dict[str, TaskFn] = {}


def task(kind: str) -> Callable[[TaskFn], TaskFn]:
    """Register `fn` as the implementation of jobs of `kind`."""

    def decorator(fn: TaskFn) -> TaskFn:
        _TASKS[kind] = fn
        return fn

    return decorator


def get_task(kind: str) -> TaskFn:
    """The task function of `kind`; ValueError naming the registered kinds otherwise."""
    _load_builtin_tasks()
    try:
        return _TASKS[kind]
    except KeyError:
        raise ValueError(f"unknown job kind {kind!r}; allowed: {sorted(_TASKS)}") from None


def registered_kinds() -> list[str]:
    _load_builtin_tasks()
    return sorted(_TASKS)


def _load_builtin_tasks() -> None:
    # Importing the module registers its tasks; kept lazy so that `exoguard.jobs` stays light.
    import exoguard.jobs.builtin  # noqa: F401
