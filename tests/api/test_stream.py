"""`LineStream` on its own: first line at once, one line per change, coalesced bursts, bounded queues, endings."""

from __future__ import annotations

import asyncio
from typing import Any

from codexbard.api.stream import LineStream
from codexbard.events import Event, EventHub
from tests.helpers import NOW


def event(version: int) -> Event:
    return Event(kind="status", key="alpha", before=None, after=None, at=NOW, version=version)


class Client:
    """The receive and send of one request; `gone` makes receive report a disconnect."""

    def __init__(self, *, block_after: int | None = None) -> None:
        self.messages: list[dict[str, Any]] = []
        self.gone = asyncio.Event()
        self.block_after = block_after
        self.stuck = asyncio.Event()  # set once a send is blocked (a reader that stopped reading)

    async def receive(self) -> dict[str, Any]:
        if not any(m["type"] == "http.request" for m in self.messages):
            self.messages.append({"type": "http.request"})
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self.block_after is not None and len(self.lines) >= self.block_after:
            self.stuck.set()
            await asyncio.Event().wait()  # never returns: the socket is full
        self.messages.append(message)

    @property
    def lines(self) -> list[bytes]:
        return [m["body"] for m in self.messages if m["type"] == "http.response.body" and m["body"]]

    @property
    def finished(self) -> bool:
        return any(m["type"] == "http.response.body" and not m.get("more_body", False) for m in self.messages)


class Lines:
    """A render function whose output the test sets."""

    def __init__(self) -> None:
        self.value = b"one\n"
        self.calls = 0

    def __call__(self) -> tuple[int, bytes, str]:
        self.calls += 1
        return 200, self.value, "application/json"


async def until(predicate: Any, timeout: float = 3.0) -> None:
    """Poll a condition the stream task makes true (it runs on the same loop)."""
    async with asyncio.timeout(timeout):
        for _ in iter(lambda: bool(predicate()), True):
            await asyncio.sleep(0.005)


async def test_first_line_at_once_then_one_per_change_and_none_without_one() -> None:
    hub, lines, client = EventHub(), Lines(), Client()
    stream = LineStream(lines, hub, None, min_interval=0.0, settle=0.01)
    task = asyncio.create_task(stream(client.receive, client.send))  # type: ignore[arg-type]
    await until(lambda: client.lines == [b"one\n"])
    starts = [m for m in client.messages if m["type"] == "http.response.start"]
    assert starts[0] == {"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"cache-control", b"no-store"), (b"x-accel-buffering", b"no")]}
    assert hub.subscribers == 1
    hub.publish(event(1))  # the data did not change: nothing is written
    await until(lambda: lines.calls == 2)
    lines.value = b"two\n"
    hub.publish(event(2))
    await until(lambda: client.lines == [b"one\n", b"two\n"])
    client.gone.set()
    await asyncio.wait_for(task, 2)
    assert client.finished and hub.subscribers == 0


async def test_bursts_coalesce_into_one_line_and_lines_are_spaced() -> None:
    hub, lines, client = EventHub(), Lines(), Client()
    stream = LineStream(lines, hub, None, min_interval=0.3, settle=0.02)
    task = asyncio.create_task(stream(client.receive, client.send))  # type: ignore[arg-type]
    await until(lambda: len(client.lines) == 1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(20):
        lines.value = f"v{i}\n".encode()
        hub.publish(event(i))
    await until(lambda: len(client.lines) == 2)
    assert loop.time() - started >= 0.25  # not before min_interval after the first line
    assert client.lines[1] == b"v19\n"  # the burst became one line with the newest data
    await asyncio.sleep(0.1)
    assert len(client.lines) == 2 and lines.calls == 2
    client.gone.set()
    await asyncio.wait_for(task, 2)


async def test_a_reader_that_stops_reading_never_blocks_publishing() -> None:
    hub, lines, client = EventHub(), Lines(), Client(block_after=1)
    stream = LineStream(lines, hub, None, min_interval=0.0, settle=0.0, queue_size=4)
    task = asyncio.create_task(stream(client.receive, client.send))  # type: ignore[arg-type]
    await until(lambda: len(client.lines) == 1)
    lines.value = b"two\n"
    hub.publish(event(1))
    await until(client.stuck.is_set)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for i in range(1000):  # a poll's transition publishes; it must return at once whatever the reader does
        hub.publish(event(i + 2))
    assert loop.time() - started < 0.5
    subscription = hub._subscriptions[0]
    assert len(subscription) == 4 and subscription.dropped == 996
    task.cancel()  # the server cancels a stuck response at shutdown
    await asyncio.gather(task, return_exceptions=True)
    assert hub.subscribers == 0


async def test_stopping_ends_the_stream_cleanly() -> None:
    hub, lines, client, stopping = EventHub(), Lines(), Client(), asyncio.Event()
    task = asyncio.create_task(LineStream(lines, hub, stopping)(client.receive, client.send))  # type: ignore[arg-type]
    await until(lambda: len(client.lines) == 1)
    stopping.set()
    await asyncio.wait_for(task, 1)
    assert client.finished and hub.subscribers == 0


async def test_a_closed_hub_ends_the_stream() -> None:
    hub, lines, client = EventHub(), Lines(), Client()
    task = asyncio.create_task(LineStream(lines, hub, None)(client.receive, client.send))  # type: ignore[arg-type]
    await until(lambda: len(client.lines) == 1)
    hub.close()
    await asyncio.wait_for(task, 1)
    assert client.finished


async def test_stopping_during_the_coalescing_wait_ends_it_too() -> None:
    hub, lines, client, stopping = EventHub(), Lines(), Client(), asyncio.Event()
    stream = LineStream(lines, hub, stopping, min_interval=30.0)
    task = asyncio.create_task(stream(client.receive, client.send))  # type: ignore[arg-type]
    await until(lambda: len(client.lines) == 1)
    lines.value = b"two\n"
    hub.publish(event(1))
    await asyncio.sleep(0.05)
    stopping.set()
    await asyncio.wait_for(task, 1)
    assert client.lines == [b"one\n"] and client.finished
