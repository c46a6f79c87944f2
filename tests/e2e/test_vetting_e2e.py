"""Issue 15, items 5 and 6, in Chromium: vetting with the data, the field guide, changing a
vote, comments, a vetter's own history, the queue count, and one state everywhere.

Each test makes its own users and items in the server's database (the session's vetting
item of conftest is left to test_pages_e2e), so the tests do not depend on each other.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.orm import Session

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "correct-horse-battery"


@contextmanager
def _db(server: Any) -> Iterator[Session]:
    from exoguard.store.db import make_engine, make_sessionmaker

    engine = make_engine(server.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
            session.commit()
    finally:
        engine.dispose()


def _user(server: Any, role: str = "explorer") -> tuple[str, int]:
    from exoguard.services.accounts import register_user

    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    with _db(server) as s:
        user = register_user(
            s, email=email, password=PASSWORD, name=f"Vetter {email[:12]}", role=role
        )
        s.flush()
        return email, user.id


def _enqueue(server: Any, candidate_id: int, *, gold: str | None = None) -> int:
    """An open item on `candidate_id` with an uncertain prediction of the active model."""
    from exoguard.store.repositories import (
        ModelVersionRepository,
        PredictionRepository,
        VettingRepository,
    )

    with _db(server) as s:
        version = ModelVersionRepository(s).get_active()
        assert version is not None
        prediction = PredictionRepository(s).create(
            candidate_id=candidate_id,
            model_version=version.id,
            probability=0.3,
            uncertainty=0.35,
            label="false_positive",
        )
        item = VettingRepository(s).enqueue(
            candidate_id=candidate_id,
            priority=0.35,
            prediction_id=prediction.id,
            is_gold=gold is not None,
            gold_label=gold,
        )
        s.flush()
        return item.id


def _catalog_candidate(server: Any, object_id: str) -> int:
    from exoguard.store.repositories import CandidateRepository

    with _db(server) as s:
        candidate = CandidateRepository(s).get_by_key("kepler", object_id)
        assert candidate is not None, object_id
        return candidate.id


def _manual_candidate(server: Any) -> int:
    import pandas as pd

    from exoguard.store.models import Candidate
    from exoguard.store.repositories import CandidateRepository

    name = f"manual-{uuid.uuid4().hex[:12]}"
    frame = pd.DataFrame(
        {
            "mission": ["other"],
            "object_id": [name],
            "label": ["candidate"],
            "source": ["manual entry: my dip"],
            "period_days": [3.5],
            "duration_hours": [2.1],
            "depth_ppm": [900.0],
        }
    )
    with _db(server) as s:
        CandidateRepository(s).upsert_many(frame)
        return int(s.scalars(select(Candidate.id).where(Candidate.object_id == name)).one())


def _login(page: Any, email: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def _visible_empty_boxes(page: Any) -> int:
    return int(
        page.evaluate(
            """() => [...document.querySelectorAll('.chart-empty')]
                .filter((el) => el.offsetParent !== null).length"""
        )
    )


# ------------------------------------------------------------------------------ item 5
def test_vetting_page_folds_the_bundled_light_curve_and_links_the_guide(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    item_id = _enqueue(e2e_server, _catalog_candidate(e2e_server, "K00780.01"))
    email, _ = _user(e2e_server)
    _login(page, email)
    page.goto(f"/vetting/{item_id}")
    ui.wait_for_charts(page, ["folded_global", "folded_local", "odd_even", "secondary"])
    expect(page.locator("#lightcurve-source")).to_contain_text("bundled archive file")
    assert page.locator("#catalog-parameters").count() == 0
    assert _visible_empty_boxes(page) == 0
    expect(page.locator("#guide-link")).to_have_attribute("href", "/vetting/guide")
    ui.screenshot(page, "vetting15-item-lightcurve")


def test_manual_entry_gets_one_parameters_card_and_no_empty_boxes(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    item_id = _enqueue(e2e_server, _manual_candidate(e2e_server))
    email, _ = _user(e2e_server)
    _login(page, email)
    page.goto(f"/vetting/{item_id}")
    card = page.locator("#catalog-parameters")
    expect(card).to_contain_text("Parameters of this manual entry")
    expect(card).to_contain_text("manual entry")
    expect(card).to_contain_text("Orbital period")
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('[data-chart] .loading')", timeout=60_000)
    assert page.locator('[data-chart="folded_local"]').count() == 0
    assert page.locator('[data-chart="lightcurve"]').count() == 0
    assert _visible_empty_boxes(page) == 0
    assert "catalog row" not in page.content()
    ui.screenshot(page, "vetting15-item-manual-entry")


def test_catalog_row_without_light_curve_shows_catalog_parameters(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    item_id = _enqueue(e2e_server, _catalog_candidate(e2e_server, "K00010.01"))
    email, _ = _user(e2e_server)
    _login(page, email)
    page.goto(f"/vetting/{item_id}")
    expect(page.locator("#catalog-parameters h2")).to_have_text("Catalog parameters")
    page.wait_for_function("() => !document.querySelector('[data-chart] .loading')", timeout=60_000)
    assert _visible_empty_boxes(page) == 0
    assert page.locator("section.panel:visible").count() <= 4  # vote, verdict, SHAP, card
    ui.screenshot(page, "vetting15-item-catalog-row")


def test_field_guide_shows_real_labelled_examples(page: Any, e2e_server: Any, ui: Any) -> None:
    page.goto("/vetting")
    page.get_by_role("link", name="Field guide: what to look for").click()
    page.wait_for_url("**/vetting/guide")
    for key in ("planet", "eclipsing_binary", "blend", "systematic"):
        expect(page.locator(f"#case-{key}-panel")).to_be_visible()
    expect(page.locator("#case-planet-panel .catalog-label")).to_contain_text(
        "K00001.01 = Kepler-1 b"
    )
    expect(page.locator("#case-planet-panel .catalog-label")).to_contain_text("CONFIRMED")
    expect(page.locator("#case-eclipsing_binary-panel .catalog-label")).to_contain_text(
        "FALSE POSITIVE"
    )
    expect(page.locator("#case-blend-panel .catalog-label")).to_contain_text("centroid offset")
    expect(page.locator("#case-systematic-panel .catalog-label")).to_contain_text(
        "not a TESS Object of Interest"
    )
    ui.wait_for_charts(
        page,
        [
            "planet:folded_local",
            "planet:odd_even",
            "eclipsing_binary:folded_local",
            "eclipsing_binary:odd_even",
            "eclipsing_binary:secondary",
            "blend:folded_local",
            "blend:odd_even",
            "systematic:lightcurve_raw",
            "systematic:lightcurve",
        ],
        timeout_ms=120_000,
    )
    ui.screenshot(page, "vetting15-field-guide")


# ------------------------------------------------------------------------------ item 6
def test_vetter_changes_their_vote_and_the_count_updates(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    item_id = _enqueue(e2e_server, _manual_candidate(e2e_server))
    email, _ = _user(e2e_server)
    _login(page, email)
    page.goto(f"/vetting/{item_id}")
    expect(page.locator("#n-votes")).to_have_text("0 votes so far")
    page.get_by_label("Comment (optional)").fill("U-shaped, no secondary")
    page.get_by_role("button", name="Planet", exact=True).click()
    expect(page.locator("#vote-done")).to_contain_text("Vote recorded: planet, confidence 3/5.")
    expect(page.locator("#n-votes")).to_have_text("1 vote so far")
    # the vetter changes their mind on the same page
    page.locator("label", has_text="5").click()
    page.get_by_role("button", name="Change to false positive").click()
    expect(page.locator("#vote-done")).to_contain_text(
        "Vote changed: false positive, confidence 5/5."
    )
    expect(page.locator("#n-votes")).to_have_text("1 vote so far")
    page.reload()
    expect(page.locator("#vote-done")).to_contain_text(
        "You voted false positive with confidence 5/5"
    )
    expect(page.locator("#my-changes")).to_contain_text("earlier votes on this item (1)")
    ui.screenshot(page, "vetting15-vote-changed")


def test_comments_shown_after_voting_and_to_researchers(
    browser: Any, e2e_server: Any, ui: Any
) -> None:
    item_id = _enqueue(e2e_server, _manual_candidate(e2e_server))
    first, _ = _user(e2e_server)
    second, _ = _user(e2e_server)
    researcher, _ = _user(e2e_server, role="researcher")
    recorded = ui.Recorded()
    context = ui.new_context(browser, e2e_server, recorded)
    try:
        page = context.new_page()
        _login(page, first)
        page.goto(f"/vetting/{item_id}")
        page.get_by_label("Comment (optional)").fill("depth alternates between dips")
        page.get_by_role("button", name="False positive", exact=True).click()
        expect(page.locator("#comments")).to_be_visible()
        expect(page.locator("#comments-list")).to_contain_text("depth alternates between dips")
        context.clear_cookies()

        _login(page, second)
        page.goto(f"/vetting/{item_id}")
        expect(page.locator("#comments")).to_be_hidden()  # form your own view first
        assert "depth alternates between dips" not in page.content()
        page.get_by_role("button", name="Planet", exact=True).click()
        expect(page.locator("#comments-list")).to_contain_text("depth alternates between dips")
        ui.screenshot(page, "vetting15-comments-after-vote")
        context.clear_cookies()

        _login(page, researcher)
        page.goto(f"/vetting/{item_id}")
        expect(page.locator("#comments-list")).to_contain_text("depth alternates between dips")
    finally:
        context.close()
    assert recorded.page_errors == [] and recorded.remote() == []


def test_vetter_sees_own_history_and_reputation(page: Any, e2e_server: Any, ui: Any) -> None:
    from exoguard.config import get_settings
    from exoguard.vetting.service.config import VettingConfig
    from exoguard.vetting.service.votes import submit_vote

    config = VettingConfig.from_settings(get_settings())

    item_id = _enqueue(e2e_server, _manual_candidate(e2e_server))
    email, user_id = _user(e2e_server)
    with _db(e2e_server) as s:
        submit_vote(
            s, item_id=item_id, user_id=user_id, label="planet", confidence=2, config=config
        )
        submit_vote(
            s, item_id=item_id, user_id=user_id, label="false_positive", confidence=4, config=config
        )
    _login(page, email)
    page.goto("/vetting")
    page.get_by_role("link", name="My votes and reputation").click()
    page.wait_for_url("**/vetting/me")
    expect(page.locator("#rep-weight")).not_to_be_empty()
    expect(page.locator("#rep-votes")).to_have_text("1")
    row = page.locator("#history-table tbody tr").first
    expect(row).to_contain_text("false positive")
    expect(row).to_contain_text("4/5")
    expect(row).to_contain_text("planet (2/5) → now")
    expect(row).to_contain_text("waiting for consensus")
    ui.screenshot(page, "vetting15-my-votes")


def test_open_count_matches_the_list_with_gold_items_hidden(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    gold_item = _enqueue(e2e_server, _catalog_candidate(e2e_server, "K00002.01"), gold="planet")
    email, _ = _user(e2e_server)
    _login(page, email)
    page.goto("/vetting")
    n_open = int(page.locator("#n-open").inner_text().replace(",", ""))
    links = page.locator('#queue-table a[href^="/vetting/"]')
    listed = [
        int(h.rsplit("/", 1)[1])
        for h in links.evaluate_all("(a) => a.map((x) => x.getAttribute('href'))")
    ]
    assert n_open > 0 and gold_item not in listed
    from exoguard.web.pages.vetting import QUEUE_PAGE

    if n_open <= QUEUE_PAGE:
        assert n_open == len(listed)
    else:  # a long queue lists its first page and says how many wait (earlier tests add items)
        assert len(listed) == QUEUE_PAGE
        expect(page.locator("#queue-more")).to_have_text(
            f"Showing the {QUEUE_PAGE} most uncertain of {n_open:,}."
        )
    ui.screenshot(page, "vetting15-queue-count")


def _csrf(context: Any) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "exoguard_csrf")


def test_one_state_after_consensus_on_page_csv_and_pdf(
    page: Any, context: Any, e2e_server: Any, ui: Any, tmp_path: Path
) -> None:
    from exoguard.config import get_settings
    from exoguard.vetting.service.config import VettingConfig
    from exoguard.vetting.service.votes import submit_vote

    config = VettingConfig.from_settings(get_settings())

    candidate_id = _manual_candidate(e2e_server)
    item_id = _enqueue(e2e_server, candidate_id)
    voters = [_user(e2e_server)[1] for _ in range(3)]
    with _db(e2e_server) as s:
        for user_id in voters:
            outcome = submit_vote(
                s, item_id=item_id, user_id=user_id, label="planet", confidence=5, config=config
            )
        assert outcome.settled
    email, _ = _user(e2e_server)
    _login(page, email)
    page.goto(f"/vetting/{item_id}")
    words = page.locator("#verdict-box .words")
    expect(words).to_contain_text("Planet by the vetters' consensus")
    page.goto(f"/candidates/{candidate_id}")
    expect(page.locator(".verdict .words").first).to_contain_text(
        "Planet by the vetters' consensus"
    )
    ui.screenshot(page, "vetting15-one-state-candidate")
    headers = {"X-CSRF-Token": _csrf(context)}
    csv_text = page.request.post(
        "/api/export/csv", data={"candidate_ids": [candidate_id]}, headers=headers
    ).text()
    assert "planet by the vetters' consensus" in csv_text and ",vetting," in csv_text
    pdf = page.request.post(
        "/api/export/pdf", data={"candidate_ids": [candidate_id], "plots": False}, headers=headers
    )
    assert pdf.ok, pdf.text()
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is missing: the PDF's words cannot be read")
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf.body())
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "VETTED: PLANET" in text
    assert "UNCERTAIN" not in text and "LIKELY FALSE POSITIVE" not in text


def test_candidate_page_of_a_manual_entry_has_no_empty_chart_boxes(
    page: Any, e2e_server: Any, ui: Any
) -> None:
    """The candidate page used to show seven empty light-curve boxes for a typed-in entry."""
    candidate_id = _manual_candidate(e2e_server)
    _enqueue(e2e_server, candidate_id)  # classified, so its explanation chart has bars
    email, _ = _user(e2e_server)
    _login(page, email)
    page.goto(f"/candidates/{candidate_id}")
    card = page.locator("#no-lightcurve")
    expect(card).to_contain_text("A manual entry")
    expect(card).to_contain_text("nothing to fold")
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => !document.querySelector('[data-chart] .loading')", timeout=60_000)
    for chart in ("lightcurve", "folded_local", "odd_even", "secondary", "periodogram"):
        assert page.locator(f'[data-chart="{chart}"]').count() == 0, chart
    assert _visible_empty_boxes(page) == 0
    ui.screenshot(page, "candidate-manual-entry-no-boxes")
