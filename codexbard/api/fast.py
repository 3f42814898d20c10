"""The routes the guard middleware answers itself, without FastAPI: `GET /usage`, `GET /health`, `GET /cost`.

Nothing here imports FastAPI. The daemon's server (`codexbard.api.entry`) serves these two routes from
this module and loads the FastAPI router, with its validation and OpenAPI models (about 7 MB of
memory), only when a request for another route arrives; a status bar that polls `/usage` never needs it.
The FastAPI routes in `codexbard.api.routes` serve the same bytes and describe them in `/openapi.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import QueryParams
from starlette.types import Scope

from codexbard import __version__, render
from codexbard.api.context import ApiContext
from codexbard.api.errors import JSON_TYPE, ClientError, json_bytes
from codexbard.api.security import HotRoute
from codexbard.daemon import Daemon
from codexbard.state import AccountState
from codexbard.store.opening import cached_write_problem


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
        cost=daemon.cost,
    )


@contextlib.asynccontextmanager
async def daemon_lifespan(daemon: Daemon, stop_timeout: float) -> AsyncIterator[None]:
    """Run the daemon's jobs while the server runs; stop the daemon (within `stop_timeout` s) after."""
    try:
        daemon.start()  # inside the try: a job that fails to start must still close the database
        yield
    finally:
        await daemon.stop(timeout=stop_timeout)


TEXT_TYPE = "text/plain; charset=utf-8"
CACHE_ENTRIES = 256


class UsageCache:
    """Rendered `GET /usage` bodies keyed by the raw query, valid for one state version and one second."""

    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx
        self._entries: dict[bytes, tuple[int, int, bytes, str]] = {}

    def get(self, raw_query: bytes) -> tuple[int, bytes, str]:
        """(status, body, content type) for a query string; client errors are not cached."""
        ctx = self._ctx
        now_second = int(ctx.clock.monotonic())
        hit = self._entries.get(raw_query)
        if hit is not None and hit[0] == ctx.state.version and hit[1] == now_second:
            return 200, hit[2], hit[3]
        try:
            body, media = self._render(QueryParams(raw_query))
        except ClientError as exc:
            return exc.status, json_bytes(exc.body), JSON_TYPE
        if len(self._entries) > CACHE_ENTRIES:
            self._entries.clear()
        self._entries[raw_query] = (ctx.state.version, now_second, body, media)
        return 200, body, media

    def hot(self, scope: Scope) -> tuple[int, bytes, str]:
        """The guard middleware's entry point (`HotRoute`)."""
        return self.get(scope.get("query_string", b""))

    def _render(self, params: QueryParams) -> tuple[bytes, str]:
        fmt = params.get("format", "json")
        if fmt not in render.FORMATS:
            raise ClientError(400, {"error": f"unknown format '{fmt}'", "known": list(render.FORMATS)})
        accounts = self._ctx.select(params.getlist("provider"), params.get("account"))
        return render_usage(self._ctx, accounts, fmt)


def render_usage(ctx: ApiContext, accounts: list[AccountState], fmt: str) -> tuple[bytes, str]:
    """The body and content type of some accounts' payloads in one of `render.FORMATS`."""
    payloads = ctx.payloads(accounts)
    if fmt == "json":
        return render.payloads_json(payloads).encode(), JSON_TYPE
    if fmt == "flat":
        return json_bytes(render.flat(payloads)), JSON_TYPE
    return render.text(payloads, ctx.clock.now()).encode(), TEXT_TYPE


def health_body(ctx: ApiContext) -> dict[str, Any]:
    """The /health object (`schemas.Health`); `degraded` with a `store` reason when the database cannot be written."""
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "uptimeSeconds": round(ctx.uptime(), 1),
        "providersEnabled": len({a.plan.spec.id for a in ctx.state.enabled()}),
    }
    problem = cached_write_problem(ctx.store.path) if ctx.store is not None else None
    if problem is not None:
        body["status"] = "degraded"
        body["store"] = {"writable": False, "reason": problem}
    return body


def health_bytes(ctx: ApiContext) -> tuple[int, bytes, str]:
    """(status, body, content type) of GET /health."""
    return 200, json_bytes(health_body(ctx)), JSON_TYPE


def health_hot(ctx: ApiContext) -> HotRoute:
    """The guard middleware's entry point (`HotRoute`) for /health."""

    def answer(scope: Scope) -> tuple[int, bytes, str]:
        return health_bytes(ctx)

    return answer


COST_DISABLED = {"error": "the local cost job is off (set [cost] enabled = true; it also needs the database)"}


def cost_bytes(ctx: ApiContext, raw_query: bytes) -> tuple[int, bytes, str]:
    """(status, body, content type) of GET /cost: the cost job's cached answer, or 404 when there is no job."""
    if ctx.cost is None:
        return 404, json_bytes(COST_DISABLED), JSON_TYPE
    return ctx.cost.response(raw_query)


def cost_hot(ctx: ApiContext) -> HotRoute:
    """The guard middleware's entry point (`HotRoute`) for /cost."""

    def answer(scope: Scope) -> tuple[int, bytes, str]:
        return cost_bytes(ctx, scope.get("query_string", b""))

    return answer


def hot_routes(ctx: ApiContext, cache: UsageCache) -> dict[str, HotRoute]:
    """The paths the guard answers from `cache`, `health_bytes` and the cost job."""
    return {"/usage": cache.hot, "/health": health_hot(ctx), "/cost": cost_hot(ctx)}
