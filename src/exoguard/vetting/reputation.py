r"""Vetter reputation: a weight per vetter from gold items and settled consensus.

Formula
-------
For vetter *u* count

* ``g_correct / g_total`` — votes on gold items, and how many matched the known disposition;
* ``c_agree / c_total``   — votes on items with a settled consensus (non-gold), and how many
  agreed with it.

With a Beta(:math:`\alpha`, :math:`\beta`) prior on the vetter's accuracy and consensus evidence
discounted by :math:`\lambda` (``consensus_weight``; consensus can be wrong and includes the
vetter's own vote), the posterior-mean accuracy is

.. math::

    a_u = \frac{\alpha + g_{correct} + \lambda\, c_{agree}}
               {\alpha + \beta + g_{total} + \lambda\, c_{total}}

and the reputation weight is the excess over a coin flip,

.. math::

    w_u = \max(w_{min},\; 2 a_u - 1),

so a perfect vetter weighs 1, a coin-flipper or an adversary (``a_u <= 0.5``) weighs
``w_min`` (kept > 0 so a weighted share is always defined). A new vetter has
:math:`a = \alpha / (\alpha + \beta)`; with the default Beta(4, 2) that is 0.667, i.e.
:math:`w = 0.333`, one third of a proven perfect vetter's weight. The prior is worth
:math:`\alpha + \beta = 6` gold votes, so a few gold answers move a new vetter quickly.

Confidence
----------
A vote's weight is the vetter's weight times a confidence factor that rises linearly from
``confidence_floor`` at confidence 1 to 1 at confidence 5:

.. math::

    f(c) = f_{min} + (1 - f_{min}) \frac{c - 1}{4},

(default :math:`f_{min} = 0.5`; set it to 1 to ignore confidence).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from exoguard.vetting.models import (
    CONFIDENCE_MAX,
    CONFIDENCE_MIN,
    ItemId,
    UserId,
    Vote,
    VoteLabel,
)


@dataclass(frozen=True, slots=True)
class ReputationConfig:
    """Parameters of the reputation formula (see the module docstring).

    Attributes
    ----------
    alpha, beta
        Beta prior on a new vetter's accuracy (both > 0).
    consensus_weight
        :math:`\\lambda`, how much one agreement with settled consensus counts relative to one
        gold answer, in [0, 1].
    min_weight
        Floor of a vetter's weight, in (0, 1].
    confidence_floor
        Factor applied to a confidence-1 vote, in (0, 1]; confidence 5 has factor 1.
    """

    alpha: float = 4.0
    beta: float = 2.0
    consensus_weight: float = 0.5
    min_weight: float = 0.01
    confidence_floor: float = 0.5

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.beta > 0):
            raise ValueError(f"alpha and beta must be > 0, got {self.alpha!r}, {self.beta!r}")
        if not 0.0 <= self.consensus_weight <= 1.0:
            raise ValueError(f"consensus_weight must be in [0, 1], got {self.consensus_weight!r}")
        if not 0.0 < self.min_weight <= 1.0:
            raise ValueError(f"min_weight must be in (0, 1], got {self.min_weight!r}")
        if not 0.0 < self.confidence_floor <= 1.0:
            raise ValueError(f"confidence_floor must be in (0, 1], got {self.confidence_floor!r}")

    @property
    def prior_accuracy(self) -> float:
        """Accuracy assumed for a vetter with no evidence."""
        return self.alpha / (self.alpha + self.beta)

    @property
    def prior_weight(self) -> float:
        """Weight of a vetter with no evidence."""
        return weight_from_accuracy(self.prior_accuracy, config=self)


@dataclass(frozen=True, slots=True)
class Reputation:
    """A vetter's evidence counts and the resulting accuracy and weight."""

    user_id: UserId
    gold_correct: int = 0
    gold_total: int = 0
    consensus_agree: int = 0
    consensus_total: int = 0
    accuracy: float = 0.0
    weight: float = 0.0

    @property
    def gold_accuracy(self) -> float | None:
        """Raw accuracy on gold items (None before the first gold vote)."""
        return self.gold_correct / self.gold_total if self.gold_total else None

    @property
    def consensus_agreement(self) -> float | None:
        """Raw agreement with settled consensus (None before the first settled item)."""
        return self.consensus_agree / self.consensus_total if self.consensus_total else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "user_id": self.user_id,
            "gold_correct": self.gold_correct,
            "gold_total": self.gold_total,
            "gold_accuracy": self.gold_accuracy,
            "consensus_agree": self.consensus_agree,
            "consensus_total": self.consensus_total,
            "consensus_agreement": self.consensus_agreement,
            "accuracy": self.accuracy,
            "weight": self.weight,
        }


