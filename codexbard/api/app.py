"""The FastAPI application: the routes of API.md over the daemon's in-memory state.

`create_app` builds the app for one daemon and owns its lifespan (the daemon's jobs start with the
server and stop with it). The routes live in `codexbard.api.routes`, one module per route group, each
given an `ApiContext` explicitly. No route calls a provider inline except `POST /refresh`, which asks the
scheduler and waits. Every client error is a JSON `{"error": …}` with a 4xx status; no client input
produces a 500.

`/docs` (Swagger UI) and `/redoc` load their scripts from this server: the assets ship in the
`fastapi-offline` package, so the pages work on a machine without internet access.
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Lifespan

from codexbard import __version__
from codexbard.api.context import ApiContext
from codexbard.api.errors import install_handlers
from codexbard.api.fast import UsageCache, context_of, daemon_lifespan, hot_routes
from codexbard.api.routes import (
    auth,
    cost,
    events,
    health,
    history,
    ingest,
    metrics,
    page,
    providers,
    refresh,
    status,
    usage,
)
from codexbard.api.security import GuardMiddleware, allowed_host_names
from codexbard.daemon import Daemon

DOCS_ASSETS: Final = "/docs/assets"


def docs_assets_dir() -> Path:
    """The folder of the Swagger UI and ReDoc scripts shipped by `fastapi-offline`."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the fastapi-offline package is missing; reinstall codexbard")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def create_app(daemon: Daemon, *, stopping: asyncio.Event | None = None, stop_timeout: float = 4.0) -> FastAPI:
    """Build the whole app for one daemon: guard, hot routes, router and a lifespan that runs the daemon.

    `stopping` is set when the server begins to shut down; the lifespan starts the daemon's jobs and stops
    the daemon (within `stop_timeout` seconds). `codexbard serve` runs the same pieces through
    `codexbard.api.entry.DaemonApp`, which loads this module only when a request needs the router.
    """
    ctx = context_of(daemon, stopping)
    cache = UsageCache(ctx)
    app = router_app(ctx, cache, lifespan=lambda _: daemon_lifespan(daemon, stop_timeout))
    settings = ctx.settings
    app.add_middleware(
        GuardMiddleware,
        allowed_hosts=allowed_host_names(settings.host, settings.allowed_hosts),
        token=settings.token.get_secret_value() if settings.token else None,
        hot=hot_routes(ctx, cache),
        sessions=ctx.sessions,
    )
    return app


def router_app(ctx: ApiContext, cache: UsageCache, *, lifespan: Lifespan[FastAPI] | None = None) -> FastAPI:
    """The FastAPI app of every route over one context, without the guard (the caller puts it in front)."""
    app = FastAPI(
        title="codexbard",
        version=__version__,
        summary="How much of every AI coding plan is left, as JSON on localhost.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        # No OpenTelemetry here; asking for it costs every request a few environment lookups.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_handlers(app)
    app.include_router(usage.router(ctx, cache))
    for group in (providers, status, health, history, refresh, ingest, metrics, events, auth, page, cost):
        app.include_router(group.router(ctx))
    _add_docs(app)
    return app


def _add_docs(app: FastAPI) -> None:
    """`/docs` and `/redoc`, with their scripts served from `DOCS_ASSETS` instead of a CDN."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    title = f"{app.title} {app.version}"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} - API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{title} - API",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
