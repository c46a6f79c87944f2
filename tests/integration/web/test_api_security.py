"""Issue 13, items 6, 7 and 9 as a hostile client would try them: reused cookies after logout,
password and role changes, rotating X-Forwarded-For, registration floods, a flood of
concurrent logins, common passwords, forged tokens, CSRF tokens of another session, and the
security headers.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import (  # noqa: E402
    BASE_URL,
    PASSWORD,
    SECRET,
    Api,
    api_world,
    make_settings,
    redis_url_for_tests,
    session_cookies,
)

from exoguard.config import DEV_SECRET  # noqa: E402
from exoguard.services import credentials  # noqa: E402
from exoguard.services.credentials import create_session_token  # noqa: E402
from exoguard.store.models import LoginSession  # noqa: E402
from exoguard.web import security  # noqa: E402
from exoguard.web.app import create_app  # noqa: E402
from exoguard.web.security import (  # noqa: E402
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
)

pytestmark = pytest.mark.integration

PER_ACCOUNT = 5
PER_ADDRESS = 12
REGISTRATIONS = 4
PROXY_NET = "10.0.0.0/8"
PREDICT_BODY = {"candidates": [{"period_days": 3.52, "duration_hours": 2.8, "depth_ppm": 900}]}


@pytest.fixture(scope="module")
def api(postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_world(
        postgres_base_url,
        tmp_path_factory.mktemp("api_security"),
        with_model=False,
        redis_url=redis_url_for_tests(required=False),
        EXOGUARD_LOGIN_PER_ACCOUNT_PER_MINUTE=PER_ACCOUNT,
        EXOGUARD_LOGIN_PER_ADDRESS_PER_MINUTE=PER_ADDRESS,
        EXOGUARD_REGISTRATIONS_PER_ADDRESS_PER_HOUR=REGISTRATIONS,
        EXOGUARD_TRUSTED_PROXIES=PROXY_NET,
    ) as world:
        yield world


_PEERS = iter(range(1, 250))


@pytest.fixture
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stop the rate limiter's clock, so that a test's attempts all fall into one counting
    window (the windows are fixed minutes: a test crossing a minute would start afresh)."""
    from types import SimpleNamespace

    from exoguard.web import ratelimit

    frozen = time.time()
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: frozen))


def _peer() -> tuple[str, int]:
    """A client address of its own (TEST-NET-3), so each test has fresh address counters."""
    return (f"203.0.113.{next(_PEERS)}", 40000)


def _client(api: Api, peer: tuple[str, int] | None = None) -> TestClient:
    return TestClient(api.app, base_url=BASE_URL, client=peer or _peer())


