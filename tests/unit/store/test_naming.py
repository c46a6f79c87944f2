"""One display name per candidate (exoguard.store.naming): never a stored key."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from exoguard.store.naming import candidate_name, display_name

MATCHED = {"matched": True, "object_id": "K00777.01", "name": None}
UNMATCHED = {"matched": False, "reason": "no catalog object on this star"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"object_id": "TOI-1233.04", "origin": "catalog"}, "TOI-1233.04"),
        ({"object_id": "K00752.01", "origin": "catalog", "name": "Kepler-227 b"}, "K00752.01"),
        ({"object_id": "my row 7", "origin": "catalog"}, "my row 7"),
        (
            {"object_id": "manual-031f32c4d8d2", "origin": "catalog", "source": "manual entry: X1"},
            "X1",
        ),
        (
            {
                "object_id": "manual-031f32c4d8d2",
                "origin": "catalog",
                "source": "manual entry",
                "catalog_match": MATCHED,
            },
            "K00777.01",
        ),
        (
            {"object_id": "manual-031f32c4d8d2", "source": "manual entry", "period_days": 3.28879},
            "typed-in candidate, P = 3.289 d",
        ),
        ({"object_id": "manual-031f32c4d8d2", "source": "manual entry"}, "typed-in candidate"),
        (
            {
                "object_id": "KIC 11818800.01 [03397bd1]",
                "origin": "search",
                "catalog_match": MATCHED,
            },
            "K00777.01",
        ),
        (
            {
                "object_id": "KIC 11818800.02 [03397bd1]",
                "origin": "search",
                "catalog_match": UNMATCHED,
            },
            "KIC 11818800.02",
        ),
        ({"object_id": "unknown.01 [03397bd1]", "origin": "search"}, "unnamed star, signal 1"),
        ({"object_id": "unknown.03 [03397bd1]", "origin": "curated"}, "unnamed star, signal 3"),
    ],
)
def test_display_name(fields: dict[str, object], expected: str) -> None:
    assert display_name(**fields) == expected  # type: ignore[arg-type]
    assert candidate_name(fields) == expected
    row = SimpleNamespace(
        **{"origin": None, "name": None, "source": None, "catalog_match": None, "period_days": None}
        | fields
    )
    assert candidate_name(row) == expected  # type: ignore[arg-type]


def test_no_name_shows_a_stored_key() -> None:
    for key in ("manual-0123456789ab", "unknown.01 [0123abcd]", "TIC 1.01 [89abcdef]"):
        shown = display_name(object_id=key, origin="search" if "[" in key else "catalog")
        assert "manual-" not in shown and "[" not in shown and "unknown" not in shown
