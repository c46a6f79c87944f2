"""The chart library the pages load is served by the app itself and knows every trace type
the figure builders use (the partial Plotly bundle of package.json when installed)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exoguard.config import Settings
from exoguard.web import assets
from exoguard.web.app import create_app

WEB = Path(assets.__file__).resolve().parent
PLOTLY_URL = "/static/vendor/plotly.min.js"
#: `"type"` values in the figure code that name no trace: layout shapes and axis types.
NOT_TRACES = {"line", "rect", "circle", "path", "log", "linear", "category", "date", "-"}


def _used_trace_types() -> set[str]:
    """Every ``"type": "..."`` the figure builders and page scripts write, but shapes and axes."""
    # charts.py, or a charts/ package where it is split into modules.
    sources = sorted(WEB.glob("charts.py")) + sorted(WEB.glob("charts/*.py"))
    sources += sorted((WEB / "pages").glob("*.py"))
    sources += sorted((WEB / "static" / "js").glob("*.js"))
    found: set[str] = set()
    for path in sources:
        found |= set(re.findall(r"""["']?type["']?\s*:\s*["'](\w+)["']""", path.read_text()))
    return found - NOT_TRACES


@pytest.fixture()
def client(tmp_path: Path) -> TestClient:
    settings = Settings(EXOGUARD_VAR_DIR=tmp_path, SECRET_KEY="x" * 40)  # type: ignore[call-arg]
    return TestClient(create_app(settings))


def test_the_pages_use_cartesian_trace_types_only() -> None:
    used = _used_trace_types()
    assert {"scatter", "bar", "heatmap"} <= used
    # Not in the partial bundle: a figure that needs one must be drawn with another type.
    assert not used & {"waterfall", "scattergl", "funnel", "candlestick", "indicator"}


def test_served_bundle_is_local_and_registers_every_used_trace_type(client: TestClient) -> None:
    with client:
        response = client.get(PLOTLY_URL)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    bundle = response.text
    registered = set(re.findall(r'moduleType:"trace",name:"(\w+)"', bundle))
    assert registered, "no Plotly trace module found in the served bundle"
    missing = _used_trace_types() - registered
    assert not missing, f"the served Plotly bundle lacks the trace types {sorted(missing)}"


def test_the_partial_bundle_is_served_when_installed(client: TestClient) -> None:
    partial = assets.PARTIAL_PLOTLY_JS
    if not partial.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"`make install` did not install the partial Plotly bundle {partial.name}")
        pytest.skip("the partial Plotly bundle is not installed (no npm); the full one serves")
    with client:
        body = client.get(PLOTLY_URL).content
    # behind V8's compile hint: every function compiled off the main thread while it downloads
    assert body == assets.COMPILE_HINT + partial.read_bytes()
    assert len(body) < 2_000_000  # the wheel's full bundle is 4.8 MB
    # The same plotly.js version as the plotly wheel's full bundle (package.json pins it).
    import plotly

    full = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    assert _version(body[:300]) == _version(full.read_bytes()[:300]) is not None


def _version(header: bytes) -> str | None:
    match = re.search(rb"plotly\.js (?:\([\w -]+\) )?v(\d+\.\d+\.\d+)", header)
    return match.group(1).decode() if match else None


def test_chart_pages_load_the_content_named_bundle_deferred() -> None:
    head = (WEB / "templates" / "_charts_head.html").read_text()
    assert '<script defer src="{{ plotly_url() }}" data-plotly></script>' in head
    assert 'rel="preload" href="{{ charts_url }}" as="fetch" crossorigin="anonymous"' in head
    for page in ("candidate", "research", "vetting_item", "vetting_guide"):
        template = (WEB / "templates" / f"{page}.html").read_text()
        assert '{% include "_charts_head.html" %}' in template, page


def test_the_content_named_bundle_is_immutable_and_the_plain_name_revalidates(
    client: TestClient,
) -> None:
    asset = assets.plotly_asset()
    assert re.fullmatch(r"/static/vendor/plotly-[0-9a-f]{12}\.min\.js", asset.url)
    with client:
        named = client.get(asset.url)
        plain = client.get(PLOTLY_URL)
        stale = client.get("/static/vendor/plotly-000000000000.min.js")
        page = client.get("/")
    assert named.status_code == 200 and named.content == plain.content
    assert named.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert plain.headers["cache-control"] == "no-cache"
    assert named.content.startswith(b"//# allFunctionsCalledOnLoad\n")
    with client:
        again = client.get(PLOTLY_URL, headers={"If-None-Match": plain.headers["etag"]})
    assert again.status_code == 304 and not again.content
    assert stale.status_code == 404  # an old name never serves a new bundle as immutable
    # every page names the bundle for the pages that load it on demand (explore)
    assert f'<meta name="exoguard-plotly" content="{asset.url}">' in page.text
