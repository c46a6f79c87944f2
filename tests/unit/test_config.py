"""Settings: defaults beside the repository, and no default secret in production."""

from __future__ import annotations

from pathlib import Path

import pytest

from exoguard.config import DEV_SECRET, REPO_ROOT, Settings
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
    s = Settings(EXOGUARD_ENV="production", SECRET_KEY="k" * 48, EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]
    assert s.secret_key == "k" * 48


def test_bad_values_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="job_backend|EXOGUARD_JOBS"):
        Settings(EXOGUARD_JOBS="threads", EXOGUARD_VAR_DIR=tmp_path)  # type: ignore[call-arg]


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
