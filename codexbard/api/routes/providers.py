"""`GET /providers`: every registered provider, enabled or not, with its strategies and schedule."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from codexbard import render
from codexbard.api.context import ApiContext
from codexbard.api.errors import json_response
from codexbard.api.schemas import ProviderInfo


def router(ctx: ApiContext) -> APIRouter:
    """The providers route over one context."""
    api = APIRouter(tags=["providers"])

    @api.get("/providers", summary="Every registered provider: enabled, strategies, schedule, last error",
             response_model=list[ProviderInfo])
    async def providers() -> Response:
        return json_response([render.provider_info(spec, ctx.state.for_provider(spec.id)) for spec in ctx.registry])

    return api
