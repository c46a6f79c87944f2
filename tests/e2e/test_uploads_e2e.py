"""An upload's result in headless Chromium (issue 15, items 3 and 9): a catalog upload shows a
summary and one sortable, filterable table of named rows (no cards, no empty chart boxes),
drawn fast; every candidate is shown by its archive or typed name; "My uploads" lists past
uploads; reloading /explore keeps the result."""

from __future__ import annotations

import csv
import gzip
import io
import re
import statistics
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_TOI_ROWS = 300
#: What the 300-row result may take to draw after a (re)load, in ms. The target is 1 s; a
#: shared 2-core CI runner gets twice that before the test fails.
DRAW_LIMIT_MS = 2000.0
#: The old page: 300 cards, 54,908 px tall. One table row is about 40 px.
MAX_PAGE_HEIGHT_PX = 20_000


def _table_file(source: Path, dest: Path, n_rows: int) -> Path:
    """The archive's header comments, the column row and the first `n_rows` rows."""
    lines = gzip.decompress(source.read_bytes()).decode("utf-8").splitlines()
    head = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    dest.write_text("\n".join(head + body[: n_rows + 1]) + "\n", encoding="utf-8")
    return dest


def _upload(page: Any, path: Path) -> str:
    """Upload `path` on /explore and wait for its result; the data set id from the URL."""
    page.goto("/explore")
    page.get_by_label("Light-curve file").set_input_files(str(path))
    page.get_by_role("button", name="Upload and classify").click()
    page.wait_for_url(re.compile(r"/explore\?dataset="), timeout=180_000)
    return page.url.split("dataset=")[1]


def _draw_ms(page: Any, n_rows: int) -> float:
    """Milliseconds from the navigation's start until the table holds `n_rows` rows."""
    page.wait_for_function(
        "(n) => document.querySelectorAll('#result-table-body tr').length === n",
        arg=n_rows,
        polling="raf",
        timeout=30_000,
    )
    drawn, parts = page.evaluate(
        """() => {
          const nav = performance.getEntriesByType("navigation")[0];
          const api = performance.getEntriesByType("resource")
            .find((e) => e.name.includes("/results"));
          return [performance.now(), {
            html: Math.round(nav.responseEnd), dom_ready: Math.round(nav.domContentLoadedEventEnd),
            api_start: api ? Math.round(api.startTime) : null,
            api_end: api ? Math.round(api.responseEnd) : null,
            table_built: Math.round(
              performance.getEntriesByName("exoguard:result-table")[0]?.startTime ?? -1),
          }];
        }"""
    )
    print(f"drawn at {drawn:.0f} ms: {parts}")
    return float(drawn)


def test_a_catalog_upload_is_a_summary_and_one_table(
    page: Any, e2e_server: Any, ui: Any, tmp_path: Path
) -> None:
    toi = _table_file(
        e2e_server.data_dir / "catalogs" / "toi_2026-06-22.csv.gz",
        tmp_path / "toi300.csv",
        N_TOI_ROWS,
    )
    ui.login(page, ui.EXPLORER)
    dataset_id = _upload(page, toi)
    table = page.locator("#result-table-body tr")
    expect(table).to_have_count(N_TOI_ROWS)
    # no card per row, no empty chart box, the real names
    expect(page.locator("#verdicts .verdict")).to_have_count(0)
    expect(page.locator("#lightcurve-panel")).to_be_hidden()
    expect(page.locator("#folded-panels")).to_be_hidden()
    expect(page.locator("#results")).not_to_contain_text("catalog table")
    names = page.locator("#result-table-body tr td:first-child a").all_text_contents()
    assert len(names) == N_TOI_ROWS and all(re.fullmatch(r"TOI-\d+\.\d\d", n) for n in names), (
        names[:5]
    )
    # the summary: 300 rows, verdict counts that add up, archive matches
    summary = page.locator("#result-summary")
    expect(summary.locator('[data-stat="total"] strong')).to_have_text(str(N_TOI_ROWS))
    counts = {
        key: int(summary.locator(f'[data-stat="{key}"] strong').inner_text().replace(",", ""))
        for key in ("planet", "false_positive", "uncertain", "matched")
    }
    assert counts["planet"] + counts["false_positive"] + counts["uncertain"] == N_TOI_ROWS
    assert counts["matched"] == N_TOI_ROWS  # every TOI row is an archive object
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < MAX_PAGE_HEIGHT_PX, height
    ui.screenshot(page, "explore-catalog-300-rows")

    # sort by period, both ways
    page.get_by_role("button", name="Period (d)").click()
    expect(page.locator('th[data-sort="period_days"]')).to_have_attribute("aria-sort", "descending")
    periods = [
        float(t.replace(",", ""))
        for t in page.locator("#result-table-body tr td:nth-child(2)").all_text_contents()
        if t != "—"
    ]
    assert periods == sorted(periods, reverse=True) and len(periods) > 250
    page.get_by_role("button", name="Period (d)").click()
    periods = [
        float(t.replace(",", ""))
        for t in page.locator("#result-table-body tr td:nth-child(2)").all_text_contents()
        if t != "—"
    ]
    assert periods == sorted(periods)
    # filter by verdict, then by name
    page.get_by_label("Verdict").select_option("planet")
    expect(table).to_have_count(counts["planet"])
    page.get_by_label("Verdict").select_option("")
    first = names[0]
    page.get_by_label("Name, star or archive match").fill(first)
    expect(table.first.locator("td").first).to_contain_text(first)
    assert all(
        first in n
        for n in page.locator("#result-table-body tr td:first-child a").all_text_contents()
    )
    ui.screenshot(page, "explore-catalog-filtered")
    # the CSV holds the rows shown, named as the table names them
    shown = page.locator("#result-table-body tr td:first-child a").all_text_contents()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV (the rows shown)").click()
    records = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert sorted(r["display_name"] for r in records) == sorted(shown)
    expect(page.get_by_role("link", name="Open the full result page")).to_be_hidden()

    # reloading keeps the result; it is drawn fast (median of three loads)
    times = []
    for _ in range(3):
        page.reload()
        times.append(_draw_ms(page, N_TOI_ROWS))
    median = statistics.median(times)
    print(f"300-row result drawn {median:.0f} ms after navigation (loads: {times})")
    assert median < DRAW_LIMIT_MS, times
    assert page.url.endswith(f"/explore?dataset={dataset_id}")

    # each row links to its candidate, named the same there
    page.locator("#result-table-body tr td:first-child a", has_text=names[0]).first.click()
    page.wait_for_url(re.compile(r"/candidates/\d+$"))
    expect(page.locator("h1")).to_have_text(names[0])


