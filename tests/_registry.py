"""A model registry over its own SQLite database (migrated on first use), for tests that
train versions outside an app."""

from __future__ import annotations

from pathlib import Path

from exoguard.ml.registry import ModelRegistry
from exoguard.store.model_registry import open_registry


def sqlite_registry(models_path: Path) -> ModelRegistry:
    """The registry of ``models_path``, its records in ``models_path/registry.sqlite3``."""
    models_path.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{(models_path / 'registry.sqlite3').as_posix()}"
    return open_registry(database_url=url, models_path=models_path)
