"""The prediction service reads a named version's record once per registry."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests._registry import sqlite_registry

from exoguard.errors import NotFoundError
from exoguard.ml import service
from exoguard.ml.registry import ModelRegistry


def _registry(root: Path) -> ModelRegistry:
    registry = sqlite_registry(root)
    registry.artifact_dir("gbm-0001").mkdir(parents=True)
    registry.register(version_id="gbm-0001", kind="gbm", config={}, data_hash="h", metrics={})
    return registry


def test_named_records_are_read_once_per_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service.clear_cache()
    registry = _registry(tmp_path / "a")
    reads: list[str] = []
    original = registry.get

    def counting_get(version: str):  # type: ignore[no-untyped-def]
        reads.append(version)
        return original(version)

    monkeypatch.setattr(registry, "get", counting_get)
    for _ in range(3):
        assert service.version_record("gbm-0001", registry=registry).kind == "gbm"
    assert reads == ["gbm-0001"]
    # the active version is looked up every time (activation may change it)
    assert service.version_record(None, registry=registry).id == "gbm-0001"
    # an unknown version is refused every time, never cached
    for _ in range(2):
        with pytest.raises(NotFoundError, match="not found"):
            service.version_record("gbm-0099", registry=registry)
    assert reads.count("gbm-0099") == 2
    # the one version store refuses a kind nobody can serve, naming the allowed ones
    registry.artifact_dir("other-0001").mkdir(parents=True)
    with pytest.raises(ValueError, match="gbm, multibranch, ensemble"):
        registry.register(
            version_id="other-0001", kind="other", config={}, data_hash="h", metrics={}
        )
    # another registry (another database) with the same version ids reads its own record
    other = _registry(tmp_path / "b")
    assert service.version_record("gbm-0001", registry=other).artifact_path.startswith(
        str(tmp_path / "b")
    )
    service.clear_cache()
    service.version_record("gbm-0001", registry=registry)
    assert reads == ["gbm-0001", "gbm-0099", "gbm-0099", "gbm-0001"]
