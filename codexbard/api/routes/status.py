"""`GET /status`: the service status of each enabled provider that has a status source."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from codexbard.api.context import ApiContext
from codexbard.api.errors import json_response
from codexbard.api.schemas import StatusEntry


def status_entries(ctx: ApiContext) -> list[dict[str, Any]]:
    """One entry per enabled provider with a status source, in registry order."""
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for account in ctx.state.enabled():
        spec = account.target.spec
        if spec.status is None or spec.id in seen:
            continue
        seen.add(spec.id)
        info = ctx.state.status_for(account)
        if info is None:
            continue
        out.append({"provider": spec.id, **info.wire()})
    return out


def router(ctx: ApiContext) -> APIRouter:
    """The status route over one context."""
    api = APIRouter(tags=["status"])

    @api.get("/status", summary="Service status of the enabled providers that have a status source",
             response_model=list[StatusEntry])
    async def status() -> Response:
        return json_response(status_entries(ctx))

    return api
