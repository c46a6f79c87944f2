"""Explanation charts: global feature importance and one candidate's SHAP contributions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from exoguard.web.charts.base import (
    COLORS,
    FP_COLOR,
    PLANET_COLOR,
    Figure,
    base_layout,
    json_values,
    vline,
)


def _top(values: Mapping[str, float], max_display: int) -> list[tuple[str, float]]:
    items = [(str(k), float(v)) for k, v in values.items() if math.isfinite(float(v))]
    items.sort(key=lambda kv: abs(kv[1]), reverse=True)
    return items[:max_display]


def _bars(
    top: list[tuple[str, float]],
    *,
    name: str,
    color: str | list[str],
    hover: str,
    title: str,
    x_title: str,
) -> Figure:
    """Horizontal bars of ``(label, value)`` pairs, the first at the bottom."""
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": name,
            "x": json_values([v for _, v in top]),
            "y": [k for k, _ in top],
            "marker": {"color": color},
            "hovertemplate": "%{y}: %{x:" + hover + "}<extra></extra>",
        }
    ]
    layout = base_layout(
        title=title, x_title=x_title, y_title="", height=max(260, 60 + 24 * len(top))
    )
    layout["showlegend"] = False
    return {"data": data, "layout": layout}


def feature_importance_figure(
    importance: Mapping[str, float],
    *,
    max_display: int = 15,
    x_title: str = "Mean |SHAP value|",
    title: str = "Global feature importance",
) -> Figure:
    """Horizontal bars of the `max_display` most important features, largest on top."""
    if not importance:
        raise ValueError("feature_importance_figure needs at least one feature")
    top = _top(importance, max_display)[::-1]
    return _bars(top, name="importance", color=COLORS[0], hover=".4f", title=title, x_title=x_title)


def shap_waterfall_figure(
    *,
    base_value: float,
    contributions: Mapping[str, float],
    feature_values: Mapping[str, Any] | None = None,
    max_display: int = 10,
    remainder: tuple[int, float] | None = None,
    output_name: str = "model output",
    title: str = "Why this verdict (SHAP)",
    labels: Mapping[str, str] | None = None,
    x_title: str | None = None,
) -> Figure:
    """A SHAP waterfall: from the base value, each feature pushes the output up or down.

    Features beyond `max_display` are summed into one "other features" step, so the last
    bar always ends at ``base_value + sum(contributions)``. `remainder` is ``(n, total)`` of
    features not in `contributions` at all (an explanation that stored its top ones only);
    it joins that last step. `labels` (feature -> text) replace the ``name = value`` labels;
    `x_title` replaces the default axis title (output name, base and total).
    """
    if not contributions:
        raise ValueError("shap_waterfall_figure needs at least one contribution")
    labels_out, steps = _waterfall_steps(
        contributions, max_display=max_display, remainder=remainder,
        feature_values=feature_values, labels=labels,
    )  # fmt: skip
    total = float(base_value) + float(sum(steps))
    # Drawn as floating bars (each starts where the previous one ended), not as a
    # "waterfall" trace: the pages' partial Plotly bundle has bar but no waterfall.
    starts = (float(base_value) + np.concatenate([[0.0], np.cumsum(steps)[:-1]])).tolist()
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "SHAP",
            "base": json_values(starts),
            "y": labels_out,
            "x": json_values(steps),
            "customdata": json_values(steps),
            "marker": {"color": [PLANET_COLOR if v >= 0 else FP_COLOR for v in steps]},
            "hovertemplate": "%{y}: %{customdata:+.4f}<extra></extra>",
        }
    ]
    layout = base_layout(
        title=title,
        x_title=x_title or f"{output_name} (base {base_value:.3f} → {total:.3f})",
        y_title="",
        height=max(280, 70 + 26 * len(steps)),
    )
    layout["showlegend"] = False
    layout["shapes"] = [
        vline(float(base_value), {"color": "#9aa3b2", "dash": "dot", "width": 1}),
        *_connectors(starts),
    ]
    return {"data": data, "layout": layout}


def _waterfall_steps(
    contributions: Mapping[str, float],
    *,
    max_display: int,
    remainder: tuple[int, float] | None,
    feature_values: Mapping[str, Any] | None,
    labels: Mapping[str, str] | None,
) -> tuple[list[str], list[float]]:
    """Bar labels and steps, bottom first: the rest summed into one step, then the top
    contributions (the largest drawn on top)."""
    top = _top(contributions, max_display)
    rest_names = set(contributions) - {k for k, _ in top}
    rest = float(sum(float(contributions[k]) for k in rest_names))
    n_rest = len(rest_names)
    if remainder is not None and remainder[0] > 0:
        n_rest += int(remainder[0])
        rest += float(remainder[1])
    labels_out: list[str] = []
    for name, _ in top:
        value = (feature_values or {}).get(name)
        if labels is not None and name in labels:
            labels_out.append(labels[name])
        elif isinstance(value, int | float) and math.isfinite(float(value)):
            labels_out.append(f"{name} = {float(value):.4g}")
        else:
            labels_out.append(name)
    steps = [v for _, v in top]
    if n_rest:
        labels_out.append(f"{n_rest} other features")
        steps.append(rest)
    # Plotly draws the first category at the bottom; the largest contribution goes on top.
    labels_out, steps = labels_out[::-1], steps[::-1]
    return labels_out, steps


def _connectors(starts: list[float]) -> list[dict[str, Any]]:
    """The waterfall's connectors: from where each bar ends to the next bar (category i
    sits at y = i; bars are 0.8 wide)."""
    return [
        {
            "type": "line",
            "xref": "x",
            "yref": "y",
            "x0": end,
            "x1": end,
            "y0": i + 0.4,
            "y1": i + 0.6,
            "line": {"color": "#9aa3b2", "width": 1},
        }
        for i, end in enumerate(json_values(starts[1:]))
    ]


def shap_bar_figure(
    contributions: Mapping[str, float],
    *,
    max_display: int = 10,
    title: str = "Feature contributions (SHAP)",
) -> Figure:
    """Signed SHAP contributions of one candidate: green pushes to planet, red away from it."""
    if not contributions:
        raise ValueError("shap_bar_figure needs at least one contribution")
    top = _top(contributions, max_display)[::-1]
    return _bars(
        top,
        name="SHAP value",
        color=[PLANET_COLOR if v >= 0 else FP_COLOR for _, v in top],
        hover="+.4f",
        title=title,
        x_title="SHAP value (towards planet →)",
    )
