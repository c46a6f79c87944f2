"""Plotly figure builders for the pages: plain JSON-ready dicts, no plotly import.

Every builder returns ``{"data": [...], "layout": {...}}`` that the browser hands to
``Plotly.newPlot`` as is. Arrays are rounded and non-finite values become ``None`` so the JSON
is valid (``NaN`` is not JSON) and small. Large light curves are binned for display only.

The evaluation charts draw points computed in :mod:`exoguard.ml.curves` (`roc_points`,
`pr_points`, `calibration_points`), the one implementation the evaluation also stores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from exoguard.core.lightcurve import BKJD_OFFSET, BTJD_OFFSET, fold_phase_days

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

#: Offsets of the familiar mission time scales from BJD_TDB.
TIME_OFFSETS: dict[str, tuple[float, str]] = {
    "kepler": (BKJD_OFFSET, "BJD − 2454833 (BKJD)"),
    "k2": (BKJD_OFFSET, "BJD − 2454833 (BKJD)"),
    "tess": (BTJD_OFFSET, "BJD − 2457000 (BTJD)"),
}
DEFAULT_TIME_OFFSET = (2450000.0, "BJD − 2450000")

CLASS_NAMES: tuple[str, str] = ("false positive", "planet")


# ----------------------------------------------------------------------------- helpers
def _values(values: ArrayLike, *, digits: int = 6) -> list[float | None]:
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


def _layout(
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


def _check_same_length(**arrays: FloatArray) -> int:
    sizes = {name: arr.size for name, arr in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"arrays must have the same length, got {sizes}")
    return next(iter(sizes.values())) if sizes else 0


def _as_float(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64).ravel()


def time_axis(mission: str | None) -> tuple[float, str]:
    """The display offset (days) and axis title for a mission's familiar time scale."""
    return TIME_OFFSETS.get((mission or "").lower(), DEFAULT_TIME_OFFSET)


