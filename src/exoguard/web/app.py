"""The FastAPI application factory. Nothing is created at import time.

Routers are discovered: every module in `exoguard.web.api` and `exoguard.web.pages` that
defines `router` is included (API modules under /api).
"""

from __future__ import annotations

import gc
import hmac
import html
import importlib
import importlib.util
import ipaddress
import logging
import pkgutil
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from exoguard import __version__
from exoguard.config import Settings, get_settings
from exoguard.web.assets import IMMUTABLE, plotly_asset
from exoguard.web.health import health_report
from exoguard.web.idempotency import make_replay_store
from exoguard.web.metrics import AppMetrics
from exoguard.web.middleware import API_PREFIX, ExoguardMiddleware
from exoguard.web.openapi import build_openapi, install_error_handlers
from exoguard.web.ratelimit import make_rate_limiter
from exoguard.web.state import AppState

log = logging.getLogger(__name__)
WEB_DIR = Path(__file__).resolve().parent


def _swagger_dir() -> Path:
    """The Swagger UI 5 dist shipped in the ``swagger-ui-py`` wheel (it reads OpenAPI 3.1;
    ``swagger-ui-bundle`` 1.1 ships 4.x, which refuses the 3.1 document FastAPI writes).
    Found without importing the package, whose ``__init__`` loads every framework adapter."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed; /docs needs its Swagger UI files")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def _include_routers(app: FastAPI) -> None:
    from exoguard.web import api, pages

    for package, prefix in ((api, API_PREFIX), (pages, "")):
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            router = getattr(module, "router", None)
            if router is not None:
                app.include_router(router, prefix=prefix)


def _swagger_page(openapi_url: str) -> str:
    """The Swagger UI page: local assets only, and no inline script (the CSP forbids it):
    ``static/js/swagger-init.js`` starts the UI on the schema named in its data attribute."""
    url = html.escape(openapi_url, quote=True)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link type="text/css" rel="stylesheet" href="/static/vendor/swagger/swagger-ui.css">
<link rel="icon" href="/static/vendor/swagger/favicon-32x32.png">
<title>exoguard API</title>
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/vendor/swagger/swagger-ui-bundle.js"></script>
<script src="/static/js/swagger-init.js" data-openapi-url="{url}"></script>
</body>
</html>
"""


def _metrics_allowed(request: Request, settings: Settings) -> bool:
    """Who may read /metrics: with ``EXOGUARD_METRICS_TOKEN`` set, a request carrying
    ``Authorization: Bearer <token>``; otherwise anyone outside production, and in production
    only a loopback peer (a sidecar or ``kubectl port-forward``)."""
    if settings.metrics_token:
        sent = request.headers.get("authorization", "").encode("utf-8", "replace")
        return hmac.compare_digest(sent, f"Bearer {settings.metrics_token}".encode())
    if settings.environment != "production":
        return True
    peer = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


ACTIVE_USER_WINDOW_S = 15 * 60
MODEL_GAUGE_REFRESH_S = 15.0


def _refresh_model_gauges(state: AppState, metrics: AppMetrics) -> None:
    """Model accuracy on vetted labels and drift, from `model_metrics` (at most every 15 s)."""
    now = time.monotonic()
    if now - state.gauges_refreshed_at < MODEL_GAUGE_REFRESH_S:
        return
    state.gauges_refreshed_at = now
    from exoguard.services.monitoring import export_to_prometheus
    from exoguard.store.db import session_scope

    try:
        with session_scope(state.sessions) as session:
            export_to_prometheus(metrics, session, canary_fraction=state.settings.canary_fraction)
    except Exception:  # a scrape must not fail because the model tables are unreadable
        log.exception("could not refresh the model gauges")


def _prepare_to_serve(state: AppState) -> None:
    """Load the active model, then move every object alive now out of the garbage
    collector's reach (``gc.freeze``).

    Without it, each full collection walks the whole heap (the libraries, the model):
    about 140 ms with the GBM loaded, which every request in flight waits for
    (``bench/api.py`` measured these pauses as its p99 latency).
    """
    from exoguard.services.predictions import warm_up

    threading.Thread(target=_compile_search_kernels, name="kernel-warm-up", daemon=True).start()
    warm_up(state.sessions, state.settings)
    gc.collect()
    gc.freeze()


def _compile_search_kernels() -> None:
    """Compile (or load from numba's disk cache) the transit-search kernels, so the first
    upload after start-up does not wait for the compiler."""
    from exoguard.core.search.warmup import warm_up as warm_up_search

    try:
        warm_up_search()
    except Exception:  # a failed warm-up only means the first search compiles instead
        log.exception("could not warm up the search kernels")


