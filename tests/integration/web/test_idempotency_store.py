"""The replay stores behind Idempotency-Key: the work runs once per key, also when requests
with one key arrive together; a failed run leaves no entry; a key reused with another body
is refused; with Redis unreachable the in-process store answers."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from _api_support import redis_url_for_tests  # noqa: E402

from _asyncrun import run_coroutine  # noqa: E402
from exoguard.errors import ValidationError  # noqa: E402
from exoguard.web.idempotency import (  # noqa: E402
    MemoryReplayStore,
    RedisReplayStore,
    ReplayStore,
    check_key,
    fingerprint,
)

pytestmark = pytest.mark.integration


def _stores() -> list[Any]:
    stores: list[Any] = [pytest.param(MemoryReplayStore, id="memory")]
    url = redis_url_for_tests(required=False)
    if url is not None:
        stores.append(pytest.param(lambda: RedisReplayStore(url), id="redis"))
    # an unreachable Redis: the in-process fallback
    stores.append(pytest.param(lambda: RedisReplayStore("redis://127.0.0.1:1/0"), id="redis-down"))
    return stores


async def _scenario(store: ReplayStore) -> None:
    key = f"test:{uuid.uuid4().hex}"
    runs: list[int] = []

    async def compute() -> dict[str, Any]:
        runs.append(1)
        await asyncio.sleep(0.2)  # long enough for every duplicate to arrive meanwhile
        return {"candidate_id": len(runs)}

    answers = await asyncio.gather(*(store.run(key, "h1", compute, ttl_s=60) for _ in range(8)))
    assert len(runs) == 1
    assert {a[0]["candidate_id"] for a in answers} == {1}
    assert sorted(replayed for _, replayed in answers) == [False] + [True] * 7
    again, replayed = await store.run(key, "h1", compute, ttl_s=60)
    assert again == {"candidate_id": 1} and replayed and len(runs) == 1
    with pytest.raises(ValidationError, match="different request"):
        await store.run(key, "h2", compute, ttl_s=60)

    failing_key = f"test:{uuid.uuid4().hex}"

    async def fails() -> dict[str, Any]:
        raise RuntimeError("model not ready")

    with pytest.raises(RuntimeError):
        await store.run(failing_key, "h1", fails, ttl_s=60)
    answer, replayed = await store.run(failing_key, "h1", compute, ttl_s=60)
    assert answer == {"candidate_id": 2} and not replayed  # the failure left no entry


@pytest.mark.parametrize("make_store", _stores())
def test_runs_once_per_key(make_store: Any) -> None:
    run_coroutine(_scenario(make_store()))


def test_memory_entries_expire() -> None:
    store = MemoryReplayStore()
    runs: list[int] = []

    async def compute() -> dict[str, Any]:
        runs.append(1)
        return {"n": len(runs)}

    async def go() -> None:
        await store.run("k", "h", compute, ttl_s=0.05)
        await asyncio.sleep(0.1)
        answer, replayed = await store.run("k", "h", compute, ttl_s=0.05)
        assert answer == {"n": 2} and not replayed

    run_coroutine(go())


def test_keys_and_fingerprints() -> None:
    assert check_key("a1b2c3d4e5f6") == "a1b2c3d4e5f6"
    for bad in ("short", "has space in it", "x" * 129):
        with pytest.raises(ValidationError, match="8 to 128 characters"):
            check_key(bad)
    assert fingerprint({"a": 1, "b": [2, 3]}) == fingerprint({"b": [2, 3], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
