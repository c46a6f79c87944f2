"""Crowd aggregation: unweighted majority, reputation-weighted share, and Dawid–Skene.

Every method turns votes into one :class:`~exoguard.vetting.models.ConsensusResult` per item
with a *share* for the leading label on a 0–1 scale:

* ``majority``    — fraction of votes (confidence ignored);
* ``weighted``    — fraction of vote weight, weight = reputation × confidence factor
  (:func:`exoguard.vetting.reputation.vote_weight`);
* ``dawid_skene`` — posterior probability of the label under a Dawid–Skene model
  (crowd-kit's EM), which also learns each vetter's 2×2 confusion matrix.

Consensus rule (:func:`consensus_reached`): ``share > threshold`` (default 0.70, strictly)
**and** ``n_votes >= min_votes``; otherwise the item has no consensus label.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from exoguard.vetting.models import (
    AGGREGATION_METHODS,
    CONSENSUS_THRESHOLD,
    VOTE_LABELS,
    AggregationMethod,
    ConsensusResult,
    ItemId,
    UserId,
    VetterReliability,
    Vote,
    VoteLabel,
)
from exoguard.vetting.reputation import Reputation, ReputationConfig, vote_weight

_TIE_TOL = 1e-12


def consensus_reached(
    share: float, n_votes: int, *, min_votes: int, threshold: float = CONSENSUS_THRESHOLD
) -> bool:
    """True when ``share > threshold`` and ``n_votes >= min_votes``."""
    return share > threshold and n_votes >= min_votes


def _check_rule(min_votes: int, threshold: float) -> None:
    if min_votes < 1:
        raise ValueError(f"min_votes must be >= 1, got {min_votes!r}")
    if not 0.5 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0.5, 1), got {threshold!r}")


def group_by_item(votes: Iterable[Vote]) -> dict[ItemId, list[Vote]]:
    """Votes per item, items in first-seen order."""
    out: dict[ItemId, list[Vote]] = {}
    for v in votes:
        out.setdefault(v.item_id, []).append(v)
    return out


def _result(
    item_id: ItemId,
    method: AggregationMethod,
    planet_share: float,
    n_votes: int,
    *,
    min_votes: int,
    threshold: float,
) -> ConsensusResult:
    leading: VoteLabel | None
    if planet_share > 0.5 + _TIE_TOL:
        leading, share = "planet", planet_share
    elif planet_share < 0.5 - _TIE_TOL:
        leading, share = "false_positive", 1.0 - planet_share
    else:
        leading, share = None, 0.5
    reached = leading is not None and consensus_reached(
        share, n_votes, min_votes=min_votes, threshold=threshold
    )
    return ConsensusResult(
        item_id=item_id,
        method=method,
        leading_label=leading,
        share=float(share),
        planet_share=float(planet_share),
        n_votes=n_votes,
        consensus=reached,
    )


def majority(
    votes: Iterable[Vote], *, min_votes: int, threshold: float = CONSENSUS_THRESHOLD
) -> dict[ItemId, ConsensusResult]:
    """Unweighted majority: the share is the fraction of votes for the leading label."""
    _check_rule(min_votes, threshold)
    out: dict[ItemId, ConsensusResult] = {}
    for item_id, vs in group_by_item(votes).items():
        n_planet = sum(v.label == "planet" for v in vs)
        out[item_id] = _result(
            item_id,
            "majority",
            n_planet / len(vs),
            len(vs),
            min_votes=min_votes,
            threshold=threshold,
        )
    return out


def weighted(
    votes: Iterable[Vote],
    *,
    reputations: Mapping[UserId, Reputation | float],
    min_votes: int,
    threshold: float = CONSENSUS_THRESHOLD,
    config: ReputationConfig | None = None,
) -> dict[ItemId, ConsensusResult]:
    """Reputation-weighted share: sum of planet-vote weights over the sum of all vote weights.

    Vetters missing from ``reputations`` get the prior weight of ``config``; the vote count
    for the rule is the raw number of votes.
    """
    _check_rule(min_votes, threshold)
    cfg = config or ReputationConfig()
    out: dict[ItemId, ConsensusResult] = {}
    for item_id, vs in group_by_item(votes).items():
        w = np.array([vote_weight(v, reputations, config=cfg) for v in vs])
        is_planet = np.array([v.label == "planet" for v in vs])
        planet_share = float(w[is_planet].sum() / w.sum())
        out[item_id] = _result(
            item_id, "weighted", planet_share, len(vs), min_votes=min_votes, threshold=threshold
        )
    return out


@dataclass(frozen=True, slots=True)
class DawidSkeneResult:
    """Output of :func:`dawid_skene`.

    Attributes
    ----------
    consensus
        ``item_id -> ConsensusResult`` (share = posterior probability of the leading label).
    reliabilities
        ``user_id -> VetterReliability`` (confusion matrix and accuracy per vetter).
    class_prior
        Learnt prior probability of each label.
    n_iterations
        EM iterations run.
    """

    consensus: dict[ItemId, ConsensusResult]
    reliabilities: dict[UserId, VetterReliability]
    class_prior: dict[VoteLabel, float] = field(default_factory=dict)
    n_iterations: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (without the per-item results)."""
        return {
            "class_prior": dict(self.class_prior),
            "n_iterations": self.n_iterations,
            "vetters": [r.to_dict() for r in self.reliabilities.values()],
        }


