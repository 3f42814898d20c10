"""`GET /usage` (every format, from a cache of rendered bytes) and `GET /usage/{provider_id}`.

`GET /usage` is one of the two routes the guard middleware answers itself (`UsageCache.hot`), without
the router; the FastAPI route serves the same bytes and describes them in `/openapi.json`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.datastructures import QueryParams
from starlette.types import Scope

from codexbard import render
from codexbard.api.context import ApiContext
from codexbard.api.errors import JSON_TYPE, ClientError, json_bytes, json_response
from codexbard.api.schemas import CLIENT_ERRORS, ErrorBody, FlatEntry
from codexbard.models import ProviderPayload
from codexbard.state import AccountState

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


def router(ctx: ApiContext, cache: UsageCache) -> APIRouter:
    """The usage routes over one context and the cache the guard also serves from."""
    api = APIRouter(tags=["usage"])

    @api.get(
        "/usage",
        summary="Usage of the enabled providers (or the ones asked for)",
        response_model=list[ProviderPayload] | dict[str, FlatEntry],
        responses={
            200: {
                "description": "`format=json` (default): an array of provider payloads; `format=flat`: one object "
                               "keyed by `<id>` or `<id>:<account>`; `format=text`: a human summary",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            **CLIENT_ERRORS,
        },
    )
    async def usage(
        request: Request,
        provider: Annotated[list[str] | None, Query(description="provider id, repeatable, or 'all'")] = None,
        account: Annotated[str | None, Query(description="account label")] = None,
        format: Annotated[str, Query(description="output format",
                                     json_schema_extra={"enum": list(render.FORMATS)})] = "json",
    ) -> Response:
        status, body, media = cache.get(request.scope.get("query_string", b""))
        return Response(body, status, headers={"content-type": media})

    @api.get(
        "/usage/{provider_id}",
        summary="One provider's payload (its first account unless `account` is given)",
        response_model=ProviderPayload,
        responses={404: {"model": ErrorBody, "description": "unknown provider or account"}, **CLIENT_ERRORS},
    )
    async def usage_one(provider_id: str, account: str | None = None) -> Response:
        if provider_id not in ctx.registry:
            raise ctx.unknown_provider(provider_id, 404)
        accounts = ctx.state.for_provider(provider_id)
        if not accounts:
            raise ClientError(404, {"error": f"no accounts are configured for {provider_id}"})
        if account is not None:
            accounts = [a for a in accounts if a.plan.account == account]
            if not accounts:
                raise ClientError(404, {"error": f"unknown account '{account}' for {provider_id}"})
        return json_response(ctx.payloads(accounts[:1])[0].wire())

    return api
