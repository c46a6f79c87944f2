"""Issue 15, items 7 and 9 in headless Chromium: the versions table and the charts name the
same evaluation set and show the same figures; an admin page for users and roles; Plotly only
where a chart is drawn; candidate charts binned for display with the full data downloadable.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: The chart library: the content-named bundle the pages load (or its plain name).
PLOTLY = re.compile(r"/static/vendor/plotly(-[0-9a-f]{12})?\.min\.js$")


def test_versions_table_and_charts_name_the_same_set_and_agree(page: Any, ui: Any) -> None:
    ui.login(page, ui.ADMIN)
    page.goto("/research")
    row = page.locator("#versions-table tbody tr[data-version]").first
    version = row.get_attribute("data-version")
    assert row.get_attribute("data-set") == "koi-grouped-cv-5fold"
    expect(row.locator("td.eval-set")).to_contain_text("koi-grouped-cv-5fold")
    table_auc = row.locator('[data-metric="roc_auc"]').inner_text().strip()
    table_ece = row.locator('[data-metric="ece"]').inner_text().strip()
    assert re.fullmatch(r"0\.\d{3}", table_auc), table_auc
    ui.wait_for_charts(page, ["roc", "calibration", "confusion"])
    names = page.evaluate(
        "Array.from(document.querySelector('[data-chart=roc]').data, t => t.name)"
    )
    # The same set, the same number: the first ROC curve is the table's set.
    assert names[0] == f"koi-grouped-cv-5fold (AUC {table_auc})", (names, table_auc)
    assert any(n.startswith("toi-cross-mission (AUC") for n in names), names
    calibration = page.evaluate(
        "document.querySelector('[data-chart=calibration]').layout.title.text"
    )
    assert calibration.endswith("koi-grouped-cv-5fold"), calibration
    ece_name = page.evaluate("document.querySelector('[data-chart=calibration]').data[0].name")
    assert ece_name == f"model (ECE {table_ece})", (ece_name, table_ece)
    expect(page.locator("#metrics-set")).to_have_text("koi-grouped-cv-5fold")
    # the API says the same, with the set's name
    api = page.request.get("/api/models/versions").json()
    view = next(v for v in api["versions"] if v["id"] == version)
    assert view["summary_set"] == "koi-grouped-cv-5fold"
    assert f"{view['summary']['roc_auc']:.3f}" == table_auc
    assert set(view["sets"]) >= {"koi-grouped-cv-5fold", "toi-cross-mission", "k2-cross-mission"}
    ui.screenshot(page, "research-named-sets")
    # another set for the whole table: its figures, named
    page.select_option("#set-choice", "toi-cross-mission")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r"set=toi-cross-mission"))
    row = page.locator(f'#versions-table tr[data-version="{version}"]')
    assert row.get_attribute("data-set") == "toi-cross-mission"
    toi_auc = row.locator('[data-metric="roc_auc"]').inner_text().strip()
    assert toi_auc == f"{view['sets']['toi-cross-mission']['roc_auc']:.3f}"
    ui.wait_for_charts(page, ["confusion"])
    title = page.evaluate("document.querySelector('[data-chart=confusion]').layout.title.text")
    assert title.endswith("toi-cross-mission"), title


def test_admin_lists_users_changes_a_role_and_deactivates(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    email = f"newcomer-{time.time_ns()}@example.org"
    r = httpx.post(
        f"{e2e_server.base_url}/api/auth/register",
        json={"email": email, "password": ui.PASSWORD, "name": "New Comer"},
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text
    # an explorer is refused the page
    ui.login(page, ui.EXPLORER)
    response = page.goto("/admin")
    assert response is not None and response.status == 403
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/")

    ui.login(page, ui.ADMIN)
    expect(page.get_by_role("link", name="Admin")).to_be_visible()
    page.get_by_role("link", name="Admin").click()
    page.wait_for_url("**/admin")
    row = page.locator(f'#users-table tr[data-email="{email}"]')
    expect(row).to_be_visible()
    expect(page.locator(f'#users-table tr[data-email="{ui.ADMIN}"]')).to_contain_text(
        "your own account"
    )
    page.on("dialog", lambda dialog: dialog.accept())
    row.get_by_label(f"Role of {email}").select_option("researcher")
    expect(page.locator("#toasts")).to_contain_text(f"{email} is now researcher")
    row.get_by_role("button", name=re.compile("Deactivate")).click()
    expect(row.locator("[data-state]")).to_have_text("deactivated")
    ui.screenshot(page, "admin-users")
    # the change is stored: role researcher, and log-in refused
    users = page.request.get("/api/admin/users").json()["users"]
    stored = next(u for u in users if u["email"] == email)
    assert stored["role"] == "researcher" and stored["is_active"] is False
    refused = httpx.post(
        f"{e2e_server.base_url}/api/auth/login",
        json={"email": email, "password": ui.PASSWORD},
        timeout=30,
    )
    assert refused.status_code == 401
    # an admin cannot deactivate themselves (the API says why)
    me = next(u for u in users if u["email"] == ui.ADMIN)
    own = page.request.post(
        f"/api/admin/users/{me['id']}/active",
        data={"active": False},
        headers={"X-CSRF-Token": _csrf(page)},
    )
    assert own.status == 422 and "your own account" in own.text()


def _csrf(page: Any) -> str:
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    return cookies.get("exoguard_csrf", "")


def test_plotly_loads_only_where_a_chart_is_drawn(
    page: Any, e2e_server: Any, ui: Any, recorded: Any
) -> None:
    for path in ("/", "/explore", "/results", "/vetting", "/login"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
    assert not [u for u in recorded.urls if PLOTLY.search(u)], "Plotly on a page without charts"
    page.goto(f"/candidates/{e2e_server.vetting_candidate_id}")
    ui.wait_for_charts(page, ["lightcurve"])
    assert [u for u in recorded.urls if PLOTLY.search(u)], "the chart page did not load Plotly"


def _candidate_id(server: Any, mission: str, object_id: str) -> int:
    from exoguard.store.db import make_engine, make_sessionmaker
    from exoguard.store.repositories import CandidateRepository

    engine = make_engine(server.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            candidate = CandidateRepository(session).get_by_key(mission, object_id)
            assert candidate is not None, f"{object_id} missing after ingest"
            return int(candidate.id)
    finally:
        engine.dispose()


def test_candidate_charts_are_binned_and_the_full_light_curve_downloads(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    # TOI-114.01: a TESS sector at 2-min cadence (~18,000 points) bundled with the data
    candidate_id = _candidate_id(e2e_server, "tess", "TOI-114.01")
    started = time.perf_counter()
    page.goto(f"/candidates/{candidate_id}")
    ui.wait_for_charts(page, ["lightcurve", "lightcurve_raw", "periodogram", "folded_global"])
    seconds = time.perf_counter() - started
    drawn = page.evaluate("document.querySelector('[data-chart=lightcurve]').data[0].x.length")
    assert 1000 < drawn <= 1200, drawn  # about one marker per pixel of the chart's width
    shown = page.evaluate(
        "Math.max(...Array.from(document.querySelectorAll('[data-chart]'))"
        ".filter(el => el.data).flatMap(el => el.data.map(t => (t.x || []).length)))"
    )
    assert shown <= 4000, shown  # light curves 1,200 points a trace, periodogram 4,000
    link = page.get_by_role("link", name=re.compile("download the full light curve"))
    with page.expect_download() as info:
        link.click()
    text = Path(info.value.path()).read_text()
    rows = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert rows[0].startswith("time_bjd,raw_flux,detrended_flux")
    # every point of the sector is in the file, far more than the chart draws
    assert len(rows) - 1 > 3 * drawn, (len(rows), drawn)
    ui.screenshot(page, "candidate-binned-charts")
    print(f"candidate page to charts: {seconds:.2f} s; light curve {drawn} of {len(rows) - 1}")


#: Charts in the order they were drawn (Plotly's .main-svg appears in the element).
DRAW_ORDER = """
window.__drawn = [];
new MutationObserver((records) => {
  for (const r of records) for (const n of r.addedNodes) {
    const chart = n.nodeType === 1 && n.classList.contains('svg-container')
      && n.closest('[data-chart]');
    if (chart) window.__drawn.push(chart.dataset.chart);
  }
}).observe(document, {subtree: true, childList: true});
"""


def test_chart_pages_fetch_figures_and_library_at_once_and_cache_the_library(
    page: Any, e2e_server: Any, ui: Any, recorded: Any
) -> None:
    """Chart pages ask for the figures and the chart library with the HTML (preload, deferred
    script), not after the load event; each is fetched once; the library, named by its
    content, comes from the browser's cache on the next chart page; the charts are drawn one
    by one in page order, the first on screen first."""
    page.context.add_init_script(DRAW_ORDER)
    candidate_id = _candidate_id(e2e_server, "tess", "TOI-114.01")
    page.goto(f"/candidates/{candidate_id}")
    names = ["lightcurve", "folded_global", "folded_local", "odd_even", "secondary",
             "periodogram", "lightcurve_raw"]  # fmt: skip
    ui.wait_for_charts(page, names)
    charts_url = f"/charts/candidates/{candidate_id}"
    asked = [u for u in recorded.urls if u.endswith(charts_url)]
    assert len(asked) == 1, asked  # the preload's response was used, not fetched again
    bundles = [u for u in recorded.urls if PLOTLY.search(u)]
    assert len(bundles) == 1 and "/plotly-" in bundles[0], bundles
    # evaluated once: the deferred tag only, no second tag added by app.js
    assert page.locator("script[src*='/static/vendor/plotly']").count() == 1
    timing = page.evaluate(
        """(url) => {
          const nav = performance.getEntriesByType('navigation')[0];
          const e = performance.getEntriesByType('resource').find(r => r.name.endsWith(url));
          return {requested: e.startTime, loaded: nav.loadEventStart};
        }""",
        charts_url,
    )
    # asked for while the HTML was parsed, long before the load event
    assert timing["requested"] < timing["loaded"], timing
    drawn = page.evaluate("window.__drawn")
    in_page = page.evaluate(
        "Array.from(document.querySelectorAll('[data-chart][data-plotted=true]'),"
        " el => el.dataset.chart)"
    )
    assert drawn == in_page and set(names) <= set(drawn), (drawn, in_page)
    ui.screenshot(page, "candidate-charts-drawn-in-order")

    # The next chart page: the library comes from the HTTP cache (nothing transferred).
    page.goto(f"/candidates/{candidate_id}")
    ui.wait_for_charts(page, ["lightcurve"])
    cached = page.evaluate(
        """() => performance.getEntriesByType('resource')
             .filter(e => e.name.includes('/static/vendor/plotly-'))
             .map(e => [e.transferSize, e.decodedBodySize])"""
    )
    assert cached and all(t == 0 and size > 1_000_000 for t, size in cached), cached