def dawid_skene(
    votes: Iterable[Vote],
    *,
    min_votes: int,
    threshold: float = CONSENSUS_THRESHOLD,
    gold: Mapping[ItemId, VoteLabel] | None = None,
    n_iter: int = 100,
    tol: float = 1e-5,
) -> DawidSkeneResult:
    """Dawid–Skene (1979) EM over all votes, via :class:`crowdkit.aggregation.DawidSkene`.

    Parameters
    ----------
    votes
        All votes to learn from (more items give better confusion matrices; include settled
        and gold items).
    min_votes, threshold
        The consensus rule applied to the posterior probability of the leading label.
    gold
        Known labels of gold items; EM clamps those items' label posteriors to the truth, which
        anchors the confusion matrices (and prevents the label-swapped solution).
    n_iter, tol
        EM iteration cap and convergence tolerance on the per-vote evidence lower bound.

    Returns
    -------
    DawidSkeneResult
    """
    from crowdkit.aggregation import DawidSkene

    _check_rule(min_votes, threshold)
    vote_list = list(votes)
    if not vote_list:
        return DawidSkeneResult(consensus={}, reliabilities={})

    data, item_code, user_code = _coded_votes(vote_list)
    true_labels = None
    if gold:
        known = {item_code[i]: lab for i, lab in gold.items() if i in item_code}
        if known:
            true_labels = pd.Series(known, name="label")
            true_labels.index.name = "task"

    model = DawidSkene(n_iter=n_iter, tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas deprecations inside crowd-kit
        model.fit(data, true_labels=true_labels)
    assert model.probas_ is not None and model.errors_ is not None and model.priors_ is not None

    probas = model.probas_.reindex(columns=list(VOTE_LABELS), fill_value=0.0).fillna(0.0)
    consensus = _ds_consensus(probas, data, item_code, min_votes=min_votes, threshold=threshold)

    prior_s = model.priors_.reindex(list(VOTE_LABELS), fill_value=0.0).fillna(0.0)
    prior = prior_s.to_numpy(dtype=float)
    prior = prior / prior.sum() if prior.sum() > 0 else np.full(2, 0.5)

    errors = model.errors_.reindex(columns=list(VOTE_LABELS), fill_value=0.0).fillna(0.0)
    reliabilities = _ds_reliabilities(errors, data, user_code, prior)

    return DawidSkeneResult(
        consensus=consensus,
        reliabilities=reliabilities,
        class_prior={lab: float(p) for lab, p in zip(VOTE_LABELS, prior, strict=True)},
        n_iterations=len(model.loss_history_),
    )


def _coded_votes(
    vote_list: list[Vote],
) -> tuple[pd.DataFrame, dict[ItemId, int], dict[UserId, int]]:
    """Votes as a ``task, worker, label`` frame with integer codes for items and users."""
    # Integer codes keep arbitrary hashable ids out of pandas.
    item_code: dict[ItemId, int] = {}
    user_code: dict[UserId, int] = {}
    for v in vote_list:
        item_code.setdefault(v.item_id, len(item_code))
        user_code.setdefault(v.user_id, len(user_code))
    data = pd.DataFrame(
        {
            "task": [item_code[v.item_id] for v in vote_list],
            "worker": [user_code[v.user_id] for v in vote_list],
            "label": [v.label for v in vote_list],
        }
    )
    return data, item_code, user_code


def _ds_consensus(
    probas: pd.DataFrame,
    data: pd.DataFrame,
    item_code: dict[ItemId, int],
    *,
    min_votes: int,
    threshold: float,
) -> dict[ItemId, ConsensusResult]:
    """The consensus rule applied to each item's posterior planet share."""
    counts = data.groupby("task").size()
    planet_p = probas["planet"].to_numpy()
    fp_p = probas["false_positive"].to_numpy()
    consensus: dict[ItemId, ConsensusResult] = {}
    for item_id, code in item_code.items():
        row = probas.index.get_loc(code)
        total = planet_p[row] + fp_p[row]
        ps = float(planet_p[row] / total) if total > 0 else 0.5
        consensus[item_id] = _result(
            item_id,
            "dawid_skene",
            ps,
            int(counts.loc[code]),
            min_votes=min_votes,
            threshold=threshold,
        )
    return consensus


def _ds_reliabilities(
    errors: pd.DataFrame,
    data: pd.DataFrame,
    user_code: dict[UserId, int],
    prior: np.ndarray,
) -> dict[UserId, VetterReliability]:
    """Each vetter's row-normalised confusion matrix and prior-weighted accuracy."""
    n_by_worker = data.groupby("worker").size()
    reliabilities: dict[UserId, VetterReliability] = {}
    for user_id, code in user_code.items():
        conf = np.zeros((2, 2))
        for o, observed in enumerate(VOTE_LABELS):
            key = (code, observed)
            if key in errors.index:
                conf[:, o] = errors.loc[key].to_numpy(dtype=float)  # column o: P(o | each t)
        sums = conf.sum(axis=1, keepdims=True)
        conf = np.where(sums > 0, conf / np.where(sums > 0, sums, 1.0), 0.5)
        reliabilities[user_id] = VetterReliability(
            user_id=user_id,
            confusion=conf,
            accuracy=float(prior @ np.diag(conf)),
            n_votes=int(n_by_worker.loc[code]),
        )
    return reliabilities


def aggregate(
    votes: Iterable[Vote],
    *,
    method: AggregationMethod,
    min_votes: int,
    threshold: float = CONSENSUS_THRESHOLD,
    reputations: Mapping[UserId, Reputation | float] | None = None,
    gold: Mapping[ItemId, VoteLabel] | None = None,
    config: ReputationConfig | None = None,
) -> dict[ItemId, ConsensusResult]:
    """Consensus per item with the chosen ``method`` (``Settings.aggregation`` picks it).

    ``reputations`` is used by ``weighted`` (missing vetters get the prior weight); ``gold`` by
    ``dawid_skene``.
    """
    if method == "majority":
        return majority(votes, min_votes=min_votes, threshold=threshold)
    if method == "weighted":
        return weighted(
            votes,
            reputations=reputations or {},
            min_votes=min_votes,
            threshold=threshold,
            config=config,
        )
    if method == "dawid_skene":
        return dawid_skene(votes, min_votes=min_votes, threshold=threshold, gold=gold).consensus
    raise ValueError(f"method must be one of {AGGREGATION_METHODS}, got {method!r}")
