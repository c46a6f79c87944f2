"""The pages of the PDF report: one page per candidate, and the summary table pages."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from exoguard import __version__
from exoguard.reports.figures.curve_panels import (
    draw_detrended,
    draw_global,
    draw_local,
    draw_odd_even,
    draw_periodogram,
    draw_raw,
    draw_schematic,
    draw_secondary,
    draw_sizes,
)
from exoguard.reports.figures.style import (
    FONT,
    INK,
    VERDICT_COLOURS,
    panel_title,
    report_style,
    show_message,
)
from exoguard.reports.figures.text_panels import (
    draw_shap,
    draw_table,
    draw_verdict,
    draw_votes,
    verdict_headline,
)
from exoguard.reports.model import CandidateReport
from exoguard.reports.tables import diagnostics_rows, fmt, fmt_pm, label_words, time_axis

__all__ = ["PAGE_SIZE_IN", "report_page", "summary_pages"]

#: A4 portrait, inches.
PAGE_SIZE_IN: Final = (8.27, 11.69)
SUMMARY_ROWS_PER_PAGE: Final = 34

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
        headline, colour = verdict_headline(report, short=True)
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
            fontsize=FONT + 1.5,
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
    sub = fig.text(0.06, 0.958, line, fontsize=FONT + 1.5, va="center", color="#333333")
    _fit_left_text(fig, sub, prefix="", name=line, right_limit=sub_limit, min_size=FONT - 0.5)
    fig.add_artist(_hline(0.946))


def _hline(y: float) -> Any:
    return Line2D([0.05, 0.955], [y, y], color="#999999", lw=0.6)


def _footer(fig: Figure, report: CandidateReport, page: str | None) -> None:
    generated = (report.generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    _, time_label = time_axis(report.mission)
    bits = [f"exoguard {__version__}", f"generated {generated}"]
    if report.source:
        bits.append(f"source: {report.source}")
    fig.text(0.05, 0.012, "  ·  ".join(bits), fontsize=FONT - 1, color="#555555")
    notes = list(report.notes) + ([report.stellar_note] if report.stellar_note else [])
    if report.curves is not None:
        notes = list(report.curves.notes) + notes
    note = "Times BJD_TDB; panels use " + time_label.split(" [")[0] + ". " + "; ".join(notes)
    lines = textwrap.wrap(note, width=165, max_lines=2, placeholder=" …")
    for i, line in enumerate(lines):
        fig.text(0.05, 0.024 + 0.0105 * (len(lines) - 1 - i), line, fontsize=FONT - 1,
                 color="#555555")  # fmt: skip
    if page:
        fig.text(0.955, 0.012, page, fontsize=FONT - 1, color="#555555", ha="right")


def report_page(report: CandidateReport, *, page_label: str | None = None) -> Figure:
    """One A4 page summarising the vetting of one candidate (see the module docstring)."""
    with report_style():
        fig = Figure(figsize=PAGE_SIZE_IN)
        _header(fig, report)
        left, right = 0.085, 0.955
        width = right - left
        curves = report.curves
        if curves is not None and curves.n_points > 0:
            draw_raw(fig.add_axes((left, 0.835, width, 0.09)), report, curves)
            draw_detrended(fig.add_axes((left, 0.708, width, 0.09)), report, curves)
            gap = 0.075
            half = (width - gap) / 2
            draw_periodogram(fig.add_axes((left, 0.565, half, 0.105)), report, curves)
            draw_global(fig.add_axes((left + half + gap, 0.565, half, 0.105)), report, curves)
            third_gap = 0.085
            third = (width - 2 * third_gap) / 3
            row_y, row_h = 0.405, 0.118
            draw_local(fig.add_axes((left, row_y, third, row_h)), report, curves)
            draw_odd_even(
                fig.add_axes((left + third + third_gap, row_y, third, row_h)), report, curves
            )
            draw_secondary(
                fig.add_axes((left + 2 * (third + third_gap), row_y, third, row_h)), report, curves
            )
        else:
            ax = fig.add_axes((left, 0.845, width, 0.08))
            panel_title(ax, "Light curve, periodogram and folded views")
            show_message(
                ax,
                f"Plots unavailable: {report.curves_missing_reason}.\n"
                "The panels below are drawn from the stored catalog values, not from data.",
            )
            gap = 0.075
            half = (width - gap) / 2
            draw_schematic(fig.add_axes((left, 0.43, half, 0.36)), report)
            draw_sizes(fig.add_axes((left + half + gap, 0.43, half, 0.36)), report)
        fig.add_artist(_hline(0.365))
        draw_table(
            fig.add_axes((0.05, 0.056, 0.43, 0.294)), diagnostics_rows(report), title="Diagnostics"
        )
        draw_verdict(fig.add_axes((0.54, 0.265, 0.415, 0.085)), report)
        fig.text(
            0.54, 0.252, "Top SHAP contributions", fontsize=FONT + 1, fontweight="bold", va="top"
        )
        if report.top_shap():
            draw_shap(fig.add_axes((0.735, 0.13, 0.22, 0.108)), report)
        else:
            fig.text(
                0.54,
                0.2,
                "no explanation stored for this candidate",
                fontsize=FONT,
                color="#555555",
                va="center",
            )
        draw_votes(fig.add_axes((0.54, 0.062, 0.415, 0.045)), report)
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
    counts = {label: sum(1 for r in rows if r["label"] == label) for label in VERDICT_COLOURS}
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
                fontsize=FONT + 1.5,
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
                    x, 1 - 0.5 * step, header, fontweight="bold", va="center", fontsize=FONT + 0.5
                )
            chunk = rows[page * SUMMARY_ROWS_PER_PAGE : (page + 1) * SUMMARY_ROWS_PER_PAGE]
            for i, row in enumerate(chunk):
                y = 1 - (i + 1.5) * step
                if i % 2 == 0:
                    ax.add_patch(
                        Rectangle((-0.01, y - step / 2), 1.02, step, color="#eef2f7", lw=0)
                    )
                for key, _, x in SUMMARY_COLUMNS:
                    colour = VERDICT_COLOURS.get(row["label"], INK) if key == "label" else INK
                    ax.text(
                        x,
                        y,
                        _summary_cell(key, row),
                        va="center",
                        fontsize=FONT + 0.5,
                        color=colour,
                    )
            fig.text(
                0.05,
                0.012,
                f"exoguard {__version__}  ·  generated {generated}",
                fontsize=FONT - 1,
                color="#555555",
            )
            fig.text(
                0.955,
                0.012,
                f"summary {page + 1}/{n_pages}",
                fontsize=FONT - 1,
                color="#555555",
                ha="right",
            )
            figures.append(fig)
    return figures
