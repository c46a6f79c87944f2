"""The text panels of a report page: diagnostics table, verdict, SHAP contributions, votes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from exoguard.reports.figures.style import (
    FONT,
    INK,
    VERDICT_COLOURS,
    show_message,
)
from exoguard.reports.model import CandidateReport
from exoguard.reports.tables import label_words


def draw_table(ax: Axes, rows: Sequence[tuple[str, str]], *, title: str) -> None:
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(0.0, 1.0, title, fontsize=FONT + 1, fontweight="bold", va="top")
    top, bottom = 0.93, 0.0
    step = min((top - bottom) / max(len(rows), 1), 0.06)
    for i, (label, value) in enumerate(rows):
        y = top - (i + 0.5) * step
        if i % 2 == 0:
            ax.add_patch(Rectangle((0.0, y - step / 2), 1.0, step, color="#eef2f7", lw=0))
        ax.text(0.02, y, label, va="center", fontsize=FONT)
        ax.text(0.98, y, value, va="center", ha="right", fontsize=FONT, family="DejaVu Sans Mono")


def verdict_headline(report: CandidateReport, *, short: bool = False) -> tuple[str, str]:
    """The verdict's words (upper case) and colour: the candidate's state, as on the pages."""
    if report.state is not None:
        colour_key = "candidate" if report.state.key == "uncertain" else report.state.key
        words = report.state.headline if short else report.state.words
        return words.upper(), VERDICT_COLOURS.get(colour_key, INK)
    v = report.verdict
    if v is None:
        return "NOT CLASSIFIED YET", "#555555"
    return v.words.upper(), VERDICT_COLOURS.get(v.label, INK)


def _text_panel(ax: Axes, title: str) -> None:
    """An axis-less panel over the unit square with its bold title at the top left."""
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(0.0, 1.0, title, fontsize=FONT + 1, fontweight="bold", va="top")


def draw_verdict(ax: Axes, report: CandidateReport) -> None:
    _text_panel(ax, "Verdict")
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
        ax.text(0.0, 0.3, "no model has scored this candidate", fontsize=FONT, va="center")
        return
    words, colour = verdict_headline(report, short=True)
    ax.text(0.0, 0.70, words, fontsize=12.5, fontweight="bold", color=colour, va="center")
    ax.text(
        0.0,
        0.47,
        f"P(planet) = {v.probability:.3f} ± {v.uncertainty:.3f}",
        fontsize=FONT + 1.5,
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
            x, bar_y - 0.06, text, fontsize=FONT - 1, ha="left" if x == 0 else "right", va="top"
        )
    canary = " (canary)" if v.canary else ""
    when = f"\nscored {v.created_at:%Y-%m-%d}" if v.created_at else ""
    ax.text(
        1.0,
        0.47,
        f"model {v.model_version}{canary}{when}",
        fontsize=FONT - 0.5,
        ha="right",
        va="center",
        color="#444444",
    )


def draw_shap(ax: Axes, report: CandidateReport) -> None:
    top = report.top_shap(8)
    if not top:
        show_message(ax, "no explanation stored for this candidate")
        return
    top = top[::-1]  # largest at the top of a barh
    values = np.array([c.contribution for c in top])
    colours = [
        VERDICT_COLOURS["planet"] if c > 0 else VERDICT_COLOURS["false_positive"] for c in values
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


def draw_votes(ax: Axes, report: CandidateReport) -> None:
    _text_panel(ax, "Human vetting")
    votes = report.votes
    if votes.status is None and votes.n_votes == 0:
        ax.text(0.0, 0.45, "not in the vetting queue; no votes", fontsize=FONT, va="center")
        return
    ax.text(
        0.0,
        0.62,
        f"{votes.n_votes} votes: planet {votes.n_planet}, false positive {votes.n_false_positive}",
        fontsize=FONT + 0.5,
        va="center",
    )
    if votes.n_votes:
        share = votes.n_planet / votes.n_votes
        ax.add_patch(Rectangle((0.0, 0.32), share, 0.14, color=VERDICT_COLOURS["planet"], lw=0))
        ax.add_patch(
            Rectangle(
                (share, 0.32), 1.0 - share, 0.14, color=VERDICT_COLOURS["false_positive"], lw=0
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
    ax.text(0.0, 0.12, consensus, fontsize=FONT, va="center")
    ax.text(0.0, -0.16, f"{status}{confidence}".strip(", "), fontsize=FONT, va="center")
