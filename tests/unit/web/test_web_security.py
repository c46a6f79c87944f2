"""Security building blocks without servers: client address behind proxies, the hash gate,
password rules, session-bound CSRF tokens, and what production exposes (HSTS, /docs,
/openapi.json, /metrics)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import secrets
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from exoguard.config import Settings
from exoguard.errors import BusyError, ValidationError
from exoguard.services.accounts import check_password_rules, common_passwords
from exoguard.web.app import create_app
from exoguard.web.deps import resolve_client_address
from exoguard.web.security import HashGate, csrf_matches, csrf_token_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from _asyncrun import run_coroutine  # noqa: E402

KEY = secrets.token_urlsafe(48)
TRUSTED = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128"))


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # an untrusted peer's header is ignored
        ("127.0.0.1", "1.2.3.4", "127.0.0.1"),  # loopback is not trusted by default
        ("10.1.2.3", "1.2.3.4", "1.2.3.4"),
        ("10.1.2.3", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # client-written entries on the left
        ("10.1.2.3", "6.6.6.6, 1.2.3.4, 10.9.9.9", "1.2.3.4"),  # two proxies
        ("10.1.2.3", "10.7.7.7", "10.7.7.7"),  # only proxies: the first hop
        ("10.1.2.3", "not-an-ip", "10.1.2.3"),
        ("10.1.2.3", None, "10.1.2.3"),
        ("::1", "2001:db8::5", "2001:db8::5"),
    ],
)
def test_client_address_trusts_forwarded_for_only_from_proxies(
    peer: str, forwarded: str | None, expected: str
) -> None:
    assert resolve_client_address(peer, forwarded, TRUSTED) == expected


def test_client_address_without_trusted_proxies_is_the_peer() -> None:
    assert resolve_client_address("10.1.2.3", "1.2.3.4", ()) == "10.1.2.3"


def test_hash_gate_bounds_concurrency_and_refuses_after_waiting() -> None:
    gate = HashGate(limit=2, wait_s=0.3)
    running = peak = 0
    lock = threading.Lock()

    async def work(seconds: float) -> str:
        nonlocal running, peak
        try:
            async with gate.slot():
                with lock:
                    running += 1
                    peak = max(peak, running)
                await asyncio.sleep(seconds)
                with lock:
                    running -= 1
            return "done"
        except BusyError as exc:
            assert exc.http_status == 503 and exc.retry_after_s >= 1
            return "busy"

    async def main() -> list[str]:
        return list(await asyncio.gather(*(work(0.2) for _ in range(8))))

    began = time.monotonic()
    outcome = run_coroutine(main())
    assert peak == 2 and gate.peak == 2 and gate.active == 0
    # 2 slots x 0.2 s each within a 0.3 s wait: the first 4 run, the rest are refused
    assert outcome.count("done") >= 2 and outcome.count("busy") >= 2
    assert time.monotonic() - began < 3


def test_hash_gate_hands_slots_across_event_loops_and_survives_cancellation() -> None:
    gate = HashGate(limit=1, wait_s=5.0)

    async def hold(seconds: float) -> None:
        async with gate.slot():
            await asyncio.sleep(seconds)

    async def cancelled_waiter() -> None:
        task = asyncio.create_task(hold(0.0))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    holder = threading.Thread(target=lambda: asyncio.run(hold(0.3)))
    holder.start()
    time.sleep(0.05)
    run_coroutine(cancelled_waiter())  # queued behind the other loop's holder, then cancelled
    began = time.monotonic()
    run_coroutine(hold(0.0))  # waits for the other loop's slot, which is then handed over
    holder.join()
    assert time.monotonic() - began < 1.0
    assert gate.active == 0 and gate.peak == 1


@pytest.mark.parametrize(
    ("password", "email"),
    [
        ("password", None),
        ("Password1", None),
        ("qwerty123", None),
        ("iloveyou", None),
        ("1q2w3e4r", None),
        ("Pass_Word-123", None),  # separators do not make a common password new
        ("michael-jordan", "x@example.org"),
        ("stargazer@example.org", "stargazer@example.org"),
        ("my-stargazer-key", "stargazer@example.org"),
    ],
)
def test_common_and_email_passwords_are_refused(password: str, email: str | None) -> None:
    with pytest.raises(ValidationError, match="too common|email"):
        check_password_rules(password, email=email)


def test_good_passwords_pass_and_the_list_is_shipped() -> None:
    assert 2000 <= len(common_passwords()) <= 20000
    assert all(len(p) >= 8 and p == p.lower() for p in common_passwords())
    check_password_rules("correct horse battery", email="vera.rubin@example.org")
    check_password_rules("Transit-depth-9127", email="al@example.org")  # short local part


def test_csrf_token_is_bound_to_its_session() -> None:
    alice = csrf_token_for("session-token-of-alice", secret_key=KEY)
    bob = csrf_token_for("session-token-of-bob", secret_key=KEY)
    assert alice != bob and len(alice) == 43
    assert csrf_matches("session-token-of-alice", alice, secret_key=KEY)
    assert not csrf_matches("session-token-of-alice", bob, secret_key=KEY)
    assert not csrf_matches("session-token-of-alice", alice, secret_key=KEY + "x")
    assert not csrf_matches("session-token-of-alice", None, secret_key=KEY)
    assert not csrf_matches("session-token-of-alice", "é" * 43, secret_key=KEY)


def _app(tmp_path: Path, environment: str, **extra: str) -> TestClient:
    settings = Settings(  # type: ignore[call-arg]
        EXOGUARD_ENV=environment,
        SECRET_KEY=KEY,
        EXOGUARD_VAR_DIR=tmp_path,
        REDIS_URL=None,
        **extra,
    )
    return TestClient(create_app(settings), client=("203.0.113.50", 5000))


def test_production_hides_docs_gates_metrics_and_sends_hsts(tmp_path: Path) -> None:
    with _app(tmp_path, "production") as client:
        home = client.get("/")
        assert home.status_code == 200
        assert home.headers["strict-transport-security"].startswith("max-age=")
        assert "includeSubDomains" in home.headers["strict-transport-security"]
        assert client.get("/docs").status_code == 404
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/metrics").status_code == 404  # not loopback, no token
    loopback = TestClient(client.app, client=("127.0.0.1", 5000))
    with loopback:
        metrics = loopback.get("/metrics")
        assert metrics.status_code == 200 and "exoguard_http_requests_total" in metrics.text


def test_metrics_token_is_required_when_configured(tmp_path: Path) -> None:
    token = secrets.token_urlsafe(24)
    with _app(tmp_path, "production", EXOGUARD_METRICS_TOKEN=token) as client:
        assert client.get("/metrics").status_code == 404
        wrong = {"Authorization": "Bearer nope"}
        assert client.get("/metrics", headers=wrong).status_code == 404
        right = {"Authorization": f"Bearer {token}"}
        assert client.get("/metrics", headers=right).status_code == 200


def test_docs_can_be_opened_in_production_and_use_no_inline_script(tmp_path: Path) -> None:
    with _app(tmp_path, "production", EXOGUARD_API_DOCS="true") as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "exoguard"
        scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page.text, flags=re.S)
        assert scripts and all(body.strip() == "" for body in scripts)
        init = re.search(r'src="(/static/js/swagger-init\.js)"', page.text)
        assert init and client.get(init.group(1)).status_code == 200


def test_development_and_test_keep_docs_and_metrics_open_without_hsts(tmp_path: Path) -> None:
    with _app(tmp_path, "test") as client:
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").status_code == 200
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert "strict-transport-security" not in metrics.headers
