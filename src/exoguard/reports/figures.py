"""Matplotlib figures of the vetting report (object-oriented API, Agg/PDF canvases only).

`report_page` draws one A4 page per candidate in the spirit of the Kepler Data Validation
one-page summary: the light curve before and after detrending, the periodogram, the
phase-folded global and local views, odd/even and secondary-eclipse views, the table of
diagnostics, the model verdict with its uncertainty, the top SHAP contributions and the
vetting votes. `summary_pages` draws the table page(s) of a multi-candidate report.

No pyplot: figures are plain `matplotlib.figure.Figure` objects, safe to draw in threads.
"""

from __future__ import annotations

import math
import textwrap
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final, cast

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from exoguard import __version__
from exoguard.reports.curves import (
    binned,
    depth_estimate,
    to_ppm,
    transit_numbers,
)
from exoguard.reports.model import CandidateReport, Diagnostics, ReportCurves
from exoguard.reports.tables import diagnostics_rows, fmt, fmt_pm, label_words, time_axis

__all__ = ["PAGE_SIZE_IN", "report_page", "report_style", "summary_pages"]

#: A4 portrait, inches.
PAGE_SIZE_IN: Final = (8.27, 11.69)
SUMMARY_ROWS_PER_PAGE: Final = 34

_FONT: Final = 7.0
_INK: Final = "#1a1a1a"
_POINTS: Final = "#b4b4b4"
_BINNED: Final = "#1f4e9c"
_MODEL: Final = "#c0392b"
_ODD: Final = "#1f77b4"
_EVEN: Final = "#e67e22"
_VERDICT_COLOURS: Final = {
    "planet": "#1e8449",
    "false_positive": "#b03a2e",
    "candidate": "#b9770e",
}
_RC: Final[dict[str, Any]] = {
    "font.size": _FONT,
    "axes.titlesize": _FONT + 0.5,
    "axes.labelsize": _FONT,
    "xtick.labelsize": _FONT - 0.5,
    "ytick.labelsize": _FONT - 0.5,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.5,
    "ytick.major.width": 0.5,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "pdf.fonttype": 42,  # embedded TrueType: the text stays searchable and extractable
    "axes.formatter.useoffset": False,
}


_STYLE_LOCK = threading.RLock()


@contextmanager
def report_style() -> Iterator[None]:
    """Draw and save report figures inside this: the report's matplotlib settings, held
    by one thread at a time (``rcParams`` are process-global; savefig reads them too)."""
    import matplotlib

    with _STYLE_LOCK, matplotlib.rc_context(cast(Any, _RC)):
        yield


# ---------------------------------------------------------------------------------- helpers
def _robust_limits(
    values: np.ndarray, *, low_extra: float = 0.0, pad: float = 6.0
) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return -1.0, 1.0
    med = float(np.median(v))
    sigma = 1.4826 * float(np.median(np.abs(v - med))) or float(np.std(v)) or 1.0
    lo = min(float(np.percentile(v, 0.5)), med - pad * sigma, med - low_extra)
    hi = max(med + pad * sigma, float(np.percentile(v, 99.5)))
    span = hi - lo
    return lo - 0.05 * span, hi + 0.05 * span


def _view_limits(
    points: np.ndarray, binned_y: np.ndarray, *, depth: float = 0.0
) -> tuple[float, float]:
    """Y limits of a folded view: from the points, unless their scatter would flatten the
    binned curve (many noisy points around a shallow transit): then from the bins."""
    lo_p, hi_p = _robust_limits(points, low_extra=1.3 * depth)
    b = binned_y[np.isfinite(binned_y)]
    if b.size < 5:
        return lo_p, hi_p
    noise = 1.4826 * float(np.median(np.abs(b - np.median(b)))) or float(np.std(b)) or 1.0
    lo_b = min(float(b.min()), -1.1 * depth) - 4.0 * noise
    hi_b = max(float(b.max()), 0.3 * depth) + 4.0 * noise
    pad = 0.08 * (hi_b - lo_b)
    lo_b, hi_b = lo_b - pad, hi_b + pad
    if (hi_p - lo_p) > 2.5 * (hi_b - lo_b):
        return lo_b, hi_b
    return lo_p, hi_p


def _panel_title(ax: Axes, text: str) -> None:
    ax.set_title(text, loc="left", fontsize=_FONT + 0.5, fontweight="bold", pad=3)


