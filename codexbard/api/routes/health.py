"""`GET /health`: liveness, always open, no account data.

Answered by the guard middleware (`hot`) from `health_bytes`; the FastAPI route serves the same bytes and
describes them in `/openapi.json`. Change what /health reports in `health_body`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.types import Scope

from codexbard import __version__
from codexbard.api.context import ApiContext
from codexbard.api.errors import JSON_TYPE, json_bytes
from codexbard.api.schemas import Health
from codexbard.api.security import HotRoute
from codexbard.store.opening import cached_write_problem


def health_body(ctx: ApiContext) -> dict[str, Any]:
    """The /health object (`schemas.Health`); `degraded` with a `store` reason when the database cannot be written."""
    body: dict[str, Any] = {
        "status": "ok",
        "version": __version__,
        "uptimeSeconds": round(ctx.uptime(), 1),
        "providersEnabled": len({a.plan.spec.id for a in ctx.state.enabled()}),
    }
    problem = cached_write_problem(ctx.store.path) if ctx.store is not None else None
    if problem is not None:
        body["status"] = "degraded"
        body["store"] = {"writable": False, "reason": problem}
    return body


def health_bytes(ctx: ApiContext) -> tuple[int, bytes, str]:
    """(status, body, content type) of GET /health."""
    return 200, json_bytes(health_body(ctx)), JSON_TYPE


def hot(ctx: ApiContext) -> HotRoute:
    """The guard middleware's entry point (`HotRoute`) for /health."""

    def answer(scope: Scope) -> tuple[int, bytes, str]:
        return health_bytes(ctx)

    return answer


def router(ctx: ApiContext) -> APIRouter:
    """The health route over one context."""
    api = APIRouter(tags=["health"])

    @api.get("/health", summary="Liveness; always open, no account data", response_model=Health)
    async def health() -> Response:
        status, body, media = health_bytes(ctx)
        return Response(body, status, media_type=media)

    return api
