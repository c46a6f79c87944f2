"""The OpenAPI page at /docs renders FastAPI's OpenAPI 3.1 document in headless Chromium,
from local files only (issue 15, item 1)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_docs_renders_the_operations_from_local_files(
    browser: Any, e2e_server: Any, ui: Any
) -> None:
    recorded = ui.Recorded()
    context = ui.new_context(browser, e2e_server, recorded)
    try:
        page = context.new_page()
        page.goto("/docs")
        predict = page.locator(
            '.opblock.opblock-post .opblock-summary-path[data-path="/api/models/predict"]'
        )
        expect(predict).to_be_visible(timeout=30_000)
        # Swagger UI 4 and older stop at "Unable to render this definition" on 3.1.
        expect(page.get_by_text("Unable to render this definition")).to_have_count(0)
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("exoguard")
        assert page.locator(".opblock").count() >= 20, "every API operation is listed"
        # Opening an operation shows its request body schema (the 3.1 schema is read, not
        # only the path list).
        predict.click()
        expect(page.locator(".opblock.is-open .opblock-section-request-body")).to_be_visible()
        page.wait_for_load_state("networkidle")
        ui.screenshot(page, "docs-operations")
    finally:
        context.close()
    assert any(u.endswith("/static/vendor/swagger/swagger-ui-bundle.js") for u in recorded.urls)
    assert recorded.remote() == [], f"requests left 127.0.0.1: {recorded.remote()}"
    assert recorded.page_errors == [], f"JavaScript errors: {recorded.page_errors}"
    assert recorded.csp_violations == [], f"CSP violations: {recorded.csp_violations}"
