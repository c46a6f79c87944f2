"""Per-client state the server keeps in memory stays bounded under a flood (issue 13, soak)."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import Api, api_world  # noqa: E402

from exoguard.web.security import SESSION_COOKIE  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_world(
        postgres_base_url, tmp_path_factory.mktemp("bounded_memory"), with_model=False
    ) as world:
        yield world


def _active_users(text: str) -> float:
    line = next(x for x in text.splitlines() if x.startswith("exoguard_active_users "))
    return float(line.split()[1])


def test_made_up_session_cookies_do_not_grow_the_active_user_table(api: Api) -> None:
    """Every request with a session cookie is remembered for the active-users gauge, before
    the token is checked: 300 anonymous requests with made-up cookies must not grow memory
    past the bound, and the gauge still counts the sessions seen last."""
    state = api.app.state.exoguard
    state.max_seen_sessions = 50
    with api.client() as client:
        for _ in range(300):
            client.cookies.set(SESSION_COOKIE, secrets.token_urlsafe(24))
            assert client.get("/healthz").status_code == 200
        assert len(state._last_seen) == 50
        client.cookies.clear()
        assert _active_users(client.get("/metrics").text) == 50


def test_active_users_forgets_sessions_outside_the_window(api: Api) -> None:
    state = api.app.state.exoguard
    state.max_seen_sessions = 1000
    for i in range(20):
        state.seen(f"token-{i}")
    assert state.active_users(window_s=3600) >= 20
    assert state.active_users(window_s=-1.0) == 0  # every one is older than "the future"
    assert len(state._last_seen) == 0


def test_made_up_methods_share_one_metrics_label(api: Api) -> None:
    """Request counters are labelled by method: invented methods must not add label sets."""
    metrics = api.app.state.metrics
    with api.client() as client:
        for i in range(40):
            client.request(f"BREW{i}", "/healthz")
        client.get("/healthz")
        methods = {
            sample.labels["method"]
            for family in metrics.requests.collect()
            for sample in family.samples
        }
    assert methods <= {"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "OTHER"}
    assert {"GET", "OTHER"} <= methods