def weight_from_accuracy(accuracy: float, *, config: ReputationConfig) -> float:
    """``max(min_weight, 2 * accuracy - 1)``."""
    return max(config.min_weight, 2.0 * accuracy - 1.0)


def posterior_accuracy(
    *,
    gold_correct: float,
    gold_total: float,
    consensus_agree: float,
    consensus_total: float,
    config: ReputationConfig,
) -> float:
    """Posterior-mean accuracy of a vetter (formula in the module docstring)."""
    lam = config.consensus_weight
    num = config.alpha + gold_correct + lam * consensus_agree
    den = config.alpha + config.beta + gold_total + lam * consensus_total
    return num / den


def new_user_reputation(user_id: UserId, *, config: ReputationConfig) -> Reputation:
    """The reputation of a vetter with no evidence yet (the prior)."""
    return Reputation(user_id=user_id, accuracy=config.prior_accuracy, weight=config.prior_weight)


def compute_reputations(
    votes: Iterable[Vote],
    *,
    gold: Mapping[ItemId, VoteLabel],
    consensus: Mapping[ItemId, VoteLabel],
    config: ReputationConfig | None = None,
    history: Mapping[UserId, Reputation] | None = None,
) -> dict[UserId, Reputation]:
    """Reputation of every vetter in ``votes`` (and in ``history``).

    Parameters
    ----------
    votes
        Votes to score. A vote on a gold item counts towards gold accuracy; a vote on an item
        in ``consensus`` (and not gold) counts towards agreement; other votes do not count.
    gold
        Known dispositions of gold items.
    consensus
        Settled consensus labels (items whose rule fired).
    config
        Formula parameters (default :class:`ReputationConfig`).
    history
        Earlier counts per vetter from votes not in ``votes``; they are added.

    Returns
    -------
    dict
        ``user_id -> Reputation``.
    """
    cfg = config or ReputationConfig()
    counts: dict[UserId, list[int]] = {}
    if history:
        for uid, rep in history.items():
            counts[uid] = [
                rep.gold_correct,
                rep.gold_total,
                rep.consensus_agree,
                rep.consensus_total,
            ]
    for v in votes:
        c = counts.setdefault(v.user_id, [0, 0, 0, 0])
        truth = gold.get(v.item_id)
        if truth is not None:
            c[0] += v.label == truth
            c[1] += 1
            continue
        settled = consensus.get(v.item_id)
        if settled is not None:
            c[2] += v.label == settled
            c[3] += 1
    out: dict[UserId, Reputation] = {}
    for uid, (gc, gt, ca, ct) in counts.items():
        acc = posterior_accuracy(
            gold_correct=gc, gold_total=gt, consensus_agree=ca, consensus_total=ct, config=cfg
        )
        out[uid] = Reputation(
            user_id=uid,
            gold_correct=gc,
            gold_total=gt,
            consensus_agree=ca,
            consensus_total=ct,
            accuracy=acc,
            weight=weight_from_accuracy(acc, config=cfg),
        )
    return out


def confidence_factor(confidence: int, *, config: ReputationConfig | None = None) -> float:
    """Multiplier of a vote's weight for its confidence (1..5), see the module docstring."""
    cfg = config or ReputationConfig()
    if not CONFIDENCE_MIN <= confidence <= CONFIDENCE_MAX:
        raise ValueError(
            f"confidence must be from {CONFIDENCE_MIN} to {CONFIDENCE_MAX}, got {confidence!r}"
        )
    span = CONFIDENCE_MAX - CONFIDENCE_MIN
    return (
        cfg.confidence_floor + (1.0 - cfg.confidence_floor) * (confidence - CONFIDENCE_MIN) / span
    )


def user_weight(
    user_id: UserId,
    reputations: Mapping[UserId, Reputation | float],
    *,
    config: ReputationConfig | None = None,
) -> float:
    """A vetter's weight: from ``reputations`` (a Reputation or a bare weight), else the prior."""
    cfg = config or ReputationConfig()
    rep = reputations.get(user_id)
    if rep is None:
        return cfg.prior_weight
    return rep.weight if isinstance(rep, Reputation) else float(rep)


def vote_weight(
    vote: Vote,
    reputations: Mapping[UserId, Reputation | float],
    *,
    config: ReputationConfig | None = None,
) -> float:
    """Weight of one vote: vetter weight times confidence factor."""
    cfg = config or ReputationConfig()
    return user_weight(vote.user_id, reputations, config=cfg) * confidence_factor(
        vote.confidence, config=cfg
    )
