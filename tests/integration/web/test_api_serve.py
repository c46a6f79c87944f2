"""`exoguard serve` in a real process: migrations on start, the documented routes, a login."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import free_port, serve_process  # noqa: E402

pytestmark = pytest.mark.integration

ROUTES = {
    ("post", "/api/auth/register"),
    ("post", "/api/auth/login"),
    ("post", "/api/auth/logout"),
    ("get", "/api/auth/me"),
    ("get", "/api/admin/users"),
    ("post", "/api/admin/users/{user_id}/role"),
    ("post", "/api/data/upload"),
    ("get", "/api/data/validate"),
    ("post", "/api/data/preprocess"),
    ("get", "/api/data/datasets"),
    ("post", "/api/models/train"),
    ("post", "/api/models/predict"),
    ("get", "/api/models/metrics"),
    ("get", "/api/models/explain"),
    ("get", "/api/models/versions"),
    ("post", "/api/models/versions/{version_id}/activate"),
    ("get", "/api/jobs"),
    ("get", "/api/jobs/{job_id}"),
    ("get", "/api/vetting/queue"),
    ("post", "/api/vetting/submit"),
    ("get", "/api/vetting/stats"),
    ("post", "/api/export/csv"),
    ("post", "/api/export/pdf"),
    ("post", "/api/export/share"),
    ("get", "/api/export/share"),
    ("delete", "/api/export/share/{link_id}"),
}


def test_serve_migrates_and_answers(tmp_path: Path) -> None:
    from exoguard.store.migrate import is_up_to_date

    url = f"sqlite:///{(tmp_path / 'served.sqlite3').as_posix()}"
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "EXOGUARD_VAR_DIR": str(tmp_path / "var"),
        "SECRET_KEY": "serve-test-secret-0123456789abcdefghijkl",
        "EXOGUARD_ENV": "development",
        "EXOGUARD_JOBS": "inprocess",
    }
    env.pop("REDIS_URL", None)
    log_path = tmp_path / "serve.log"
    with serve_process(env, port=port, log_path=log_path) as (base, process):
        assert is_up_to_date(url)
        schema = httpx.get(f"{base}/openapi.json", timeout=10).json()
        documented = {(m, p) for p, item in schema["paths"].items() for m in item}
        assert documented >= ROUTES, sorted(ROUTES - documented)
        upload = schema["paths"]["/api/data/upload"]["post"]["requestBody"]["content"]
        assert "multipart/form-data" in upload
        docs = httpx.get(f"{base}/docs", timeout=10)
        assert docs.status_code == 200
        assert "server" not in docs.headers  # no "Server: uvicorn"
        assert "script-src 'self'" in docs.headers["content-security-policy"]
        with httpx.Client(base_url=base, timeout=30) as client:
            account = {"email": "served@example.org", "password": "Orbit-lumen-7319", "name": "S"}
            assert client.post("/api/auth/register", json=account).status_code == 201
            credentials = {"email": account["email"], "password": account["password"]}
            login = client.post("/api/auth/login", json=credentials)
            assert login.status_code == 200
            assert client.get("/api/auth/me").json()["user"]["email"] == account["email"]
    # uvicorn shuts down gracefully, then re-raises the signal it got
    assert process.returncode in (0, -signal.SIGTERM), log_path.read_text()
    assert "Application shutdown complete" in log_path.read_text()