def _login(client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    if response.status_code == 200:
        client.headers[CSRF_HEADER] = response.json()["csrf_token"]
    return response


# ------------------------------------------------------------------ 6. sessions and login
def test_cookie_reused_after_logout_is_refused(api: Api) -> None:
    user = api.add_user("explorer")
    with _client(api) as client:
        assert _login(client, user.email).status_code == 200
        stolen, stolen_csrf = client.cookies[SESSION_COOKIE], client.headers[CSRF_HEADER]
        assert client.get("/api/auth/me").status_code == 200
        # predict caches the session's user for EXOGUARD_AUTH_CACHE_S (no model: 409)
        assert client.post("/api/models/predict", json=PREDICT_BODY).status_code == 409
        assert client.post("/api/auth/logout").status_code == 200
    with _client(api) as replay:
        replay.cookies.set(SESSION_COOKIE, stolen)
        replay.headers[CSRF_HEADER] = stolen_csrf
        refused = replay.get("/api/auth/me")
        assert refused.status_code == 401 and "log in again" in refused.json()["detail"]
        # logout on this replica also drops the session from the predict cache at once
        assert replay.post("/api/models/predict", json=PREDICT_BODY).status_code == 401
    session_id = credentials.decode_session_token(stolen, secret_key=SECRET).session_id
    with api.factory() as session:
        row = session.get(LoginSession, session_id)
        assert row is not None and row.revoked_at is not None


def test_revoked_session_is_honoured_by_another_replica_at_most_auth_cache_s(
    api: Api, tmp_path: Path
) -> None:
    """Documented bound: a replica that cached the user for predict may accept a revoked
    token for up to EXOGUARD_AUTH_CACHE_S; afterwards it is refused everywhere."""
    user = api.add_user("explorer")
    token, csrf = session_cookies(api.app, user)
    replica = create_app(make_settings(tmp_path, api.database_url, EXOGUARD_AUTH_CACHE_S=1.0))
    try:
        with TestClient(replica, base_url=BASE_URL) as other:
            other.cookies.set(SESSION_COOKIE, token)
            other.cookies.set(CSRF_COOKIE, csrf)
            other.headers[CSRF_HEADER] = csrf
            # no model is active: a logged-in request gets past authentication to 409
            assert other.post("/api/models/predict", json=PREDICT_BODY).status_code == 409
            with _client(api) as client:
                client.cookies.set(SESSION_COOKIE, token)
                client.headers[CSRF_HEADER] = csrf
                assert client.post("/api/auth/logout").status_code == 200
            revoked_at = time.monotonic()
            assert other.get("/api/auth/me").status_code == 401  # not cached: refused now
            time.sleep(max(0.0, 1.05 - (time.monotonic() - revoked_at)))
            assert other.post("/api/models/predict", json=PREDICT_BODY).status_code == 401
    finally:
        replica.state.exoguard.engine.dispose()


def test_password_change_ends_every_other_session(api: Api) -> None:
    user = api.add_user("explorer")
    new_password = "Nebula-drift-4471"
    with _client(api) as laptop, _client(api) as phone:
        assert _login(laptop, user.email).status_code == 200
        assert _login(phone, user.email).status_code == 200
        wrong = laptop.post(
            "/api/auth/password",
            json={"current_password": "not-the-password", "new_password": new_password},
        )
        assert wrong.status_code == 401
        weak = laptop.post(
            "/api/auth/password", json={"current_password": PASSWORD, "new_password": "password1"}
        )
        assert weak.status_code == 422 and "too common" in weak.json()["detail"]
        changed = laptop.post(
            "/api/auth/password", json={"current_password": PASSWORD, "new_password": new_password}
        )
        assert changed.status_code == 200, changed.text
        laptop.headers[CSRF_HEADER] = changed.json()["csrf_token"]
        assert laptop.get("/api/auth/me").status_code == 200  # this client got a new session
        assert phone.get("/api/auth/me").status_code == 401  # every other one ended
    with _client(api) as client:
        assert _login(client, user.email).status_code == 401
        assert _login(client, user.email, new_password).status_code == 200


def test_role_change_ends_the_users_sessions(api: Api) -> None:
    target = api.add_user("explorer")
    with _client(api) as client:
        assert _login(client, target.email).status_code == 200
        with api.client("admin") as admin:
            done = admin.post(f"/api/admin/users/{target.id}/role", json={"role": "researcher"})
            assert done.status_code == 200
        assert client.get("/api/auth/me").status_code == 401
        again = _login(client, target.email)
        assert again.status_code == 200 and again.json()["user"]["role"] == "researcher"


def test_login_throttle_per_account_ignores_rotating_forwarded_for(
    api: Api, one_window: None
) -> None:
    """The probe of the issue: 20 wrong passwords on one account, a new X-Forwarded-For each
    time, from an address that is not a trusted proxy."""
    user = api.add_user("explorer")
    codes = []
    with _client(api) as client:
        for i in range(20):
            response = client.post(
                "/api/auth/login",
                json={"email": user.email, "password": f"guess-{i:04d}-x"},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            )
            codes.append(response.status_code)
    assert codes[:PER_ACCOUNT] == [401] * PER_ACCOUNT
    assert codes[PER_ACCOUNT:] == [429] * (20 - PER_ACCOUNT)
    # the account's own budget is spent for this minute, from any address
    with _client(api) as elsewhere:
        blocked = _login(elsewhere, user.email)
        assert blocked.status_code == 429 and "Retry-After" in blocked.headers


def test_login_throttle_per_address_ignores_rotating_forwarded_for(
    api: Api, one_window: None
) -> None:
    codes = []
    with _client(api) as client:
        for i in range(PER_ADDRESS + 3):
            response = client.post(
                "/api/auth/login",
                json={"email": f"nobody-{i}@example.org", "password": "guess-guess"},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            )
            codes.append(response.status_code)
    assert codes == [401] * PER_ADDRESS + [429] * 3


def test_forwarded_for_counts_behind_a_trusted_proxy(api: Api, one_window: None) -> None:
    """Behind a configured proxy each real client has its own address budget, and what a
    client writes to the left of the proxy's own entry is ignored."""
    proxy = ("10.20.30.40", 443)
    codes = []
    with _client(api, proxy) as client:
        for i in range(PER_ADDRESS + 3):
            response = client.post(
                "/api/auth/login",
                json={"email": f"proxied-{i}@example.org", "password": "guess-guess"},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}, 10.0.0.5"},
            )
            codes.append(response.status_code)
        assert codes == [401] * (PER_ADDRESS + 3)  # fifteen clients, one attempt each
        spoofed = []
        for i in range(PER_ADDRESS + 1):
            response = client.post(
                "/api/auth/login",
                json={"email": f"spoof-{i}@example.org", "password": "guess-guess"},
                headers={"X-Forwarded-For": f"192.0.2.{i + 1}, 198.51.100.200"},
            )
            spoofed.append(response.status_code)
    assert spoofed == [401] * PER_ADDRESS + [429]  # all counted as 198.51.100.200


