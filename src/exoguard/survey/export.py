"""A survey's exports: the CSV of its candidates and a summary PDF.

The CSV is the candidates export (``exoguard.reports.export.export_rows``) of the survey's
dataset. The PDF opens with the survey's counts, the stage seconds per star and a
period–depth plot of every candidate (coloured by verdict), then the summary table and the
one-page reports (``exoguard.reports``) of the candidates most likely to be planets.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from sqlalchemy.orm import Session, sessionmaker

from exoguard import __version__
from exoguard.config import Settings
from exoguard.reports.csv_export import iter_csv
from exoguard.reports.export import ExportFilters, export_rows
from exoguard.reports.figures.pages import PAGE_SIZE_IN, report_page, summary_pages
from exoguard.reports.figures.style import report_style
from exoguard.reports.model import MAX_REPORT_CANDIDATES
from exoguard.reports.service import build_reports
from exoguard.store.models import User
from exoguard.survey.service import require_survey, stage_means, survey_progress

DEFAULT_TOP = 10
_COLOURS = {"planet": "#1b7f3b", "false_positive": "#b3261e", "candidate": "#8a6d00"}


def survey_rows(session: Session, survey_id: str, *, user: User) -> list[dict[str, Any]]:
    """The export rows (candidate, latest prediction, vetting state) of a survey."""
    survey = require_survey(session, survey_id)
    if survey.dataset_id is None:
        return []
    return export_rows(session, filters=ExportFilters(dataset_id=survey.dataset_id), user=user)


def survey_csv(session: Session, survey_id: str, *, user: User) -> str:
    """The survey's candidates as spreadsheet-safe CSV text."""
    return "".join(iter_csv(survey_rows(session, survey_id, user=user)))


def top_candidates(rows: Sequence[dict[str, Any]], *, top: int) -> list[int]:
    """Ids of the `top` candidates with the highest planet probability (scored ones first)."""
    ranked = sorted(
        rows,
        key=lambda r: (r.get("probability") is None, -(r.get("probability") or 0.0)),
    )
    return [int(r["candidate_id"]) for r in ranked[:top]]


def _finite(value: Any) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def _overview_page(
    name: str,
    progress: dict[str, Any],
    stages: dict[str, float],
    rows: Sequence[dict[str, Any]],
) -> Figure:
    fig = Figure(figsize=PAGE_SIZE_IN)
    fig.text(0.06, 0.965, f"exoguard survey — {name}", fontsize=14, fontweight="bold")
    verdicts = {k: 0 for k in ("planet", "false_positive", "candidate")}
    for r in rows:
        if r.get("predicted_label") in verdicts:
            verdicts[str(r["predicted_label"])] += 1
    lines = [
        f"stars {progress['n_stars']:,} · done {progress['done']:,} · failed "
        f"{progress['failed']:,} · left {progress['n_stars'] - progress['finished']:,}",
        f"candidates {len(rows):,} · planet {verdicts['planet']:,} · false positive "
        f"{verdicts['false_positive']:,} · candidate {verdicts['candidate']:,} · not scored "
        f"{sum(1 for r in rows if r.get('predicted_label') is None):,}",
        "CPU seconds per star: "
        + " · ".join(
            f"{k} {stages.get(k, 0.0):.3f}"
            for k in ("read", "detrend", "search", "diagnostics", "classify", "store", "total")
        ),
    ]
    for i, line in enumerate(lines):
        fig.text(0.06, 0.935 - i * 0.02, line, fontsize=8.5, color="#333333")
    ax = fig.add_axes((0.12, 0.42, 0.8, 0.42))
    for label, colour in (*_COLOURS.items(), (None, "#777777")):
        pts = [
            (r["period_days"], r["depth_ppm"])
            for r in rows
            if r.get("predicted_label") == label
            and _finite(r.get("period_days"))
            and _finite(r.get("depth_ppm"))
            and r["depth_ppm"] > 0
        ]
        if pts:
            xs, ys = zip(*pts, strict=True)
            words = label.replace("_", " ") if label else "not scored"
            ax.scatter(xs, ys, s=14, color=colour, label=f"{words} ({len(pts)})", alpha=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("period (days)")
    ax.set_ylabel("depth (ppm)")
    ax.set_title("Period–depth of the survey's candidates")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=7)
    else:
        ax.text(0.5, 0.5, "no candidate", ha="center", va="center", transform=ax.transAxes)
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    fig.text(0.05, 0.012, f"exoguard {__version__}  ·  generated {generated}", fontsize=6)
    return fig


def survey_pdf(
    factory: sessionmaker[Session],
    survey_id: str,
    *,
    settings: Settings,
    user: User,
    top: int = DEFAULT_TOP,
) -> bytes:
    """The summary PDF: counts, period–depth plot, then the `top` candidates' reports."""
    if not 0 <= top <= MAX_REPORT_CANDIDATES:
        raise ValueError(f"top must be between 0 and {MAX_REPORT_CANDIDATES}; got {top}")
    progress = survey_progress(factory, survey_id).to_dict()
    stages = stage_means(factory, survey_id)
    session = factory()
    try:
        rows = survey_rows(session, survey_id, user=user)
        ids = top_candidates(rows, top=top)
        reports = build_reports(session, ids, settings=settings, user=user) if ids else []
    finally:
        session.close()
    title = f"exoguard survey — {progress['name']}"
    buffer = io.BytesIO()
    metadata = {"Title": title, "Author": "exoguard", "Creator": f"exoguard {__version__}"}
    with report_style(), PdfPages(buffer, metadata=metadata) as pdf:
        pdf.savefig(_overview_page(progress["name"], progress, stages, rows))
        if reports:
            for figure in summary_pages(reports, title=f"{title}: top {len(reports)} candidates"):
                pdf.savefig(figure)
            for i, report in enumerate(reports, start=1):
                pdf.savefig(report_page(report, page_label=f"candidate {i}/{len(reports)}"))
    return buffer.getvalue()


__all__ = ["survey_csv", "survey_pdf", "survey_rows", "top_candidates"]
