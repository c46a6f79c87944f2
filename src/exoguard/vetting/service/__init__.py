"""The database-backed vetting service, one module per capability.

* :mod:`~exoguard.vetting.service.config`    — ``VettingConfig`` (aggregation, consensus rule)
  and the queue policy of the settings.
* :mod:`~exoguard.vetting.service.enqueue`   — uncertain predictions into the queue; gold items.
* :mod:`~exoguard.vetting.service.serving`   — the next items of a vetter; the queue table.
* :mod:`~exoguard.vetting.service.votes`     — recording a vote (``submit_vote``).
* :mod:`~exoguard.vetting.service.consensus` — aggregating an item's votes and settling it.
* :mod:`~exoguard.vetting.service.standing`  — vote history and reputations from the store.
* :mod:`~exoguard.vetting.service.comments`  — an item's comments and who may read them.
* :mod:`~exoguard.vetting.service.history`   — one vetter's own votes.
* :mod:`~exoguard.vetting.service.stats`     — vetting statistics.

Concurrency
-----------
* A vote locks its queue item (``SELECT ... FOR UPDATE`` on PostgreSQL), so the votes on one
  item are applied one at a time: the aggregation sees every earlier vote, and a second vote
  of the same user finds the first and replaces it (the last vote counts; every submission is
  kept in ``vote_history``), even when both requests arrive together.
* Settling is a conditional ``UPDATE vetting_queue ... WHERE id = :id AND status = 'open'``; only
  the transaction that changes the row updates the candidate and the reputations, so consensus
  fires exactly once per item.
* Enqueueing takes a transaction-scoped advisory lock on PostgreSQL, so two batch jobs cannot
  both open an item for the same candidate.
* Reputations are written in ascending user id, so concurrent settlements never deadlock.

Gold items (candidates whose archive disposition is known) are mixed into every vetter's
batch at ``policy.gold_rate``; they measure the vetters and are never settled, so they never
change a candidate. A vote on a settled item is refused (``GoneError``, 410): settled items
have left the queue, and their consensus is public in :func:`~.stats.stats`. Until then a
vetter may change their vote as often as they like.

Submodules are imported explicitly; this package imports nothing.
"""
