"""`GET /events`: Server-Sent Events from the event hub (API.md; the stream is codexbard/api/sse.py).

sse-starlette's `EventSourceResponse` sends the stream: the keep-alive comment every
`HEARTBEAT_SECONDS`, `Cache-Control: no-store`, `X-Accel-Buffering: no`, and the end of the stream when
the client goes away or uvicorn shuts down. (FastAPI's own `fastapi.sse` was tried first: it frames every
event separately through three tasks per client, and with 200 clients a refresh of 20 accounts took 15x
as long; sse-starlette passes the pre-encoded chunks of `EventStream` straight through.)
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse

from codexbard.api.context import ApiContext
from codexbard.api.sse import SEP, EventStream

HEARTBEAT_SECONDS: Final = 15.0


def router(ctx: ApiContext) -> APIRouter:
    """The events route over one context (one shared stream for every client)."""
    api = APIRouter(tags=["events"])
    stream = EventStream(ctx)

    @api.get("/events", response_class=Response, summary="Server-Sent Events: `usage` payloads and `status` "
             "entries as they change",
             responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                              "description": "`event: usage|status`, `id: <process start>-<sequence>`"}})
    async def events(request: Request) -> Response:
        last_event_id = request.headers.get("last-event-id")  # read here: a header parameter would add a 422
        return EventSourceResponse(stream.stream(last_event_id), ping=HEARTBEAT_SECONDS, sep=SEP)

    return api
