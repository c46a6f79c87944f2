"""Acceptance tests of the pages in headless Chromium against a real server.

An explorer uploads a real TESS light curve and downloads the PDF; a researcher trains a model
with changed hyperparameters, watches it train, reads the metrics and activates it; a vetter
votes; a phone-sized screen never scrolls sideways; no page fetches anything from another host.
Screenshots of every page go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

VERDICT_WORDS = (
    "Likely a planet",
    "Likely a false positive",
    "Uncertain — sent to human vetters",
)
#: TOI-114.01 (WASP-126 b), TESS sector 1, tess-data-alerts product, 2.0 MB.
TOI_114 = "tess/hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits"
PAGES = ("/", "/explore", "/results", "/vetting", "/login", "/register")
REMOTE_ASSET = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//""", re.I)


@contextmanager
def _session(server: Any, email: str, password: str) -> Iterator[httpx.Client]:
    """An HTTP client logged in as `email` (cookies kept)."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        r = client.post("/api/auth/login", json={"email": email, "password": password})
        r.raise_for_status()
        yield client


def test_explorer_uploads_fits_sees_verdict_and_downloads_pdf(
    page: Any, e2e_server: Any, ui: Any, recorded: Any
) -> None:
    ui.login(page, ui.EXPLORER)
    page.goto("/explore")
    ui.screenshot(page, "explore-empty")
    upload = page.get_by_label("Light-curve file")

    # The browser refuses a wrong type and an oversized file before anything is sent.
    upload.set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"time,flux\n"}]
    )
    page.get_by_role("button", name="Upload and classify").click()
    expect(page.locator("#upload-error")).to_contain_text("is not a light-curve file we read")
    too_big = int((ui.MAX_UPLOAD_MB + 0.5) * 1024 * 1024)
    upload.set_input_files(
        files=[{"name": "big.fits", "mimeType": "application/fits", "buffer": b"\0" * too_big}]
    )
    page.get_by_role("button", name="Upload and classify").click()
    expect(page.locator("#upload-error")).to_contain_text(f"the limit is {ui.MAX_UPLOAD_MB} MB")
    assert not [u for u in recorded.urls if u.endswith("/api/data/upload")], "sent anyway"

    # A real TESS light curve: search, classify, plot.
    upload.set_input_files(str(e2e_server.data_dir / "lightcurves" / TOI_114))
    page.get_by_role("button", name="Upload and classify").click()
    page.locator("#progress-panel").wait_for(state="visible")
    verdict = page.locator("#verdicts .verdict .words").first
    verdict.wait_for(timeout=120_000)
    assert verdict.inner_text().strip() in VERDICT_WORDS
    probability = page.locator("#verdicts .probability").first.inner_text()
    assert re.search(r"\d+\.\d% ± \d+\.\d%", probability), probability
    ui.wait_for_charts(page, ["lightcurve", "folded_global", "folded_local"])
    traces = page.evaluate(
        "Array.from(document.querySelector('[data-chart=lightcurve]').data, t => t.name)"
    )
    marks = [t for t in traces if t.startswith("transits of")]
    assert marks, f"no transit marks among {traces}"
    # TOI-114.01 has P = 3.289 d; the search must find it and mark it
    assert any(re.search(r"P = 3\.2[89]\d\d d", m) for m in marks), marks
    ui.screenshot(page, "explore-result")

    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name="Download the PDF report").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    pdf = Path(download.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000

    # The full result page of the best candidate: charts, diagnostics, export section.
    page.get_by_role("link", name="Open the full result page").click()
    page.wait_for_url(re.compile(r"/candidates/\d+$"))
    ui.wait_for_charts(page, ["lightcurve", "folded_local", "odd_even", "secondary", "shap"])
    assert page.locator("#diagnostics-table tbody tr").count() >= 5
    # The explanation in plain words; the raw feature names only inside the <details>.
    summary = page.locator("#shap-summary")
    summary.wait_for()
    assert re.match(r"^(For a planet: |against: )", summary.inner_text()), summary.inner_text()
    assert "evidence moves from its starting point" in page.locator("#shap-direction").inner_text()
    bar_labels = page.evaluate("document.querySelector('[data-chart=shap]').data[0].y")
    assert not any("_" in label for label in bar_labels), bar_labels
    assert not page.locator("#shap-raw tbody").is_visible()
    page.locator("#shap-raw summary").click()
    assert page.locator("#shap-raw tbody tr").count() >= 1
    assert "_" in page.locator("#shap-raw tbody code").first.inner_text()
    page.get_by_role("button", name="Create a share link").click()
    share_url = page.get_by_label("Read-only link (valid for 7 days)")
    share_url.wait_for()
    assert "/share/" in share_url.input_value()
    ui.screenshot(page, "candidate")


#: Three quarters of Kepler-227 (KIC 10797460), 1.4 MB together.
KEPLER_227_QUARTERS = (
    "kepler/kplr010797460-2009259160929_llc.fits",
    "kepler/kplr010797460-2009350155506_llc.fits",
    "kepler/kplr010797460-2010078095331_llc.fits",
)


def test_explorer_uploads_three_quarters_and_sees_the_catalog_match(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    ui.login(page, ui.EXPLORER)
    page.goto("/explore")
    upload = page.get_by_label("Light-curve file")
    # Files of two stars: refused by the server, naming both.
    upload.set_input_files(
        [str(e2e_server.data_dir / "lightcurves" / p) for p in (KEPLER_227_QUARTERS[0], TOI_114)]
    )
    page.get_by_role("button", name="Upload and classify").click()
    expect(page.locator("#upload-error")).to_contain_text("different stars", timeout=60_000)
    expect(page.locator("#upload-error")).to_contain_text("TIC 25155310")

    upload.set_input_files(
        [str(e2e_server.data_dir / "lightcurves" / p) for p in KEPLER_227_QUARTERS]
    )
    page.get_by_role("button", name="Upload and classify").click()
    page.locator("#verdicts .verdict .words").first.wait_for(timeout=180_000)
    # (a no-match line also names K00752.01, among the near misses)
    match = page.locator("#verdicts .catalog-match", has_text="Catalog match: K00752.01")
    expect(match.first).to_contain_text(
        "Catalog match: K00752.01, Kepler-227 b, archive disposition CONFIRMED"
    )
    ui.screenshot(page, "explore-multi-file-catalog-match")


def test_manual_entry_gives_a_verdict(page: Any, ui: Any) -> None:
    ui.login(page, ui.EXPLORER)
    page.goto("/explore")
    page.get_by_role("tab", name="Enter parameters").click()
    page.get_by_role("button", name="Classify").click()
    expect(page.locator("#manual-error")).to_have_text("Orbital period (days) is needed.")
    page.get_by_label("Orbital period (days)").fill("3.2888")
    page.get_by_label("Transit duration (hours)").fill("3.2")
    page.get_by_label("Transit depth (ppm)").fill("6300")
    page.get_by_label("Planet radius (Earth radii)").fill("10.9")
    page.get_by_label("Star temperature (K)").fill("5800")
    page.get_by_role("button", name="Classify").click()
    verdict = page.locator("#verdicts .verdict .words").first
    verdict.wait_for()
    assert verdict.inner_text().strip() in VERDICT_WORDS
    ui.screenshot(page, "explore-manual")


def test_researcher_trains_watches_progress_sees_metrics_and_activates(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    job_states: list[tuple[str, float]] = []

    def on_response(response: Any) -> None:
        if "/api/jobs/" in response.url and response.ok:
            try:
                body = response.json()
            except Exception:  # the page may already have moved on (the last poll)
                return
            job_states.append((body["status"], float(body["progress"])))

    page.on("response", on_response)
    ui.login(page, ui.ADMIN)
    page.goto("/research")
    ui.wait_for_charts(page, ["confusion", "importance"])
    ui.screenshot(page, "research-before")
    before = {
        row.get_attribute("data-version") for row in page.locator("#versions-table tbody tr").all()
    }

    page.locator("#config-gbm").select_option("small")
    gbm = page.locator('fieldset[data-model="gbm"]')
    gbm.get_by_label("n estimators").fill("12")
    gbm.get_by_label("num leaves").fill("5")
    gbm.get_by_label("learning rate").fill("0.2")
    gbm.get_by_label("n ensemble").fill("2")
    page.get_by_role("button", name="Start training").click()
    page.locator("#train-progress").wait_for(state="visible")
    page.wait_for_url(re.compile(r"/research\?version=gbm-\d+"), timeout=240_000)
    version = re.search(r"version=(gbm-\d+)", page.url).group(1)  # type: ignore[union-attr]
    assert version not in before
    # The page followed the job while it ran, with progress between 0 and 1.
    assert any(s in ("queued", "running") for s, _ in job_states), job_states
    assert any(0 < p < 1 for _, p in job_states), f"no intermediate progress: {job_states}"

    # The changed hyperparameters are what was trained.
    with _session(e2e_server, ui.ADMIN, ui.PASSWORD) as api:
        listed = {v["id"]: v for v in api.get("/api/models/versions").json()["versions"]}
        job = api.get("/api/jobs", params={"kind": "train", "limit": 1}).json()["jobs"][0]
    assert (job["status"], job["result"]["version"]) == ("succeeded", version)
    params = listed[version]["config"]["params"]
    assert (params["n_estimators"], params["num_leaves"], params["learning_rate"]) == (12, 5, 0.2)
    assert listed[version]["config"]["n_ensemble"] == 2

    ui.wait_for_charts(page, ["confusion", "importance"])
    ui.screenshot(page, "research-trained")
    # Activation asks first: cancelling changes nothing, accepting activates.
    asked: list[str] = []

    def cancel(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", cancel)
    page.get_by_role("button", name=f"Activate {version}").click()
    page.wait_for_timeout(300)
    assert asked and version in asked[0], asked
    with _session(e2e_server, ui.ADMIN, ui.PASSWORD) as api:
        still = api.get("/api/models/versions").json()["versions"]
    assert version not in [v["id"] for v in still if v["status"] == "active"]
    assert page.locator("#hint-gbm-num_leaves").inner_text().startswith("Leaves per tree")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.get_by_role("button", name=f"Activate {version}").click()
    expect(page.locator("#toasts")).to_contain_text(f"{version} activated")
    row = page.locator(f'#versions-table tr[data-version="{version}"]')
    assert row.locator(".badge").inner_text().strip() == "active"
    with _session(e2e_server, ui.ADMIN, ui.PASSWORD) as api:
        versions = api.get("/api/models/versions").json()["versions"]
        stored = api.get("/api/models/metrics", params={"version": version}).json()["metrics"]
    assert [v["id"] for v in versions if v["status"] == "active"] == [version]
    ui.screenshot(page, "research-activated")

    # Training stores the out-of-fold curve points the ROC, precision-recall and
    # calibration charts draw (exoguard.ml.train._training_metrics, curves=True).
    oof = stored["oof"]["all"]
    assert len(oof["roc_curve"]) >= 2 and len(oof["pr_curve"]) >= 2
    assert oof["reliability"] and sum(b["count"] for b in oof["reliability"]) == oof["n"]
    ui.wait_for_charts(page, ["roc", "pr", "calibration"])
    ui.screenshot(page, "research-metrics")


def test_vetting_page_records_a_vote(page: Any, e2e_server: Any, ui: Any) -> None:
    ui.login(page, ui.EXPLORER)
    page.goto("/vetting")
    ui.screenshot(page, "vetting-queue")
    page.get_by_role("link", name="Start vetting").click()
    page.wait_for_url(re.compile(r"/vetting/\d+$"))  # whatever the service serves first
    page.goto("/vetting")
    page.get_by_role("link", name="Vet K00754.01").click()
    page.wait_for_url(re.compile(r"/vetting/\d+$"))
    item_id = int(page.url.rsplit("/", 1)[1])
    assert item_id == e2e_server.vetting_item_id
    # the archive's answer is not on the page (it would decide the vote)
    assert "FALSE POSITIVE" not in page.content()
    ui.wait_for_charts(
        page, ["lightcurve", "folded_global", "folded_local", "odd_even", "secondary"]
    )
    assert page.locator("#diagnostics-table tbody tr").count() >= 5
    ui.screenshot(page, "vetting-item")

    page.locator("label", has_text="4").click()
    page.get_by_label("Comment (optional)").fill("secondary eclipse at phase 0.5")
    page.get_by_role("button", name="False positive").click()
    expect(page.locator("#vote-done")).to_contain_text(
        "Vote recorded: false positive, confidence 4/5."
    )
    ui.screenshot(page, "vetting-voted")

    from exoguard.store.db import make_engine, make_sessionmaker
    from exoguard.store.repositories import UserRepository, VoteRepository

    engine = make_engine(e2e_server.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            votes = VoteRepository(session).list_for_item(item_id)
            voter = UserRepository(session).get_by_email(ui.EXPLORER)
            assert voter is not None
            assert [(v.user_id, v.label, v.confidence, v.comment) for v in votes] == [
                (voter.id, "false_positive", 4, "secondary eclipse at phase 0.5")
            ]
    finally:
        engine.dispose()
    # Voting again on the same item is refused, and the page says so.
    page.reload()
    expect(page.locator("#vote-done")).to_contain_text(
        "You voted false positive with confidence 4/5"
    )


def test_phone_layout_has_no_horizontal_overflow(browser: Any, e2e_server: Any, ui: Any) -> None:
    recorded = ui.Recorded()
    phone = {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    }
    context = ui.new_context(browser, e2e_server, recorded, **phone)
    try:
        page = context.new_page()
        wide: dict[str, int] = {}
        for path in ("/login", "/register"):
            page.goto(path)
            wide[path] = page.evaluate("document.documentElement.scrollWidth")
            ui.screenshot(page, "phone" + path.replace("/", "-"))
        ui.login(page, ui.ADMIN)
        # path -> a chart drawn on load (its width counts too)
        paths = {
            "/": None,
            "/explore": None,
            "/results": None,
            "/vetting": None,
            f"/vetting/{e2e_server.vetting_item_id}": "odd_even",
            f"/candidates/{e2e_server.vetting_candidate_id}": "lightcurve",
            "/research": "confusion",
        }
        for path, chart in paths.items():
            page.goto(path)
            if chart is not None:
                ui.wait_for_charts(page, [chart])
            wide[path] = page.evaluate("document.documentElement.scrollWidth")
            name = "phone-" + (path.strip("/").replace("/", "-") or "home")
            ui.screenshot(page, name)
        assert {p: w for p, w in wide.items() if w > 390} == {}
        # Every control a finger needs is at least 32 px tall (44 for the main buttons).
        small = page.evaluate(
            "Array.from(document.querySelectorAll('.btn')).filter(b => b.offsetParent && "
            "b.getBoundingClientRect().height < 32).map(b => b.textContent.trim())"
        )
        assert small == []
    finally:
        context.close()
    assert recorded.remote() == []


def test_no_page_requests_a_remote_url(browser: Any, e2e_server: Any, ui: Any) -> None:
    recorded = ui.Recorded()
    context = ui.new_context(browser, e2e_server, recorded)
    try:
        page = context.new_page()
        for path in PAGES:
            page.goto(path)
        ui.login(page, ui.ADMIN)
        for path in (
            *PAGES[:4],
            "/research",
            f"/vetting/{e2e_server.vetting_item_id}",
            f"/candidates/{e2e_server.vetting_candidate_id}",
            "/docs",
        ):
            page.goto(path)
            page.wait_for_load_state("networkidle")
        # Swagger UI starts from a script file (the CSP forbids inline scripts); that it
        # renders the operations is tests/e2e/test_docs_e2e.py's.
        page.locator("#swagger-ui .swagger-ui").first.wait_for(state="attached")
        # A favicon on every page, and /favicon.ico (what browsers ask for) served here.
        for path in (*PAGES[:4], "/research"):
            page.goto(path)
            icon = page.locator('head link[rel="icon"]').get_attribute("href")
            assert icon and icon.startswith("/static/"), (path, icon)
        favicon = page.request.get("/favicon.ico")
        assert favicon.status == 200 and favicon.headers["content-type"] == "image/svg+xml"
        assert b"<svg" in favicon.body()
    finally:
        context.close()
    assert len(recorded.urls) > 20
    assert any(re.search(r"/static/vendor/plotly-[0-9a-f]{12}\.min\.js$", u) for u in recorded.urls)
    assert recorded.remote() == []
    assert recorded.page_errors == []
    assert recorded.csp_violations == []

    # And the HTML itself names no remote asset.
    with _session(e2e_server, ui.ADMIN, ui.PASSWORD) as client:
        for path in (
            *PAGES,
            "/research",
            f"/vetting/{e2e_server.vetting_item_id}",
            f"/candidates/{e2e_server.vetting_candidate_id}",
        ):
            html = client.get(path).text
            assert REMOTE_ASSET.search(html) is None, (path, REMOTE_ASSET.search(html))


def test_pages_are_labelled_for_screen_readers(page: Any, e2e_server: Any, ui: Any) -> None:
    ui.login(page, ui.ADMIN)
    unlabelled: dict[str, list[str]] = {}
    for path in ("/explore", "/results", "/research", f"/vetting/{e2e_server.vetting_item_id}"):
        page.goto(path)
        missing = page.evaluate(
            """() => Array.from(document.querySelectorAll('input, select, textarea'))
                .filter(el => el.type !== 'hidden' && el.labels.length === 0
                        && !el.getAttribute('aria-label'))
                .map(el => el.id || el.name)"""
        )
        if missing:
            unlabelled[path] = missing
        assert page.locator("#toasts[aria-live]").count() == 1
    assert unlabelled == {}
    # Keyboard: the skip link is the first stop and moves focus to the content.
    page.goto("/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