def _corner_note(ax: Axes, text: str) -> None:
    ax.text(
        0.98,
        0.96,
        text,
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=_FONT - 0.5,
        bbox={"boxstyle": "square,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
    )


def _message(ax: Axes, text: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(
        0.5,
        0.5,
        text,
        ha="center",
        va="center",
        transform=ax.transAxes,
        fontsize=_FONT + 0.5,
        color="#555555",
        wrap=True,
    )


def _depth_scale(diagnostics: Diagnostics, curves: ReportCurves) -> tuple[float, str]:
    """Flux unit for the folded views: ppm for shallow signals, percent for deep ones."""
    depth = diagnostics.depth_ppm
    if depth is None:
        inside = curves.detrended_flux
        depth = float(1e6 * (1.0 - np.nanpercentile(inside, 0.5))) if inside.size else 0.0
    if depth > 20_000:
        return 1e-4, "flux − 1 [%]"
    return 1.0, "flux − 1 [ppm]"


# ---------------------------------------------------------------------------------- panels
# Radii of reference bodies, Earth radii.
_REFERENCE_RADII: Final = (("Earth", 1.0), ("Neptune", 3.865), ("Jupiter", 11.21))


def _draw_schematic(ax: Axes, report: CandidateReport) -> None:
    """A box transit drawn from the catalog depth and duration (no data)."""
    d = report.diagnostics
    _panel_title(ax, "Transit shape implied by the catalog values (schematic)")
    if d.depth_ppm is None or d.duration_hours is None or d.duration_hours <= 0:
        _message(ax, "depth or duration unknown")
        return
    w = 2.0 * d.duration_hours
    half = 0.5 * d.duration_hours
    # A trapezoid with 10 % ingress/egress for a planet, deeper V for a grazing one.
    ingress = 0.5 * half if (d.impact or 0.0) > 0.9 else 0.1 * half
    xs = [-w, -half, -half + ingress, half - ingress, half, w]
    ys = [0.0, 0.0, -d.depth_ppm, -d.depth_ppm, 0.0, 0.0]
    ax.plot(xs, ys, "-", color=_MODEL, lw=1.2)
    ax.fill_between(xs, ys, 0.0, color=_MODEL, alpha=0.08)
    ax.set_xlim(-w, w)
    ax.set_ylim(-1.35 * d.depth_ppm, 0.35 * d.depth_ppm)
    ax.set_xlabel("hours from mid-transit", labelpad=1)
    ax.set_ylabel("flux − 1 [ppm]")
    _corner_note(
        ax,
        f"depth {d.depth_ppm:.0f} ppm, duration {d.duration_hours:.2f} h"
        + (f", impact {d.impact:.2f}" if d.impact is not None else ""),
    )


def _draw_sizes(ax: Axes, report: CandidateReport) -> None:
    """The catalog planet radius against Earth, Neptune and Jupiter."""
    d = report.diagnostics
    _panel_title(ax, "Planet radius from the catalog")
    radius = d.planet_radius_rearth
    if radius is None or radius <= 0:
        _message(ax, "planet radius unknown")
        return
    names = [name for name, _ in _REFERENCE_RADII] + [report.object_id]
    values = [r for _, r in _REFERENCE_RADII] + [radius]
    colours = ["#9aa5b1"] * len(_REFERENCE_RADII) + [_MODEL]
    y = np.arange(len(values))
    ax.barh(y, values, color=colours, height=0.6)
    ax.set_xscale("log")
    ax.set_yticks(y, names)
    ax.set_xlabel("radius [R⊕]", labelpad=1)
    ax.set_xlim(0.3, max(values) * 3)
    ax.tick_params(axis="y", length=0)
    for yi, value in zip(y, values, strict=True):
        ax.text(value * 1.08, float(yi), f"{value:.3g}", va="center", fontsize=_FONT - 0.5)
    if radius > 2.0 * 11.21:
        ax.text(
            0.98,
            0.04,
            "larger than twice Jupiter:\nmore likely a star than a planet",
            transform=ax.transAxes,
            fontsize=_FONT - 0.5,
            color=_MODEL,
            ha="right",
            va="bottom",
        )


def _draw_raw(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    offset, label = time_axis(report.mission)
    t = curves.time_bjd - offset
    y = to_ppm(curves.raw_flux)
    ax.scatter(t, y, s=0.6, color=_INK, linewidths=0, rasterized=True)
    if curves.trend is not None:
        trend = to_ppm(curves.trend)
        gaps = np.flatnonzero(np.diff(curves.time_bjd) > 0.5) + 1
        for piece_t, piece_y in zip(np.split(t, gaps), np.split(trend, gaps), strict=True):
            ax.plot(piece_t, piece_y, "-", color=_MODEL, lw=1.0, zorder=3)
    ax.set_ylim(*_robust_limits(y, low_extra=(report.diagnostics.depth_ppm or 0.0) * 1.3))
    ax.set_xlim(t.min(), t.max())
    ax.set_ylabel("flux − 1 [ppm]")
    ax.set_xlabel(label, labelpad=1)
    _panel_title(ax, "Normalised light curve and trend (red)")


def _draw_detrended(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    offset, label = time_axis(report.mission)
    t = curves.time_bjd - offset
    y = to_ppm(curves.detrended_flux)
    d = report.diagnostics
    ax.scatter(t, y, s=0.6, color=_INK, linewidths=0, rasterized=True)
    lo, hi = _robust_limits(y, low_extra=(d.depth_ppm or 0.0) * 1.3)
    ax.set_ylim(lo, hi)
    title = "Detrended light curve"
    if d.has_ephemeris:
        assert d.period_days is not None and d.t0_bjd is not None
        first = math.ceil((curves.time_bjd.min() - d.t0_bjd) / d.period_days)
        last = math.floor((curves.time_bjd.max() - d.t0_bjd) / d.period_days)
        numbers = np.arange(first, last + 1)
        centres = d.t0_bjd + numbers * d.period_days
        # Mark only transits with data nearby (gaps hide the others).
        nearest = np.searchsorted(curves.time_bjd, centres).clip(1, curves.n_points - 1)
        distance = np.minimum(
            np.abs(curves.time_bjd[nearest] - centres),
            np.abs(curves.time_bjd[nearest - 1] - centres),
        )
        with_data = distance < max((d.duration_hours or 1.0) / 24.0, 0.05)
        ax.set_ylim(lo, hi + 0.12 * (hi - lo))
        ax.plot(
            centres[with_data] - offset,
            np.full(with_data.sum(), hi + 0.06 * (hi - lo)),
            "v",
            color=_MODEL,
            ms=3.5,
            mec="none",
        )
        title += f" — {int(with_data.sum())} transits of the candidate marked (red)"
    ax.set_xlim(t.min(), t.max())
    ax.set_ylabel("flux − 1 [ppm]")
    ax.set_xlabel(label, labelpad=1)
    _panel_title(ax, title)


def _draw_periodogram(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    _panel_title(ax, "Periodogram (BLS)")
    if curves.periods_days is None or curves.power is None or curves.periods_days.size == 0:
        _message(
            ax, "no periodogram\n(" + "; ".join(n for n in curves.notes if "periodogram" in n) + ")"
        )
        return
    p, power = curves.periods_days, curves.power
    ax.plot(p, power, "-", color=_INK, lw=0.5)
    ax.set_xscale("log")
    ax.set_xlim(p.min(), p.max())
    ax.set_xlabel("period [d]", labelpad=1)
    ax.set_ylabel(curves.power_label)
    period = report.diagnostics.period_days
    top = float(np.nanmax(power))
    ax.set_ylim(min(float(np.nanmin(power)), 0.0), top * 1.32 + 1e-9)
    if period is not None and p.min() <= period <= p.max():
        ax.plot([period], [top * 1.1], "v", color=_MODEL, ms=4, mec="none")
        for factor in (0.5, 2.0):
            alias = period * factor
            if p.min() <= alias <= p.max():
                ax.axvline(alias, color="#999999", lw=0.6, ls=":")
        ax.text(
            0.99,
            0.97,
            f"candidate P = {period:.5g} d (▼); P/2, 2P dotted",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=_FONT - 0.5,
            color=_MODEL,
        )


def _fold_hours(curves: ReportCurves, d: Diagnostics, *, shift: float = 0.0) -> np.ndarray:
    assert d.period_days is not None and d.t0_bjd is not None
    from exoguard.core.lightcurve import fold_phase_days

    t0 = d.t0_bjd + shift * d.period_days
    return fold_phase_days(curves.time_bjd, period_days=d.period_days, t0_bjd=t0) * 24.0


def _draw_global(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    d = report.diagnostics
    _panel_title(ax, "Phase-folded, full orbit")
    if not d.has_ephemeris:
        _message(ax, "no ephemeris: cannot fold")
        return
    assert d.period_days is not None and d.t0_bjd is not None
    from exoguard.core.lightcurve import fold_phase_days

    scale, ylabel = _depth_scale(d, curves)
    phase = (
        fold_phase_days(curves.time_bjd, period_days=d.period_days, t0_bjd=d.t0_bjd) / d.period_days
    )
    y = to_ppm(curves.detrended_flux) * scale
    ax.scatter(phase, y, s=0.5, color=_POINTS, linewidths=0, rasterized=True)
    view = binned(phase, y, lo=-0.5, hi=0.5, n_bins=201, min_count=2)
    ax.plot(view.x, view.y, ".", color=_BINNED, ms=1.8)
    ax.set_xlim(-0.5, 0.5)
    ax.set_ylim(*_view_limits(y, view.y, depth=(d.depth_ppm or 0.0) * scale))
    ax.set_xlabel("phase", labelpad=1)
    ax.set_ylabel(ylabel)
    ax.axvline(0.0, color="#cccccc", lw=0.4, zorder=0)


def _local_window_hours(d: Diagnostics) -> float:
    assert d.duration_hours is not None and d.period_days is not None
    return float(min(3.0 * d.duration_hours, 0.5 * d.period_days * 24.0))


def _draw_local(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    d = report.diagnostics
    _panel_title(ax, "Transit (local view)")
    if not d.has_ephemeris:
        _message(ax, "no ephemeris")
        return
    assert d.duration_hours is not None
    scale, ylabel = _depth_scale(d, curves)
    w = _local_window_hours(d)
    x = _fold_hours(curves, d)
    y = to_ppm(curves.detrended_flux) * scale
    near = np.abs(x) <= w
    ax.scatter(x[near], y[near], s=0.8, color=_POINTS, linewidths=0, rasterized=True)
    view = binned(x, y, lo=-w, hi=w, n_bins=61, min_count=2)
    ax.plot(view.x, view.y, "o", color=_BINNED, ms=1.8, mec="none")
    if d.depth_ppm is not None:
        half = 0.5 * d.duration_hours
        depth = d.depth_ppm * scale
        ax.plot(
            [-w, -half, -half, half, half, w],
            [0, 0, -depth, -depth, 0, 0],
            "-",
            color=_MODEL,
            lw=0.8,
        )
    ax.set_xlim(-w, w)
    ax.set_ylim(
        *_view_limits(y[near] if near.any() else y, view.y, depth=(d.depth_ppm or 0.0) * scale)
    )
    ax.set_xlabel("hours from mid-transit", labelpad=1)
    ax.set_ylabel(ylabel)


def _draw_odd_even(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    d = report.diagnostics
    if not d.has_ephemeris:
        _panel_title(ax, "Odd / even transits")
        _message(ax, "no ephemeris")
        return
    assert d.period_days is not None and d.t0_bjd is not None and d.duration_hours is not None
    scale, ylabel = _depth_scale(d, curves)
    w = _local_window_hours(d)
    x = _fold_hours(curves, d)
    y = to_ppm(curves.detrended_flux) * scale
    number = transit_numbers(curves.time_bjd, period_days=d.period_days, t0_bjd=d.t0_bjd)
    core = np.abs(x) < 0.25 * d.duration_hours
    outside = (np.abs(x) > 0.75 * d.duration_hours) & (np.abs(x) <= w)
    estimates = []
    binned_all: list[np.ndarray] = []
    for parity, colour, shift in ((1, _ODD, -w), (0, _EVEN, w)):
        sel = (np.mod(number, 2) == parity) & (np.abs(x) <= w)
        ax.scatter(x[sel] + shift, y[sel], s=0.6, color=_POINTS, linewidths=0, rasterized=True)
        view = binned(x[sel], y[sel], lo=-w, hi=w, n_bins=41, min_count=2)
        ax.plot(view.x + shift, view.y, "o", color=colour, ms=1.8, mec="none")
        binned_all.append(view.y)
        est = depth_estimate(y / scale, core & sel, outside & sel)
        estimates.append(est)
        if est is not None:
            level = -est.depth_ppm * scale
            ax.add_patch(
                Rectangle(
                    (shift - w, level - est.err_ppm * scale),
                    2 * w,
                    2 * est.err_ppm * scale,
                    color=colour,
                    alpha=0.18,
                    lw=0,
                )
            )
            ax.plot([shift - w, shift + w], [level, level], "-", color=colour, lw=0.7)
    ax.axvline(0.0, color="#666666", lw=0.6)
    ax.set_xlim(-2 * w, 2 * w)
    ax.set_xticks([-w, w], ["odd", "even"])
    ax.tick_params(axis="x", length=0)
    near = np.abs(x) <= w
    ax.set_ylim(
        *_view_limits(
            y[near] if near.any() else y,
            np.concatenate(binned_all),
            depth=(d.depth_ppm or 0.0) * scale,
        )
    )
    ax.set_ylabel(ylabel)
    sigma = d.odd_even_sigma
    odd, even = estimates
    if sigma is None and odd is not None and even is not None:
        sigma = abs(odd.depth_ppm - even.depth_ppm) / math.hypot(odd.err_ppm, even.err_ppm)
    _panel_title(ax, "Odd / even transits")
    _corner_note(ax, f"depth difference {fmt(sigma, '.1f')} σ")


def _draw_secondary(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    d = report.diagnostics
    if not d.has_ephemeris:
        _panel_title(ax, "Secondary eclipse (phase 0.5)")
        _message(ax, "no ephemeris")
        return
    assert d.duration_hours is not None
    w = _local_window_hours(d)
    phase = 0.5
    if d.secondary_phase is not None and 0.3 <= d.secondary_phase <= 0.7:
        phase = d.secondary_phase  # the search's strongest dip (eccentric orbits shift it)
    x = _fold_hours(curves, d, shift=phase)
    y = to_ppm(curves.detrended_flux)
    near = np.abs(x) <= w
    ax.scatter(x[near], y[near], s=0.8, color=_POINTS, linewidths=0, rasterized=True)
    view = binned(x, y, lo=-w, hi=w, n_bins=41, min_count=2)
    ax.plot(view.x, view.y, "o", color=_BINNED, ms=1.8, mec="none")
    depth, sigma = d.secondary_depth_ppm, d.secondary_sigma
    if depth is None:
        est = depth_estimate(
            y,
            near & (np.abs(x) < 0.5 * d.duration_hours),
            near & (np.abs(x) > 0.75 * d.duration_hours),
        )
        if est is not None:
            depth, sigma = est.depth_ppm, est.depth_ppm / est.err_ppm if est.err_ppm > 0 else None
    if depth is not None:
        half = 0.5 * d.duration_hours
        ax.plot([-half, half], [-depth, -depth], "-", color=_MODEL, lw=0.9)
    ax.axhline(0.0, color="#999999", lw=0.5, ls=":")
    ax.set_xlim(-w, w)
    lo, hi = _view_limits(y[near] if near.any() else y, view.y, depth=max(depth or 0.0, 0.0))
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"hours from phase {phase:.2f}", labelpad=1)
    ax.set_ylabel("flux − 1 [ppm]")
    _panel_title(ax, f"Secondary eclipse (phase {phase:.2f})")
    _corner_note(ax, f"depth {fmt(depth, '.0f')} ppm, {fmt(sigma, '.1f')} σ")


# ---------------------------------------------------------------------------------- tables
def _draw_table(ax: Axes, rows: Sequence[tuple[str, str]], *, title: str) -> None:
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(0.0, 1.0, title, fontsize=_FONT + 1, fontweight="bold", va="top")
    top, bottom = 0.93, 0.0
    step = min((top - bottom) / max(len(rows), 1), 0.06)
    for i, (label, value) in enumerate(rows):
        y = top - (i + 0.5) * step
        if i % 2 == 0:
            ax.add_patch(Rectangle((0.0, y - step / 2), 1.0, step, color="#eef2f7", lw=0))
        ax.text(0.02, y, label, va="center", fontsize=_FONT)
        ax.text(0.98, y, value, va="center", ha="right", fontsize=_FONT, family="DejaVu Sans Mono")


def _headline(report: CandidateReport, *, short: bool = False) -> tuple[str, str]:
    """The verdict's words (upper case) and colour: the candidate's state, as on the pages."""
    if report.state is not None:
        colour_key = "candidate" if report.state.key == "uncertain" else report.state.key
        words = report.state.headline if short else report.state.words
        return words.upper(), _VERDICT_COLOURS.get(colour_key, _INK)
    v = report.verdict
    if v is None:
        return "NOT CLASSIFIED YET", "#555555"
    return v.words.upper(), _VERDICT_COLOURS.get(v.label, _INK)


def _draw_verdict(ax: Axes, report: CandidateReport) -> None:
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(0.0, 1.0, "Verdict", fontsize=_FONT + 1, fontweight="bold", va="top")
    v = report.verdict
    if v is None:
        ax.text(
            0.0,
            0.62,
            "NOT CLASSIFIED YET",
            fontsize=12,
            fontweight="bold",
            color="#555555",
            va="center",
        )
        ax.text(0.0, 0.3, "no model has scored this candidate", fontsize=_FONT, va="center")
        return
    words, colour = _headline(report, short=True)
    ax.text(0.0, 0.70, words, fontsize=12.5, fontweight="bold", color=colour, va="center")
    ax.text(
        0.0,
        0.47,
        f"P(planet) = {v.probability:.3f} ± {v.uncertainty:.3f}",
        fontsize=_FONT + 1.5,
        va="center",
    )
    # The probability on a 0..1 bar with its ±1σ spread.
    bar_y, bar_h = 0.18, 0.12
    ax.add_patch(Rectangle((0.0, bar_y), 1.0, bar_h, color="#e5e5e5", lw=0))
    lo = max(v.probability - v.uncertainty, 0.0)
    hi = min(v.probability + v.uncertainty, 1.0)
    ax.add_patch(Rectangle((lo, bar_y), hi - lo, bar_h, color=colour, alpha=0.35, lw=0))
    ax.plot(
        [v.probability, v.probability],
        [bar_y - 0.03, bar_y + bar_h + 0.03],
        "-",
        color=colour,
        lw=1.6,
    )
    ax.plot([0.5, 0.5], [bar_y, bar_y + bar_h], ":", color="#444444", lw=0.6)
    for x, text in ((0.0, "0 false positive"), (1.0, "planet 1")):
        ax.text(
            x, bar_y - 0.06, text, fontsize=_FONT - 1, ha="left" if x == 0 else "right", va="top"
        )
    canary = " (canary)" if v.canary else ""
    when = f"\nscored {v.created_at:%Y-%m-%d}" if v.created_at else ""
    ax.text(
        1.0,
        0.47,
        f"model {v.model_version}{canary}{when}",
        fontsize=_FONT - 0.5,
        ha="right",
        va="center",
        color="#444444",
    )


def _draw_shap(ax: Axes, report: CandidateReport) -> None:
    top = report.top_shap(8)
    if not top:
        _message(ax, "no explanation stored for this candidate")
        return
    top = top[::-1]  # largest at the top of a barh
    values = np.array([c.contribution for c in top])
    colours = [
        _VERDICT_COLOURS["planet"] if c > 0 else _VERDICT_COLOURS["false_positive"] for c in values
    ]
    y = np.arange(len(top))
    ax.barh(y, values, color=colours, height=0.65)
    labels = []
    for c in top:
        text = c.feature if c.value is None else f"{c.feature} = {c.value:.4g}"
        labels.append(text if len(text) <= 34 else text[:33] + "…")
    ax.set_yticks(y, labels)
    ax.axvline(0.0, color="#444444", lw=0.6)
    span = float(np.max(np.abs(values))) or 1.0
    ax.set_xlim(-1.15 * span, 1.15 * span)
    ax.set_xlabel(f"← false positive   [{report.shap_units}]   planet →", labelpad=1)
    ax.tick_params(axis="y", length=0)


def _draw_votes(ax: Axes, report: CandidateReport) -> None:
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(0.0, 1.0, "Human vetting", fontsize=_FONT + 1, fontweight="bold", va="top")
    votes = report.votes
    if votes.status is None and votes.n_votes == 0:
        ax.text(0.0, 0.45, "not in the vetting queue; no votes", fontsize=_FONT, va="center")
        return
    ax.text(
        0.0,
        0.62,
        f"{votes.n_votes} votes: planet {votes.n_planet}, false positive {votes.n_false_positive}",
        fontsize=_FONT + 0.5,
        va="center",
    )
    if votes.n_votes:
        share = votes.n_planet / votes.n_votes
        ax.add_patch(Rectangle((0.0, 0.32), share, 0.14, color=_VERDICT_COLOURS["planet"], lw=0))
        ax.add_patch(
            Rectangle(
                (share, 0.32), 1.0 - share, 0.14, color=_VERDICT_COLOURS["false_positive"], lw=0
            )
        )
    consensus = "no consensus yet"
    if votes.consensus_label is not None:
        consensus = f"consensus: {label_words(votes.consensus_label)}"
        if votes.consensus_share is not None:
            consensus += f" ({100 * votes.consensus_share:.0f} % weighted agreement)"
    status = f"queue item {votes.status}" if votes.status else ""
    confidence = (
        f", mean confidence {votes.mean_confidence:.1f}/5"
        if votes.mean_confidence is not None
        else ""
    )
    ax.text(0.0, 0.12, consensus, fontsize=_FONT, va="center")
    ax.text(0.0, -0.16, f"{status}{confidence}".strip(", "), fontsize=_FONT, va="center")


# ---------------------------------------------------------------------------------- pages
#: Smallest font the header's title shrinks to before its name is shortened with "…".
_TITLE_MIN_FONT = 10.0
#: Clear space (figure fraction) between the title and the verdict on its right.
_HEADER_GAP = 0.02


def _right_edge(fig: Figure, text: Any) -> float:
    """The right edge of a text artist, as a fraction of the figure width."""
    box = text.get_window_extent()
    return float(fig.transFigure.inverted().transform((box.x1, box.y1))[0])


def _fit_left_text(
    fig: Figure, text: Any, *, prefix: str, name: str, right_limit: float, min_size: float
) -> None:
    """Shrink `text` (``prefix + name``) and then shorten `name` until it ends left of
    `right_limit`, so that it never runs under the verdict on the right."""
    while _right_edge(fig, text) > right_limit and text.get_fontsize() > min_size:
        text.set_fontsize(max(min_size, text.get_fontsize() - 0.5))
    shown = name
    while _right_edge(fig, text) > right_limit and len(shown) > 4:
        shown = shown[: max(4, len(shown) - max(1, len(shown) // 10))]
        text.set_text(f"{prefix}{shown.rstrip()}…")


def _header(fig: Figure, report: CandidateReport) -> None:
    # The verdict is placed first; the title and the line under it then fit to its left
    # (a long name once ran under "LIKELY FALSE POSITIVE").
    right_limit = 0.955
    sub_limit = 0.955
    if report.verdict is not None:
        v = report.verdict
        headline, colour = _headline(report, short=True)
        words = fig.text(
            0.955,
            0.977,
            headline,
            fontsize=11,
            fontweight="bold",
            color=colour,
            ha="right",
            va="center",
        )
        odds = fig.text(
            0.955,
            0.958,
            f"P(planet) {v.probability:.2f} ± {v.uncertainty:.2f}",
            fontsize=_FONT + 1.5,
            ha="right",
            va="center",
        )
        inverse = fig.transFigure.inverted()
        right_limit = float(inverse.transform((words.get_window_extent().x0, 0))[0]) - _HEADER_GAP
        sub_limit = float(inverse.transform((odds.get_window_extent().x0, 0))[0]) - _HEADER_GAP
    prefix = "exoguard vetting report — "
    title = fig.text(
        0.06,
        0.977,
        f"{prefix}{report.object_id}",
        fontsize=14,
        fontweight="bold",
        va="center",
    )
    _fit_left_text(
        fig,
        title,
        prefix=prefix,
        name=str(report.object_id),
        right_limit=right_limit,
        min_size=_TITLE_MIN_FONT,
    )
    parts = [report.mission.upper() if report.mission != "other" else "other mission"]
    if report.host_id:
        parts.append(report.host_id)
    if report.catalog_match:
        parts.append(report.catalog_match)
    elif report.disposition:
        parts.append(f"archive disposition: {report.disposition}")
    elif report.catalog_label:
        parts.append(f"stored label: {label_words(report.catalog_label)}")
    if report.origin:
        parts.append(f"origin: {report.origin}")
    line = "  ·  ".join(parts)
    sub = fig.text(0.06, 0.958, line, fontsize=_FONT + 1.5, va="center", color="#333333")
    _fit_left_text(fig, sub, prefix="", name=line, right_limit=sub_limit, min_size=_FONT - 0.5)
    fig.add_artist(_hline(0.946))


def _hline(y: float) -> Any:
    from matplotlib.lines import Line2D

    return Line2D([0.05, 0.955], [y, y], color="#999999", lw=0.6)


def _footer(fig: Figure, report: CandidateReport, page: str | None) -> None:
    generated = (report.generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    _, time_label = time_axis(report.mission)
    bits = [f"exoguard {__version__}", f"generated {generated}"]
    if report.source:
        bits.append(f"source: {report.source}")
    fig.text(0.05, 0.012, "  ·  ".join(bits), fontsize=_FONT - 1, color="#555555")
    notes = list(report.notes) + ([report.stellar_note] if report.stellar_note else [])
    if report.curves is not None:
        notes = list(report.curves.notes) + notes
    note = "Times BJD_TDB; panels use " + time_label.split(" [")[0] + ". " + "; ".join(notes)
    lines = textwrap.wrap(note, width=165, max_lines=2, placeholder=" …")
    for i, line in enumerate(lines):
        fig.text(0.05, 0.024 + 0.0105 * (len(lines) - 1 - i), line, fontsize=_FONT - 1,
                 color="#555555")  # fmt: skip
    if page:
        fig.text(0.955, 0.012, page, fontsize=_FONT - 1, color="#555555", ha="right")


def report_page(report: CandidateReport, *, page_label: str | None = None) -> Figure:
    """One A4 page summarising the vetting of one candidate (see the module docstring)."""
    with report_style():
        fig = Figure(figsize=PAGE_SIZE_IN)
        _header(fig, report)
        left, right = 0.085, 0.955
        width = right - left
        curves = report.curves
        if curves is not None and curves.n_points > 0:
            _draw_raw(fig.add_axes((left, 0.835, width, 0.09)), report, curves)
            _draw_detrended(fig.add_axes((left, 0.708, width, 0.09)), report, curves)
            gap = 0.075
            half = (width - gap) / 2
            _draw_periodogram(fig.add_axes((left, 0.565, half, 0.105)), report, curves)
            _draw_global(fig.add_axes((left + half + gap, 0.565, half, 0.105)), report, curves)
            third_gap = 0.085
            third = (width - 2 * third_gap) / 3
            row_y, row_h = 0.405, 0.118
            _draw_local(fig.add_axes((left, row_y, third, row_h)), report, curves)
            _draw_odd_even(
                fig.add_axes((left + third + third_gap, row_y, third, row_h)), report, curves
            )
            _draw_secondary(
                fig.add_axes((left + 2 * (third + third_gap), row_y, third, row_h)), report, curves
            )
        else:
            ax = fig.add_axes((left, 0.845, width, 0.08))
            _panel_title(ax, "Light curve, periodogram and folded views")
            _message(
                ax,
                f"Plots unavailable: {report.curves_missing_reason}.\n"
                "The panels below are drawn from the stored catalog values, not from data.",
            )
            gap = 0.075
            half = (width - gap) / 2
            _draw_schematic(fig.add_axes((left, 0.43, half, 0.36)), report)
            _draw_sizes(fig.add_axes((left + half + gap, 0.43, half, 0.36)), report)
        fig.add_artist(_hline(0.365))
        _draw_table(
            fig.add_axes((0.05, 0.056, 0.43, 0.294)), diagnostics_rows(report), title="Diagnostics"
        )
        _draw_verdict(fig.add_axes((0.54, 0.265, 0.415, 0.085)), report)
        fig.text(
            0.54, 0.252, "Top SHAP contributions", fontsize=_FONT + 1, fontweight="bold", va="top"
        )
        if report.top_shap():
            _draw_shap(fig.add_axes((0.735, 0.13, 0.22, 0.108)), report)
        else:
            fig.text(
                0.54,
                0.2,
                "no explanation stored for this candidate",
                fontsize=_FONT,
                color="#555555",
                va="center",
            )
        _draw_votes(fig.add_axes((0.54, 0.062, 0.415, 0.045)), report)
        _footer(fig, report, page_label)
    return fig


SUMMARY_COLUMNS: Final[tuple[tuple[str, str, float], ...]] = (
    ("index", "#", 0.0),
    ("object_id", "Object", 0.04),
    ("host_id", "Host", 0.165),
    ("mission", "Mission", 0.295),
    ("period_days", "Period [d]", 0.365),
    ("depth_ppm", "Depth [ppm]", 0.455),
    ("snr", "SNR", 0.58),
    ("label", "Verdict", 0.64),
    ("probability", "P(planet) ± σ", 0.76),
    ("consensus_label", "Vetting", 0.88),
)


def _summary_cell(key: str, row: dict[str, Any]) -> str:
    value = row.get(key)
    if key == "period_days":
        return fmt(value, ".5f")
    if key in ("depth_ppm",):
        return fmt(value, ".0f")
    if key == "snr":
        return fmt(value, ".1f")
    if key == "label":
        if row.get("state"):
            return str(row["state"])  # the candidate's state, as on the pages
        return label_words(value) if value else "not scored"
    if key == "probability":
        return fmt_pm(value, row.get("uncertainty"), ".2f")
    if key == "consensus_label":
        n = row.get("n_votes") or 0
        return f"{label_words(value)} ({n})" if value else f"— ({n} votes)"
    if key == "mission":
        return str(value or "—").upper()
    text = str(value) if value is not None else "—"
    return text if len(text) <= 22 else text[:21] + "…"


def summary_pages(
    reports: Sequence[CandidateReport], *, title: str = "exoguard vetting report — summary"
) -> list[Figure]:
    """The summary table of a multi-candidate report, as many A4 pages as needed."""
    rows = [{**r.summary_row(), "index": i} for i, r in enumerate(reports, start=1)]
    n_pages = max(1, math.ceil(len(rows) / SUMMARY_ROWS_PER_PAGE))
    figures: list[Figure] = []
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    counts = {label: sum(1 for r in rows if r["label"] == label) for label in _VERDICT_COLOURS}
    with report_style():
        for page in range(n_pages):
            fig = Figure(figsize=PAGE_SIZE_IN)
            fig.text(0.06, 0.965, title, fontsize=14, fontweight="bold", va="center")
            fig.text(
                0.06,
                0.943,
                f"{len(rows)} candidates · planet {counts['planet']} · false positive "
                f"{counts['false_positive']} · candidate {counts['candidate']} · "
                f"not scored {sum(1 for r in rows if r['label'] is None)} · one page each follows",
                fontsize=_FONT + 1.5,
                va="center",
                color="#333333",
            )
            fig.add_artist(_hline(0.93))
            ax = fig.add_axes((0.06, 0.05, 0.89, 0.86))
            ax.set_axis_off()
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            step = 1.0 / (SUMMARY_ROWS_PER_PAGE + 1)
            for _, header, x in SUMMARY_COLUMNS:
                ax.text(
                    x, 1 - 0.5 * step, header, fontweight="bold", va="center", fontsize=_FONT + 0.5
                )
            chunk = rows[page * SUMMARY_ROWS_PER_PAGE : (page + 1) * SUMMARY_ROWS_PER_PAGE]
            for i, row in enumerate(chunk):
                y = 1 - (i + 1.5) * step
                if i % 2 == 0:
                    ax.add_patch(
                        Rectangle((-0.01, y - step / 2), 1.02, step, color="#eef2f7", lw=0)
                    )
                for key, _, x in SUMMARY_COLUMNS:
                    colour = _VERDICT_COLOURS.get(row["label"], _INK) if key == "label" else _INK
                    ax.text(
                        x,
                        y,
                        _summary_cell(key, row),
                        va="center",
                        fontsize=_FONT + 0.5,
                        color=colour,
                    )
            fig.text(
                0.05,
                0.012,
                f"exoguard {__version__}  ·  generated {generated}",
                fontsize=_FONT - 1,
                color="#555555",
            )
            fig.text(
                0.955,
                0.012,
                f"summary {page + 1}/{n_pages}",
                fontsize=_FONT - 1,
                color="#555555",
                ha="right",
            )
            figures.append(fig)
    return figures
