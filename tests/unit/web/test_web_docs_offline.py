"""The OpenAPI page at /docs loads only local assets (no CDN)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exoguard.config import Settings
from exoguard.web.app import create_app


@pytest.fixture()
def client(tmp_path: Path) -> TestClient:
    settings = Settings(EXOGUARD_VAR_DIR=tmp_path, SECRET_KEY="x" * 40)  # type: ignore[call-arg]
    return TestClient(create_app(settings))


def test_docs_page_references_only_local_assets(client: TestClient) -> None:
    with client:
        html = client.get("/docs").text
        assets = re.findall(r"(?:src|href)=['\"]([^'\"]+)['\"]", html)
        assert assets, "the docs page should reference its script and stylesheet"
        assert not [a for a in assets if a.startswith(("http:", "https:", "//"))]
        for asset in assets:
            assert client.get(asset).status_code == 200, asset
        assert "https://cdn" not in html
        assert client.get("/openapi.json").json()["info"]["title"] == "exoguard"
