"""The `GET /events` stream: every state change rendered once, fanned out to any number of SSE clients.

One `EventStream` per daemon subscribes to the event hub and turns each change into a frame: `usage`
with the account's full payload (as in `GET /usage`), or `status` with its `/status` entry. Frames get
ids `<process start, epoch s>-<sequence>` and wait in one shared ring of `BUFFER` frames. A client
reads the ring from its own position, so a poll costs one render whatever the number of clients, and a
slow client costs nobody else anything: the socket's back-pressure stops only its own reader, and a
client that falls more than the ring behind starts over with every current payload (as does a client
whose `Last-Event-ID` comes from another process or is older than the ring). The heartbeat (a comment
every 15 s) and the framing are FastAPI's `EventSourceResponse`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from typing import Final

from sse_starlette import ServerSentEvent

from codexbard.api.context import ApiContext
from codexbard.api.errors import json_bytes
from codexbard.api.routes.status import status_entries
from codexbard.events import Event, Subscription

log = logging.getLogger("codexbard.api")

BUFFER: Final = 256
RETRY_MS: Final = 5000
COALESCE_SECONDS: Final = 0.05
SEP: Final = "\n"


def encode(event: str | None = None, data: str | None = None, event_id: str | None = None, *,
           comment: str | None = None, retry: int | None = None) -> bytes:
    """One SSE frame as bytes (sse-starlette's encoder, `\n` line ends)."""
    return ServerSentEvent(data=data, event=event, id=event_id, comment=comment, retry=retry, sep=SEP).encode()


class EventStream:
    """The shared ring of rendered frames and the task that fills it from the event hub."""

    def __init__(self, ctx: ApiContext, buffer: int = BUFFER) -> None:
        self._ctx = ctx
        self.started = int(time.time() - ctx.uptime())  # the process start, as the id's prefix
        self.seq = 0
        self.closed = False
        self._frames: deque[tuple[int, bytes]] = deque(maxlen=buffer)
        self._wake = asyncio.Event()
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.clients = 0  # how many streams are open
        self._snapshot: tuple[tuple[int, int, int], bytes] | None = None  # `current()`'s last rendering

    def start(self) -> None:
        """Subscribe to the hub (once, inside the running loop)."""
        if self._subscription is not None or self.closed:
            return
        self._subscription = self._ctx.state.hub.subscribe("sse", maxsize=4096)
        self._tasks.append(asyncio.create_task(self._pump(self._subscription), name="sse-pump"))
        if self._ctx.stopping is not None:
            self._tasks.append(asyncio.create_task(self._watch(self._ctx.stopping), name="sse-stop"))

    def event_id(self, seq: int) -> str:
        """The wire id of a sequence number."""
        return f"{self.started}-{seq}"

    def resume_point(self, last_event_id: str | None) -> int | None:
        """The sequence a `Last-Event-ID` resumes after, or None when it cannot (foreign, too old, bad)."""
        if not last_event_id:
            return None
        prefix, _, number = last_event_id.strip().partition("-")
        if prefix != str(self.started) or not number.isdigit():
            return None
        seq = int(number)
        oldest = self._frames[0][0] if self._frames else self.seq + 1
        if seq > self.seq or seq < oldest - 1:
            return None
        return seq

    def after(self, seq: int) -> list[tuple[int, bytes]] | None:
        """The frames after `seq`, or None when the ring no longer holds them all."""
        if seq >= self.seq:
            return []
        oldest = self._frames[0][0] if self._frames else self.seq + 1
        if seq < oldest - 1:
            return None
        return [frame for frame in self._frames if frame[0] > seq]

    def current(self) -> bytes:
        """Every current payload and status entry as one chunk; the last frame carries the current id.

        Rendered once per state version, sequence number and second, as `GET /usage` is: when many clients
        connect (or resync) at once, rendering it for each one stalled the loop (200 clients: 130 ms).
        """
        ctx = self._ctx
        key = (ctx.state.version, self.seq, int(ctx.clock.monotonic()))
        if self._snapshot is not None and self._snapshot[0] == key:
            return self._snapshot[1]
        body = self._render_current()
        self._snapshot = (key, body)
        return body

    def _render_current(self) -> bytes:
        ctx = self._ctx
        items = [("usage", data) for data in _payload_json(ctx, [a.key for a in ctx.state.enabled()])]
        items += [("status", json_bytes(entry).decode()) for entry in status_entries(ctx)]
        last_id = self.event_id(self.seq)
        if not items:
            return encode(comment="no provider is enabled", event_id=last_id)
        return b"".join(encode(kind, data, last_id if i == len(items) - 1 else None)
                        for i, (kind, data) in enumerate(items))

    async def stream(self, last_event_id: str | None) -> AsyncIterator[bytes]:
        """One client's chunks: the current state (unless it resumes), then the changes as they come."""
        self.start()
        self.clients += 1
        try:
            yield encode(comment="codexbard events", retry=RETRY_MS)
            position = self.resume_point(last_event_id)
            if position is None:
                position = self.seq
                yield self.current()
            while not self.closed:
                wake = self._wake
                frames = self.after(position)
                if frames is None:  # fell further behind than the ring: start over
                    position = self.seq
                    yield self.current()
                    continue
                if frames:
                    position = frames[-1][0]
                    yield b"".join(frame for _, frame in frames)
                if position >= self.seq and not self.closed:
                    await wake.wait()
        finally:
            self.clients -= 1

    def close(self) -> None:
        """End every stream (at shutdown)."""
        self.closed = True
        self._wake.set()
        if self._subscription is not None:
            self._subscription.close()

    async def _watch(self, stopping: asyncio.Event) -> None:
        await stopping.wait()
        self.close()

    async def _pump(self, subscription: Subscription) -> None:
        try:
            while (event := await subscription.get()) is not None:
                await asyncio.sleep(COALESCE_SECONDS)  # let the other polls of a refresh join this batch
                self._publish([event, *subscription.drain()])
        except Exception:  # a rendering bug must not end every stream silently
            log.exception("the event stream stopped")
        finally:
            self.close()

    def _publish(self, events: list[Event]) -> None:
        wanted: OrderedDict[tuple[str, str], None] = OrderedDict()
        for event in events:
            if event.changed():
                wanted[("status" if event.kind == "status" else "usage", event.key)] = None
        statuses = {entry["provider"]: entry for entry in status_entries(self._ctx)} if any(
            kind == "status" for kind, _ in wanted) else {}
        added = 0
        for kind, key in wanted:
            if kind == "usage":
                for data in _payload_json(self._ctx, [key]):
                    self._append("usage", data)
                    added += 1
            elif key in statuses:
                self._append("status", json_bytes(statuses[key]).decode())
                added += 1
        if added:
            wake, self._wake = self._wake, asyncio.Event()
            wake.set()

    def _append(self, kind: str, data: str) -> None:
        self.seq += 1
        self._frames.append((self.seq, encode(kind, data, self.event_id(self.seq))))

    async def aclose(self) -> None:
        """Close and wait for the helper tasks."""
        self.close()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _payload_json(ctx: ApiContext, keys: list[str]) -> list[str]:
    accounts = [a for a in (ctx.state.get(k) for k in keys) if a is not None]
    return [json_bytes(p.wire()).decode() for p in ctx.payloads(accounts)]
