"""The application's own ASGI middleware: CSRF guard, request metrics, security headers.

The CSRF token of a cookie-authenticated API write must be the HMAC of that request's own
session token (``security.csrf_token_for``): a token from another session, or a made-up one,
is refused with 403. Every response carries the security headers below; the
Content-Security-Policy allows scripts from this origin only (no inline scripts, no eval).

A plain ASGI class rather than ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware``
spawns task groups and wraps the request and response streams on every request, which cost
more CPU than the whole predict route (``bench/api.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from exoguard.web.metrics import AppMetrics
from exoguard.web.security import CSRF_HEADER, SESSION_COOKIE, csrf_matches

#: Where the app mounts the JSON routers (``exoguard.web.app``) and the CSRF guard looks.
API_PREFIX = "/api"

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Methods that get their own metrics label; any other is counted as ``OTHER``, so that a
#: client inventing methods (h11 accepts any token) cannot grow the metrics without bound.
METRIC_METHODS = frozenset({"GET", "HEAD", "OPTIONS", *UNSAFE_METHODS})
CSRF_EXEMPT = frozenset({f"{API_PREFIX}/auth/login", f"{API_PREFIX}/auth/register"})
#: Scripts, styles, images and connections from this origin only. Styles allow inline
#: ``style`` attributes because Plotly sets them (and injects its own stylesheet); scripts
#: never run inline. ``data:``/``blob:`` images are Plotly's "download as PNG".
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), "
    "accelerometer=(), gyroscope=(), magnetometer=(), fullscreen=(self)"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", PERMISSIONS_POLICY.encode("ascii")),
    (b"cross-origin-opener-policy", b"same-origin"),
)
#: Sent in production only (development runs over plain http on localhost).
HSTS_HEADER = (b"strict-transport-security", b"max-age=63072000; includeSubDomains")


class ExoguardMiddleware:
    """CSRF double-submit check on cookie-authenticated API writes; metrics per route.

    Parameters
    ----------
    app : ASGIApp
        The wrapped application.
    metrics : AppMetrics
        Request counters, latency histogram and error counters (labelled by route template).
    seen : callable
        Called with the session cookie of every request that carries one (active users).
    secret_key : str
        The key the session-bound CSRF tokens are derived from.
    hsts : bool
        Add ``Strict-Transport-Security`` (production).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: AppMetrics,
        seen: Callable[[str], None],
        secret_key: str,
        hsts: bool = False,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.seen = seen
        self.secret_key = secret_key
        self.headers = SECURITY_HEADERS + ((HSTS_HEADER,) if hsts else ())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        # the same parsing as ``Request.headers`` / ``Request.cookies`` in the routes
        headers = Headers(scope=scope)
        cookies = cookie_parser(headers.get("cookie", ""))
        session_token = cookies.get(SESSION_COOKIE)
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
                raw = list(message.get("headers", []))
                present = {name.lower() for name, _ in raw}
                raw.extend(h for h in self.headers if h[0] not in present)
                message = {**message, "headers": raw}
            await send(message)

        try:
            if (
                method in UNSAFE_METHODS
                and path.startswith(API_PREFIX + "/")
                and path not in CSRF_EXEMPT
                and session_token
                and not csrf_matches(
                    session_token, headers.get(CSRF_HEADER), secret_key=self.secret_key
                )
            ):
                # A cookie-authenticated write must send its session's CSRF token in a
                # header: a page on another origin can neither read it nor compute it.
                refused = JSONResponse(
                    status_code=403,
                    content={
                        "detail": f"missing or wrong {CSRF_HEADER} header (CSRF protection)",
                        "error": "CSRFError",
                    },
                )
                await refused(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            if session_token:
                self.seen(session_token)
            template = _route_template(scope)
            code = str(status["code"])
            label = method if method in METRIC_METHODS else "OTHER"
            self.metrics.requests.labels(label, template, code).inc()
            self.metrics.latency.labels(template).observe(time.perf_counter() - started)
            if status["code"] >= 400:
                self.metrics.errors.labels(template, code).inc()


def _route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/jobs/{job_id}``), ``unmatched`` when none.

    A route of a router included under ``API_PREFIX`` knows only its own part of the path.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return "unmatched"
    if scope["path"].startswith(API_PREFIX + "/") and not path.startswith(API_PREFIX + "/"):
        return API_PREFIX + path
    return path
