"""The survey page: a researcher starts a survey of the bundled TESS light curves and watches
its progress bar fill from the database until it is finished, then downloads the candidates."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

#: The bundled TESS folder holds five single-sector light curves of five stars.
TESS_STARS = 5


def test_researcher_starts_a_survey_and_watches_it_finish(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    polls: list[dict[str, Any]] = []

    def on_response(response: Any) -> None:
        if re.search(r"/api/surveys/[0-9a-f-]{36}$", response.url) and response.ok:
            try:
                polls.append(response.json())
            except Exception:  # the page may already have moved on
                return

    page.on("response", on_response)
    ui.login(page, ui.ADMIN)
    page.goto("/research")
    page.get_by_role("link", name="Survey mode").click()
    page.wait_for_url("**/research/surveys")
    expect(page.get_by_role("heading", name="Survey mode")).to_be_visible()

    # A path outside the survey folder is refused with the reason.
    page.get_by_label("Folder or manifest").fill("../secrets")
    page.get_by_role("button", name="Start survey").click()
    expect(page.locator("#survey-error")).to_contain_text("relative to the survey folder")

    page.get_by_label("Folder or manifest").fill("lightcurves/tess")
    page.get_by_label("Name").fill("TESS e2e")
    page.get_by_label("Stars per chunk").fill("2")
    page.get_by_role("button", name="Start survey").click()
    expect(page.locator("#survey-panel")).to_be_visible()
    expect(page.locator("#survey-title")).to_have_text("TESS e2e")
    ui.screenshot(page, "survey-started")
    expect(page.locator("#survey-status")).to_contain_text("finished", timeout=240_000)
    ui.screenshot(page, "survey-finished")

    bar = page.locator("#survey-bar")
    assert bar.get_attribute("max") == str(TESS_STARS)
    assert bar.evaluate("el => el.value") == TESS_STARS
    expect(page.locator('[data-stat="done"]')).to_have_text(str(TESS_STARS))
    expect(page.locator('[data-stat="failed"]')).to_have_text("0")
    n_candidates = int(page.locator('[data-stat="n_candidates"]').text_content() or "0")
    assert n_candidates >= 3  # TOI-114, TOI-247 and pi Men's planets at least
    # The bar was read from the database while the survey ran (several polls, rising counts).
    finished = [p["finished"] for p in polls]
    assert len(polls) >= 2 and finished == sorted(finished) and finished[-1] == TESS_STARS

    # The survey is listed, and its candidates download as CSV (one row per candidate).
    expect(page.locator("#surveys-table")).to_contain_text("TESS e2e")
    href = page.locator("#survey-csv").get_attribute("href")
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text())))
    assert len(rows) == n_candidates
    assert {r["mission"] for r in rows} == {"tess"}
    pdf = page.request.get(page.locator("#survey-pdf").get_attribute("href") + "?top=1")
    assert pdf.ok and pdf.body().startswith(b"%PDF")


def test_an_explorer_cannot_open_the_survey_page(page: Any, e2e_server: Any, ui: Any) -> None:
    ui.login(page, ui.EXPLORER)
    response = page.goto("/research/surveys")
    assert response is not None and response.status in (403, 404)
    assert page.request.get("/api/surveys").status == 403