def bin_series(x: ArrayLike, y: ArrayLike, *, n_bins: int) -> tuple[FloatArray, FloatArray]:
    """Mean of `y` in `n_bins` equal-width bins of `x` (empty bins dropped), for display."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    xa, ya = _as_float(x), _as_float(y)
    _check_same_length(x=xa, y=ya)
    ok = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[ok], ya[ok]
    if xa.size == 0:
        return np.empty(0), np.empty(0)
    lo, hi = float(xa.min()), float(xa.max())
    if hi <= lo:
        return np.array([lo]), np.array([float(ya.mean())])
    idx = np.minimum(((xa - lo) / (hi - lo) * n_bins).astype(np.int64), n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    sums_x = np.bincount(idx, weights=xa, minlength=n_bins)
    sums_y = np.bincount(idx, weights=ya, minlength=n_bins)
    keep = counts > 0
    return sums_x[keep] / counts[keep], sums_y[keep] / counts[keep]


def _thin(x: FloatArray, y: FloatArray, max_points: int) -> tuple[FloatArray, FloatArray, int]:
    """Average consecutive points so that at most `max_points` remain; returns the factor."""
    n = x.size
    if n <= max_points:
        return x, y, 1
    factor = int(math.ceil(n / max_points))
    m = n // factor
    xs = x[: m * factor].reshape(m, factor)
    ys = y[: m * factor].reshape(m, factor)
    with np.errstate(invalid="ignore"):
        return np.nanmean(xs, axis=1), np.nanmean(ys, axis=1), factor


def robust_range(
    values: ArrayLike, *, keep: ArrayLike = (), lower_pct: float = 0.05, upper_pct: float = 99.5
) -> list[float] | None:
    """A y-axis range that ignores stray outliers but always shows every value of `keep`.

    Upward outliers are common (cosmic rays, flares) and would squash a shallow transit;
    the binned curve (`keep`) holds the signal, so it always stays inside the range.
    """
    v = _as_float(values)
    v = v[np.isfinite(v)]
    k = _as_float(keep)
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


# ---------------------------------------------------------------------- light curves
def transit_times(
    *, t0_bjd: float, period_days: float, t_min_bjd: float, t_max_bjd: float
) -> FloatArray:
    """Mid-transit times ``t0 + k P`` inside ``[t_min, t_max]`` (BJD_TDB, days)."""
    if not (math.isfinite(period_days) and period_days > 0):
        raise ValueError(f"period_days must be a positive finite number, got {period_days}")
    k0 = math.ceil((t_min_bjd - t0_bjd) / period_days)
    k1 = math.floor((t_max_bjd - t0_bjd) / period_days)
    if k1 < k0:
        return np.empty(0)
    return t0_bjd + period_days * np.arange(k0, k1 + 1, dtype=np.float64)


def lightcurve_figure(
    *,
    time_bjd: ArrayLike,
    flux: ArrayLike,
    mission: str | None = None,
    candidates: Sequence[Mapping[str, Any]] = (),
    trend: ArrayLike | None = None,
    title: str = "Light curve",
    max_points: int = 15000,
) -> Figure:
    """An interactive light curve with the transits of each candidate marked.

    Parameters
    ----------
    time_bjd, flux : array, shape (n,)
        Times (BJD_TDB) and relative flux.
    mission : str, optional
        Chooses the familiar time scale of the axis (BKJD for Kepler/K2, BTJD for TESS).
    candidates : sequence of mappings
        Each with ``period_days`` and ``t0_bjd`` (and optionally ``name``); one marker trace
        of its transit times per candidate.
    trend : array, shape (n,), optional
        A fitted trend drawn over the flux (raw light curve views).
    max_points : int
        More points than this are averaged in consecutive groups for display.
    """
    t, f = _as_float(time_bjd), _as_float(flux)
    _check_same_length(time_bjd=t, flux=f)
    ok = np.isfinite(t) & np.isfinite(f)
    offset, axis_title = time_axis(mission)
    order = np.argsort(t[ok], kind="stable")
    t_ok, f_ok = t[ok][order], f[ok][order]
    tx, fy, factor = _thin(t_ok, f_ok, max_points)
    name = "flux" if factor == 1 else f"flux (mean of {factor} points)"
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": name,
            "x": _values(tx - offset, digits=9),
            "y": _values(fy),
            "marker": {"size": 3, "color": COLORS[0], "opacity": 0.7},
            "hovertemplate": "t=%{x:.4f}<br>flux=%{y:.6f}<extra></extra>",
        }
    ]
    if trend is not None:
        tr = _as_float(trend)
        _check_same_length(time_bjd=t, trend=tr)
        tt, ty, _ = _thin(t_ok, tr[ok][order], max_points)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "trend",
                "x": _values(tt - offset, digits=9),
                "y": _values(ty),
                "line": {"color": COLORS[4], "width": 2},
                "hoverinfo": "skip",
            }
        )
    shapes: list[dict[str, Any]] = []
    y_range = robust_range(fy, lower_pct=0.02, upper_pct=99.8)
    if y_range is not None and candidates:
        # room at the bottom for the transit markers
        y_range[0] -= 0.08 * (y_range[1] - y_range[0])
    if t_ok.size:
        y_mark = y_range[0] + 0.03 * (y_range[1] - y_range[0]) if y_range else 1.0
        for i, cand in enumerate(candidates):
            period = float(cand["period_days"])
            t0 = float(cand["t0_bjd"])
            times = transit_times(
                t0_bjd=t0, period_days=period, t_min_bjd=t_ok[0], t_max_bjd=t_ok[-1]
            )
            color = COLORS[(i + 1) % len(COLORS)]
            label = str(cand.get("name") or f"candidate {i + 1}")
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": f"transits of {label} (P = {period:.4f} d)",
                    "x": _values(times - offset, digits=9),
                    "y": [y_mark] * int(times.size),
                    "marker": {"symbol": "triangle-up", "size": 10, "color": color},
                    "hovertemplate": "transit at t=%{x:.4f}<extra>" + label + "</extra>",
                }
            )
            shapes.extend(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": x,
                    "x1": x,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": color, "width": 1, "dash": "dot"},
                    "opacity": 0.5,
                    "layer": "below",
                }
                for x in _values(times - offset, digits=9)
            )
    layout = _layout(title=title, x_title=f"Time [{axis_title}]", y_title="Relative flux")
    if y_range is not None:
        layout["yaxis"]["range"] = y_range
    layout["shapes"] = shapes[:500]  # beyond this the dotted lines only add clutter
    return {"data": data, "layout": layout}


def periodogram_figure(
    *,
    period_days: ArrayLike,
    power: ArrayLike,
    best_period_days: float | None = None,
    y_title: str = "SDE",
    title: str = "BLS periodogram",
    max_points: int = 20000,
) -> Figure:
    """A periodogram on a logarithmic period axis, the best period and its aliases marked."""
    p, pw = _as_float(period_days), _as_float(power)
    _check_same_length(period_days=p, power=pw)
    order = np.argsort(p)
    p, pw = p[order], pw[order]
    if p.size > max_points:
        # keep the peak of each group, not the mean: the peaks are what matter here
        factor = int(math.ceil(p.size / max_points))
        m = p.size // factor
        groups = pw[: m * factor].reshape(m, factor)
        arg = np.nanargmax(np.where(np.isfinite(groups), groups, -np.inf), axis=1)
        rows = np.arange(m) * factor + arg
        p, pw = p[rows], pw[rows]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": y_title,
            "x": _values(p, digits=8),
            "y": _values(pw),
            "line": {"color": COLORS[0], "width": 1},
            "hovertemplate": "P=%{x:.5f} d<br>" + y_title + "=%{y:.2f}<extra></extra>",
        }
    ]
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    if best_period_days is not None and math.isfinite(best_period_days) and best_period_days > 0:
        for mult, dash in ((1.0, "solid"), (0.5, "dot"), (2.0, "dot")):
            x = best_period_days * mult
            if p.size and (x < p[0] or x > p[-1]):
                continue
            shapes.append(
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": x,
                    "x1": x,
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": COLORS[1], "width": 1.5 if mult == 1 else 1, "dash": dash},
                }
            )
        annotations.append(
            {
                "x": math.log10(best_period_days),
                "xref": "x",
                "y": 1,
                "yref": "paper",
                "text": f"P = {best_period_days:.5f} d",
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "bottom",
                "font": {"color": COLORS[1]},
            }
        )
    layout = _layout(title=title, x_title="Period [days]", y_title=y_title)
    layout["xaxis"]["type"] = "log"
    layout["shapes"] = shapes
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


def fold_and_bin(
    *,
    time_bjd: ArrayLike,
    flux: ArrayLike,
    period_days: float,
    t0_bjd: float,
    window_days: float | None = None,
    n_bins: int = 201,
) -> dict[str, FloatArray]:
    """Phase-fold a light curve for display: points and binned means, time from mid-transit.

    Returns ``phase_days``/``flux`` of the points (inside ``±window_days`` when given) and
    ``bin_phase_days``/``bin_flux`` of `n_bins` equal-width bins.
    """
    t, f = _as_float(time_bjd), _as_float(flux)
    _check_same_length(time_bjd=t, flux=f)
    ok = np.isfinite(t) & np.isfinite(f)
    phase = fold_phase_days(t[ok], period_days=period_days, t0_bjd=t0_bjd)
    fl = f[ok]
    if window_days is not None:
        inside = np.abs(phase) <= window_days
        phase, fl = phase[inside], fl[inside]
    bx, by = bin_series(phase, fl, n_bins=n_bins)
    return {"phase_days": phase, "flux": fl, "bin_phase_days": bx, "bin_flux": by}


def folded_figure(
    *,
    phase: ArrayLike,
    flux: ArrayLike,
    bin_phase: ArrayLike | None = None,
    bin_flux: ArrayLike | None = None,
    x_title: str = "Phase [days from mid-transit]",
    title: str = "Phase-folded light curve",
    max_points: int = 8000,
) -> Figure:
    """A phase-folded view: the folded points in grey and the binned curve on top.

    `phase` is in whatever unit `x_title` names (days, hours or fraction of the period).
    Pass only `bin_phase`/`bin_flux` (with empty `phase`/`flux`) to draw a precomputed view
    such as the 2001-bin global or 201-bin local view.
    """
    x, y = _as_float(phase), _as_float(flux)
    _check_same_length(phase=x, flux=y)
    data: list[dict[str, Any]] = []
    if x.size:
        order = np.argsort(x)
        x, y = x[order], y[order]
        if x.size > max_points:
            step = int(math.ceil(x.size / max_points))
            x, y = x[::step], y[::step]
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": "points",
                "x": _values(x),
                "y": _values(y),
                "marker": {"size": 3, "color": POINT_COLOR, "opacity": 0.5},
                "hoverinfo": "skip",
            }
        )
    if bin_phase is not None and bin_flux is not None:
        bx, by = _as_float(bin_phase), _as_float(bin_flux)
        _check_same_length(bin_phase=bx, bin_flux=by)
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": "binned",
                "x": _values(bx),
                "y": _values(by),
                "line": {"color": COLORS[0], "width": 2},
                "marker": {"size": 4, "color": COLORS[0]},
                "hovertemplate": "%{x:.4f}<br>flux=%{y:.6f}<extra></extra>",
            }
        )
    if not data:
        raise ValueError("folded_figure needs points (phase, flux) or a binned view")
    layout = _layout(title=title, x_title=x_title, y_title="Relative flux")
    y_range = robust_range(
        y, keep=[] if bin_flux is None else bin_flux, lower_pct=0.5, upper_pct=99.5
    )
    if y_range is not None:
        layout["yaxis"]["range"] = y_range
    return {"data": data, "layout": layout}


def odd_even_figure(
    *,
    odd_phase: ArrayLike,
    odd_flux: ArrayLike,
    even_phase: ArrayLike,
    even_flux: ArrayLike,
    odd_depth_ppm: float | None = None,
    even_depth_ppm: float | None = None,
    odd_even_sigma: float | None = None,
    x_title: str = "hours from mid-transit",
    title: str = "Odd and even transits",
) -> Figure:
    """Odd and even transits side by side; a depth difference hints at an eclipsing binary."""
    data: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    for name, ph, fl, depth, color, axis in (
        ("odd", odd_phase, odd_flux, odd_depth_ppm, COLORS[0], "x"),
        ("even", even_phase, even_flux, even_depth_ppm, COLORS[1], "x2"),
    ):
        x, y = _as_float(ph), _as_float(fl)
        _check_same_length(**{f"{name}_phase": x, f"{name}_flux": y})
        order = np.argsort(x)
        label = name if depth is None else f"{name} (depth {depth:.0f} ppm)"
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": label,
                "x": _values(x[order]),
                "y": _values(y[order]),
                "xaxis": axis,
                "yaxis": "y",
                "line": {"color": color, "width": 2},
                "marker": {"size": 3, "color": color},
            }
        )
        if depth is not None and math.isfinite(depth):
            level = 1.0 - depth * 1e-6
            shapes.append(
                {
                    "type": "line",
                    "xref": f"{axis} domain",
                    "yref": "y",
                    "x0": 0,
                    "x1": 1,
                    "y0": level,
                    "y1": level,
                    "line": {"color": color, "width": 1, "dash": "dash"},
                }
            )
    if odd_even_sigma is not None and math.isfinite(odd_even_sigma):
        title = f"{title} — depth difference {odd_even_sigma:.1f}σ"
    layout = _layout(title=title, x_title=x_title, y_title="Relative flux")
    layout["xaxis"].update({"domain": [0.0, 0.48], "title": {"text": f"odd [{x_title}]"}})
    layout["xaxis2"] = {
        "domain": [0.52, 1.0],
        "title": {"text": f"even [{x_title}]"},
        "gridcolor": "#e5e8ef",
        "linecolor": "#9aa3b2",
        "showline": True,
        "automargin": True,
    }
    layout["shapes"] = shapes
    return {"data": data, "layout": layout}


def secondary_figure(
    *,
    phase: ArrayLike,
    flux: ArrayLike,
    bin_phase: ArrayLike | None = None,
    bin_flux: ArrayLike | None = None,
    secondary_depth_ppm: float | None = None,
    secondary_sigma: float | None = None,
    title: str = "Secondary eclipse search (phase 0.5)",
    max_points: int = 8000,
) -> Figure:
    """The light curve folded around phase 0.5, where an eclipsing binary's secondary shows."""
    if secondary_depth_ppm is not None and math.isfinite(secondary_depth_ppm):
        title = f"{title} — depth {secondary_depth_ppm:.0f} ppm"
        if secondary_sigma is not None and math.isfinite(secondary_sigma):
            title += f" ({secondary_sigma:.1f}σ)"
    fig = folded_figure(
        phase=phase,
        flux=flux,
        bin_phase=bin_phase,
        bin_flux=bin_flux,
        x_title="Phase [fraction of the period]",
        title=title,
        max_points=max_points,
    )
    fig["layout"]["shapes"] = [
        {
            "type": "line",
            "xref": "x",
            "yref": "paper",
            "x0": 0.5,
            "x1": 0.5,
            "y0": 0,
            "y1": 1,
            "line": {"color": COLORS[1], "width": 1, "dash": "dot"},
        }
    ]
    return fig


