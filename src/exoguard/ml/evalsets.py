"""The named evaluation sets every model version is scored on, and where each is stored.

A figure is only comparable with another when both come from the same rows. Each set has a
stable name that the versions table, the charts, the API and the reports print beside every
number:

``koi-grouped-cv-5fold``
    Labelled KOIs (Kepler), 5-fold StratifiedGroupKFold grouped by star with a fixed seed
    (:data:`KOI_CV_FOLDS`, :data:`KOI_CV_SEED`): the same folds for every GBM version,
    whatever its hyperparameters and however it was trained (web job, CLI, ``make run``).
``toi-cross-mission`` / ``k2-cross-mission``
    Labelled TOIs / K2 objects scored by a model that saw no TESS / K2 row.
``koi-holdout-stars``
    Labelled KOIs of the stars the multi-branch data split holds out (seeded by star).
``injected-test``
    The held-out injected light curves (other host stars) of the multi-branch data set.
``injected-test+koi-holdout-stars``
    Both of the above pooled: the rows that decide an ensemble's activation.

What is *not* an evaluation set: the out-of-fold probabilities of a GBM's calibration step
(``metrics["oof"]``, over the training rows of all missions). They were shown as the
headline once (ROC AUC 0.977, ECE 0.002 for the default GBM) while the charts drew
``koi-grouped-cv-5fold`` (0.984, 0.006); they stay in the stored metrics as a training
diagnostic only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KOI_CV = "koi-grouped-cv-5fold"
TOI_CROSS = "toi-cross-mission"
K2_CROSS = "k2-cross-mission"
KOI_HOLDOUT = "koi-holdout-stars"
INJECTED = "injected-test"
POOLED = "injected-test+koi-holdout-stars"

#: Folds and seed of :data:`KOI_CV` (seed 43 is the default config's seed + 1, so the
#: figures of versions evaluated before the folds were fixed stay valid for that config).
KOI_CV_FOLDS = 5
KOI_CV_SEED = 43

#: Every named set with what it holds (shown as a legend under the versions table).
EVAL_SETS: dict[str, str] = {
    KOI_CV: "labelled KOIs, 5 folds grouped by star (fixed seed); GBM",
    TOI_CROSS: "labelled TOIs, model trained without TESS rows",
    K2_CROSS: "labelled K2 objects, model trained without K2 rows",
    KOI_HOLDOUT: "labelled KOIs of the held-out stars of the light-curve data split",
    INJECTED: "held-out injected light curves of other host stars",
    POOLED: "injected-test and koi-holdout-stars pooled (decides an ensemble's activation)",
}

#: The set a version of each kind is summarised by when no set is asked for.
PRIMARY_SET: dict[str, str] = {"gbm": KOI_CV, "multibranch": INJECTED, "ensemble": POOLED}

#: The figures the summaries carry.
SUMMARY_KEYS = ("n", "roc_auc", "pr_auc", "accuracy", "brier", "ece")


def check_set_name(name: str) -> str:
    """``name`` if it is a known set; ``ValueError`` naming the allowed ones otherwise."""
    if name not in EVAL_SETS:
        raise ValueError(f"unknown evaluation set {name!r}; allowed: {', '.join(EVAL_SETS)}")
    return name


def _block(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) and value else None


def _koi_cv(evaluation: Mapping[str, Any], config: Mapping[str, Any] | None) -> Any:
    block = _block(evaluation.get("kepler_cv"))
    if block is None:
        return None
    if block.get("eval_set") == KOI_CV:
        return block
    # An evaluation stored before the folds were fixed used the config's folds and seed + 1:
    # the same rows only when those were 5 and 42.
    seed = (config or {}).get("seed")
    if block.get("folds") == KOI_CV_FOLDS and seed == KOI_CV_SEED - 1:
        return block
    return None


def named_sets(
    kind: str, metrics: Mapping[str, Any] | None, *, config: Mapping[str, Any] | None = None
) -> dict[str, Mapping[str, Any]]:
    """The stored metric blocks of a version by set name (primary set first).

    Parameters
    ----------
    kind : str
        ``gbm``, ``multibranch`` or ``ensemble``.
    metrics : mapping
        The version's stored metrics (``ModelVersion.metrics``).
    config : mapping, optional
        The version's config (tells whether a legacy GBM evaluation used the named folds).

    Returns
    -------
    dict
        ``{set name: metrics block}`` for the sets this version was evaluated on; each
        block holds ``roc_auc``, ``ece`` ... and, where stored, curve points.
    """
    metrics = metrics or {}
    found: dict[str, Any] = {}
    if kind == "gbm":
        evaluation = _block(metrics.get("evaluation")) or {}
        found[KOI_CV] = _koi_cv(evaluation, config)
        cross = _block(evaluation.get("cross_mission")) or {}
        found[TOI_CROSS] = _block(cross.get("tess"))
        found[K2_CROSS] = _block(cross.get("k2"))
    elif kind == "multibranch":
        found[INJECTED] = _block(metrics.get("injected_test"))
        catalog = _block(metrics.get("catalog")) or {}
        found[KOI_HOLDOUT] = _block(catalog.get("kepler_holdout"))
        cross = _block(catalog.get("cross_mission")) or {}
        found[TOI_CROSS] = _block(cross.get("tess"))
        found[K2_CROSS] = _block(cross.get("k2"))
    elif kind == "ensemble":
        found[POOLED] = _block((_block(metrics.get("pooled_heldout")) or {}).get("ensemble"))
        sets = _block(metrics.get("sets")) or {}
        for stored, name in (
            ("injected_test", INJECTED),
            ("kepler_holdout", KOI_HOLDOUT),
            ("cross_mission.tess", TOI_CROSS),
            ("cross_mission.k2", K2_CROSS),
        ):
            found[name] = _block((_block(sets.get(stored)) or {}).get("ensemble"))
    present = {name: block for name, block in found.items() if block is not None}
    primary = PRIMARY_SET.get(kind)
    if primary in present:  # primary first: the charts draw the first set as their main one
        present = {primary: present[primary], **present}
    return present


def summary(block: Mapping[str, Any]) -> dict[str, Any]:
    """The headline figures of one set's block (no curves)."""
    out = {k: block.get(k) for k in SUMMARY_KEYS if block.get(k) is not None}
    if "n" not in out and block.get("n_planet") is not None:
        out["n"] = int(block.get("n_planet") or 0) + int(block.get("n_false_positive") or 0)
    return out


def headline(
    kind: str,
    metrics: Mapping[str, Any] | None,
    *,
    config: Mapping[str, Any] | None = None,
    set_name: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """``(set name, figures)`` summarising a version: on ``set_name``, else its primary set.

    The figures are empty when the version was not evaluated on that set.
    """
    name = check_set_name(set_name) if set_name else PRIMARY_SET.get(kind, KOI_CV)
    block = named_sets(kind, metrics, config=config).get(name)
    return name, summary(block) if block is not None else {}


__all__ = [
    "EVAL_SETS",
    "INJECTED",
    "K2_CROSS",
    "KOI_CV",
    "KOI_CV_FOLDS",
    "KOI_CV_SEED",
    "KOI_HOLDOUT",
    "POOLED",
    "PRIMARY_SET",
    "TOI_CROSS",
    "check_set_name",
    "headline",
    "named_sets",
    "summary",
]
