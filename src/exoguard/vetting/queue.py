"""Queue policy: which predictions need people, in what order, and which item a vetter sees next.

Pure functions over plain records (:class:`~exoguard.vetting.models.QueueItem`,
:class:`~exoguard.vetting.models.Vote`); the store layer loads them and persists the outcome.

Rules
-----
* A prediction enters the queue when :class:`exoguard.ml.flagging.FlagRule` flags it: its
  uncertainty is above ``uncertainty_threshold`` **or** its probability lies inside the closed
  ``ambiguous_band``; either criterion can be switched off with ``None``.
* Priority is "how much one more vote would teach the model": highest uncertainty first, then
  the oldest item; remaining ties keep the input order (the sort is stable).
* A vetter never gets an item they voted on (or one listed in ``exclude_item_ids``, e.g. served
  but not yet answered).
* Gold items (known disposition) are mixed in: each of the ``limit`` slots is a gold slot with
  probability ``gold_rate``, drawn from ``rng``; the gold item is drawn uniformly from those the
  vetter has not seen. A gold slot with no unseen gold item left takes the next regular item; a
  regular slot with no regular item left ends the batch (a vetter is never given gold only
  padding). Gold items are exempt from ``max_votes_per_item``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from exoguard.ml.flagging import (
    DEFAULT_AMBIGUOUS_BAND,
    DEFAULT_UNCERTAINTY_THRESHOLD,
    FlagRule,
)
from exoguard.vetting.models import ItemId, QueueItem, UserId, Vote

if TYPE_CHECKING:
    from exoguard.config import Settings

DEFAULT_GOLD_RATE = 0.10


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    """Configuration of the vetting queue.

    Attributes
    ----------
    uncertainty_threshold
        Predictions with ``uncertainty > uncertainty_threshold`` enter the queue (None: off).
    ambiguous_band
        ``(low, high)``: predictions with ``low <= probability <= high`` enter (None: off).
    gold_rate
        Expected fraction of served items that are gold items, in [0, 1].
    max_votes_per_item
        A non-gold item with this many votes is no longer served (None: no cap).
    """

    uncertainty_threshold: float | None = DEFAULT_UNCERTAINTY_THRESHOLD
    ambiguous_band: tuple[float, float] | None = DEFAULT_AMBIGUOUS_BAND
    gold_rate: float = DEFAULT_GOLD_RATE
    max_votes_per_item: int | None = None

    def __post_init__(self) -> None:
        FlagRule(self.uncertainty_threshold, self.ambiguous_band)  # validates both
        _check_gold_rate(self.gold_rate)
        _check_max_votes(self.max_votes_per_item)

    @property
    def rule(self) -> FlagRule:
        """The flag rule of this policy (which predictions need people)."""
        return FlagRule(self.uncertainty_threshold, self.ambiguous_band)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> QueuePolicy:
        """Policy with the flag rule of ``settings`` (threshold and band; others default)."""
        rule = FlagRule.from_settings(settings)
        values: dict[str, Any] = {
            "uncertainty_threshold": rule.uncertainty_threshold,
            "ambiguous_band": rule.ambiguous_band,
        }
        values.update(overrides)
        return cls(**values)


def _check_gold_rate(gold_rate: float) -> None:
    if not 0.0 <= gold_rate <= 1.0:
        raise ValueError(f"gold_rate must be in [0, 1], got {gold_rate!r}")


def _check_max_votes(max_votes_per_item: int | None) -> None:
    if max_votes_per_item is not None and max_votes_per_item < 1:
        raise ValueError(f"max_votes_per_item must be >= 1 or None, got {max_votes_per_item!r}")


def enters_queue(*, probability: float, uncertainty: float, policy: QueuePolicy) -> bool:
    """True when a prediction needs human vetting under ``policy`` (see module docstring)."""
    return policy.rule.flags(probability=probability, uncertainty=uncertainty)


def priority_key(item: QueueItem) -> tuple[float, float]:
    """Sort key: larger uncertainty first, then older ``created_at``."""
    return (-float(item.uncertainty), item.created_at.timestamp())


def order_by_priority(items: Iterable[QueueItem]) -> list[QueueItem]:
    """Items sorted by :func:`priority_key` (stable: ties keep input order)."""
    return sorted(items, key=priority_key)


def select_for_queue(predictions: Iterable[QueueItem], *, policy: QueuePolicy) -> list[QueueItem]:
    """The predictions that enter the queue, in priority order. Gold items always pass."""
    chosen = [
        p
        for p in predictions
        if p.is_gold
        or enters_queue(probability=p.probability, uncertainty=p.uncertainty, policy=policy)
    ]
    return order_by_priority(chosen)


def next_items_for(
    user_id: UserId,
    *,
    open_items: Sequence[QueueItem],
    votes: Iterable[Vote],
    gold_rate: float,
    rng: np.random.Generator,
    limit: int,
    exclude_item_ids: Collection[ItemId] = (),
    max_votes_per_item: int | None = None,
) -> list[QueueItem]:
    """The next items to show ``user_id``, at most ``limit``, gold items mixed in.

    Parameters
    ----------
    user_id
        The vetter asking for work.
    open_items
        Items still open in the queue, regular and gold (``gold_label`` set) together.
    votes
        Votes cast so far on these items (the user's own exclude items; all of them count
        against ``max_votes_per_item``). Votes on other items are ignored.
    gold_rate
        Probability that each slot is a gold slot, in [0, 1].
    rng
        Source of the gold draws; the same seed and inputs give the same batch.
    limit
        Maximum number of items returned (>= 0).
    exclude_item_ids
        Further items never to return (e.g. served to this user and not yet answered).
    max_votes_per_item
        Skip non-gold items that already have this many votes (None: no cap).

    Returns
    -------
    list of QueueItem
        No item twice, none the user voted on; regular items in priority order.
    """
    _check_gold_rate(gold_rate)
    _check_max_votes(max_votes_per_item)
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit!r}")

    seen: set[ItemId] = set(exclude_item_ids)
    counts: Counter[ItemId] = Counter()
    for v in votes:
        counts[v.item_id] += 1
        if v.user_id == user_id:
            seen.add(v.item_id)

    regular: list[QueueItem] = []
    gold: list[QueueItem] = []
    for item in open_items:
        if item.item_id in seen:
            continue
        seen.add(item.item_id)  # an id listed twice is served once
        if item.is_gold:
            gold.append(item)
        elif max_votes_per_item is None or counts[item.item_id] < max_votes_per_item:
            regular.append(item)
    regular = order_by_priority(regular)

    batch: list[QueueItem] = []
    next_regular = 0
    for _ in range(limit):
        if rng.random() < gold_rate and gold:
            batch.append(gold.pop(int(rng.integers(len(gold)))))
        elif next_regular < len(regular):
            batch.append(regular[next_regular])
            next_regular += 1
        else:
            break
    return batch
