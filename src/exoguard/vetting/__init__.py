"""Human-in-the-loop vetting: the pure (database-free) science.

* :mod:`exoguard.vetting.models`      — plain records: ``Vote``, ``QueueItem``, ``ConsensusResult``,
  ``VetterReliability``.
* :mod:`exoguard.vetting.queue`       — which predictions enter the queue, priority, gold mixing,
  ``next_items_for``.
* :mod:`exoguard.vetting.reputation`  — vetter weights from gold accuracy and consensus agreement
  (Beta prior), confidence factor.
* :mod:`exoguard.vetting.aggregation` — ``majority``, ``weighted``, ``dawid_skene`` (crowd-kit) and
  the consensus rule (share > 0.70 with at least N votes).
* :mod:`exoguard.vetting.simulate`    — the loop against simulated vetters of known reliability.
* :mod:`exoguard.vetting.service`     — the database-backed service over the store, one module
  per capability.

The pure modules take plain records; the service loads rows into them and persists results.
Submodules are imported explicitly (this package imports nothing, so
``exoguard.vetting.models`` stays cheap to import).
"""