def test_registration_is_throttled_per_address(api: Api, one_window: None) -> None:
    peer = _peer()
    codes = []
    with _client(api, peer) as client:
        for i in range(REGISTRATIONS + 2):
            response = client.post(
                "/api/auth/register",
                json={"email": f"bulk-{peer[0]}-{i}@example.org", "password": PASSWORD},
            )
            codes.append(response.status_code)
    assert codes == [201] * REGISTRATIONS + [429] * 2
    with _client(api) as other:  # another address is not affected
        ok = other.post(
            "/api/auth/register", json={"email": "fresh-one@example.org", "password": PASSWORD}
        )
        assert ok.status_code == 201


@pytest.mark.parametrize(
    ("email", "password", "needle"),
    [
        ("weak1@example.org", "Password123", "too common"),
        ("weak2@example.org", "sunshine2024", "too common"),
        ("weak3@example.org", "QWERTY-123", "too common"),
        ("galileo.galilei@example.org", "Galileo.Galilei-1610", "email"),
        ("kepler@example.org", "kepler@example.org", "email"),
    ],
)
def test_common_or_email_passwords_are_refused(
    api: Api, email: str, password: str, needle: str
) -> None:
    with _client(api) as client:
        response = client.post("/api/auth/register", json={"email": email, "password": password})
    assert response.status_code == 422 and needle in response.json()["detail"]


