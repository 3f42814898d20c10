"""The ASGI app `codexbard serve` runs: lifespan, guard and hot routes at once, the FastAPI router on demand.

A daemon that only answers `/usage` and `/health` (a status bar, a health check) never imports FastAPI:
those two routes are served by the guard from `codexbard.api.fast`. The first request for any other route
imports `codexbard.api.app` and builds the same router `create_app` builds in a worker thread (so the event
loop keeps serving meanwhile); every later request goes straight to it.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import traceback

from starlette.types import ASGIApp, Receive, Scope, Send

from codexbard.api.fast import UsageCache, context_of, daemon_lifespan, hot_routes
from codexbard.api.security import GuardMiddleware, allowed_host_names
from codexbard.daemon import Daemon

log = logging.getLogger("codexbard.api")


def settle_heap() -> None:
    """Move every object alive now into the collector's permanent generation (`gc.freeze`).

    The daemon's long-lived objects (modules, pydantic schemas, the router) would otherwise be traversed by every
    full collection: ~60 ms with the event loop stalled. Called once startup is done and after the router is built.
    """
    gc.freeze()


class DaemonApp:
    """The server's ASGI app for one daemon."""

    def __init__(self, daemon: Daemon, *, stopping: asyncio.Event | None = None, stop_timeout: float = 4.0,
                 freeze_heap: bool = False) -> None:
        self._daemon = daemon
        self._freeze_heap = freeze_heap  # `settle_heap` after startup and the router build (the real server)
        self._stop_timeout = stop_timeout
        self._ctx = context_of(daemon, stopping)
        self._cache = UsageCache(self._ctx)
        settings = self._ctx.settings
        self._guard = GuardMiddleware(
            self._route,
            allowed_hosts=allowed_host_names(settings.host, settings.allowed_hosts),
            token=settings.token.get_secret_value() if settings.token else None,
            hot=hot_routes(self._ctx, self._cache),
            sessions=self._ctx.sessions,
        )
        self._router: ASGIApp | None = None
        self._loading: asyncio.Task[ASGIApp] | None = None

    @property
    def router_loaded(self) -> bool:
        """Whether the FastAPI router has been built (the first request for a non-hot route builds it)."""
        return self._router is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self._guard(scope, receive, send)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        router = self._router or await self._load()
        await router(scope, receive, send)

    async def _load(self) -> ASGIApp:
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._build())
        try:
            return await asyncio.shield(self._loading)
        except Exception:
            self._loading = None  # let the next request try again
            raise

    async def _build(self) -> ASGIApp:
        # Off the loop: importing FastAPI and building every route's schemas takes ~250 ms of CPU, which on the
        # loop would stall the hot routes; in a thread they keep answering between GIL switches.
        router: ASGIApp = await asyncio.to_thread(self._build_router)
        self._router = router
        if self._freeze_heap:
            settle_heap()  # the router's long-lived objects: out of the collector's way
        log.debug("API router loaded")
        return router

    def _build_router(self) -> ASGIApp:
        module = importlib.import_module("codexbard.api.app")
        router: ASGIApp = module.router_app(self._ctx, self._cache)
        return router

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """The ASGI lifespan protocol around `daemon_lifespan`, reporting failures as Starlette does."""
        started = False
        await receive()  # lifespan.startup
        try:
            async with daemon_lifespan(self._daemon, self._stop_timeout):
                await send({"type": "lifespan.startup.complete"})
                started = True
                if self._freeze_heap:
                    settle_heap()
                await receive()  # lifespan.shutdown
        except BaseException:
            kind = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": kind, "message": traceback.format_exc()})
            raise
        await send({"type": "lifespan.shutdown.complete"})
