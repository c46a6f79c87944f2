"""One typed settings object, read from the environment (prefix-free names as in the README)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from exoguard.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})
DEV_SECRET = "exoguard-development-only-secret"  # noqa: S105 - refused outside development


class Settings(BaseSettings):
    """Every setting of the application. Values come from the environment or a `.env` file."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = Field(
        default="development", alias="EXOGUARD_ENV"
    )
    data_dir: Path = Field(default=REPO_ROOT.parent / "shared" / "data", alias="EXOGUARD_DATA_DIR")
    var_dir: Path = Field(default=REPO_ROOT / "var", alias="EXOGUARD_VAR_DIR")
    database_url: str = Field(default="", alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    secret_key: str = Field(default="", alias="SECRET_KEY")
    model_dir: Path | None = Field(default=None, alias="EXOGUARD_MODEL_DIR")
    upload_dir: Path | None = Field(default=None, alias="EXOGUARD_UPLOAD_DIR")
    max_upload_mb: float = Field(default=50.0, alias="EXOGUARD_MAX_UPLOAD_MB", gt=0)
    rate_limit_per_minute: int = Field(default=10, alias="EXOGUARD_RATE_LIMIT_PER_MINUTE", ge=1)
    #: How long the predict route trusts a session's user without reading it again: a
    #: deactivated account is refused on this replica at most this much later.
    auth_cache_s: float = Field(default=2.0, alias="EXOGUARD_AUTH_CACHE_S", ge=0, le=60)
    cors_origins: list[str] = Field(default_factory=list, alias="EXOGUARD_CORS_ORIGINS")
    job_backend: Literal["inprocess", "celery"] = Field(default="inprocess", alias="EXOGUARD_JOBS")
    #: A replica or worker holding a job refreshes its heartbeat this often (seconds).
    job_heartbeat_s: float = Field(default=5.0, alias="EXOGUARD_JOB_HEARTBEAT_S", gt=0, le=300)
    #: A job whose heartbeat is older than this is taken as interrupted (its holder died).
    job_stale_s: float = Field(default=30.0, alias="EXOGUARD_JOB_STALE_S", gt=0, le=86_400)
    #: Runs of one job at most: an interrupted job is re-run until this many were started.
    job_max_attempts: int = Field(default=2, alias="EXOGUARD_JOB_MAX_ATTEMPTS", ge=1, le=10)
    #: After Redis fails, the app uses in-process fallbacks and tries Redis again this late.
    redis_retry_s: float = Field(default=30.0, alias="EXOGUARD_REDIS_RETRY_S", ge=0, le=3600)
    aggregation: Literal["weighted", "dawid_skene"] = Field(
        default="weighted", alias="EXOGUARD_AGGREGATION"
    )
    vetting_uncertainty_threshold: float = Field(default=0.15, alias="EXOGUARD_VET_UNCERTAINTY")
    vetting_ambiguous_band: tuple[float, float] = Field(
        default=(0.35, 0.65), alias="EXOGUARD_VET_AMBIGUOUS_BAND"
    )
    vetting_gold_rate: float = Field(default=0.10, alias="EXOGUARD_VET_GOLD_RATE", ge=0, le=1)
    vetting_min_votes: int = Field(default=3, alias="EXOGUARD_VET_MIN_VOTES", ge=1)
    canary_fraction: float = Field(default=0.10, alias="EXOGUARD_CANARY_FRACTION", ge=0, le=1)
    seed: int = Field(default=42, alias="EXOGUARD_SEED")

    @model_validator(mode="after")
    def _defaults_and_secret(self) -> Settings:
        if self.job_stale_s < 2 * self.job_heartbeat_s:
            raise ValueError(
                f"EXOGUARD_JOB_STALE_S ({self.job_stale_s}) must be at least twice "
                f"EXOGUARD_JOB_HEARTBEAT_S ({self.job_heartbeat_s})"
            )
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'exoguard.sqlite3').as_posix()}"
        if self.model_dir is None:
            self.model_dir = self.var_dir / "models"
        if self.upload_dir is None:
            self.upload_dir = self.var_dir / "uploads"
        if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or self.secret_key == DEV_SECRET:
            if self.environment == "production":
                raise ConfigError(
                    "SECRET_KEY is unset or a placeholder; set a long random value in production "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
            self.secret_key = DEV_SECRET
        return self

    @property
    def models_path(self) -> Path:
        assert self.model_dir is not None
        return self.model_dir

    @property
    def uploads_path(self) -> Path:
        assert self.upload_dir is not None
        return self.upload_dir

    @property
    def catalogs_dir(self) -> Path:
        return self.data_dir / "catalogs"

    @property
    def lightcurves_dir(self) -> Path:
        return self.data_dir / "lightcurves"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (created on first use, never at import time)."""
    return Settings()
