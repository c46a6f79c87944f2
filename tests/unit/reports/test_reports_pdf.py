"""PDF vetting reports from a real light curve (TOI-114.01, TESS sector 1) and a catalog row.

The PDF text is read back with ``pdftotext``; one page is rendered to PNG with ``pdftoppm``
into test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from exoguard.config import get_settings
from exoguard.core.transit_measures import transit_mask
from exoguard.io import read_lightcurve
from exoguard.reports.curves import (
    binned,
    build_curves,
    complete_diagnostics,
    depth_estimate,
)
from exoguard.reports.model import (
    CandidateReport,
    Diagnostics,
    ReportCurves,
    ShapContribution,
    Verdict,
    VoteSummary,
)
from exoguard.reports.pdf import (
    MAX_REPORT_CANDIDATES,
    render_report_pdf,
    render_report_png,
    render_reports_pdf,
)

LC_DIR = get_settings().lightcurves_dir
TOI114 = LC_DIR / "tess" / "hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"
# TOI catalog (2026-06-22): TOI-114.01, KP.
TOI114_PERIOD_DAYS = 3.28879
TOI114_T0_BJD = 2458327.519958
TOI114_DURATION_HOURS = 3.436772
TOI114_DEPTH_PPM = 7005.72

needs_poppler = pytest.mark.requires_tools("pdftotext", "pdftoppm", "pdfinfo")


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    )
    return out.stdout


def _pages(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "count.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True)
    match = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    assert match is not None
    return int(match.group(1))


@pytest.fixture(scope="module")
def toi114_report() -> CandidateReport:
    if not TOI114.exists():
        pytest.skip("bundled TESS light curve not present")
    lc = read_lightcurve(TOI114)
    catalog = Diagnostics(
        period_days=TOI114_PERIOD_DAYS,
        t0_bjd=TOI114_T0_BJD,
        duration_hours=TOI114_DURATION_HOURS,
        planet_radius_rearth=10.51,
        equilibrium_temp_k=1339.0,
        star_teff_k=5800.0,
        star_logg_cgs=4.28,
        star_radius_rsun=1.24,
        star_mag=10.61,
    )
    curves = build_curves(lc, catalog)
    # The diagnostics the catalog lacks are measured on the detrended light curve.
    diagnostics = complete_diagnostics(catalog, curves)
    return CandidateReport(
        object_id="TOI-114.01",
        mission="tess",
        host_id="TIC 25155310",
        candidate_id=1,
        catalog_label="planet",
        disposition="KP",
        source="toi_2026-06-22.csv.gz",
        origin="catalog",
        diagnostics=diagnostics,
        verdict=Verdict("planet", 0.91, 0.05, "gbm-0001", datetime(2026, 7, 1, tzinfo=UTC)),
        shap=[
            ShapContribution("depth_ppm", 0.9, 7005.7),
            ShapContribution("planet_radius_rearth", -0.7, 10.5),
            ShapContribution("duration_ratio", 0.4, 1.02),
            ShapContribution("transit_snr", 0.3, 150.0),
            ShapContribution("star_teff_k", -0.05, 5800.0),
        ],
        votes=VoteSummary(
            n_planet=4,
            n_false_positive=1,
            status="settled",
            consensus_label="planet",
            consensus_share=0.83,
            mean_confidence=3.8,
        ),
        curves=curves,
        generated_at=datetime(2026, 7, 2, tzinfo=UTC),
    )


def test_real_light_curve_views_recover_the_transit(toi114_report: CandidateReport) -> None:
    curves = toi114_report.curves
    assert curves is not None and curves.periods_days is not None and curves.power is not None
    # The periodogram peaks at the catalog period (or its first harmonic) within 0.5 %.
    best = float(curves.periods_days[np.argmax(curves.power)])
    assert min(abs(best / TOI114_PERIOD_DAYS - k) for k in (0.5, 1.0, 2.0)) < 5e-3
    d = toi114_report.diagnostics
    # Box depth measured on the detrended light curve: the mean over the whole duration,
    # ingress and egress included, so 75-100 % of the catalog's fitted 7006 ppm.
    assert d.depth_ppm is not None
    assert 0.75 * TOI114_DEPTH_PPM < d.depth_ppm < 1.02 * TOI114_DEPTH_PPM
    assert d.n_transits is not None and 7 <= d.n_transits <= 9  # 27.9 d / 3.29 d
    assert d.odd_even_sigma is not None and d.odd_even_sigma < 3.0  # a planet: no odd/even
    assert d.sde is not None and d.sde > 6.0  # read off the periodogram at the period
    assert d.shape == "U"  # a flat-bottomed hot Jupiter transit
    # Detrending keeps the transit: the in-transit median sits ~7000 ppm below 1.
    inside = transit_mask(
        curves.time_bjd,
        period_days=TOI114_PERIOD_DAYS,
        t0_bjd=TOI114_T0_BJD,
        duration_days=0.5 * TOI114_DURATION_HOURS / 24.0,
    )
    dip = 1e6 * (1.0 - np.median(curves.detrended_flux[inside]))
    assert dip == pytest.approx(TOI114_DEPTH_PPM, rel=0.15)


@needs_poppler
def test_one_page_pdf_text_and_png(toi114_report: CandidateReport, tmp_path: Path) -> None:
    pdf = render_report_pdf(toi114_report)
    assert pdf.startswith(b"%PDF-")
    assert _pages(pdf, tmp_path) == 1
    text = _pdftotext(pdf, tmp_path)
    for needle in (
        "TOI-114.01",
        "TIC 25155310",
        "LIKELY PLANET",
        "P(planet) = 0.910 ± 0.050",
        "Diagnostics",
        "Period [d]",
        "Epoch t0 [BJD]",
        "Duration [h]",
        "Depth [ppm]",
        "SNR",
        "SDE",
        "Transits with data",
        "Odd/even depth difference",
        "Secondary eclipse depth",
        "Transit shape",
        "Duration / expected for star",
        "Planet radius",
        "Periodogram (BLS)",
        "Phase-folded, full orbit",
        "Transit (local view)",
        "Odd / even transits",
        "Secondary eclipse",
        "Top SHAP contributions",
        "depth_ppm",
        "Human vetting",
        "5 votes: planet 4, false positive 1",
        "consensus: planet (83 % weighted agreement)",
        "3.288790",
    ):
        assert needle in text, f"{needle!r} missing from the PDF text"

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "report_toi114.pdf").write_bytes(pdf)
    prefix = ARTIFACTS / "report_toi114"
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-singlefile", str(ARTIFACTS / "report_toi114.pdf"),
         str(prefix)],
        check=True,
    )  # fmt: skip
    png = prefix.with_suffix(".png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a page full of plots, not a blank one


def test_png_preview(toi114_report: CandidateReport) -> None:
    png = render_report_png(toi114_report, dpi=40)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="dpi"):
        render_report_png(toi114_report, dpi=5)


def _catalog_only() -> CandidateReport:
    return CandidateReport(
        object_id="K00754.01",
        mission="kepler",
        host_id="KIC 10848459",
        disposition="FALSE POSITIVE",
        diagnostics=Diagnostics(
            period_days=1.736952,
            t0_bjd=2454833.0 + 170.307565,
            duration_hours=2.40641,
            depth_ppm=8079.2,
            impact=1.276,
            planet_radius_rearth=33.46,
        ),
        verdict=Verdict("false_positive", 0.04, 0.03, "gbm-0001"),
    )


@needs_poppler
def test_catalog_row_without_light_curve_still_has_table_and_verdict(tmp_path: Path) -> None:
    text = _pdftotext(render_report_pdf(_catalog_only()), tmp_path)
    assert "Plots unavailable" in text
    assert "no light curve of this star is stored" in text
    assert "LIKELY FALSE POSITIVE" in text
    assert "1.736952" in text and "8079" in text
    assert "Transit shape implied by the catalog values" in text
    assert "no explanation stored for this candidate" in text
    assert "not in the vetting queue" in text


@needs_poppler
def test_multi_candidate_pdf_has_summary_then_one_page_each(
    toi114_report: CandidateReport, tmp_path: Path
) -> None:
    unscored = CandidateReport(object_id="TOI-9999.01", mission="tess")
    pdf = render_reports_pdf([toi114_report, _catalog_only(), unscored])
    assert _pages(pdf, tmp_path) == 4
    text = _pdftotext(pdf, tmp_path)
    summary = text.split("\f")[0]
    assert "3 candidates" in summary
    for object_id in ("TOI-114.01", "K00754.01", "TOI-9999.01"):
        assert object_id in summary
    assert "not scored" in summary
    assert "candidate 3/3" in text.split("\f")[3]
    assert "NOT CLASSIFIED YET" in text


def test_limits_and_validation() -> None:
    with pytest.raises(ValueError, match="1 to"):
        render_reports_pdf([])
    with pytest.raises(ValueError, match="1 to"):
        render_reports_pdf([_catalog_only()] * (MAX_REPORT_CANDIDATES + 1))
    t = np.arange(10.0)
    with pytest.raises(ValueError, match="raw_flux"):
        ReportCurves(time_bjd=t, raw_flux=t[:5], detrended_flux=t)
    with pytest.raises(ValueError, match="both"):
        ReportCurves(time_bjd=t, raw_flux=t, detrended_flux=t, periods_days=t)


def test_binning_and_depth_helpers() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.0, 1.0, 20_000)
    y = np.where(np.abs(x) < 0.1, -1000.0, 0.0) + rng.normal(0.0, 100.0, x.size)
    view = binned(x, y, lo=-1.0, hi=1.0, n_bins=20)
    assert view.x.size == 20
    centre = np.abs(view.x) < 0.1
    assert np.all(np.abs(view.y[centre] + 1000.0) < 20.0)  # 100/sqrt(~1000 points) ~ 3 ppm
    assert np.all(np.abs(view.y[~centre]) < 20.0)
    est = depth_estimate(y, np.abs(x) < 0.05, np.abs(x) > 0.2)
    assert est is not None
    assert est.depth_ppm == pytest.approx(1000.0, abs=5 * est.err_ppm)
    assert 1.0 < est.err_ppm < 10.0
    assert depth_estimate(y, np.zeros(x.size, bool), np.abs(x) > 0.2) is None
    with pytest.raises(ValueError, match="n_bins"):
        binned(x, y, lo=1.0, hi=-1.0, n_bins=3)


def test_the_title_never_runs_under_the_verdict() -> None:
    """A long name once overprinted "LIKELY FALSE POSITIVE"; now it shrinks, then shortens."""
    import matplotlib.pyplot as plt

    from exoguard.reports.figures.pages import report_page

    def header_boxes(report: CandidateReport) -> tuple[Any, Any, str, float]:
        fig = report_page(report)
        try:
            texts = {t.get_text(): t for t in fig.texts}
            title = next(t for k, t in texts.items() if k.startswith("exoguard vetting report"))
            verdict = texts[report.verdict.words.upper()] if report.verdict else None
            assert verdict is not None
            return (
                title.get_window_extent(),
                verdict.get_window_extent(),
                title.get_text(),
                float(title.get_fontsize()),
            )
        finally:
            plt.close(fig)

    long_name = "kplr011446443-2009131110544_llc.fits candidate 1 (Kepler-1b)"
    report = replace(_catalog_only(), object_id=long_name)
    title, verdict, text, size = header_boxes(report)
    assert title.x1 < verdict.x0, (title, verdict)
    assert text.startswith("exoguard vetting report — kplr011446443") and text.endswith("…")
    assert size >= 10.0
    # a short name is left as it was: full text, 14 pt
    title, verdict, text, size = header_boxes(_catalog_only())
    assert title.x1 < verdict.x0
    assert text == "exoguard vetting report — K00754.01" and size == 14.0
