"""What every chart shares: colours, the layout, JSON-safe arrays and robust y ranges.

Arrays are rounded and non-finite values become ``None`` so the JSON is valid (``NaN`` is not
JSON) and small.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

Figure = dict[str, Any]
FloatArray = NDArray[np.float64]

#: Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
COLORS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # green
    "#CC79A7",  # purple
    "#E69F00",  # orange
    "#56B4E9",  # sky
    "#F0E442",  # yellow
)
POINT_COLOR = "#8a94a6"
PLANET_COLOR = COLORS[2]
FP_COLOR = COLORS[1]


def json_values(values: ArrayLike, *, digits: int = 6) -> list[float | None]:
    """A list of floats rounded to `digits` significant digits, non-finite → None."""
    arr = np.asarray(values, dtype=np.float64).ravel()
    out: list[float | None] = []
    for v in arr.tolist():
        if not math.isfinite(v):
            out.append(None)
        elif v == 0.0:
            out.append(0.0)
        else:
            out.append(round(v, digits - 1 - int(math.floor(math.log10(abs(v))))))
    return out


def base_layout(
    *, title: str, x_title: str, y_title: str, height: int = 360, **extra: Any
) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.0, "xanchor": "left", "font": {"size": 15}},
        "xaxis": {"title": {"text": x_title}, "zeroline": False, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "zeroline": False, "automargin": True},
        "height": height,
        "margin": {"l": 60, "r": 16, "t": 44, "b": 50},
        "legend": {"orientation": "h", "y": -0.22, "x": 0.0},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
        "hovermode": "closest",
    }
    for axis in ("xaxis", "yaxis"):
        layout[axis].update({"gridcolor": "#e5e8ef", "linecolor": "#9aa3b2", "showline": True})
    layout.update(extra)
    return layout


def check_same_length(**arrays: FloatArray) -> int:
    sizes = {name: arr.size for name, arr in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"arrays must have the same length, got {sizes}")
    return next(iter(sizes.values())) if sizes else 0


def as_float(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).ravel()


def robust_range(
    values: ArrayLike, *, keep: ArrayLike = (), lower_pct: float = 0.05, upper_pct: float = 99.5
) -> list[float] | None:
    """A y-axis range that ignores stray outliers but always shows every value of `keep`.

    Upward outliers are common (cosmic rays, flares) and would squash a shallow transit;
    the binned curve (`keep`) holds the signal, so it always stays inside the range.
    """
    v = as_float(values)
    v = v[np.isfinite(v)]
    k = as_float(keep)
    k = k[np.isfinite(k)]
    if v.size == 0 and k.size == 0:
        return None
    lo_parts = [float(np.percentile(v, lower_pct))] if v.size else []
    hi_parts = [float(np.percentile(v, upper_pct))] if v.size else []
    if k.size:
        lo_parts.append(float(k.min()))
        hi_parts.append(float(k.max()))
    lo, hi = min(lo_parts), max(hi_parts)
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi) * 1e-4, 1e-6)
    return [lo - pad, hi + pad]


def vline(x: float | None, line: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A vertical line shape at ``x`` across the whole plot height."""
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": line,
        **extra,
    }
