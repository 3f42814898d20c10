"""`GET /usage` (every format, from a cache of rendered bytes) and `GET /usage/{provider_id}`.

`GET /usage` is one of the two routes the guard middleware answers itself (`UsageCache.hot`), without
the router; the FastAPI route serves the same bytes and describes them in `/openapi.json`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.types import Receive, Scope, Send

from codexbard import render
from codexbard.api.context import ApiContext
from codexbard.api.errors import ClientError, json_response
from codexbard.api.fast import UsageCache
from codexbard.api.schemas import CLIENT_ERRORS, ErrorBody, FlatEntry
from codexbard.api.security import Streamer
from codexbard.models import ProviderPayload


class StreamResponse(Response):
    """A response that a `Streamer` (such as `LineStream`) writes itself."""

    def __init__(self, stream: Streamer) -> None:
        super().__init__()
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._stream(receive, send)


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
                               "keyed by `<id>` or `<id>:<account>`; `format=text`: a human summary; "
                               "`format=waybar`: one Waybar JSON line (with `stream=1`: one line at once and "
                               "one per change, as text/plain); `format=swiftbar`: SwiftBar/xbar plugin text",
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
        stream: Annotated[str | None, Query(description="1: keep the response open and write one Waybar line "
                                                        "per change (format=waybar only)")] = None,
    ) -> Response:
        answer = cache.stream(request.scope.get("query_string", b""))
        if not isinstance(answer, tuple):
            return StreamResponse(answer)
        status, body, media = answer
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
            accounts = [a for a in accounts if a.target.account == account]
            if not accounts:
                raise ClientError(404, {"error": f"unknown account '{account}' for {provider_id}"})
        return json_response(ctx.payloads(accounts[:1])[0].wire())

    return api
