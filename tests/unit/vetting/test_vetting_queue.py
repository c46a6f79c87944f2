"""Queue policy: entry rule, priority, never twice, gold mixing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from exoguard.config import Settings
from exoguard.vetting.models import QueueItem, Vote
from exoguard.vetting.queue import (
    QueuePolicy,
    enters_queue,
    next_items_for,
    order_by_priority,
    select_for_queue,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _item(i: int, *, u: float = 0.2, p: float = 0.5, age_min: int = 0, gold: str | None = None):
    return QueueItem(
        item_id=i,
        probability=p,
        uncertainty=u,
        created_at=T0 - timedelta(minutes=age_min),
        gold_label=gold,  # type: ignore[arg-type]
    )


def test_entry_rule_uncertainty_or_band() -> None:
    policy = QueuePolicy(uncertainty_threshold=0.15, ambiguous_band=(0.4, 0.6))
    assert enters_queue(probability=0.95, uncertainty=0.16, policy=policy)  # uncertain
    assert enters_queue(probability=0.5, uncertainty=0.01, policy=policy)  # ambiguous
    assert enters_queue(probability=0.4, uncertainty=0.0, policy=policy)  # band is closed
    assert not enters_queue(probability=0.95, uncertainty=0.15, policy=policy)  # strictly above
    assert not enters_queue(probability=0.05, uncertainty=0.1, policy=policy)
    only_band = QueuePolicy(uncertainty_threshold=None, ambiguous_band=(0.4, 0.6))
    assert not enters_queue(probability=0.95, uncertainty=0.9, policy=only_band)
    neither = QueuePolicy(uncertainty_threshold=None, ambiguous_band=None)
    assert not enters_queue(probability=0.5, uncertainty=0.9, policy=neither)


def test_policy_from_settings_and_validation() -> None:
    s = Settings(EXOGUARD_VET_UNCERTAINTY=0.3)  # type: ignore[call-arg]
    assert QueuePolicy.from_settings(s).uncertainty_threshold == 0.3
    assert QueuePolicy.from_settings(s, gold_rate=0.2).gold_rate == 0.2
    with pytest.raises(ValueError, match="ambiguous_band"):
        QueuePolicy(ambiguous_band=(0.7, 0.3))
    with pytest.raises(ValueError, match=r"gold_rate must be in \[0, 1\]"):
        QueuePolicy(gold_rate=1.5)
    with pytest.raises(ValueError, match="probability"):
        _item(1, p=1.2)


def test_priority_uncertainty_first_then_age() -> None:
    items = [
        _item(1, u=0.2, age_min=5),
        _item(2, u=0.4, age_min=0),
        _item(3, u=0.2, age_min=50),  # same uncertainty as 1, older
        _item(4, u=0.3, age_min=99),
    ]
    assert [it.item_id for it in order_by_priority(items)] == [2, 4, 3, 1]
    policy = QueuePolicy(uncertainty_threshold=0.25, ambiguous_band=None)
    assert [it.item_id for it in select_for_queue(items, policy=policy)] == [2, 4]


def test_next_items_in_priority_order_without_gold() -> None:
    items = [_item(i, u=0.1 + 0.01 * i) for i in range(10)]
    batch = next_items_for(
        "alice", open_items=items, votes=[], gold_rate=0.0, rng=np.random.default_rng(0), limit=4
    )
    assert [it.item_id for it in batch] == [9, 8, 7, 6]


def test_vetter_never_gets_an_item_twice() -> None:
    """Users repeatedly ask for work and vote; no (user, item) pair is ever served twice."""
    rng = np.random.default_rng(3)
    items = [_item(i, u=float(rng.uniform(0.1, 0.5)), age_min=i) for i in range(60)]
    items += [_item(100 + i, gold="planet" if i % 3 else "false_positive") for i in range(10)]
    votes: list[Vote] = []
    served: set[tuple[str, int]] = set()
    users = [f"u{k}" for k in range(5)]
    for _ in range(30):
        for user in users:
            batch = next_items_for(
                user,
                open_items=items,
                votes=votes,
                gold_rate=0.3,
                rng=rng,
                limit=7,
                max_votes_per_item=4,
            )
            ids = [it.item_id for it in batch]
            assert len(ids) == len(set(ids))
            for it in batch:
                pair = (user, it.item_id)
                assert pair not in served
                served.add(pair)
                votes.append(Vote(it.item_id, user, "planet", 3))
    # everyone exhausted everything they may see: each regular item got at most 4 votes,
    # each gold item was seen by every user
    per_item: dict[object, int] = {}
    for v in votes:
        per_item[v.item_id] = per_item.get(v.item_id, 0) + 1
    assert max(per_item[i] for i in range(60)) <= 4
    assert all(per_item[100 + i] == len(users) for i in range(10))


def test_excluded_and_duplicate_ids_are_not_served() -> None:
    items = [_item(1, u=0.5), _item(1, u=0.5), _item(2, u=0.4), _item(3, u=0.3)]
    batch = next_items_for(
        "bob",
        open_items=items,
        votes=[Vote(2, "bob", "planet")],
        gold_rate=0.0,
        rng=np.random.default_rng(0),
        limit=10,
        exclude_item_ids={3},
    )
    assert [it.item_id for it in batch] == [1]


@pytest.mark.parametrize("gold_rate", [0.05, 0.2, 0.5])
def test_gold_rate_is_honoured(gold_rate: float) -> None:
    """Over 20,000 slots the gold fraction is within 4 binomial sigmas of the rate."""
    items = [_item(i, u=0.3) for i in range(1000)] + [
        _item(5000 + i, gold="planet") for i in range(1000)
    ]
    rng = np.random.default_rng(11)
    n = n_gold = 0
    for _ in range(2000):
        batch = next_items_for(
            "carol", open_items=items, votes=[], gold_rate=gold_rate, rng=rng, limit=10
        )
        n += len(batch)
        n_gold += sum(it.is_gold for it in batch)
    assert n == 20_000
    sigma = np.sqrt(gold_rate * (1 - gold_rate) / n)
    assert abs(n_gold / n - gold_rate) < 4 * sigma


def test_gold_draws_are_deterministic_and_fall_back() -> None:
    items = [_item(i, u=0.3) for i in range(20)] + [_item(100 + i, gold="planet") for i in range(5)]

    def draw(seed: int) -> list[object]:
        batch = next_items_for(
            "d",
            open_items=items,
            votes=[],
            gold_rate=0.5,
            rng=np.random.default_rng(seed),
            limit=15,
        )
        return [it.item_id for it in batch]

    assert draw(1) == draw(1)
    assert draw(1) != draw(2)
    # gold exhausted -> regular items fill the slots; regular exhausted -> batch ends
    only_gold_left = next_items_for(
        "d",
        open_items=items[20:],
        votes=[],
        gold_rate=0.0,
        rng=np.random.default_rng(0),
        limit=5,
    )
    assert only_gold_left == []
    all_gold = next_items_for(
        "d", open_items=items, votes=[], gold_rate=1.0, rng=np.random.default_rng(0), limit=8
    )
    assert sum(it.is_gold for it in all_gold) == 5 and len(all_gold) == 8


def test_gold_items_are_exempt_from_the_vote_cap() -> None:
    items = [_item(1, u=0.3), _item(2, gold="false_positive")]
    votes = [Vote(1, "x", "planet"), Vote(2, "x", "planet"), Vote(2, "y", "planet")]
    batch = next_items_for(
        "z",
        open_items=items,
        votes=votes,
        gold_rate=1.0,
        rng=np.random.default_rng(0),
        limit=5,
        max_votes_per_item=1,
    )
    assert [it.item_id for it in batch] == [2]
