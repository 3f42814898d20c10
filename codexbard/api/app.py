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
import contextlib
import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from codexbard import __version__
from codexbard.api.context import ApiContext
from codexbard.api.errors import install_handlers
from codexbard.api.routes import health, history, providers, refresh, status, usage
from codexbard.api.security import GuardMiddleware, HotRoute, allowed_host_names
from codexbard.daemon import Daemon

DOCS_ASSETS: Final = "/docs/assets"


def docs_assets_dir() -> Path:
    """The folder of the Swagger UI and ReDoc scripts shipped by `fastapi-offline`."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the fastapi-offline package is missing; reinstall codexbard")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def context_of(daemon: Daemon, stopping: asyncio.Event | None = None) -> ApiContext:
    """The parts of a daemon the routes read."""
    return ApiContext(
        state=daemon.state,
        registry=daemon.runtime.registry,
        settings=daemon.runtime.settings,
        clock=daemon.runtime.clock,
        scheduler=daemon.scheduler,
        store=daemon.store,
        payloads=daemon.payloads,
        uptime=daemon.uptime,
        stopping=stopping,
    )


def create_app(daemon: Daemon, *, stopping: asyncio.Event | None = None, stop_timeout: float = 4.0) -> FastAPI:
    """Build the app for one daemon; `stopping` is set when the server begins to shut down.

    The app's lifespan starts the daemon's jobs and stops the daemon (within `stop_timeout` seconds).
    """

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            daemon.start()  # inside the try: a job that fails to start must still close the database
            yield
        finally:
            await daemon.stop(timeout=stop_timeout)

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
    ctx = context_of(daemon, stopping)
    cache = usage.UsageCache(ctx)
    # The busiest GET routes are answered by the guard itself, once it has let the request in,
    # without the router and per-request models; the FastAPI routes serve the same bytes and
    # describe them in /openapi.json.
    hot: dict[str, HotRoute] = {"/usage": cache.hot, "/health": health.hot(ctx)}
    settings = ctx.settings
    app.add_middleware(
        GuardMiddleware,
        allowed_hosts=allowed_host_names(settings.host, settings.allowed_hosts),
        token=settings.token.get_secret_value() if settings.token else None,
        hot=hot,
    )
    install_handlers(app)
    app.include_router(usage.router(ctx, cache))
    for group in (providers, status, health, history, refresh):
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