def phase_fraction(*, time_bjd: ArrayLike, period_days: float, t0_bjd: float) -> FloatArray:
    """Orbital phase in ``[0, 1)`` with the primary transit at 0 (secondary near 0.5)."""
    t = _as_float(time_bjd)
    return np.asarray(np.mod((t - t0_bjd) / period_days, 1.0), dtype=np.float64)


# ----------------------------------------------------------------------- evaluation
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
            "z": [_values(r, digits=4) for r in share],
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
    layout = _layout(title=title, x_title="Predicted", y_title="True")
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


def roc_figure(curves: Mapping[str, Mapping[str, Any]], *, title: str = "ROC curve") -> Figure:
    """ROC curves, one per named evaluation; each mapping has ``fpr``, ``tpr`` and ``auc``."""
    if not curves:
        raise ValueError("roc_figure needs at least one curve")
    data: list[dict[str, Any]] = []
    for i, (name, c) in enumerate(curves.items()):
        fpr, tpr = _as_float(c["fpr"]), _as_float(c["tpr"])
        _check_same_length(fpr=fpr, tpr=tpr)
        auc = c.get("auc")
        label = name if auc is None else f"{name} (AUC {float(auc):.3f})"
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": label,
                "x": _values(fpr, digits=4),
                "y": _values(tpr, digits=4),
                "line": {"color": COLORS[i % len(COLORS)], "width": 2},
                "hovertemplate": "FPR=%{x:.3f}<br>TPR=%{y:.3f}<extra></extra>",
            }
        )
    data.append(_diagonal("chance"))
    layout = _layout(title=title, x_title="False-positive rate", y_title="True-positive rate")
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
        prec, rec = _as_float(c["precision"]), _as_float(c["recall"])
        _check_same_length(precision=prec, recall=rec)
        ap = c.get("average_precision")
        label = name if ap is None else f"{name} (AP {float(ap):.3f})"
        color = COLORS[i % len(COLORS)]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": label,
                "x": _values(rec, digits=4),
                "y": _values(prec, digits=4),
                "line": {"color": color, "width": 2, "shape": "hv"},
                "hovertemplate": "recall=%{x:.3f}<br>precision=%{y:.3f}<extra></extra>",
            }
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
    layout = _layout(title=title, x_title="Recall", y_title="Precision")
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
    mp, fp = _as_float(mean_predicted), _as_float(fraction_positive)
    _check_same_length(mean_predicted=mp, fraction_positive=fp)
    name = "model" if ece is None else f"model (ECE {float(ece):.3f})"
    trace: dict[str, Any] = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": name,
        "x": _values(mp, digits=4),
        "y": _values(fp, digits=4),
        "line": {"color": COLORS[0], "width": 2},
        "marker": {"size": 7, "color": COLORS[0]},
    }
    if count is not None:
        c = _as_float(count)
        _check_same_length(mean_predicted=mp, count=c)
        trace["customdata"] = [int(v) for v in c]
        trace["hovertemplate"] = (
            "predicted %{x:.3f}<br>observed %{y:.3f}<br>%{customdata} candidates<extra></extra>"
        )
    layout = _layout(
        title=title, x_title="Predicted planet probability", y_title="Observed planet fraction"
    )
    return {
        "data": [trace, _diagonal("perfectly calibrated")],
        "layout": _unit_square(layout, legend_at="top left"),
    }


