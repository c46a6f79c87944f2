"""The light-curve panels of a report page, and the schematic panels drawn without data."""

from __future__ import annotations

import math
from typing import Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from exoguard.core.lightcurve import fold_phase_days
from exoguard.core.transit_measures import transit_numbers
from exoguard.reports.curves import binned, depth_estimate, to_ppm
from exoguard.reports.figures.style import (
    BINNED,
    EVEN,
    FONT,
    INK,
    MODEL,
    ODD,
    POINTS,
    corner_note,
    depth_scale,
    panel_title,
    robust_limits,
    show_message,
    view_limits,
)
from exoguard.reports.model import CandidateReport, Diagnostics, ReportCurves
from exoguard.reports.tables import fmt, time_axis

# Radii of reference bodies, Earth radii.
_REFERENCE_RADII: Final = (("Earth", 1.0), ("Neptune", 3.865), ("Jupiter", 11.21))


def draw_schematic(ax: Axes, report: CandidateReport) -> None:
    """A box transit drawn from the catalog depth and duration (no data)."""
    d = report.diagnostics
    panel_title(ax, "Transit shape implied by the catalog values (schematic)")
    if d.depth_ppm is None or d.duration_hours is None or d.duration_hours <= 0:
        show_message(ax, "depth or duration unknown")
        return
    w = 2.0 * d.duration_hours
    half = 0.5 * d.duration_hours
    # A trapezoid with 10 % ingress/egress for a planet, deeper V for a grazing one.
    ingress = 0.5 * half if (d.impact or 0.0) > 0.9 else 0.1 * half
    xs = [-w, -half, -half + ingress, half - ingress, half, w]
    ys = [0.0, 0.0, -d.depth_ppm, -d.depth_ppm, 0.0, 0.0]
    ax.plot(xs, ys, "-", color=MODEL, lw=1.2)
    ax.fill_between(xs, ys, 0.0, color=MODEL, alpha=0.08)
    ax.set_xlim(-w, w)
    ax.set_ylim(-1.35 * d.depth_ppm, 0.35 * d.depth_ppm)
    ax.set_xlabel("hours from mid-transit", labelpad=1)
    ax.set_ylabel("flux − 1 [ppm]")
    corner_note(
        ax,
        f"depth {d.depth_ppm:.0f} ppm, duration {d.duration_hours:.2f} h"
        + (f", impact {d.impact:.2f}" if d.impact is not None else ""),
    )


def draw_sizes(ax: Axes, report: CandidateReport) -> None:
    """The catalog planet radius against Earth, Neptune and Jupiter."""
    d = report.diagnostics
    panel_title(ax, "Planet radius from the catalog")
    radius = d.planet_radius_rearth
    if radius is None or radius <= 0:
        show_message(ax, "planet radius unknown")
        return
    names = [name for name, _ in _REFERENCE_RADII] + [report.object_id]
    values = [r for _, r in _REFERENCE_RADII] + [radius]
    colours = ["#9aa5b1"] * len(_REFERENCE_RADII) + [MODEL]
    y = np.arange(len(values))
    ax.barh(y, values, color=colours, height=0.6)
    ax.set_xscale("log")
    ax.set_yticks(y, names)
    ax.set_xlabel("radius [R⊕]", labelpad=1)
    ax.set_xlim(0.3, max(values) * 3)
    ax.tick_params(axis="y", length=0)
    for yi, value in zip(y, values, strict=True):
        ax.text(value * 1.08, float(yi), f"{value:.3g}", va="center", fontsize=FONT - 0.5)
    if radius > 2.0 * 11.21:
        ax.text(
            0.98,
            0.04,
            "larger than twice Jupiter:\nmore likely a star than a planet",
            transform=ax.transAxes,
            fontsize=FONT - 0.5,
            color=MODEL,
            ha="right",
            va="bottom",
        )