def create_server_app() -> FastAPI:
    """The application as `exoguard serve` runs it (uvicorn factory): the process
    settings, and the active model loaded before the first request."""
    return create_app(serving=True)


def _add_middleware(app: FastAPI, settings: Settings, state: AppState) -> None:
    """CORS (when origins are configured), then the exoguard middleware outermost."""
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type", "X-CSRF-Token", "Idempotency-Key"],
        )

    # Added last, so outermost: the CSRF guard runs before CORS and the routes.
    app.add_middleware(
        ExoguardMiddleware,
        metrics=app.state.metrics,
        seen=state.seen,
        secret_key=settings.secret_key,
        hsts=settings.environment == "production",
    )


def _add_service_routes(app: FastAPI, settings: Settings, state: AppState) -> None:
    """Health, metrics, vendored assets and (when enabled) the API docs page."""

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """Liveness: 200 while this process answers; each dependency's state in the body."""
        body, _ = health_report(state, rate_limiter=app.state.rate_limiter)
        return JSONResponse(body)

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """Readiness: 503 while a required dependency (database, Celery broker) is down."""
        body, ready = health_report(state, rate_limiter=app.state.rate_limiter)
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint(request: Request) -> Response:
        if not _metrics_allowed(request, settings):
            # 404, not 401: the endpoint does not advertise itself to strangers.
            return JSONResponse(status_code=404, content={"detail": "Not Found"})
        metrics: AppMetrics = request.app.state.metrics
        _refresh_model_gauges(state, metrics)
        metrics.active_users.set(state.active_users(window_s=ACTIVE_USER_WINDOW_S))
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        # The partial bundle (npm) or the plotly wheel's full one: no CDN, no copy in the
        # repository. This name outlives a new bundle: revalidated on each use (ETag).
        asset = plotly_asset()
        etag = f'"{asset.digest}"'
        headers = {"Cache-Control": "no-cache", "ETag": etag}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(asset.content, media_type="application/javascript", headers=headers)

    @app.get("/static/vendor/plotly-{digest}.min.js", include_in_schema=False)
    def plotly_js_named(digest: str) -> Response:
        # What the pages load (exoguard.web.assets): the name changes with the content, so
        # the browser keeps it for a year and a second chart page does not download it again.
        asset = plotly_asset()
        if digest != asset.digest:
            return JSONResponse(status_code=404, content={"detail": "Not Found"})
        return Response(
            asset.content, media_type="application/javascript", headers={"Cache-Control": IMMUTABLE}
        )

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # Browsers ask for /favicon.ico whatever the page says; answer with the local SVG.
        return FileResponse(WEB_DIR / "static" / "img" / "favicon.svg", media_type="image/svg+xml")

    if settings.api_docs:

        @app.get("/docs", include_in_schema=False)
        def swagger_docs() -> Response:
            return HTMLResponse(_swagger_page(app.openapi_url or "/openapi.json"))


def create_app(settings: Settings | None = None, *, serving: bool = False) -> FastAPI:
    """Build the web application for `settings` (the process settings by default).

    ``serving``: a long-running server process (see :func:`_prepare_to_serve`).
    """
    settings = settings or get_settings()
    state = AppState.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        if serving:
            await run_in_threadpool(_prepare_to_serve, state)
        try:
            yield
        finally:
            state.stop()

    app = FastAPI(
        title="exoguard",
        version=__version__,
        description="Find and vet transiting exoplanets in Kepler, K2 and TESS data.",
        lifespan=lifespan,
        docs_url=None,  # served below from local files: the default Swagger page uses a CDN
        redoc_url=None,
        # EXOGUARD_API_DOCS (default: off in production) decides whether the schema is public.
        openapi_url="/openapi.json" if settings.api_docs else None,
    )
    app.state.exoguard = state
    app.state.metrics = AppMetrics()
    app.state.rate_limiter = make_rate_limiter(settings.redis_url, retry_s=settings.redis_retry_s)
    app.state.replays = make_replay_store(settings.redis_url, retry_s=settings.redis_retry_s)

    _add_middleware(app, settings, state)
    install_error_handlers(app)
    _add_service_routes(app, settings, state)
    app.mount("/static/vendor/swagger", StaticFiles(directory=_swagger_dir()), name="swagger")
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    _include_routers(app)
    app.openapi = lambda: build_openapi(app, api_prefix=API_PREFIX)  # type: ignore[method-assign]
    return app
