"""The routes the guard middleware answers itself, without FastAPI: `GET /usage`, `/health`, `/metrics` and `/cost`.

Every `?format=` of `GET /usage` is rendered here and cached as bytes per query, state version and second;
`?format=waybar&stream=1` is answered with a `LineStream` (codexbard.api.stream) that re-renders from the
same cache on each change, so a stream never costs more than one render per state version.

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
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.types import Scope

from codexbard import __version__, render
from codexbard.api.context import ApiContext
from codexbard.api.errors import JSON_TYPE, ClientError, json_bytes
from codexbard.api.security import HotAnswer, HotRoute
from codexbard.api.sessions import SessionStore
from codexbard.api.stream import LineStream
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
        sessions=SessionStore(clock=daemon.runtime.clock.monotonic),
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
_FLAGS_ON = frozenset({"1", "true", "yes", "on"})
_FLAGS_OFF = frozenset({"", "0", "false", "no", "off"})


def stream_flag(params: QueryParams) -> bool:
    """Whether `?stream=` asks for a stream; a 400 for a value that is neither on nor off."""
    value = params.get("stream")
    if value is None or value.strip().lower() in _FLAGS_OFF:
        return False
    if value.strip().lower() in _FLAGS_ON:
        if params.get("format", "json") != "waybar":
            raise ClientError(400, {"error": "stream=1 is only available with format=waybar"})
        return True
    raise ClientError(400, {"error": f"stream must be 1 or 0, not '{value[:40]}'"})


class UsageCache:
    """Rendered `GET /usage` bodies keyed by the raw query, valid for one state version and one second."""

    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx
        self._entries: dict[bytes, tuple[int, int, bytes, str]] = {}
        self.zone = render.local_zone()  # the daemon's local zone (TZ, else the system's), read once
        settings = ctx.settings
        self.thresholds = render.Thresholds.of(settings.display)
        self.base_url = render.local_base_url(settings.host, settings.port, settings.token is not None)

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

    def hot(self, scope: Scope) -> HotAnswer:
        """The guard middleware's entry point (`HotRoute`): bytes, or a stream for `stream=1`."""
        query: bytes = scope.get("query_string", b"")
        if b"stream" in query and scope.get("method") == "GET":
            return self.stream(query)
        return self.get(query)

    def stream(self, raw_query: bytes) -> HotAnswer:
        """A `LineStream` of the query's line when it asks for one (else its bytes, or its client error)."""
        params = QueryParams(raw_query)
        try:
            streaming = stream_flag(params)
        except ClientError as exc:
            return exc.status, json_bytes(exc.body), JSON_TYPE
        if not streaming:
            return self.get(raw_query)
        key = urlencode([(k, v) for k, v in params.multi_items() if k != "stream"]).encode()
        first = self.get(key)
        if first[0] != 200:
            return first
        return LineStream(lambda: self.get(key), self._ctx.state.hub, self._ctx.stopping, name="waybar-stream")

    def _render(self, params: QueryParams) -> tuple[bytes, str]:
        fmt = params.get("format", "json")
        if fmt not in render.FORMATS:
            raise ClientError(400, {"error": f"unknown format '{fmt}'", "known": list(render.FORMATS)})
        stream_flag(params)  # a bad value is a 400 here too (HEAD, or a router that does not stream)
        accounts = self._ctx.select(params.getlist("provider"), params.get("account"))
        return render_usage(self._ctx, accounts, fmt, self)


def render_usage(ctx: ApiContext, accounts: list[AccountState], fmt: str,
                 cache: UsageCache | None = None) -> tuple[bytes, str]:
    """The body and content type of some accounts' payloads in one of `render.FORMATS`.

    `cache` supplies the local zone, the `[display]` thresholds and the daemon's own URL (for SwiftBar's
    refresh action); without it they are read from the context and the environment.
    """
    payloads = ctx.payloads(accounts)
    if fmt == "json":
        return render.payloads_json(payloads).encode(), JSON_TYPE
    if fmt == "flat":
        return json_bytes(render.flat(payloads)), JSON_TYPE
    zone = cache.zone if cache is not None else render.local_zone()
    now = ctx.clock.now()
    if fmt == "text":
        return render.text(payloads, now, zone).encode(), TEXT_TYPE
    settings = ctx.settings
    thresholds = cache.thresholds if cache is not None else render.Thresholds.of(settings.display)
    if fmt == "waybar":
        return render.waybar(payloads, now, thresholds, zone).encode(), JSON_TYPE
    if fmt == "swiftbar":
        base = cache.base_url if cache is not None else render.local_base_url(
            settings.host, settings.port, settings.token is not None)
        return render.swiftbar(payloads, now, thresholds, zone, base).encode(), TEXT_TYPE
    raise ClientError(400, {"error": f"unknown format '{fmt}'", "known": list(render.FORMATS)})


def health_body(ctx: ApiContext) -> dict[str, Any]:
    """The /health object (`schemas.Health`); `degraded` with a `store` reason when the database cannot be written."""
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "uptimeSeconds": round(ctx.uptime(), 1),
        "providersEnabled": len({a.target.spec.id for a in ctx.state.enabled()}),
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
    """The paths the guard answers from `cache`, `health_bytes`, the metrics cache and the cost job."""
    from codexbard.api.metrics import MetricsCache  # no prometheus_client until the first scrape

    return {"/usage": cache.hot, "/health": health_hot(ctx), "/metrics": MetricsCache(ctx).hot,
            "/cost": cost_hot(ctx)}