def test_my_uploads_lists_past_uploads_and_reopens_them(
    page: Any, e2e_server: Any, ui: Any, tmp_path: Path
) -> None:
    koi = _table_file(
        e2e_server.data_dir / "catalogs" / "koi_cumulative_2026-06-22.csv.gz",
        tmp_path / "my-koi-rows.csv",
        8,
    )
    ui.login(page, ui.EXPLORER)
    dataset_id = _upload(page, koi)
    expect(page.locator("#result-table-body tr")).to_have_count(8)
    page.get_by_role("link", name="My uploads").click()
    page.wait_for_url("**/uploads")
    row = page.locator(f'#uploads-table tr[data-dataset-id="{dataset_id}"]')
    expect(row).to_contain_text("my-koi-rows.csv")
    expect(row.locator("td").nth(3)).to_have_text("8")
    expect(row).to_contain_text("8 of 8")  # archive matches
    ui.screenshot(page, "my-uploads")
    row.get_by_role("link", name="my-koi-rows.csv").click()
    page.wait_for_url(f"**/explore?dataset={dataset_id}")
    expect(page.locator("#result-table-body tr")).to_have_count(8)
    expect(page.locator("#result-table-body")).to_contain_text("K00752.01")
    # on a phone the table scrolls sideways inside its box; the page itself does not
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width
    ui.screenshot(page, "explore-catalog-390px")
    page.set_viewport_size({"width": 1280, "height": 900})
    # logged out, the page asks to log in and lists nothing
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    page.goto("/uploads")
    expect(page.locator("#login-needed")).to_be_visible()


def test_a_typed_in_candidate_keeps_its_name_everywhere(page: Any, ui: Any) -> None:
    ui.login(page, ui.EXPLORER)
    page.goto("/explore")
    page.get_by_role("tab", name="Enter parameters").click()
    page.get_by_label("Catalog id or planet name").fill("Vera's odd dip")
    page.get_by_label("Orbital period (days)").fill("4.1234")
    page.get_by_label("Transit duration (hours)").fill("2.5")
    page.get_by_label("Transit depth (ppm)").fill("900")
    page.get_by_role("button", name="Classify").click()
    card = page.locator("#verdicts .verdict").first
    expect(card).to_contain_text("Vera's odd dip")
    page.wait_for_url(re.compile(r"/explore\?candidates=\d+$"))
    # reloading keeps the card, named the same
    page.reload()
    expect(page.locator("#verdicts .verdict").first).to_contain_text("Vera's odd dip")
    page.get_by_role("link", name="Details, diagnostics and explanation").click()
    expect(page.locator("h1")).to_have_text("Vera's odd dip")
    expect(page.locator("main")).not_to_contain_text("manual-")
    ui.screenshot(page, "candidate-typed-name")
    # /results names it too, and finds it by that name
    page.goto("/results?q=odd+dip")
    expect(page.locator("#results-table")).to_contain_text("Vera's odd dip")
    page.goto("/results?sort=predicted_at")
    expect(page.locator("#results-table")).not_to_contain_text("manual-")
    expect(page.locator("#results-table")).not_to_contain_text("[")
    ui.screenshot(page, "results-named")


#: TOI-114.01 (TIC 25155310), one TESS sector, 2.0 MB.
TOI_114 = "tess/hlsp_tess-data-alerts_tess_phot_00025155310-s01_tess_v1_lc.fits"


def test_a_light_curve_result_is_named_and_comes_back_with_its_charts(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    ui.login(page, ui.EXPLORER)
    dataset_id = _upload(page, e2e_server.data_dir / "lightcurves" / TOI_114)
    cards = page.locator("#verdicts .verdict")
    expect(cards.first).to_be_visible()
    names = [t.split(" — ")[0] for t in cards.locator("p.small").first.all_text_contents()]
    assert names and not any("[" in n or "candidate " in n for n in names), names
    expect(cards.first).to_contain_text("TOI-114.01")  # the search find is the archive object
    page.reload()
    expect(page.locator("#verdicts .verdict").first).to_contain_text("TOI-114.01")
    ui.wait_for_charts(page, ["lightcurve", "folded_global", "folded_local"])
    assert page.url.endswith(f"/explore?dataset={dataset_id}")
    ui.screenshot(page, "explore-lightcurve-reloaded")
