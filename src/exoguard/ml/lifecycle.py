"""The model lifecycle: canary routing, evaluation on vetted labels, promotion and rollback,
retention of deployable versions, and retraining with the curated set.

Canary routing
--------------
While a version has status ``canary``, a deterministic share (``settings.canary_fraction``,
10 %) of candidates is served by it: candidate ``c`` goes to the canary when
``int(sha256(str(c))[:8 bytes]) / 2**64 < fraction`` — the same candidate always takes the
same route, on every replica and in every process (Python's ``hash`` is salted per process and
would not be). The active version scores every candidate; on the routed ones its prediction
is logged as a shadow next to the canary's, so the two versions can be compared on exactly the
same candidates. Predictions carry ``canary = True`` when the canary version made them.

Evaluation and decision (:func:`evaluate_canary`)
-------------------------------------------------
Labels are vetting consensus labels settled *after* the canary was created (earlier ones may
be in its training set, which would flatter it). On the candidates where both versions have a
logged prediction, the metric of each is computed and the relative degradation

    ``(active - canary) / active``   (``(canary - active) / active`` for the Brier score)

decides: more than ``tolerance`` (5 %) worse → automatic rollback (the canary is retired);
not worse → promotion; worse by at most the tolerance → hold for more labels, and promote
once ``decide_after_labels`` labels agree that it stays within the tolerance. Fewer than
``min_labels`` paired labels → pending.

Retention
---------
The active version, the canary and the three most recent other versions stay deployable; older
versions are marked ``retired`` (their artifacts stay on disk; the active version is never
retired). A retired version cannot be promoted.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, Literal

import numpy as np
import pandas as pd

from exoguard.catalogs.schema import HARMONISED_COLUMNS
from exoguard.errors import ExoguardError, ValidationError

if TYPE_CHECKING:
    from exoguard.catalogs import CatalogTable
    from exoguard.ml.configs import GBMConfig

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE: Final = 0.05
DEFAULT_MIN_LABELS: Final = 50
CANARY_METRICS: Final[tuple[str, ...]] = ("accuracy", "balanced_accuracy", "roc_auc", "brier")
_LOWER_IS_BETTER: Final = frozenset({"brier"})
CanaryDecision = Literal["no_canary", "pending", "hold", "promoted", "rolled_back"]


# --------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------


def canary_bucket(candidate_id: int | str) -> float:
    """A uniform number in [0, 1) fixed by the candidate id (first 8 bytes of its SHA-256)."""
    digest = hashlib.sha256(str(candidate_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def routes_to_canary(candidate_id: int | str, *, fraction: float) -> bool:
    """True when the candidate belongs to the canary's share ``fraction`` (0–1)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction!r}")
    return canary_bucket(candidate_id) < fraction


def canary_mask(candidate_ids: Iterable[int | str], *, fraction: float) -> np.ndarray:
    """Boolean mask, shape (n,): which candidates the canary serves."""
    return np.array([routes_to_canary(c, fraction=fraction) for c in candidate_ids], dtype=bool)


# --------------------------------------------------------------------------------------------
# Canary evaluation
# --------------------------------------------------------------------------------------------


def score(metric: str, y_true: np.ndarray, probability: np.ndarray, verdict: np.ndarray) -> float:
    """One metric of binary predictions: 0/1 truth, probabilities and 0/1 verdicts, shape (n,).

    ``roc_auc`` is NaN when only one class is present.
    """
    y = np.asarray(y_true, dtype=int)
    p = np.asarray(probability, dtype=float)
    v = np.asarray(verdict, dtype=int)
    if metric == "accuracy":
        return float((v == y).mean())
    if metric == "balanced_accuracy":
        recalls = [float((v[y == k] == k).mean()) for k in (0, 1) if (y == k).any()]
        return float(np.mean(recalls))
    if metric == "brier":
        return float(np.mean((p - y) ** 2))
    if metric == "roc_auc":
        if len(np.unique(y)) < 2:
            return float("nan")
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(y, p))
    raise ValueError(f"metric must be one of {', '.join(CANARY_METRICS)}; got {metric!r}")


def degradation(metric: str, *, active: float, canary: float) -> float:
    """How much worse the canary is, relative to the active version (negative: better)."""
    scale = max(abs(active), 1e-12)
    if metric in _LOWER_IS_BETTER:
        return (canary - active) / scale
    return (active - canary) / scale


@dataclass(frozen=True)
class CanaryEvaluation:
    """The comparison of the canary with the active version on vetted labels."""

    decision: CanaryDecision
    canary: str | None
    active: str | None
    metric: str
    canary_value: float | None = None
    active_value: float | None = None
    degradation: float | None = None
    n_labels: int = 0
    min_labels: int = DEFAULT_MIN_LABELS
    tolerance: float = DEFAULT_TOLERANCE
    applied: bool = False
    reason: str = ""
    time: str = ""

    def to_dict(self) -> dict[str, Any]:
        def finite(x: float | None) -> float | None:
            return x if x is None or math.isfinite(x) else None

        return {
            "decision": self.decision,
            "canary": self.canary,
            "active": self.active,
            "metric": self.metric,
            "canary_value": finite(self.canary_value),
            "active_value": finite(self.active_value),
            "degradation": finite(self.degradation),
            "n_labels": self.n_labels,
            "min_labels": self.min_labels,
            "tolerance": self.tolerance,
            "applied": self.applied,
            "reason": self.reason,
            "time": self.time,
        }


