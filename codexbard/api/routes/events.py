"""`GET /events`: Server-Sent Events from the event hub (API.md; the stream is codexbard/api/sse.py).

FastAPI's own SSE support (`fastapi.sse`, FastAPI 0.135+) frames the events and adds the keep-alive
comment every 15 s, `Cache-Control: no-cache` and `X-Accel-Buffering: no`; codexbard needs nothing from
sse-starlette beyond that, so it does not depend on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Header
from fastapi.sse import EventSourceResponse, ServerSentEvent

from codexbard.api.context import ApiContext
from codexbard.api.sse import EventStream


def router(ctx: ApiContext) -> APIRouter:
    """The events route over one context (one shared stream for every client)."""
    api = APIRouter(tags=["events"])
    stream = EventStream(ctx)

    @api.get("/events", response_class=EventSourceResponse,
             summary="Server-Sent Events: `usage` payloads and `status` entries as they change")
    async def events(last_event_id: str | None = Header(None)) -> AsyncIterator[ServerSentEvent]:
        async for frame in stream.stream(last_event_id):
            yield frame

    return api
