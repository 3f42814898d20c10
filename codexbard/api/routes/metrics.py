"""`GET /metrics`: the Prometheus exposition (integrations.md §5).

Answered by the guard middleware (`hot`) from `codexbard.api.metrics.MetricsCache`; this route serves the
same bytes and describes the route in `/openapi.json`. It is a plain route, never a mounted app, so
`/metrics` answers without a redirect to `/metrics/`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from codexbard.api.context import ApiContext
from codexbard.api.metrics import MetricsCache


def router(ctx: ApiContext) -> APIRouter:
    """The metrics route over one context."""
    api = APIRouter(tags=["metrics"])
    cache = MetricsCache(ctx)

    @api.get("/metrics", summary="Prometheus text exposition of every enabled account",
             response_class=Response,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                              "description": "Prometheus text format (OpenMetrics when asked for in Accept)"}})
    async def metrics(request: Request) -> Response:
        body, media = cache.render(request.headers.get("accept", ""))
        return Response(body, 200, headers={"content-type": media})

    return api
