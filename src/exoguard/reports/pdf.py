"""PDF vetting reports: one page per candidate, plus a summary table for several.

Drawn with matplotlib (`exoguard.reports.figures`) into `PdfPages`; fonts are embedded as
TrueType so the text stays searchable (``pdftotext`` reads it back).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime

from matplotlib.backends.backend_pdf import PdfPages

from exoguard import __version__
from exoguard.reports.figures.pages import report_page, summary_pages
from exoguard.reports.figures.style import report_style
from exoguard.reports.model import MAX_REPORT_CANDIDATES, CandidateReport

__all__ = ["MAX_REPORT_CANDIDATES", "render_report_pdf", "render_reports_pdf", "render_report_png"]


def _metadata(title: str) -> dict[str, str | datetime]:
    return {
        "Title": title,
        "Author": "exoguard",
        "Subject": "Transit candidate vetting report",
        "Creator": f"exoguard {__version__}",
        "CreationDate": datetime.now(UTC),
    }


def render_reports_pdf(
    reports: Sequence[CandidateReport], *, title: str | None = None, summary: bool | None = None
) -> bytes:
    """A PDF with one page per candidate, preceded by a summary table when there are several.

    Parameters
    ----------
    reports : sequence of CandidateReport
        1 to `MAX_REPORT_CANDIDATES` candidates.
    title : str, optional
        The document title (PDF metadata and summary heading).
    summary : bool, optional
        Force the summary page on or off (default: on for more than one candidate).

    Returns
    -------
    bytes
        The PDF document.
    """
    if not 1 <= len(reports) <= MAX_REPORT_CANDIDATES:
        raise ValueError(
            f"a report holds 1 to {MAX_REPORT_CANDIDATES} candidates; got {len(reports)}"
        )
    with_summary = len(reports) > 1 if summary is None else summary
    if title is None:
        title = (
            f"exoguard vetting report — {reports[0].object_id}"
            if len(reports) == 1
            else f"exoguard vetting report — {len(reports)} candidates"
        )
    buffer = io.BytesIO()
    with report_style(), PdfPages(buffer, metadata=_metadata(title)) as pdf:
        if with_summary:
            for figure in summary_pages(reports, title=title):
                pdf.savefig(figure)
        for i, report in enumerate(reports, start=1):
            label = f"candidate {i}/{len(reports)}" if len(reports) > 1 else None
            pdf.savefig(report_page(report, page_label=label))
    return buffer.getvalue()


def render_report_pdf(report: CandidateReport) -> bytes:
    """The one-page PDF of one candidate."""
    return render_reports_pdf([report], summary=False)


def render_report_png(report: CandidateReport, *, dpi: int = 80) -> bytes:
    """The same page as a PNG image (for the share page and previews)."""
    if not 20 <= dpi <= 300:
        raise ValueError(f"dpi must be between 20 and 300; got {dpi}")
    buffer = io.BytesIO()
    with report_style():
        report_page(report).savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
