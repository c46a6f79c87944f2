"""Accounts over HTTP: register, login cookies, logout, me, roles, CSRF, the admin routes and
the `exoguard users` command."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import (  # noqa: E402
    PASSWORD,
    Api,
    api_world,
    redis_url_for_tests,
)

from exoguard.store.models import User  # noqa: E402
from exoguard.web.security import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_world(
        postgres_base_url,
        tmp_path_factory.mktemp("api_auth"),
        with_model=False,
        redis_url=redis_url_for_tests(required=False),
    ) as world:
        yield world


def _set_cookie_headers(response: object) -> dict[str, str]:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return {h.split("=", 1)[0]: h for h in headers}


def test_register_login_me_logout(api: Api) -> None:
    with api.client() as client:
        created = client.post(
            "/api/auth/register",
            json={
                "email": "  Vera.Rubin@Example.org ",
                "password": PASSWORD,
                "name": "Véra Rübin ✨",
            },
        )
        assert created.status_code == 201, created.text
        user = created.json()["user"]
        assert user["role"] == "explorer" and user["email"] == "vera.rubin@example.org"
        assert user["name"] == "Véra Rübin ✨" and "password_hash" not in user

        assert client.get("/api/auth/me").status_code == 401
        login = client.post(
            "/api/auth/login", json={"email": "vera.rubin@example.org", "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        cookies = _set_cookie_headers(login)
        session_cookie = cookies[SESSION_COOKIE].lower()
        assert "httponly" in session_cookie and "samesite=lax" in session_cookie
        assert "secure" in session_cookie  # EXOGUARD_ENV=test is not development
        csrf_cookie = cookies[CSRF_COOKIE].lower()
        assert "httponly" not in csrf_cookie and "samesite=lax" in csrf_cookie
        assert login.json()["csrf_token"] == client.cookies[CSRF_COOKIE]

        me = client.get("/api/auth/me")
        assert me.status_code == 200 and me.json()["user"]["id"] == user["id"]

        # Logout is a cookie-authenticated write: it needs the CSRF header.
        assert client.post("/api/auth/logout").status_code == 403
        client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
        out = client.post("/api/auth/logout")
        assert out.status_code == 200
        assert all("max-age=0" in h.lower() for h in _set_cookie_headers(out).values())
        client.headers.pop(CSRF_HEADER)
        assert client.get("/api/auth/me").status_code == 401


def test_login_failures_say_the_same(api: Api) -> None:
    user = api.users["explorer"]
    with api.client() as client:
        wrong = client.post("/api/auth/login", json={"email": user.email, "password": "nope-nope"})
        unknown = client.post(
            "/api/auth/login", json={"email": "nobody@example.org", "password": PASSWORD}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["detail"] == unknown.json()["detail"] == "wrong email or password"
        assert SESSION_COOKIE not in wrong.headers.get("set-cookie", "")
        missing = client.post("/api/auth/login", json={"email": user.email})
        assert missing.status_code == 422 and "password" in missing.text


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"email": "a@example.org", "password": "short", "name": "A"}, "at least 8"),
        ({"email": "not-an-email", "password": PASSWORD, "name": "A"}, "name@domain"),
        ({"password": PASSWORD, "name": "A"}, "email"),
        ({"email": "b@example.org", "password": PASSWORD, "role": "admin"}, "role"),
    ],
)
def test_register_rejects_bad_input(api: Api, body: dict[str, str], needle: str) -> None:
    before = api.count(User)
    with api.client() as client:
        response = client.post("/api/auth/register", json=body)
    assert 400 <= response.status_code < 500
    assert needle in response.text
    assert api.count(User) == before


def test_register_duplicate_email_is_409(api: Api) -> None:
    with api.client() as client:
        response = client.post(
            "/api/auth/register",
            json={"email": api.users["explorer"].email.upper(), "password": PASSWORD},
        )
    assert response.status_code == 409 and "already exists" in response.json()["detail"]


def test_tampered_or_foreign_session_is_401(api: Api) -> None:
    with api.client("explorer") as client:
        token = client.cookies[SESSION_COOKIE]
        client.cookies.set(SESSION_COOKIE, token[:-3] + "abc")
        assert client.get("/api/auth/me").status_code == 401
    from exoguard.services.credentials import create_session_token

    foreign = create_session_token(
        user_id=1, role="admin", session_id="made-up", secret_key="x" * 40, ttl_s=60
    )
    with api.client() as client:
        client.cookies.set(SESSION_COOKIE, foreign)
        assert client.get("/api/auth/me").status_code == 401


def test_csrf_guard_on_cookie_writes(api: Api) -> None:
    with api.client("admin", csrf=False) as client:
        target = api.users["other"].id
        missing = client.post(f"/api/admin/users/{target}/role", json={"role": "researcher"})
        assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
        client.headers[CSRF_HEADER] = "forged-token"
        wrong = client.post(f"/api/admin/users/{target}/role", json={"role": "researcher"})
        assert wrong.status_code == 403
    with api.client() as client:
        assert client.get("/api/admin/users?role=explorer").status_code == 401


def test_every_response_has_security_headers_and_is_counted_by_route(api: Api) -> None:
    def count(text: str, labels: str) -> float:
        for line in text.splitlines():
            if line.startswith("exoguard_http_requests_total{") and labels in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    with api.client("explorer") as client:
        before = client.get("/metrics").text
        me = client.get("/api/auth/me")
        missing = client.get("/api/no-such-route")
        forged = client.post("/api/models/predict", json={}, headers={CSRF_HEADER: "forged"})
        after = client.get("/metrics").text
    for response in (me, missing, forged):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    assert me.status_code == 200 and missing.status_code == 404 and forged.status_code == 403
    for labels in (
        'method="GET",route="/api/auth/me",status="200"',
        'method="GET",route="unmatched",status="404"',
        'method="POST",route="unmatched",status="403"',  # refused before routing
    ):
        assert count(after, labels) - count(before, labels) == 1, labels


def test_admin_changes_roles_others_cannot(api: Api) -> None:
    target = api.add_user("explorer")
    for who in ("explorer", "researcher"):
        with api.client(who) as client:
            denied = client.post(f"/api/admin/users/{target.id}/role", json={"role": "admin"})
            assert denied.status_code == 403 and "admin role" in denied.json()["detail"]
            assert client.get("/api/admin/users").status_code == 403
    with api.client() as client:
        assert (
            client.post(f"/api/admin/users/{target.id}/role", json={"role": "admin"}).status_code
            == 401
        )
    with api.client("admin") as client:
        done = client.post(f"/api/admin/users/{target.id}/role", json={"role": "researcher"})
        assert done.status_code == 200 and done.json()["user"]["role"] == "researcher"
        bad = client.post(f"/api/admin/users/{target.id}/role", json={"role": "overlord"})
        # the schema's enum refuses it, naming every allowed role
        assert bad.status_code == 422 and bad.json()["error"] == "RequestValidationError"
        assert all(
            f"'{role}'" in bad.json()["detail"] for role in ("explorer", "researcher", "admin")
        )
        missing = client.post("/api/admin/users/987654/role", json={"role": "admin"})
        assert missing.status_code == 404
        listed = client.get("/api/admin/users?role=researcher").json()
        assert target.id in [u["id"] for u in listed["users"]]
        assert all(u["role"] == "researcher" for u in listed["users"])
    # The new role holds in the next request (roles are read from the database).
    with api.client() as client:
        login = client.post("/api/auth/login", json={"email": target.email, "password": PASSWORD})
        assert login.json()["user"]["role"] == "researcher"


def test_users_create_command(api: Api) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": api.database_url,
        "SECRET_KEY": "cli-test-secret-0123456789abcdefghijklmnop",
        "EXOGUARD_VAR_DIR": str(api.settings.var_dir),
    }
    command = [sys.executable, "-c", "from exoguard.cli import main; main()"]
    made = subprocess.run(
        [
            *command,
            "users",
            "create",
            "--email",
            "boss@example.org",
            "--role",
            "admin",
            "--name",
            "Boss",
            "--password-stdin",
            "--json",
        ],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    import json

    assert json.loads(made.stdout)["role"] == "admin"
    with api.client() as client:
        login = client.post(
            "/api/auth/login", json={"email": "boss@example.org", "password": PASSWORD}
        )
        assert login.status_code == 200 and login.json()["user"]["role"] == "admin"
    bad = subprocess.run(
        [
            *command,
            "users",
            "create",
            "--email",
            "x@example.org",
            "--role",
            "king",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "explorer, researcher, admin" in bad.stderr
