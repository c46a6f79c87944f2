"""The prediction service reads a named version's record once per registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from exoguard.errors import ModelNotReadyError
from exoguard.ml import service
from exoguard.ml.registry import FileVersionStore, ModelRegistry


def _registry(root: Path) -> ModelRegistry:
    registry = ModelRegistry(root, FileVersionStore(root))
    for vid, kind in (("gbm-0001", "gbm"), ("other-0001", "other")):
        registry.artifact_dir(vid).mkdir(parents=True)
        registry.register(version_id=vid, kind=kind, config={}, data_hash="h", metrics={})
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
    # a kind the service cannot serve is refused every time, never cached
    for _ in range(2):
        with pytest.raises(ModelNotReadyError, match="servable kinds"):
            service.version_record("other-0001", registry=registry)
    assert reads.count("other-0001") == 2
    # another registry (another database) with the same version ids reads its own record
    other = _registry(tmp_path / "b")
    assert service.version_record("gbm-0001", registry=other).artifact_path.startswith(
        str(tmp_path / "b")
    )
    service.clear_cache()
    service.version_record("gbm-0001", registry=registry)
    assert reads == ["gbm-0001", "other-0001", "other-0001", "gbm-0001"]
