"""Domain errors. Services raise these; the web layer maps them to HTTP status codes."""

from __future__ import annotations


class ExoguardError(Exception):
    """Base class of every error exoguard raises on purpose."""

    http_status = 400


class ConfigError(ExoguardError):
    """A setting is missing or not allowed (e.g. a placeholder secret in production)."""

    http_status = 500


class ValidationError(ExoguardError):
    """Input data does not follow the expected schema; the message names the problem."""

    http_status = 422


class FormatError(ValidationError):
    """A file cannot be read in any supported format (corrupt, empty, binary, wrong encoding)."""

    http_status = 415


class TooLargeError(ValidationError):
    """An upload or file exceeds the configured size limit."""

    http_status = 413


class NotFoundError(ExoguardError):
    """A requested object does not exist."""

    http_status = 404


class ConflictError(ExoguardError):
    """The request conflicts with stored state (e.g. a second vote on one item)."""

    http_status = 409


class AuthError(ExoguardError):
    """Not authenticated."""

    http_status = 401


class PermissionDeniedError(ExoguardError):
    """Authenticated but the role does not allow this."""

    http_status = 403


class GoneError(ExoguardError):
    """The object existed but is no longer available (expired or revoked share link)."""

    http_status = 410


class BusyError(ExoguardError):
    """The server cannot take this request now (a bounded resource is saturated)."""

    http_status = 503

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ModelNotReadyError(ExoguardError):
    """No active model, or a model version cannot be loaded."""

    http_status = 409


class UnavailableError(ExoguardError):
    """A service the request needs (the job broker, the database) is down; retry later."""

    http_status = 503


class RemoteError(ExoguardError):
    """A remote archive (NASA Exoplanet Archive, MAST) could not be reached, refused the
    request, or kept failing."""

    http_status = 502


class ScienceWarning(UserWarning):
    """A scientific caveat (few transits, short baseline, low SNR) that does not stop the work."""
