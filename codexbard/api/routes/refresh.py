"""`POST /refresh`: poll now through the scheduler (debounced there), wait, and return the payloads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from codexbard import render
from codexbard.api.context import ApiContext
from codexbard.api.errors import JSON_TYPE, shutting_down
from codexbard.api.schemas import CLIENT_ERRORS, ErrorBody
from codexbard.models import ProviderPayload


def router(ctx: ApiContext) -> APIRouter:
    """The refresh route over one context."""
    api = APIRouter(tags=["refresh"])

    @api.post(
        "/refresh",
        summary="Poll now (debounced) and return the payloads",
        response_model=list[ProviderPayload],
        responses={503: {"model": ErrorBody, "description": "the server is shutting down"}, **CLIENT_ERRORS},
    )
    async def refresh(
        provider: Annotated[list[str] | None, Query(description="provider id, repeatable, or 'all'")] = None,
        account: Annotated[str | None, Query(description="account label")] = None,
    ) -> Response:
        accounts = ctx.select(provider, account)
        keys = [a.target.key for a in accounts]
        if not await ctx.finished_before_shutdown(ctx.scheduler.refresh(keys, ctx.settings.refresh_timeout_seconds)):
            return shutting_down()
        return Response(render.payloads_json(ctx.payloads(accounts)).encode(), media_type=JSON_TYPE)

    return api
