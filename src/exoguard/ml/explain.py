"""SHAP explanations of the gradient-boosted ensemble.

Per-row contributions are exact TreeSHAP values (Lundberg et al. 2020) of each member in
log-odds, averaged over the members, so that ``base_value + sum(contributions)`` equals the
mean member log-odds. They are computed with LightGBM's built-in TreeSHAP
(``pred_contrib=True``), which gives the same numbers as ``shap.TreeExplainer`` at a
fraction of the cost; ``tests/unit/ml/test_ml_gbm.py`` checks the two agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from exoguard.ml.gbm import PREDICT_THREADS, GBMEnsemble

BASE_VALUE = "base_value"


def shap_contributions(model: GBMEnsemble, X: pd.DataFrame) -> pd.DataFrame:
    """Per-row, per-feature SHAP contributions (log-odds), mean over ensemble members.

    Parameters
    ----------
    model : GBMEnsemble
    X : DataFrame, shape (n, n_features)

    Returns
    -------
    DataFrame, shape (n, n_features + 1)
        One column per feature plus ``base_value`` (the expected log-odds); index of ``X``.
    """
    M = X[list(model.features)].to_numpy(dtype=float)
    total = np.zeros((len(M), len(model.features) + 1))
    for b in model.boosters:
        total += np.asarray(
            b.predict(M, pred_contrib=True, num_threads=PREDICT_THREADS), dtype=float
        )
    total /= len(model.boosters)
    return pd.DataFrame(total, columns=[*model.features, BASE_VALUE], index=X.index)


def shap_contributions_reference(model: GBMEnsemble, X: pd.DataFrame) -> pd.DataFrame:
    """Same as :func:`shap_contributions` through ``shap.TreeExplainer`` (slow reference)."""
    import shap

    M = X[list(model.features)].to_numpy(dtype=float)
    total = np.zeros((len(M), len(model.features) + 1))
    for b in model.boosters:
        explainer = shap.TreeExplainer(b)
        values = np.asarray(explainer.shap_values(M), dtype=float)
        if values.ndim == 3:  # (n, f, classes) in some shap versions
            values = values[..., -1]
        expected = np.ravel(explainer.expected_value)[-1]
        total[:, :-1] += values
        total[:, -1] += expected
    total /= len(model.boosters)
    return pd.DataFrame(total, columns=[*model.features, BASE_VALUE], index=X.index)


def global_importance(model: GBMEnsemble, X: pd.DataFrame) -> list[dict[str, Any]]:
    """Mean |SHAP| per feature over the rows of ``X``, largest first."""
    contrib = shap_contributions(model, X).drop(columns=BASE_VALUE)
    mean_abs = contrib.abs().mean(axis=0)
    mean_signed = contrib.mean(axis=0)
    order = mean_abs.sort_values(ascending=False).index
    return [
        {
            "feature": f,
            "mean_abs_shap": float(mean_abs[f]),
            "mean_shap": float(mean_signed[f]),
        }
        for f in order
    ]


def top_contributions(contrib_row: pd.Series, *, k: int = 5) -> list[dict[str, float | str]]:
    """The ``k`` largest |contributions| of one row (``base_value`` excluded)."""
    row = contrib_row.drop(labels=[BASE_VALUE], errors="ignore")
    order = row.abs().sort_values(ascending=False).index[:k]
    return [{"feature": f, "contribution": float(row[f])} for f in order]
