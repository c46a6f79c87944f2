"""One typed settings object, read from the environment (prefix-free names as in the README)."""

from __future__ import annotations

import ipaddress
import math
import string
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from exoguard.errors import ConfigError
from exoguard.limits import InputLimits

REPO_ROOT = Path(__file__).resolve().parents[2]

PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "dev", "development"})
DEV_SECRET = "exoguard-development-only-secret"  # noqa: S105 - refused outside development
#: Default cap on an upload's decompressed size (MiB) per MB of the upload limit: gzip saves
#: transfer, it does not let a file hold more than an uncompressed upload could. Parsing costs
#: up to ~10x the decompressed size (a KOI-style catalog; a CSV light curve ~4.5x, JSON ~7x),
#: so this keeps any upload's peak memory near 10x the upload limit (see `exoguard.limits`).
DECOMPRESSED_MULTIPLE = 1.0
#: Outside development the key must carry at least this much randomness (bits).
MIN_SECRET_BITS = 256
#: ... and at least this many bits per character of observed (Shannon) entropy, which a
#: repeated character or a short repeated pattern does not reach.
MIN_SECRET_BITS_PER_CHAR = 3.0
_HEX = frozenset(string.hexdigits)
_URLSAFE_B64 = frozenset(string.ascii_letters + string.digits + "-_=")
_STANDARD_B64 = frozenset(string.ascii_letters + string.digits + "+/=")


def secret_key_problem(secret_key: str) -> str | None:
    """Why `secret_key` is too weak to sign sessions outside development, or None.

    The key must hold at least 256 random bits: >= 64 hex characters, >= 43 base64
    characters (``secrets.token_urlsafe(32)``), or >= 40 characters of mixed printable text;
    it must not be a placeholder, and not low-entropy (one repeated character, a short
    repeated pattern).
    """
    key = secret_key.strip()
    if key.lower() in PLACEHOLDER_SECRETS or key == DEV_SECRET:
        return "SECRET_KEY is unset or a placeholder"
    chars = set(key)
    if chars <= _HEX:
        bits_per_char, alphabet = 4.0, "hex"
    elif chars <= _URLSAFE_B64 or chars <= _STANDARD_B64:
        bits_per_char, alphabet = 6.0, "base64"
    else:
        bits_per_char, alphabet = math.log2(94), "printable"
    if len(key) * bits_per_char < MIN_SECRET_BITS:
        need = math.ceil(MIN_SECRET_BITS / bits_per_char)
        return (
            f"SECRET_KEY is too short: {len(key)} {alphabet} characters hold less than "
            f"{MIN_SECRET_BITS} bits; use at least {need}"
        )
    counts = Counter(key)
    entropy = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    periodic = key in (key + key)[1:-1]  # the key is a shorter string repeated
    if entropy < MIN_SECRET_BITS_PER_CHAR or periodic:
        return "SECRET_KEY is low-entropy (repeated characters or a repeated pattern)"
    return None