def draw_raw(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    offset, label = time_axis(report.mission)
    t = curves.time_bjd - offset
    y = to_ppm(curves.raw_flux)
    ax.scatter(t, y, s=0.6, color=INK, linewidths=0, rasterized=True)
    if curves.trend is not None:
        trend = to_ppm(curves.trend)
        gaps = np.flatnonzero(np.diff(curves.time_bjd) > 0.5) + 1
        for piece_t, piece_y in zip(np.split(t, gaps), np.split(trend, gaps), strict=True):
            ax.plot(piece_t, piece_y, "-", color=MODEL, lw=1.0, zorder=3)
    ax.set_ylim(*robust_limits(y, low_extra=(report.diagnostics.depth_ppm or 0.0) * 1.3))
    ax.set_xlim(t.min(), t.max())
    ax.set_ylabel("flux − 1 [ppm]")
    ax.set_xlabel(label, labelpad=1)
    panel_title(ax, "Normalised light curve and trend (red)")


def draw_detrended(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    offset, label = time_axis(report.mission)
    t = curves.time_bjd - offset
    y = to_ppm(curves.detrended_flux)
    d = report.diagnostics
    ax.scatter(t, y, s=0.6, color=INK, linewidths=0, rasterized=True)
    lo, hi = robust_limits(y, low_extra=(d.depth_ppm or 0.0) * 1.3)
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
            color=MODEL,
            ms=3.5,
            mec="none",
        )
        title += f" — {int(with_data.sum())} transits of the candidate marked (red)"
    ax.set_xlim(t.min(), t.max())
    ax.set_ylabel("flux − 1 [ppm]")
    ax.set_xlabel(label, labelpad=1)
    panel_title(ax, title)


def draw_periodogram(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    panel_title(ax, "Periodogram (BLS)")
    if curves.periods_days is None or curves.power is None or curves.periods_days.size == 0:
        show_message(
            ax, "no periodogram\n(" + "; ".join(n for n in curves.notes if "periodogram" in n) + ")"
        )
        return
    p, power = curves.periods_days, curves.power
    ax.plot(p, power, "-", color=INK, lw=0.5)
    ax.set_xscale("log")
    ax.set_xlim(p.min(), p.max())
    ax.set_xlabel("period [d]", labelpad=1)
    ax.set_ylabel(curves.power_label)
    period = report.diagnostics.period_days
    top = float(np.nanmax(power))
    ax.set_ylim(min(float(np.nanmin(power)), 0.0), top * 1.32 + 1e-9)
    if period is not None and p.min() <= period <= p.max():
        ax.plot([period], [top * 1.1], "v", color=MODEL, ms=4, mec="none")
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
            fontsize=FONT - 0.5,
            color=MODEL,
        )


def _titled_with_ephemeris(ax: Axes, d: Diagnostics, title: str, missing: str) -> bool:
    """Title the panel; without an ephemeris say ``missing`` in it and return False."""
    panel_title(ax, title)
    if not d.has_ephemeris:
        show_message(ax, missing)
        return False
    return True


def fold_hours(curves: ReportCurves, d: Diagnostics, *, shift: float = 0.0) -> np.ndarray:
    assert d.period_days is not None and d.t0_bjd is not None
    t0 = d.t0_bjd + shift * d.period_days
    return fold_phase_days(curves.time_bjd, period_days=d.period_days, t0_bjd=t0) * 24.0


def draw_global(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    d = report.diagnostics
    if not _titled_with_ephemeris(ax, d, "Phase-folded, full orbit", "no ephemeris: cannot fold"):
        return
    assert d.period_days is not None and d.t0_bjd is not None
    scale, ylabel = depth_scale(d, curves)
    phase = (
        fold_phase_days(curves.time_bjd, period_days=d.period_days, t0_bjd=d.t0_bjd) / d.period_days
    )
    y = to_ppm(curves.detrended_flux) * scale
    ax.scatter(phase, y, s=0.5, color=POINTS, linewidths=0, rasterized=True)
    view = binned(phase, y, lo=-0.5, hi=0.5, n_bins=201, min_count=2)
    ax.plot(view.x, view.y, ".", color=BINNED, ms=1.8)
    ax.set_xlim(-0.5, 0.5)
    ax.set_ylim(*view_limits(y, view.y, depth=(d.depth_ppm or 0.0) * scale))
    ax.set_xlabel("phase", labelpad=1)
    ax.set_ylabel(ylabel)
    ax.axvline(0.0, color="#cccccc", lw=0.4, zorder=0)


def _local_window_hours(d: Diagnostics) -> float:
    assert d.duration_hours is not None and d.period_days is not None
    return float(min(3.0 * d.duration_hours, 0.5 * d.period_days * 24.0))


def draw_local(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    d = report.diagnostics
    if not _titled_with_ephemeris(ax, d, "Transit (local view)", "no ephemeris"):
        return
    assert d.duration_hours is not None
    scale, ylabel = depth_scale(d, curves)
    w = _local_window_hours(d)
    x = fold_hours(curves, d)
    y = to_ppm(curves.detrended_flux) * scale
    near = np.abs(x) <= w
    ax.scatter(x[near], y[near], s=0.8, color=POINTS, linewidths=0, rasterized=True)
    view = binned(x, y, lo=-w, hi=w, n_bins=61, min_count=2)
    ax.plot(view.x, view.y, "o", color=BINNED, ms=1.8, mec="none")
    if d.depth_ppm is not None:
        half = 0.5 * d.duration_hours
        depth = d.depth_ppm * scale
        ax.plot(
            [-w, -half, -half, half, half, w],
            [0, 0, -depth, -depth, 0, 0],
            "-",
            color=MODEL,
            lw=0.8,
        )
    ax.set_xlim(-w, w)
    ax.set_ylim(
        *view_limits(y[near] if near.any() else y, view.y, depth=(d.depth_ppm or 0.0) * scale)
    )
    ax.set_xlabel("hours from mid-transit", labelpad=1)
    ax.set_ylabel(ylabel)


def draw_odd_even(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    d = report.diagnostics
    if not d.has_ephemeris:
        panel_title(ax, "Odd / even transits")
        show_message(ax, "no ephemeris")
        return
    assert d.period_days is not None and d.t0_bjd is not None and d.duration_hours is not None
    scale, ylabel = depth_scale(d, curves)
    w = _local_window_hours(d)
    x = fold_hours(curves, d)
    y = to_ppm(curves.detrended_flux) * scale
    number = transit_numbers(curves.time_bjd, period_days=d.period_days, t0_bjd=d.t0_bjd)
    core = np.abs(x) < 0.25 * d.duration_hours
    outside = (np.abs(x) > 0.75 * d.duration_hours) & (np.abs(x) <= w)
    estimates = []
    binned_all: list[np.ndarray] = []
    for parity, colour, shift in ((1, ODD, -w), (0, EVEN, w)):
        sel = (np.mod(number, 2) == parity) & (np.abs(x) <= w)
        ax.scatter(x[sel] + shift, y[sel], s=0.6, color=POINTS, linewidths=0, rasterized=True)
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
        *view_limits(
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
    panel_title(ax, "Odd / even transits")
    corner_note(ax, f"depth difference {fmt(sigma, '.1f')} σ")


def draw_secondary(ax: Axes, report: CandidateReport, curves: ReportCurves) -> None:
    d = report.diagnostics
    if not d.has_ephemeris:
        panel_title(ax, "Secondary eclipse (phase 0.5)")
        show_message(ax, "no ephemeris")
        return
    assert d.duration_hours is not None
    w = _local_window_hours(d)
    phase = 0.5
    if d.secondary_phase is not None and 0.3 <= d.secondary_phase <= 0.7:
        phase = d.secondary_phase  # the search's strongest dip (eccentric orbits shift it)
    x = fold_hours(curves, d, shift=phase)
    y = to_ppm(curves.detrended_flux)
    near = np.abs(x) <= w
    ax.scatter(x[near], y[near], s=0.8, color=POINTS, linewidths=0, rasterized=True)
    view = binned(x, y, lo=-w, hi=w, n_bins=41, min_count=2)
    ax.plot(view.x, view.y, "o", color=BINNED, ms=1.8, mec="none")
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
        ax.plot([-half, half], [-depth, -depth], "-", color=MODEL, lw=0.9)
    ax.axhline(0.0, color="#999999", lw=0.5, ls=":")
    ax.set_xlim(-w, w)
    lo, hi = view_limits(y[near] if near.any() else y, view.y, depth=max(depth or 0.0, 0.0))
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"hours from phase {phase:.2f}", labelpad=1)
    ax.set_ylabel("flux − 1 [ppm]")
    panel_title(ax, f"Secondary eclipse (phase {phase:.2f})")
    corner_note(ax, f"depth {fmt(depth, '.0f')} ppm, {fmt(sigma, '.1f')} σ")
