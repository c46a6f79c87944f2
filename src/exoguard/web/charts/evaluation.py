"""Evaluation charts: confusion matrix, ROC, precision-recall, calibration, probabilities.

They draw points computed in :mod:`exoguard.ml.curves` (`roc_points`, `pr_points`,
`calibration_points`), the one implementation the evaluation also stores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from exoguard.web.charts.base import (
    COLORS,
    Figure,
    FloatArray,
    as_float,
    base_layout,
    check_same_length,
    json_values,
)

CLASS_NAMES: tuple[str, str] = ("false positive", "planet")


def confusion_matrix_figure(
    matrix: Sequence[Sequence[float]] | ArrayLike,
    *,
    class_names: Sequence[str] = CLASS_NAMES,
    title: str = "Confusion matrix",
) -> Figure:
    """A confusion matrix (rows: true class, columns: predicted) with counts and row shares."""
    m = np.asarray(matrix, dtype=np.float64)
    k = len(class_names)
    if m.shape != (k, k):
        raise ValueError(f"matrix must be {k}×{k} for classes {list(class_names)}, got {m.shape}")
    row = m.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(row > 0, m / row, 0.0)
    text = [[f"{int(m[i, j]):,}<br>{100 * share[i, j]:.1f}%" for j in range(k)] for i in range(k)]
    data = [
        {
            "type": "heatmap",
            "z": [json_values(r, digits=4) for r in share],
            "x": [f"predicted {c}" for c in class_names],
            "y": [f"true {c}" for c in class_names],
            "text": text,
            "texttemplate": "%{text}",
            "textfont": {"size": 14},
            "colorscale": [[0.0, "#f4f7fb"], [1.0, COLORS[0]]],
            "zmin": 0,
            "zmax": 1,
            "showscale": False,
            "hovertemplate": "%{y}, %{x}: %{text}<extra></extra>",
        }
    ]
    layout = base_layout(title=title, x_title="Predicted", y_title="True")
    layout["yaxis"]["autorange"] = "reversed"
    layout["xaxis"]["showgrid"] = False
    layout["yaxis"]["showgrid"] = False
    return {"data": data, "layout": layout}


def _diagonal(name: str) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "name": name,
        "x": [0, 1],
        "y": [0, 1],
        "line": {"color": "#9aa3b2", "dash": "dash", "width": 1},
        "hoverinfo": "skip",
    }


def _unit_square(layout: dict[str, Any], *, legend_at: str = "bottom right") -> dict[str, Any]:
    """Axes over [0, 1] and the legend inside the empty corner (`legend_at`) of the chart."""
    layout["xaxis"]["range"] = [-0.01, 1.01]
    layout["yaxis"]["range"] = [-0.01, 1.01]
    vertical, horizontal = legend_at.split()
    layout["showlegend"] = True  # even for one curve: its legend entry carries the AUC/AP
    layout["legend"] = {
        "orientation": "v",
        "x": 0.98 if horizontal == "right" else 0.02,
        "xanchor": horizontal,
        "y": 0.02 if vertical == "bottom" else 0.98,
        "yanchor": vertical,
        "bgcolor": "rgba(255,255,255,0.85)",
        "bordercolor": "#d8dee9",
        "borderwidth": 1,
        "font": {"size": 11},
    }
    return layout


def _curve(
    label: str, x: FloatArray, y: FloatArray, line: dict[str, Any], x_name: str, y_name: str
) -> dict[str, Any]:
    """One evaluation curve (ROC or PR) as a line trace, values to four digits."""
    return {
        "type": "scatter",
        "mode": "lines",
        "name": label,
        "x": json_values(x, digits=4),
        "y": json_values(y, digits=4),
        "line": line,
        "hovertemplate": f"{x_name}=%{{x:.3f}}<br>{y_name}=%{{y:.3f}}<extra></extra>",
    }


def roc_figure(curves: Mapping[str, Mapping[str, Any]], *, title: str = "ROC curve") -> Figure:
    """ROC curves, one per named evaluation; each mapping has ``fpr``, ``tpr`` and ``auc``."""
    if not curves:
        raise ValueError("roc_figure needs at least one curve")
    data: list[dict[str, Any]] = []
    for i, (name, c) in enumerate(curves.items()):
        fpr, tpr = as_float(c["fpr"]), as_float(c["tpr"])
        check_same_length(fpr=fpr, tpr=tpr)
        auc = c.get("auc")
        label = name if auc is None else f"{name} (AUC {float(auc):.3f})"
        data.append(
            _curve(label, fpr, tpr, {"color": COLORS[i % len(COLORS)], "width": 2}, "FPR", "TPR")
        )
    data.append(_diagonal("chance"))
    layout = base_layout(title=title, x_title="False-positive rate", y_title="True-positive rate")
    return {"data": data, "layout": _unit_square(layout)}


def pr_figure(
    curves: Mapping[str, Mapping[str, Any]], *, title: str = "Precision–recall"
) -> Figure:
    """Precision–recall curves; each mapping has ``precision``, ``recall`` and optionally
    ``average_precision`` and ``prevalence`` (drawn as the no-skill line)."""
    if not curves:
        raise ValueError("pr_figure needs at least one curve")
    data: list[dict[str, Any]] = []
    for i, (name, c) in enumerate(curves.items()):
        prec, rec = as_float(c["precision"]), as_float(c["recall"])
        check_same_length(precision=prec, recall=rec)
        ap = c.get("average_precision")
        label = name if ap is None else f"{name} (AP {float(ap):.3f})"
        color = COLORS[i % len(COLORS)]
        data.append(
            _curve(
                label, rec, prec, {"color": color, "width": 2, "shape": "hv"}, "recall", "precision"
            )
        )
        prevalence = c.get("prevalence")
        if prevalence is not None:
            # The no-skill level (the planet fraction) in the curve's colour, one legend entry.
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "name": "no skill (planet fraction)",
                    "legendgroup": "no-skill",
                    "showlegend": i == 0,
                    "x": [0, 1],
                    "y": [float(prevalence)] * 2,
                    "line": {"color": color, "dash": "dash", "width": 1},
                    "opacity": 0.6,
                    "hoverinfo": "skip",
                }
            )
    layout = base_layout(title=title, x_title="Recall", y_title="Precision")
    return {"data": data, "layout": _unit_square(layout, legend_at="bottom left")}


def calibration_figure(
    *,
    mean_predicted: ArrayLike,
    fraction_positive: ArrayLike,
    count: ArrayLike | None = None,
    ece: float | None = None,
    title: str = "Calibration (reliability diagram)",
) -> Figure:
    """Observed planet fraction against predicted probability; the diagonal is perfect."""
    mp, fp = as_float(mean_predicted), as_float(fraction_positive)
    check_same_length(mean_predicted=mp, fraction_positive=fp)
    name = "model" if ece is None else f"model (ECE {float(ece):.3f})"
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": json_values(mp, digits=4),
        "y": json_values(fp, digits=4),
        "line": {"color": COLORS[0], "width": 2},
        "marker": {"size": 7, "color": COLORS[0]},
    }
    if count is not None:
        c = as_float(count)
        check_same_length(mean_predicted=mp, count=c)
        trace["customdata"] = [int(v) for v in c]
        trace["hovertemplate"] = (
            "predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata} candidates<extra></extra>"
        )
    layout = base_layout(
        title=title, x_title="Predicted planet probability", y_title="Observed planet fraction"
    )
    return {
        "data": [trace, _diagonal("perfectly calibrated")],
        "layout": _unit_square(layout, legend_at="top left"),
    }


def probability_histogram_figure(
    probabilities: ArrayLike,
    *,
    n_bins: int = 20,
    title: str = "Distribution of planet probabilities",
) -> Figure:
    """A histogram of predicted planet probabilities (counts per equal-width bin)."""
    p = as_float(probabilities)
    p = p[np.isfinite(p)]
    counts, edges = np.histogram(p, bins=n_bins, range=(0.0, 1.0))
    centers = 0.5 * (edges[:-1] + edges[1:])
    data = [
        {
            "type": "bar",
            "name": "candidates",
            "x": json_values(centers, digits=4),
            "y": [int(c) for c in counts],
            "width": float(edges[1] - edges[0]) * 0.95,
            "marker": {"color": COLORS[0]},
        }
    ]
    layout = base_layout(title=title, x_title="Planet probability", y_title="Candidates")
    layout["showlegend"] = False
    return {"data": data, "layout": layout}
