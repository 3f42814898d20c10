"""`GET /health`: liveness, always open, no account data.

Answered by the guard middleware (`hot`) from `health_bytes`; the FastAPI route serves the same bytes and
describes them in `/openapi.json`. Change what /health reports in `health_body`.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from codexbard.api.context import ApiContext
from codexbard.api.fast import health_bytes
from codexbard.api.schemas import Health


def router(ctx: ApiContext) -> APIRouter:
    """The health route over one context."""
    api = APIRouter(tags=["health"])

    @api.get("/health", summary="Liveness; always open, no account data", response_model=Health)
    async def health() -> Response:
        status, body, media = health_bytes(ctx)
        return Response(body, status, media_type=media)

    return api
