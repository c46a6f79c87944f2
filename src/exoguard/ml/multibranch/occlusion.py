"""Occlusion attributions of the multibranch network: per row and averaged over a set."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from exoguard.ml.multibranch.arrays import SampleArrays
from exoguard.ml.multibranch.predict import MultibranchModel, Prediction

#: Label of the occlusion contribution of the light-curve branches taken together.
LC_BRANCHES = "light_curve_branches"


def occlusion_contributions(
    model: MultibranchModel, data: SampleArrays
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Occlusion attributions of the first network's calibrated logit.

    Each scalar feature in turn is replaced by its training mean (0 once standardised,
    flagged present), and the light-curve branches as a whole by the learned "absent"
    embedding (the input of a catalog row); the contribution is the logit drop.

    Returns
    -------
    logit : ndarray, shape (n,)
        Calibrated logit of the unoccluded input (temperature applied).
    contributions : ndarray, shape (n, n_features + 1)
        Logit change per feature, last column the light-curve branches (0 for catalog
        rows); positive pushes towards planet. Not additive: interactions are not split.
    labels : list of str
        Feature names, then :data:`LC_BRANCHES`.
    """
    import torch

    from exoguard.ml.multibranch.arrays import to_batch

    names = list(model.feature_names)
    labels = [*names, LC_BRANCHES]
    n = len(data)
    if n == 0:
        return np.zeros(0), np.zeros((0, len(labels))), labels
    net = model.nets[0]
    net.eval()
    t = model.temperature
    with torch.no_grad():
        batch = to_batch(data, model.scaler)
        enc = net.encode(batch)
        base = net.head(enc)[0].double().numpy() / t
        contribs = np.zeros((n, len(labels)))
        for j in range(len(names)):
            occl = batch.scalar.clone()
            occl[:, j] = 0.0  # the standardised training mean
            missing = batch.scalar_missing.clone()
            missing[:, j] = 0.0
            e2 = type(enc)(lc=enc.lc, scalar_in=torch.cat([occl, missing], 1), has_lc=enc.has_lc)
            contribs[:, j] = base - net.head(e2)[0].double().numpy() / t
        if net.lc_dim and net.absent is not None:
            absent = net.absent.unsqueeze(0).expand(n, -1)
            e3 = type(enc)(lc=absent, scalar_in=enc.scalar_in, has_lc=torch.zeros_like(enc.has_lc))
            contribs[:, -1] = np.where(
                data.has_lc, base - net.head(e3)[0].double().numpy() / t, 0.0
            )
    return base, contribs, labels


def top_features(
    model: MultibranchModel, data: SampleArrays, pred: Prediction | None = None, *, top: int = 5
) -> list[list[dict[str, Any]]]:
    """Per row, the ``top`` largest occlusion contributions (see
    :func:`occlusion_contributions`): ``{"feature", "value", "contribution"}`` with the
    contribution in logits (positive pushes towards planet), largest magnitude first."""
    _, contribs, labels = occlusion_contributions(model, data)
    n_feat = len(labels) - 1
    out = []
    for i in range(len(data)):
        order = np.argsort(-np.abs(contribs[i]))[:top]
        row = []
        for j in order:
            value = None
            if j < n_feat and math.isfinite(float(data.scalar[i, j])):
                value = float(data.scalar[i, j])
            row.append(
                {
                    "feature": labels[j],
                    "value": value,
                    "contribution": round(float(contribs[i, j]), 4),
                }
            )
        out.append(row)
    return out


def occlusion_importance(model: MultibranchModel, data: SampleArrays) -> list[dict[str, Any]]:
    """Mean |occlusion contribution| per input over the rows of ``data``, largest first
    (the format of :func:`exoguard.ml.explain.global_importance`)."""
    _, contribs, labels = occlusion_contributions(model, data)
    if not len(contribs):
        return []
    mean_abs = np.abs(contribs).mean(axis=0)
    mean = contribs.mean(axis=0)
    order = np.argsort(-mean_abs)
    return [
        {"feature": labels[j], "mean_abs_shap": float(mean_abs[j]), "mean_shap": float(mean[j])}
        for j in order
    ]


__all__ = ["LC_BRANCHES", "occlusion_contributions", "occlusion_importance", "top_features"]
