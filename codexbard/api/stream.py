"""Line streams: `GET /usage?format=waybar&stream=1`, one rendered line at once and one per change.

A `LineStream` is what the guard's `/usage` hot route answers with when `stream=1` is asked for: it
subscribes to the event hub (a bounded queue, so a slow reader loses events, never blocks a poll), writes
the rendered line, and after each burst of state changes renders again (from the shared byte cache) and
writes the line only when it differs from the last one written. Bursts coalesce: after a change it waits
`settle` seconds, and never writes more than one line per `min_interval` seconds. Nothing is written
between changes (no heartbeats). The stream ends when the client goes away, when the server begins to
stop (`stopping`), or when the hub closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, Final

from starlette.types import Receive, Send

from codexbard.events import Event, EventHub

MIN_INTERVAL: Final = 1.0
SETTLE: Final = 0.1
QUEUE_SIZE: Final = 8

Render = Callable[[], tuple[int, bytes, str]]
"""Render the line now: (status, body, content type)."""


async def _disconnected(receive: Receive) -> None:
    """Return once the client has gone (the request body, if any, is read and ignored)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class LineStream:
    """An ASGI response (receive, send) that writes `render()` at once and again after each change."""

    def __init__(self, render: Render, hub: EventHub, stopping: asyncio.Event | None, *,
                 min_interval: float = MIN_INTERVAL, settle: float = SETTLE, queue_size: int = QUEUE_SIZE,
                 name: str = "line-stream") -> None:
        self._render = render
        self._hub = hub
        self._stopping = stopping
        self._min_interval = min_interval
        self._settle = settle
        self._queue_size = queue_size
        self._name = name
        self.lines_written = 0

    async def __call__(self, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        # Subscribe before the first render: a change between the two is then never missed.
        subscription = self._hub.subscribe(self._name, self._queue_size)
        ends: list[asyncio.Future[Any]] = [asyncio.ensure_future(_disconnected(receive))]
        if self._stopping is not None:
            ends.append(asyncio.ensure_future(self._stopping.wait()))
        change: asyncio.Future[Event | None] | None = None
        try:
            _, body, media = self._render()
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", media.encode("latin-1")), (b"cache-control", b"no-store"),
                (b"x-accel-buffering", b"no")]})
            await send({"type": "http.response.body", "body": body, "more_body": True})
            self.lines_written += 1
            last, last_at = body, loop.time()
            while True:
                change = next_change = asyncio.ensure_future(subscription.get())
                done, _ = await asyncio.wait([next_change, *ends], return_when=asyncio.FIRST_COMPLETED)
                if next_change not in done or next_change.result() is None:
                    break  # the client left, the server is stopping, or the hub closed
                change = None
                wait = max(self._settle, last_at + self._min_interval - loop.time())
                ended, _ = await asyncio.wait(ends, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                if ended:
                    break
                subscription.drain()  # everything that happened meanwhile is in the next render
                status, body, _ = self._render()
                if status == 200 and body != last:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                    self.lines_written += 1
                    last, last_at = body, loop.time()
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            subscription.close()
            if change is not None and not change.done():
                change.cancel()
            for future in ends:
                if not future.done():
                    future.cancel()
            for future in ends:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await future
