"""Settings: defaults beside the repository, and no default secret in production."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from exoguard.config import DEV_SECRET, REPO_ROOT, Settings, secret_key_problem
from exoguard.errors import ConfigError


def test_defaults_use_the_embedded_database_and_shared_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("DATABASE_URL", "EXOGUARD_DATA_DIR", "EXOGUARD_ENV", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file here
    s = Settings(EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]
    assert s.database_url == f"sqlite:///{(tmp_path / 'exoguard.sqlite3').as_posix()}"
    assert s.data_dir == REPO_ROOT.parent / "shared" / "data"
    assert s.models_path == tmp_path / "models"
    assert s.secret_key == DEV_SECRET  # development only
    assert s.max_upload_mb == 50 and s.rate_limit_per_minute == 10


@pytest.mark.parametrize("secret", ["", "changeme", "secret", DEV_SECRET])
def test_production_refuses_missing_or_placeholder_secret(secret: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Settings(EXOGUARD_ENV="production", SECRET_KEY=secret, EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]


def test_production_accepts_a_real_secret(tmp_path: Path) -> None:
    key = secrets.token_urlsafe(48)
    s = Settings(EXOGUARD_ENV="production", SECRET_KEY=key, EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]
    assert s.secret_key == key


def test_bad_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="job_backend|EXOGUARD_JOBS"):
        Settings(EXOGUARD_JOBS="threads", EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]


@pytest.mark.parametrize("environment", ["test", "production"])
def test_every_environment_but_development_needs_a_key(
    environment: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """EXOGUARD_ENV=test without SECRET_KEY used to sign with the public development key."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file here
    with pytest.raises(ConfigError, match=f"SECRET_KEY is unset.*EXOGUARD_ENV={environment}"):
        Settings(EXOGUARD_ENV=environment, EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("secret", "needle"),
    [
        ("x", "too short"),
        (secrets.token_urlsafe(24), "too short"),  # 32 base64 characters: 192 bits
        (secrets.token_hex(24), "too short"),  # 48 hex characters: 192 bits
        ("k" * 64, "low-entropy"),
        ("ab" * 40, "low-entropy"),
        ("0123456789abcdef" * 4, "low-entropy"),  # 64 hex characters, but a pattern
        ("exoguard-development-only-secret", "placeholder"),
    ],
)
def test_weak_keys_are_refused_outside_development(
    secret: str, needle: str, tmp_path: Path
) -> None:
    for environment in ("test", "production"):
        with pytest.raises(ConfigError, match=needle):
            Settings(EXOGUARD_ENV=environment, SECRET_KEY=secret, EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "secret",
    [
        secrets.token_urlsafe(32),  # 43 characters, the documented minimum
        secrets.token_hex(32),  # 64 hex characters
        secrets.token_urlsafe(48),
        "Vq7#p2!Lz9@xR4$wK8%mN3^bT6&cY1*dF5(gH0)j",  # 40 mixed printable characters
    ],
)
def test_random_keys_of_32_bytes_are_accepted(secret: str, tmp_path: Path) -> None:
    assert secret_key_problem(secret) is None
    s = Settings(EXOGUARD_ENV="test", SECRET_KEY=secret, EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]
    assert s.secret_key == secret


def test_development_keeps_working_without_a_key(tmp_path: Path) -> None:
    s = Settings(EXOGUARD_ENV="development", SECRET_KEY="", EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]
    assert s.secret_key == DEV_SECRET


def test_trusted_proxies_are_parsed_and_checked(tmp_path: Path) -> None:
    s = Settings(EXOGUARD_TRUSTED_PROXIES="10.0.0.0/8, 192.168.1.7 ::1", EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]
    assert s.trusted_proxies == ("10.0.0.0/8", "192.168.1.7/32", "::1/128")
    assert Settings(EXOGUARD_VAR_DIR=tmp_path).trusted_proxies == ()  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="EXOGUARD_TRUSTED_PROXIES"):
        Settings(EXOGUARD_TRUSTED_PROXIES="proxy.local", EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]


def test_job_heartbeat_settings_are_checked(tmp_path: Path) -> None:
    settings = Settings(EXOGUARD_VAR_DIR=tmp_path)
    assert (settings.job_heartbeat_s, settings.job_stale_s, settings.job_max_attempts) == (
        5.0,
        30.0,
        2,
    )
    assert settings.redis_retry_s == 30.0
    with pytest.raises(ValueError, match="EXOGUARD_JOB_STALE_S .* at least twice"):
        Settings(EXOGUARD_VAR_DIR=tmp_path, EXOGUARD_JOB_HEARTBEAT_S=10, EXOGUARD_JOB_STALE_S=15)
    with pytest.raises(ValueError, match="EXOGUARD_JOB_MAX_ATTEMPTS"):
        Settings(EXOGUARD_VAR_DIR=tmp_path, EXOGUARD_JOB_MAX_ATTEMPTS=0)
