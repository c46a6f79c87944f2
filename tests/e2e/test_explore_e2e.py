"""/explore in headless Chromium (issue 15): a single dip is named as one transit-like event;
repeated submits of the Classify form store one candidate; repeated toasts collapse into one."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: Kepler Q1 of KIC 11818800: one transit of K00777.01 (P = 40.4 d) in 33 days.
ONE_TRANSIT = "kepler_lightkurve_exports/kic011818800_lightkurve.fits"
MANUAL_NAME = "double-submit check"


def test_a_single_dip_is_reported_as_one_event(page: Any, e2e_server: Any, ui: Any) -> None:
    messages: list[str] = []

    def on_response(response: Any) -> None:
        if "/api/jobs/" in response.url and response.ok:
            messages.append(str(response.json().get("message") or ""))

    page.on("response", on_response)
    ui.login(page, ui.EXPLORER)
    page.goto("/explore")
    page.get_by_label("Light-curve file").set_input_files(
        str(e2e_server.data_dir / "lightcurves" / ONE_TRANSIT)
    )
    page.get_by_role("button", name="Upload and classify").click()
    single = page.locator("#verdicts #single-event")
    expect(single).to_be_visible(timeout=120_000)
    expect(single).to_contain_text("One transit-like event found; a period needs at least two")
    # the one transit of K00777.01 is at BKJD 133.145 = BJD 2454966.145
    expect(single).to_contain_text("BJD 2454966.1")
    expect(page.locator("#verdicts #no-signal")).to_have_count(0)
    assert messages, "the job was never polled"
    assert not [m for m in messages if "search step" in m], messages
    ui.screenshot(page, "explore-single-event")


def _manual_candidates(database_url: str) -> int:
    from sqlalchemy import func, select

    from exoguard.store.db import make_engine, make_sessionmaker
    from exoguard.store.models import Candidate

    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            stmt = select(func.count()).where(Candidate.source == f"manual entry: {MANUAL_NAME}")
            return int(session.scalar(stmt) or 0)
    finally:
        engine.dispose()


def test_repeated_classify_stores_one_candidate_and_one_toast(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    answers: list[Any] = []
    page.on(
        "response",
        lambda r: answers.append(r) if r.url.endswith("/api/models/predict") else None,
    )
    ui.login(page, ui.EXPLORER)
    page.goto("/explore")
    page.get_by_role("tab", name="Enter parameters").click()
    page.get_by_label("Catalog id or planet name").fill(MANUAL_NAME)
    page.get_by_label("Orbital period (days)").fill("3.2888")
    page.get_by_label("Transit duration (hours)").fill("3.2")
    page.get_by_label("Transit depth (ppm)").fill("6300")
    before = _manual_candidates(e2e_server.database_url)
    # Five submits in one go (faster than any click): only the first starts a request.
    page.evaluate(
        "() => { const f = document.getElementById('manual-form');"
        " for (let i = 0; i < 5; i++) f.requestSubmit(); }"
    )
    expect(page.get_by_role("button", name="Classify")).to_be_disabled()
    verdict = page.locator("#verdicts .verdict .words").first
    verdict.wait_for()
    expect(page.get_by_role("button", name="Classify")).to_be_enabled()
    # Then the impatient clicks after the answer: the same entry, the same key, no new row.
    for _ in range(3):
        page.get_by_role("button", name="Classify").click()
        expect(page.get_by_role("button", name="Classify")).to_be_enabled()
    page.wait_for_load_state("networkidle")
    assert len(answers) == 4, [a.url for a in answers]
    ids = {a.json()["predictions"][0]["candidate_id"] for a in answers}
    assert len(ids) == 1 and None not in ids
    assert [a.headers.get("idempotent-replayed") for a in answers] == [None] + ["true"] * 3
    assert _manual_candidates(e2e_server.database_url) == before + 1
    # One toast for the four answers, with its count.
    done = page.locator("#toasts .toast", has_text="Classification done.")
    expect(done).to_have_count(1)
    expect(done.locator(".count")).to_have_text("×4")
    assert page.locator("#toasts .toast").count() <= 3
    ui.screenshot(page, "explore-repeated-classify")
    # A changed entry is a new request.
    page.get_by_label("Transit depth (ppm)").fill("6400")
    page.get_by_role("button", name="Classify").click()
    expect(done.locator(".count")).to_have_text("×5")
    page.wait_for_load_state("networkidle")
    assert _manual_candidates(e2e_server.database_url) == before + 2
