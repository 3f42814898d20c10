"""`GET /history`: the stored samples of one window, read from the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from codexbard.api.context import ApiContext
from codexbard.api.errors import ClientError, json_response
from codexbard.api.schemas import CLIENT_ERRORS, History
from codexbard.host.clock import parse_query_time
from codexbard.models import iso_z


def _parse_time(name: str, value: str) -> datetime:
    try:
        return parse_query_time(name, value)
    except ValueError as exc:
        raise ClientError(400, {"error": str(exc)}) from None


def router(ctx: ApiContext) -> APIRouter:
    """The history route over one context."""
    api = APIRouter(tags=["history"])

    @api.get("/history", summary="Stored samples of one window", response_model=History, responses=CLIENT_ERRORS)
    async def history(
        provider: str | None = None,
        account: str | None = None,
        window: str = "primary",
        since: str | None = None,
        until: str | None = None,
        step: str | None = None,
    ) -> Response:
        if not provider:
            raise ClientError(400, {"error": "'provider' is required", "known": ctx.registry.ids()})
        if provider not in ctx.registry:
            raise ctx.unknown_provider(provider)
        now = ctx.clock.now()
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
        if ctx.store is not None:
            samples = await ctx.store.history(provider, account, window, start, end, step_seconds)
            points = [
                {"t": iso_z(s.t), "usedPercent": s.used_percent,
                 "resetsAt": iso_z(s.resets_at) if s.resets_at else None}
                for s in samples
            ]
        return json_response({"provider": provider, "account": account, "window": window, "points": points})

    return api