class _CountingHasher(credentials.PasswordHasher):
    """argon2 with a count of the hashes running at the same moment."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls = 0

    def _enter(self) -> None:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.peak = max(self.peak, self.running)

    def _leave(self) -> None:
        with self.lock:
            self.running -= 1

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        self._enter()
        try:
            return super().hash(password, salt=salt)
        finally:
            self._leave()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self._enter()
        try:
            return super().verify(hash, password)
        finally:
            self._leave()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_login_flood_runs_at_most_n_hashes_and_healthz_stays_fast(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """40 concurrent logins with made-up emails (real threads, a real server): at most
    EXOGUARD_MAX_CONCURRENT_HASHES argon2 hashes run at once, the excess waits then gets
    503 with Retry-After, nothing is a 500, and /healthz answers quickly throughout."""
    import uvicorn

    limit = 2
    counting = _CountingHasher()
    monkeypatch.setattr(credentials, "_hasher", counting)
    settings = make_settings(
        tmp_path,
        api.database_url,
        EXOGUARD_MAX_CONCURRENT_HASHES=limit,
        EXOGUARD_HASH_WAIT_S=1.0,
        EXOGUARD_LOGIN_PER_ADDRESS_PER_MINUTE=1000,
    )
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
            time.sleep(0.05)
        results: list[httpx.Response | BaseException] = []
        limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
        flood = httpx.Client(base_url=base, timeout=60, limits=limits)
        prober_client = httpx.Client(base_url=base, timeout=30)
        start = threading.Barrier(41)

        def attempt(i: int) -> None:
            start.wait()
            try:
                results.append(
                    flood.post(
                        "/api/auth/login",
                        json={"email": f"flood-{i}@example.org", "password": f"guess-{i}-xx"},
                    )
                )
            except BaseException as exc:  # recorded, asserted below
                results.append(exc)

        health: list[tuple[float, float]] = []  # (sent at, seconds to answer)
        stop = threading.Event()

        def probe() -> None:
            start.wait()
            while not stop.is_set():
                began = time.monotonic()
                if prober_client.get("/healthz").status_code == 200:
                    health.append((began, time.monotonic() - began))
                time.sleep(0.05)

        workers = [threading.Thread(target=attempt, args=(i,)) for i in range(40)]
        prober = threading.Thread(target=probe)
        for t in [*workers, prober]:
            t.start()
        for t in workers:
            t.join(timeout=120)
        flood_over = time.monotonic()
        stop.set()
        prober.join(timeout=30)
        flood.close()
        prober_client.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        app.state.exoguard.engine.dispose()
    responses = [r for r in results if isinstance(r, httpx.Response)]
    assert len(responses) == 40, [r for r in results if not isinstance(r, httpx.Response)]
    codes = sorted({r.status_code for r in responses})
    assert set(codes) <= {401, 503}, codes
    assert any(r.status_code == 401 for r in responses)
    assert all("Retry-After" in r.headers for r in responses if r.status_code == 503)
    assert 1 <= counting.peak <= limit, counting.peak
    assert app.state.exoguard.hash_gate.peak <= limit
    # /healthz never queues behind the hashes: it keeps answering during the flood, in a
    # fraction of a second (a loaded 2-core CI machine included)
    during = sorted(seconds for sent, seconds in health if sent < flood_over)
    assert len(during) >= 3, health
    assert during[len(during) // 2] < 1.0, during


# ------------------------------------------------------------------------- 7. secrets
def _forged(claims: dict[str, Any], key: str = SECRET) -> str:
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 600, **claims}, key, algorithm="HS256")


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "admin", "jti": "x"},  # no sub
        {"sub": "admin", "role": "admin", "jti": "x"},
        {"sub": "1.5", "role": "admin", "jti": "x"},
        {"sub": "-1", "role": "admin", "jti": "x"},
        {"sub": str(2**64), "role": "admin", "jti": "x"},
        {"sub": 1, "role": "admin", "jti": "x"},  # not a string
        {"sub": "1", "role": "admin"},  # no session id
        {"sub": "1", "role": "admin", "jti": "made-up-session"},  # no such session
    ],
)
def test_correctly_signed_forged_tokens_are_401(api: Api, claims: dict[str, Any]) -> None:
    token = _forged(claims)
    with _client(api) as client:
        client.cookies.set(SESSION_COOKIE, token)
        assert client.get("/api/auth/me").status_code == 401
        assert client.get("/api/admin/users").status_code == 401
        assert client.get("/").status_code == 200  # pages treat it as logged out


def test_token_of_the_development_key_is_refused(api: Api) -> None:
    """The attack of the issue: an admin token signed with the public development key."""
    admin = api.users["admin"]
    with api.factory() as session:
        live = session.query(LoginSession).filter_by(user_id=admin.id).first()
    session_id = live.id if live is not None else "none"
    token = create_session_token(
        user_id=admin.id, role="admin", session_id=session_id, secret_key=DEV_SECRET, ttl_s=600
    )
    with _client(api) as client:
        client.cookies.set(SESSION_COOKIE, token)
        assert client.get("/api/admin/users").status_code == 401


# ------------------------------------------------------------------------- 9. headers
def test_csrf_token_of_another_session_is_refused(api: Api) -> None:
    alice, bob = api.add_user("explorer"), api.add_user("explorer")
    with _client(api) as a, _client(api) as b:
        assert _login(a, alice.email).status_code == 200
        assert _login(b, bob.email).status_code == 200
        # Alice's session sending Bob's (valid, but not hers) CSRF token: refused
        a.headers[CSRF_HEADER] = b.headers[CSRF_HEADER]
        refused = a.post("/api/auth/logout")
        assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
        assert a.get("/api/auth/me").status_code == 200  # still logged in
        assert b.post("/api/auth/logout").status_code == 200  # Bob's own token works


def test_security_headers_on_pages_api_errors_and_static_files(api: Api) -> None:
    with api.client("explorer") as client:
        responses = [
            client.get("/"),
            client.get("/login"),
            client.get("/api/auth/me"),
            client.get("/api/no-such-route"),
            client.get("/static/js/app.js"),
        ]
    for response in responses:
        headers = response.headers
        csp = {
            part.split()[0]: part.split()[1:]
            for part in headers["content-security-policy"].split("; ")
        }
        assert csp["script-src"] == ["'self'"], csp  # no inline scripts, no eval
        assert csp["frame-ancestors"] == ["'none'"] and csp["object-src"] == ["'none'"]
        assert csp["default-src"] == ["'self'"]
        assert "camera=()" in headers["permissions-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"
        assert headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in headers  # test environment: no HSTS
        assert "server" not in headers


def test_templates_have_no_inline_scripts_or_handlers() -> None:
    import re

    templates = Path(security.__file__).resolve().parent / "templates"
    problems = []
    for path in sorted(templates.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for tag in re.findall(r"<script\b[^>]*>", text, flags=re.I):
            if "src=" not in tag:
                problems.append(f"{path.name}: inline {tag}")
        problems += [f"{path.name}: {m}" for m in re.findall(r"\son[a-z]+\s*=", text, re.I)]
        problems += [f"{path.name}: javascript: URL" for _ in re.findall("javascript:", text)]
    assert problems == []