def decide_canary(
    base: CanaryEvaluation, pairs: pd.DataFrame, *, active_id: str, hold_limit: int
) -> CanaryEvaluation:
    """The decision on paired labels (columns of ``paired_labels``: ``y``, ``p_canary``,
    ``v_canary``, ``p_active``, ``v_active``), by the rule of the module docstring.

    ``base`` carries the metric, the tolerance and ``min_labels``; ``hold_limit`` is the label
    count after which a canary within the tolerance is promoted. The figures stay None when
    there are fewer than ``min_labels`` pairs.
    """
    metric, tolerance, n = base.metric, base.tolerance, len(pairs)
    if n < base.min_labels:
        return replace(
            base,
            decision="pending",
            n_labels=n,
            reason=f"{n} vetted labels since the canary started; {base.min_labels} needed",
        )
    y = pairs["y"].to_numpy()
    value_c = score(metric, y, pairs["p_canary"].to_numpy(), pairs["v_canary"].to_numpy())
    value_a = score(metric, y, pairs["p_active"].to_numpy(), pairs["v_active"].to_numpy())
    worse = degradation(metric, active=value_a, canary=value_c)
    if not math.isfinite(worse):
        decision: CanaryDecision = "pending"
        reason = f"{metric} is undefined on these labels (one class only)"
    elif worse > tolerance:
        decision = "rolled_back"
        reason = (
            f"{metric} {value_c:.4f} is {worse:.1%} worse than {active_id}'s {value_a:.4f} "
            f"(tolerance {tolerance:.0%})"
        )
    elif worse <= 0.0:
        decision = "promoted"
        reason = f"{metric} {value_c:.4f} is not worse than {active_id}'s {value_a:.4f}"
    elif n >= hold_limit:
        decision = "promoted"
        reason = (
            f"{metric} {value_c:.4f} stays within {tolerance:.0%} of {active_id}'s "
            f"{value_a:.4f} over {n} labels"
        )
    else:
        decision = "hold"
        reason = (
            f"{metric} {value_c:.4f} is {worse:.1%} worse than {value_a:.4f}, within the "
            f"tolerance; waiting for {hold_limit} labels"
        )
    return replace(
        base,
        decision=decision,
        canary_value=value_c,
        active_value=value_a,
        degradation=worse,
        n_labels=n,
        reason=reason,
    )


# --------------------------------------------------------------------------------------------
# Retraining with the curated set
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CuratedMerge:
    """Archive tables with the vetting consensus applied."""

    tables: list[CatalogTable]
    relabelled: int
    added: int


def tables_with_curated(tables: Sequence[CatalogTable], curated: pd.DataFrame) -> CuratedMerge:
    """Apply the curated labels to the archive tables.

    Rows of ``tables`` whose (mission, object_id) is in ``curated`` take the curated label;
    curated candidates not in any table (own transit-search finds, typed-in candidates) are
    added as one more harmonised table. Nothing else changes, so host multiplicities stay
    those of the archive.
    """
    from exoguard.catalogs import CatalogTable

    if len(curated) == 0:
        return CuratedMerge(tables=list(tables), relabelled=0, added=0)
    keys = curated["mission"].astype(str) + "\x1f" + curated["object_id"].astype(str)
    label_of = dict(zip(keys, curated["label"].astype(str), strict=True))
    used: set[str] = set()
    out: list[CatalogTable] = []
    relabelled = 0
    for table in tables:
        frame = table.frame
        row_keys = frame["mission"].astype(str) + "\x1f" + frame["object_id"].astype(str)
        hit = row_keys.isin(label_of.keys()).to_numpy()
        if hit.any():
            frame = frame.copy()
            frame.loc[hit, "label"] = row_keys[hit].map(label_of).to_numpy()
            relabelled += int(hit.sum())
            used.update(row_keys[hit])
            table = CatalogTable(
                kind=table.kind,
                source=table.source,
                frame=frame,
                report=table.report,
                archive_stamp=table.archive_stamp,
            )
        out.append(table)
    extra = curated[~keys.isin(used).to_numpy()]
    if len(extra):
        frame = extra.reindex(columns=list(HARMONISED_COLUMNS)).reset_index(drop=True)
        out.append(
            CatalogTable(kind="harmonised", source="curated (vetting consensus)", frame=frame)
        )
    return CuratedMerge(tables=out, relabelled=relabelled, added=len(extra))


def resolve_config(config: str, overrides: Mapping[str, Any] | Sequence[str] = ()) -> GBMConfig:
    """The named gbm config with ``NAME=VALUE`` overrides (strings or a mapping).

    Raises `ValidationError` naming the known configs or parameters.
    """
    from exoguard.ml.configs import apply_overrides, get_config

    items: list[str] = []
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            if isinstance(value, list | tuple):
                text = ",".join(str(v) for v in value)
            else:
                text = "none" if value is None else str(value)
            items.append(f"{key}={text}")
    else:
        items = [str(o) for o in overrides]
    try:
        return apply_overrides(get_config(config), items)
    except ExoguardError as exc:
        raise ValidationError(str(exc)) from exc


# --------------------------------------------------------------------------------------------
# Timeline
# --------------------------------------------------------------------------------------------

TIMELINE_METRICS: Final[tuple[str, ...]] = (
    "vetted_accuracy",
    "vetted_n",
    "prediction_n",
    "prediction_mean",
    "prediction_planet_share",
    "drift_psi_max",
    "canary_eval_accuracy",
    "canary_eval_n",
    "oof_roc_auc",
    "oof_accuracy",
    "oof_brier",
    "oof_ece",
)


__all__ = [
    "CANARY_METRICS",
    "DEFAULT_MIN_LABELS",
    "DEFAULT_TOLERANCE",
    "TIMELINE_METRICS",
    "CanaryDecision",
    "CanaryEvaluation",
    "CuratedMerge",
    "canary_bucket",
    "canary_mask",
    "decide_canary",
    "degradation",
    "resolve_config",
    "routes_to_canary",
    "score",
    "tables_with_curated",
]