def _top(values: Mapping[str, float], max_display: int) -> list[tuple[str, float]]:
    items = [(str(k), float(v)) for k, v in values.items() if math.isfinite(float(v))]
    items.sort(key=lambda kv: abs(kv[1]), reverse=True)
    return items[:max_display]


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
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "importance",
            "x": _values([v for _, v in top]),
            "y": [k for k, _ in top],
            "marker": {"color": COLORS[0]},
            "hovertemplate": "%{y}: %{x:.4f}<extra></extra>",
        }
    ]
    layout = _layout(title=title, x_title=x_title, y_title="", height=max(260, 60 + 24 * len(top)))
    layout["showlegend"] = False
    return {"data": data, "layout": layout}


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
    total = float(base_value) + float(sum(steps))
    # Drawn as floating bars (each starts where the previous one ended), not as a
    # "waterfall" trace: the pages' partial Plotly bundle has bar but no waterfall.
    starts = (float(base_value) + np.concatenate([[0.0], np.cumsum(steps)[:-1]])).tolist()
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "SHAP",
            "base": _values(starts),
            "y": labels_out,
            "x": _values(steps),
            "customdata": _values(steps),
            "marker": {"color": [PLANET_COLOR if v >= 0 else FP_COLOR for v in steps]},
            "hovertemplate": "%{y}: %{customdata:+.4f}<extra></extra>",
        }
    ]
    layout = _layout(
        title=title,
        x_title=x_title or f"{output_name} (base {base_value:.3f} → {total:.3f})",
        y_title="",
        height=max(280, 70 + 26 * len(steps)),
    )
    layout["showlegend"] = False
    base_line = {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": float(base_value),
        "x1": float(base_value),
        "y0": 0,
        "y1": 1,
        "line": {"color": "#9aa3b2", "dash": "dot", "width": 1},
    }
    # The waterfall's connectors: from where each bar ends to the next bar (category i sits
    # at y = i; bars are 0.8 wide).
    connectors = [
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
        for i, end in enumerate(_values(starts[1:]))
    ]
    layout["shapes"] = [base_line, *connectors]
    return {"data": data, "layout": layout}


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
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "name": "SHAP value",
            "x": _values([v for _, v in top]),
            "y": [k for k, _ in top],
            "marker": {"color": [PLANET_COLOR if v >= 0 else FP_COLOR for _, v in top]},
            "hovertemplate": "%{y}: %{x:+.4f}<extra></extra>",
        }
    ]
    layout = _layout(
        title=title,
        x_title="SHAP value (towards planet →)",
        y_title="",
        height=max(260, 60 + 24 * len(top)),
    )
    layout["showlegend"] = False
    return {"data": data, "layout": layout}


def probability_histogram_figure(
    probabilities: ArrayLike,
    *,
    n_bins: int = 20,
    title: str = "Distribution of planet probabilities",
) -> Figure:
    """A histogram of predicted planet probabilities (counts per equal-width bin)."""
    p = _as_float(probabilities)
    p = p[np.isfinite(p)]
    counts, edges = np.histogram(p, bins=n_bins, range=(0.0, 1.0))
    centers = 0.5 * (edges[:-1] + edges[1:])
    data = [
        {
            "type": "bar",
            "name": "candidates",
            "x": _values(centers, digits=4),
            "y": [int(c) for c in counts],
            "width": float(edges[1] - edges[0]) * 0.95,
            "marker": {"color": COLORS[0]},
        }
    ]
    layout = _layout(title=title, x_title="Planet probability", y_title="Candidates")
    layout["showlegend"] = False
    return {"data": data, "layout": layout}
