"""Light-curve charts: the light curve with transit marks, the periodogram, folded views.

Large light curves are thinned for display only; the curves themselves (folding, binning,
transit times, the mission's time axis) come from :mod:`exoguard.reports.curves`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from exoguard.reports.curves import transit_times
from exoguard.reports.tables import chart_time_axis
from exoguard.web.charts.base import (
    COLORS,
    POINT_COLOR,
    Figure,
    FloatArray,
    as_float,
    base_layout,
    check_same_length,
    json_values,
    robust_range,
    vline,
)

#: Most bins of a binned curve drawn with a dot on each bin.
BINNED_MARKERS_MAX = 80


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


def _transit_marks(
    cand: Mapping[str, Any],
    i: int,
    *,
    t_first: float,
    t_last: float,
    offset: float,
    y_mark: float,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The transit markers of candidate number ``i`` and a dotted line at each transit."""
    period = float(cand["period_days"])
    t0 = float(cand["t0_bjd"])
    times = transit_times(t0_bjd=t0, period_days=period, t_min_bjd=t_first, t_max_bjd=t_last)
    color = COLORS[(i + 1) % len(COLORS)]
    label = str(cand.get("name") or f"candidate {i + 1}")
    trace = {
        "type": "scatter",
        "mode": "markers",
        "name": f"transits of {label} (P = {period:.4f} d)",
        "x": json_values(times - offset, digits=9),
        "y": [y_mark] * int(times.size),
        "marker": {"symbol": "triangle-up", "size": 10, "color": color},
        "hovertemplate": "transit at t=%{x:.4f}<extra>" + label + "</extra>",
    }
    return trace, [
        vline(x, {"color": color, "width": 1, "dash": "dot"}, opacity=0.5, layer="below")
        for x in json_values(times - offset, digits=9)
    ]


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
    t, f = as_float(time_bjd), as_float(flux)
    check_same_length(time_bjd=t, flux=f)
    ok = np.isfinite(t) & np.isfinite(f)
    offset, axis_title = chart_time_axis(mission)
    order = np.argsort(t[ok], kind="stable")
    t_ok, f_ok = t[ok][order], f[ok][order]
    tx, fy, factor = _thin(t_ok, f_ok, max_points)
    name = "flux" if factor == 1 else f"flux (mean of {factor} points)"
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": name,
            "x": json_values(tx - offset, digits=9),
            "y": json_values(fy),
            "marker": {"size": 3, "color": COLORS[0], "opacity": 0.7},
            "hovertemplate": "t=%{x:.4f}<br>flux=%{y:.6f}<extra></extra>",
        }
    ]
    if trend is not None:
        tr = as_float(trend)
        check_same_length(time_bjd=t, trend=tr)
        tt, ty, _ = _thin(t_ok, tr[ok][order], max_points)
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": "trend",
                "x": json_values(tt - offset, digits=9),
                "y": json_values(ty),
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
            trace, lines = _transit_marks(
                cand, i, t_first=t_ok[0], t_last=t_ok[-1], offset=offset, y_mark=y_mark
            )
            data.append(trace)
            shapes.extend(lines)
    layout = base_layout(title=title, x_title=f"Time [{axis_title}]", y_title="Relative flux")
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
    p, pw = as_float(period_days), as_float(power)
    check_same_length(period_days=p, power=pw)
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
            "x": json_values(p, digits=8),
            "y": json_values(pw),
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
                vline(x, {"color": COLORS[1], "width": 1.5 if mult == 1 else 1, "dash": dash})
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
    layout = base_layout(title=title, x_title="Period [days]", y_title=y_title)
    layout["xaxis"]["type"] = "log"
    layout["shapes"] = shapes
    layout["annotations"] = annotations
    return {"data": data, "layout": layout}


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
    x, y = as_float(phase), as_float(flux)
    check_same_length(phase=x, flux=y)
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
                "x": json_values(x),
                "y": json_values(y),
                "marker": {"size": 3, "color": POINT_COLOR, "opacity": 0.5},
                "hoverinfo": "skip",
            }
        )
    if bin_phase is not None and bin_flux is not None:
        bx, by = as_float(bin_phase), as_float(bin_flux)
        check_same_length(bin_phase=bx, bin_flux=by)
        # A dot per bin where the bins are a few pixels apart or more; on a dense binned curve
        # (the 201-bin whole orbit) the dots merge into the line and only cost drawing time.
        mode = "lines+markers" if bx.size <= BINNED_MARKERS_MAX else "lines"
        data.append(
            {
                "type": "scatter",
                "mode": mode,
                "name": "binned",
                "x": json_values(bx),
                "y": json_values(by),
                "line": {"color": COLORS[0], "width": 2},
                "marker": {"size": 4, "color": COLORS[0]},
                "hovertemplate": "%{x:.4f}<br>flux=%{y:.6f}<extra></extra>",
            }
        )
    if not data:
        raise ValueError("folded_figure needs points (phase, flux) or a binned view")
    layout = base_layout(title=title, x_title=x_title, y_title="Relative flux")
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
        x, y = as_float(ph), as_float(fl)
        check_same_length(**{f"{name}_phase": x, f"{name}_flux": y})
        order = np.argsort(x)
        label = name if depth is None else f"{name} (depth {depth:.0f} ppm)"
        data.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": label,
                "x": json_values(x[order]),
                "y": json_values(y[order]),
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
    layout = base_layout(title=title, x_title=x_title, y_title="Relative flux")
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
    fig["layout"]["shapes"] = [vline(0.5, {"color": COLORS[1], "width": 1, "dash": "dot"})]
    return fig
