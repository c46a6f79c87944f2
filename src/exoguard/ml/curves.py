"""Evaluation curves from labels and scores: ROC, precision–recall and reliability bins.

One implementation of each, with numpy alone: the evaluation stores (thinned) points and
the expected calibration error computed here, and the pages' charts
(:mod:`exoguard.web.charts`) draw what these functions return.

Reliability bins are ``n_bins`` equal-width probability bins closed on the right:
``[0, 1/n], (1/n, 2/n], …, ((n-1)/n, 1]``. A probability on an inner edge belongs to the
lower bin (p = 0.2 with 10 bins is in ``(0.1, 0.2]``), as scikit-learn's
``calibration_curve`` counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def binary_inputs(y_true: ArrayLike, y_score: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Labels and scores as float arrays of one length, pairs with a non-finite value dropped.

    Raises
    ------
    ValueError
        The lengths differ, or a label is not 0 (false positive) or 1 (planet).
    """
    yt = np.asarray(y_true, dtype=np.float64).ravel()
    ys = np.asarray(y_score, dtype=np.float64).ravel()
    if yt.size != ys.size:
        raise ValueError(
            f"arrays must have the same length, got {{'y_true': {yt.size}, 'y_score': {ys.size}}}"
        )
    ok = np.isfinite(yt) & np.isfinite(ys)
    yt, ys = yt[ok], ys[ok]
    if not np.all((yt == 0) | (yt == 1)):
        raise ValueError("y_true must hold 0 (false positive) or 1 (planet)")
    return yt, ys


def _ranked_counts(yt: FloatArray, ys: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """True positives, predicted positives and threshold at each distinct score, highest
    first."""
    order = np.argsort(-ys, kind="stable")
    ys_sorted, yt_sorted = ys[order], yt[order]
    distinct = np.r_[np.flatnonzero(np.diff(ys_sorted)), yt.size - 1]
    tps = np.cumsum(yt_sorted)[distinct]
    return tps, distinct + 1.0, ys_sorted[distinct]


def roc_points(y_true: ArrayLike, y_score: ArrayLike) -> dict[str, Any]:
    """ROC curve at every distinct score and its trapezoidal area.

    Returns
    -------
    dict
        ``fpr``, ``tpr``, ``thresholds`` (arrays, shape (n_distinct + 1,), starting at
        (0, 0) with threshold ``inf``; scikit-learn's ``roc_curve`` with
        ``drop_intermediate=False``) and ``auc``.

    Raises
    ------
    ValueError
        ``y_true`` lacks one of the two classes.
    """
    yt, ys = binary_inputs(y_true, y_score)
    n_pos, n_neg = float(yt.sum()), float(yt.size - yt.sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC needs both classes in y_true")
    tps, predicted, thresholds = _ranked_counts(yt, ys)
    tpr = np.r_[0.0, tps / n_pos]
    fpr = np.r_[0.0, (predicted - tps) / n_neg]
    auc = float(np.trapezoid(tpr, fpr))
    return {"fpr": fpr, "tpr": tpr, "thresholds": np.r_[np.inf, thresholds], "auc": auc}


def pr_points(y_true: ArrayLike, y_score: ArrayLike) -> dict[str, Any]:
    """Precision–recall at every distinct score and the average precision.

    Returns
    -------
    dict
        ``recall`` (ascending from 0) and ``precision`` (starting at 1), arrays of shape
        (n_distinct + 1,); ``average_precision`` (step-wise area, as scikit-learn) and
        ``prevalence`` (planet fraction).

    Raises
    ------
    ValueError
        No planet in ``y_true``.
    """
    yt, ys = binary_inputs(y_true, y_score)
    n_pos = float(yt.sum())
    if n_pos == 0:
        raise ValueError("precision–recall needs at least one planet in y_true")
    tps, predicted, _ = _ranked_counts(yt, ys)
    precision = tps / predicted
    recall = tps / n_pos
    ap = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    return {
        "precision": np.r_[1.0, precision],
        "recall": np.r_[0.0, recall],
        "average_precision": ap,
        "prevalence": n_pos / yt.size,
    }


def thin_points(x: ArrayLike, y: ArrayLike, *, n_points: int = 50) -> list[list[float]]:
    """At most ``n_points`` pairs ``[x, y]`` of a curve, evenly spaced by index, the first
    and last included (the form the evaluation stores)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.size == 0:
        return []
    idx = np.unique(np.linspace(0, xa.size - 1, n_points).astype(int))
    return [[float(xa[i]), float(ya[i])] for i in idx]


def reliability_bin_index(p: ArrayLike, *, n_bins: int) -> NDArray[np.intp]:
    """The reliability bin of each probability, shape like ``p``.

    Bins are closed on the right (see the module notes): an inner edge goes to the lower
    bin; values below 0 fall in the first bin and above 1 in the last.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    return np.searchsorted(inner_edges, np.asarray(p, dtype=float), side="left")


@dataclass(frozen=True)
class ReliabilityBins:
    """The non-empty reliability bins of a set of probabilities.

    Attributes
    ----------
    bin_index : ndarray of int, shape (n_nonempty,)
        Which of the ``n_bins`` bins each entry is (ascending).
    n_bins : int
    mean_predicted, fraction_positive, count : ndarray, shape (n_nonempty,)
    ece : float
        Expected calibration error, Σ_b (n_b / n)·|fraction_positive_b − mean_predicted_b|.
    """

    bin_index: NDArray[np.intp]
    n_bins: int
    mean_predicted: FloatArray
    fraction_positive: FloatArray
    count: FloatArray
    ece: float


def reliability_bins(y: ArrayLike, p: ArrayLike, *, n_bins: int = 10) -> ReliabilityBins:
    """Mean predicted probability, observed positive fraction and count per non-empty bin
    (:func:`reliability_bin_index`), and the expected calibration error."""
    ya = np.asarray(y, dtype=float).ravel()
    pa = np.asarray(p, dtype=float).ravel()
    idx = reliability_bin_index(pa, n_bins=n_bins)
    count = np.bincount(idx, minlength=n_bins).astype(np.float64)
    sum_p = np.bincount(idx, weights=pa, minlength=n_bins)
    sum_y = np.bincount(idx, weights=ya, minlength=n_bins)
    keep = count > 0
    mean_p = sum_p[keep] / count[keep]
    frac = sum_y[keep] / count[keep]
    ece = float(np.sum(count[keep] * np.abs(frac - mean_p)) / max(count.sum(), 1.0))
    return ReliabilityBins(
        bin_index=np.flatnonzero(keep),
        n_bins=n_bins,
        mean_predicted=mean_p,
        fraction_positive=frac,
        count=count[keep],
        ece=ece,
    )


def calibration_points(y_true: ArrayLike, y_prob: ArrayLike, *, n_bins: int = 10) -> dict[str, Any]:
    """Reliability-diagram points of labels and probabilities (what the chart draws).

    Returns
    -------
    dict
        ``mean_predicted``, ``fraction_positive`` and ``count`` per non-empty bin and the
        expected calibration error ``ece``.

    Raises
    ------
    ValueError
        ``n_bins`` < 1, a label is not 0/1, or a probability lies outside [0, 1].
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    yt, yp = binary_inputs(y_true, y_prob)
    if np.any((yp < 0) | (yp > 1)):
        raise ValueError("y_prob must be probabilities in [0, 1]")
    bins = reliability_bins(yt, yp, n_bins=n_bins)
    return {
        "mean_predicted": bins.mean_predicted,
        "fraction_positive": bins.fraction_positive,
        "count": bins.count,
        "ece": bins.ece,
    }
