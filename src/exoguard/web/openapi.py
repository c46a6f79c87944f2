"""One error body for every failure, and an OpenAPI document that says what the server does.

Every error the API returns has the shape of :class:`~exoguard.web.api.schemas.ErrorOut`:
``{"detail": "<sentence>", "error": "<kind>"}`` (request validation adds ``errors``, one
entry per invalid field). The OpenAPI document declares that body for every error status a
route can answer, so generated clients and schema checkers (schemathesis, in the test-suite)
see the contract the server keeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from exoguard.errors import ExoguardError
from exoguard.web.api.schemas import ErrorOut

#: What each error status means, as the document says it.
ERROR_STATUSES: dict[int, str] = {
    400: "Bad request",
    401: "Not logged in, or the session has ended",
    403: "The role or the CSRF token does not allow this",
    404: "No such resource (or not visible to this user)",
    405: "Method not allowed",
    409: "Conflicts with the current state (e.g. a second vote, no active model)",
    410: "Gone: settled, revoked or expired",
    413: "The upload or its decompressed content is over the size limit",
    415: "Unsupported file format",
    422: "The request is invalid; `detail` names the field and the allowed values",
    429: "Rate limit reached; retry after `Retry-After` seconds",
    503: "A required dependency (database, broker) is unavailable",
}
#: Statuses every API route may answer (authentication, validation, rate limits, faults).
COMMON_STATUSES: tuple[int, ...] = (400, 401, 403, 404, 405, 409, 410, 422, 429, 503)
#: Statuses added for the routes that take a file.
UPLOAD_STATUSES: tuple[int, ...] = (413, 415)


def _error_response(status: int, detail: str, kind: str, **extra: Any) -> JSONResponse:
    body = ErrorOut(detail=detail, error=kind, **extra).model_dump(exclude_none=True)
    return JSONResponse(status_code=status, content=body)


def _field(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or "request"


def install_error_handlers(app: FastAPI) -> None:
    """Map domain errors, HTTP errors and request validation errors to one body shape."""

    @app.exception_handler(ExoguardError)
    async def domain_error(request: Request, exc: ExoguardError) -> JSONResponse:
        response = _error_response(exc.http_status, str(exc), type(exc).__name__)
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error_response(exc.status_code, str(exc.detail), "HTTPError")
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(DataError)
    async def invalid_value(request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schema let through (a NUL byte in a text, a number
        # out of the column's range): the request is at fault, not the server.
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        return _error_response(422, f"a value of the request is not valid: {reason}", "DataError")

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(e.get("loc", ())), "message": str(e.get("msg", "")), "type": e["type"]}
            for e in jsonable_encoder(exc.errors())
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return _error_response(422, detail, "RequestValidationError", errors=errors)


def _error_statuses(operation: dict[str, Any]) -> dict[int, str]:
    statuses = set(COMMON_STATUSES)
    content = operation.get("requestBody", {}).get("content", {})
    if "multipart/form-data" in content:
        statuses.update(UPLOAD_STATUSES)
    return {s: ERROR_STATUSES[s] for s in sorted(statuses)}


def build_openapi(app: FastAPI, *, api_prefix: str) -> dict[str, Any]:
    """The OpenAPI document with every API route's error responses declared as `ErrorOut`."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorOut"] = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith(api_prefix):  # the pages and probes are not in the document
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in _error_statuses(operation).items():
                responses[str(status)] = {"description": description, "content": error_body}
    app.openapi_schema = schema
    return schema
