"""The FastAPI application: routes of API.md over the daemon's in-memory state.

No route calls a provider inline except `POST /refresh`, which asks the scheduler and waits. Every
client error is a JSON `{"error": …}` with a 4xx status; no client input produces a 500.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException as StarletteHTTPException

from codexbard import __version__
from codexbard.api import render
from codexbard.api.security import GuardMiddleware, HotRoute, allowed_host_names
from codexbard.daemon import Daemon
from codexbard.host.clock import parse_query_time
from codexbard.models import iso_z
from codexbard.state import AccountState
from codexbard.store.opening import cached_write_problem

log = logging.getLogger(__name__)

JSON_TYPE = "application/json"


class ClientError(Exception):
    """A request the API refuses with a 4xx status."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("error"))
        self.status = status
        self.body = body


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(), status,
                    media_type=JSON_TYPE)


def _parse_time(name: str, value: str) -> datetime:
    try:
        return parse_query_time(name, value)
    except ValueError as exc:
        raise ClientError(400, {"error": str(exc)}) from None


SHUTTING_DOWN = {"error": "codexbard is shutting down; try again once it is back"}


def create_app(daemon: Daemon, *, stopping: asyncio.Event | None = None) -> FastAPI:
    """Build the app for one daemon; `stopping` is set when the server begins to shut down."""
    settings = daemon.runtime.settings
    app = FastAPI(
        title="codexbard",
        version=__version__,
        summary="How much of every AI coding plan is left, as JSON on localhost.",
        # No OpenTelemetry here; asking for it costs every request a few environment lookups.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    token = settings.token.get_secret_value() if settings.token else None
    # The busiest GET routes are answered by the guard itself, once it has let the request in,
    # without the router and per-request models; the FastAPI routes below serve the same bytes
    # and describe them in /openapi.json.
    hot: dict[str, HotRoute] = {}
    app.add_middleware(
        GuardMiddleware,
        allowed_hosts=allowed_host_names(settings.host, settings.allowed_hosts),
        token=token,
        hot=hot,
    )
    registry = daemon.runtime.registry
    state = daemon.state
    cache: dict[bytes, tuple[int, int, bytes, str]] = {}

    @app.exception_handler(ClientError)
    async def _client_error(request: Request, exc: ClientError) -> Response:
        return _json(exc.body, exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
        return _json({"error": f"invalid parameter '{where}': {first.get('msg', 'invalid')}"}, 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        response = _json({"error": str(exc.detail)}, exc.status_code)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error serving %s", request.url.path)
        return JSONResponse({"error": "internal error"}, 500)

    def shutting_down() -> Response:
        response = _json(SHUTTING_DOWN, 503)
        response.headers["retry-after"] = "5"
        return response

    async def finished_before_shutdown(work: Any) -> bool:
        """Run `work` unless the server stops first; whether it finished (its errors propagate)."""
        if stopping is None:
            await work
            return True
        if stopping.is_set():
            work.close()
            return False
        job = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(stopping.wait())
        await asyncio.wait((job, stop), return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not job.done():
            job.cancel()
            return False
        if stopping.is_set() and (job.cancelled() or job.exception() is not None):
            return False
        job.result()
        return True

    def unknown_provider(provider_id: str) -> ClientError:
        return ClientError(400, {"error": f"unknown provider '{provider_id}'", "known": registry.ids()})

    def select(providers: list[str] | None, account: str | None, *, default_enabled: bool) -> list[AccountState]:
        wanted = [p for p in (providers or []) if p]
        if not wanted:
            chosen = state.enabled() if default_enabled else list(state.accounts.values())
        elif "all" in wanted:
            chosen = list(state.accounts.values())
        else:
            for provider_id in wanted:
                if provider_id not in registry:
                    raise unknown_provider(provider_id)
            chosen = [a for a in state.accounts.values() if a.plan.spec.id in wanted]
        if account is not None:
            chosen = [a for a in chosen if a.plan.account == account]
        return chosen

    def render_usage(accounts: list[AccountState], fmt: str) -> Response:
        payloads = daemon.payloads(accounts)
        if fmt == "json":
            return Response(render.payloads_json(payloads).encode(), media_type=JSON_TYPE)
        if fmt == "flat":
            return _json(render.flat(payloads))
        return Response(render.text(payloads, daemon.runtime.clock.now()), media_type="text/plain; charset=utf-8")

    def check_format(fmt: str) -> str:
        if fmt not in render.FORMATS:
            raise ClientError(400, {"error": f"unknown format '{fmt}'", "known": list(render.FORMATS)})
        return fmt

    usage_params = {
        "parameters": [
            {"name": "provider", "in": "query", "required": False, "description": "provider id, repeatable, or 'all'",
             "schema": {"type": "array", "items": {"type": "string"}}},
            {"name": "account", "in": "query", "required": False, "description": "account label",
             "schema": {"type": "string"}},
            {"name": "format", "in": "query", "required": False, "description": "json, flat or text",
             "schema": {"type": "string", "default": "json", "enum": list(render.FORMATS)}},
        ]
    }

    def usage_bytes(raw_query: bytes) -> tuple[int, bytes, str]:
        """GET /usage: rendered bytes from a cache keyed by the query, the state version and the second."""
        now_second = int(daemon.runtime.clock.monotonic())
        hit = cache.get(raw_query)
        if hit is not None and hit[0] == state.version and hit[1] == now_second:
            return 200, hit[2], hit[3]
        params = QueryParams(raw_query)
        try:
            fmt = check_format(params.get("format", "json"))
            response = render_usage(select(params.getlist("provider"), params.get("account"), default_enabled=True),
                                    fmt)
        except ClientError as exc:
            return exc.status, bytes(_json(exc.body).body), JSON_TYPE
        if len(cache) > 256:
            cache.clear()
        media = response.headers.get("content-type", JSON_TYPE)
        cache[raw_query] = (state.version, now_second, bytes(response.body), media)
        return 200, bytes(response.body), media

    @app.get("/usage", summary="Usage of the enabled providers (or the ones asked for)", openapi_extra=usage_params)
    async def usage(request: Request) -> Response:
        status, body, media = usage_bytes(request.scope.get("query_string", b""))
        return Response(body, status, headers={"content-type": media})

    hot["/usage"] = lambda scope: usage_bytes(scope.get("query_string", b""))

    @app.get("/usage/{provider_id}", summary="One provider's payload")
    async def usage_one(provider_id: str, account: str | None = None) -> Response:
        if provider_id not in registry:
            raise ClientError(404, {"error": f"unknown provider '{provider_id}'", "known": registry.ids()})
        accounts = state.for_provider(provider_id)
        if not accounts:
            raise ClientError(404, {"error": f"no accounts are configured for {provider_id}"})
        if account is not None:
            accounts = [a for a in accounts if a.plan.account == account]
            if not accounts:
                raise ClientError(404, {"error": f"unknown account '{account}' for {provider_id}"})
        return _json(daemon.payloads(accounts[:1])[0].wire())

    @app.get("/providers", summary="Every registered provider: enabled, strategies, schedule, last error")
    async def providers() -> Response:
        return _json([render.provider_info(spec, state.for_provider(spec.id)) for spec in registry])

    @app.get("/status", summary="Service status of the enabled providers that have a status source")
    async def status() -> Response:
        out = []
        seen: set[str] = set()
        for account in state.enabled():
            spec = account.plan.spec
            if spec.status is None or spec.id in seen:
                continue
            seen.add(spec.id)
            info = state.status_for(account)
            if info is None:
                continue
            out.append({"provider": spec.id, **info.wire()})
        return _json(out)

    def health_bytes() -> tuple[int, bytes, str]:
        body: dict[str, Any] = {
            "status": "ok",
            "version": __version__,
            "uptimeSeconds": round(daemon.uptime(), 1),
            "providersEnabled": len({a.plan.spec.id for a in state.enabled()}),
        }
        problem = cached_write_problem(daemon.store.path) if daemon.store is not None else None
        if problem is not None:  # still 200: the process is alive, but history is being lost
            body["status"] = "degraded"
            body["store"] = {"writable": False, "reason": problem}
        return 200, bytes(_json(body).body), JSON_TYPE

    @app.get("/health", summary="Liveness; always open, no account data")
    async def health() -> Response:
        status, body, media = health_bytes()
        return Response(body, status, media_type=media)

    hot["/health"] = lambda scope: health_bytes()

    @app.get("/history", summary="Stored samples of one window")
    async def history(
        provider: str | None = None,
        account: str | None = None,
        window: str = "primary",
        since: str | None = None,
        until: str | None = None,
        step: str | None = None,
    ) -> Response:
        if not provider:
            raise ClientError(400, {"error": "'provider' is required", "known": registry.ids()})
        if provider not in registry:
            raise unknown_provider(provider)
        now = daemon.runtime.clock.now()
        end = _parse_time("until", until) if until else now
        start = _parse_time("since", since) if since else end - timedelta(hours=24)
        if start > end:
            raise ClientError(400, {"error": "'since' must not be after 'until'"})
        step_seconds: int | None = None
        if step is not None:
            try:
                step_seconds = int(step)
            except ValueError:
                raise ClientError(400, {"error": "'step' must be a whole number of seconds"}) from None
            if not 1 <= step_seconds <= 31_536_000:
                raise ClientError(400, {"error": "'step' must be between 1 and 31536000 seconds"})
        points: list[dict[str, Any]] = []
        if daemon.store is not None:
            samples = await daemon.store.history(provider, account, window, start, end, step_seconds)
            points = [
                {"t": iso_z(s.t), "usedPercent": s.used_percent,
                 "resetsAt": iso_z(s.resets_at) if s.resets_at else None}
                for s in samples
            ]
        return _json({"provider": provider, "account": account, "window": window, "points": points})

    @app.post("/refresh", summary="Poll now (debounced) and return the payloads")
    async def refresh(
        provider: Annotated[list[str] | None, Query()] = None,
        account: str | None = None,
    ) -> Response:
        accounts = select(provider, account, default_enabled=True)
        if not await finished_before_shutdown(
                daemon.scheduler.refresh([a.plan.key for a in accounts], settings.refresh_timeout_seconds)):
            return shutting_down()
        return Response(render.payloads_json(daemon.payloads(accounts)).encode(), media_type=JSON_TYPE)

    return app
