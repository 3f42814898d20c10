"""`GET /cost`: local token cost from the Codex and Claude logs, answered from the cost job's cached results.

Answered by the guard middleware (`hot`) from `cost_bytes`; this route serves the same bytes and describes them
in `/openapi.json`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from codexbard.api.context import ApiContext
from codexbard.api.fast import cost_bytes
from codexbard.api.schemas import CLIENT_ERRORS, CostBlock, ErrorBody


def router(ctx: ApiContext) -> APIRouter:
    """The cost route over one context."""
    api = APIRouter(tags=["cost"])

    @api.get(
        "/cost",
        summary="Local token cost per day from the Codex and Claude logs",
        response_model=list[CostBlock],
        responses={404: {"model": ErrorBody, "description": "the cost job is off"}, **CLIENT_ERRORS},
    )
    async def cost(
        request: Request,
        provider: Annotated[list[str] | None, Query(description="codex, claude or all (repeatable)")] = None,
        days: Annotated[str | None, Query(description="the last N local days, 1..365 (default 30)")] = None,
        period: Annotated[str | None, Query(description="month (this local month) or all",
                                            json_schema_extra={"enum": ["month", "all"]})] = None,
    ) -> Response:
        status, body, media = cost_bytes(ctx, request.scope.get("query_string", b""))
        return Response(body, status, media_type=media)

    return api