class Settings(BaseSettings):
    """Every setting of the application. Values come from the environment or a `.env` file."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = Field(
        default="development", alias="EXOGUARD_ENV"
    )
    data_dir: Path = Field(default=REPO_ROOT.parent / "shared" / "data", alias="EXOGUARD_DATA_DIR")
    var_dir: Path = Field(default=REPO_ROOT / "var", alias="EXOGUARD_VAR_DIR")
    #: Root of the NASA Exoplanet Archive and of MAST for `exoguard fetch` (None: the public
    #: services; tests point them at an emulator).
    archive_url: str | None = Field(default=None, alias="EXOGUARD_ARCHIVE_URL")
    mast_url: str | None = Field(default=None, alias="EXOGUARD_MAST_URL")
    database_url: str = Field(default="", alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    #: Where the survey page may take folders and manifests from (default: the data folder).
    survey_dir: Path | None = Field(default=None, alias="EXOGUARD_SURVEY_DIR")
    secret_key: str = Field(default="", alias="SECRET_KEY")
    model_dir: Path | None = Field(default=None, alias="EXOGUARD_MODEL_DIR")
    upload_dir: Path | None = Field(default=None, alias="EXOGUARD_UPLOAD_DIR")
    max_upload_mb: float = Field(default=50.0, alias="EXOGUARD_MAX_UPLOAD_MB", gt=0)
    #: The most an upload may decompress to (gzip CSV/JSON/FITS), in MiB; by default
    #: ``DECOMPRESSED_MULTIPLE`` times ``max_upload_mb``. Checked while streaming, before parsing.
    max_decompressed_mb: float | None = Field(
        default=None, alias="EXOGUARD_MAX_DECOMPRESSED_MB", gt=0
    )
    #: The most text lines (CSV/JSON), JSON records or FITS table rows one upload may hold.
    max_upload_rows: int = Field(default=2_000_000, alias="EXOGUARD_MAX_UPLOAD_ROWS", ge=1)
    #: Predictions (and PDF exports) a minute per client.
    rate_limit_per_minute: int = Field(default=10, alias="EXOGUARD_RATE_LIMIT_PER_MINUTE", ge=1)
    #: Uploads a minute per client, counted apart from predictions: one star's 17 Kepler
    #: quarters sent one by one fit in a minute.
    upload_rate_limit_per_minute: int = Field(
        default=30, alias="EXOGUARD_UPLOAD_RATE_LIMIT_PER_MINUTE", ge=1
    )
    #: How long an ``Idempotency-Key`` of a predict request replays its first answer.
    idempotency_ttl_s: float = Field(
        default=300.0, alias="EXOGUARD_IDEMPOTENCY_TTL_S", ge=1, le=86_400
    )
    #: How long the predict route trusts a session's user without reading it again: a
    #: deactivated account is refused on this replica at most this much later.
    #: The same bound applies to a revoked (logged-out) session on the predict route.
    auth_cache_s: float = Field(default=2.0, alias="EXOGUARD_AUTH_CACHE_S", ge=0, le=60)
    #: Proxies whose ``X-Forwarded-For`` is believed (IP addresses or CIDR networks, comma
    #: separated). Empty: the client address is the TCP peer, whatever headers say.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="EXOGUARD_TRUSTED_PROXIES"
    )
    #: Login attempts allowed per account, and per client address, per minute.
    login_per_account_per_minute: int = Field(
        default=10, alias="EXOGUARD_LOGIN_PER_ACCOUNT_PER_MINUTE", ge=1
    )
    login_per_address_per_minute: int = Field(
        default=30, alias="EXOGUARD_LOGIN_PER_ADDRESS_PER_MINUTE", ge=1
    )
    #: Accounts one client address may register per hour.
    registrations_per_address_per_hour: int = Field(
        default=20, alias="EXOGUARD_REGISTRATIONS_PER_ADDRESS_PER_HOUR", ge=1
    )
    #: Password hashes (argon2id, 64 MiB each) computed at once by one process; a request
    #: that waits longer than `hash_wait_s` for a slot gets 503.
    max_concurrent_hashes: int = Field(default=2, alias="EXOGUARD_MAX_CONCURRENT_HASHES", ge=1)
    hash_wait_s: float = Field(default=5.0, alias="EXOGUARD_HASH_WAIT_S", ge=0, le=60)
    #: Serve /docs and /openapi.json (default: everywhere but production).
    api_docs: bool | None = Field(default=None, alias="EXOGUARD_API_DOCS")
    #: Bearer token that /metrics requires in production (loopback peers need none).
    metrics_token: str = Field(default="", alias="EXOGUARD_METRICS_TOKEN")
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
        default=(0.2, 0.8), alias="EXOGUARD_VET_AMBIGUOUS_BAND"
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
        if self.max_decompressed_mb is None:
            self.max_decompressed_mb = DECOMPRESSED_MULTIPLE * self.max_upload_mb
        if self.api_docs is None:
            self.api_docs = self.environment != "production"
        if self.environment == "development":
            if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS:
                self.secret_key = DEV_SECRET
            return self
        problem = secret_key_problem(self.secret_key)
        if problem is not None:
            raise ConfigError(
                f"{problem} (EXOGUARD_ENV={self.environment}); every environment but "
                "development needs a random key of at least 32 bytes, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )
        return self

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
        networks = []
        for item in items:
            try:
                networks.append(str(ipaddress.ip_network(str(item).strip(), strict=False)))
            except ValueError as exc:
                raise ValueError(
                    f"EXOGUARD_TRUSTED_PROXIES takes IP addresses or CIDR networks; got {item!r}"
                ) from exc
        return tuple(networks)

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """`trusted_proxies` as network objects."""
        return tuple(ipaddress.ip_network(n) for n in self.trusted_proxies)

    @property
    def models_path(self) -> Path:
        assert self.model_dir is not None
        return self.model_dir

    @property
    def uploads_path(self) -> Path:
        assert self.upload_dir is not None
        return self.upload_dir

    @property
    def input_limits(self) -> InputLimits:
        """The caps every reader of an upload applies (decompressed bytes and rows)."""
        assert self.max_decompressed_mb is not None
        return InputLimits(
            max_bytes=int(self.max_decompressed_mb * 2**20), max_rows=self.max_upload_rows
        )

    @property
    def catalogs_dir(self) -> Path:
        return self.data_dir / "catalogs"

    @property
    def lightcurves_dir(self) -> Path:
        return self.data_dir / "lightcurves"

    @property
    def surveys_root(self) -> Path:
        """The folder the survey page takes sources from (EXOGUARD_SURVEY_DIR, else data)."""
        return self.survey_dir or self.data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (created on first use, never at import time)."""
    return Settings()
