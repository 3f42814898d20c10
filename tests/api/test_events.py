"""GET /events over a real uvicorn in the test's loop: frames, ids, resume, heartbeat, slow clients, shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from codexbard.api import sse as sse_module
from codexbard.api.entry import DaemonApp
from codexbard.api.fast import context_of
from codexbard.api.routes import events as events_route
from codexbard.api.sse import BUFFER, COALESCE_SECONDS, EventStream
from codexbard.daemon import Daemon
from codexbard.models import ProviderStatus
from codexbard.status.source import StatusSource
from tests.api.test_app import make_daemon
from tests.fakes import ScriptedStrategy, fake_spec, snapshot
from tests.helpers import NOW


@dataclass
class Frame:
    event: str | None = None
    data: str | None = None
    id: str | None = None
    comments: list[str] = field(default_factory=list)
    retry: int | None = None


class Reader:
    """Parses an SSE response line by line (the WHATWG rules codexbard needs)."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def frame(self, timeout: float = 5.0) -> Frame:
        frame = Frame()
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                if line == "":
                    return frame
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    frame.comments.append(value)
                elif name == "retry":
                    frame.retry = int(value)
                else:
                    setattr(frame, name, value)
        raise AssertionError("the stream ended")

    async def frames(self, n: int) -> list[Frame]:
        return [await self.frame() for _ in range(n)]


@contextlib.asynccontextmanager
async def served(daemon: Daemon, stopping: asyncio.Event | None = None) -> AsyncIterator[str]:
    """DaemonApp on uvicorn in this loop, lifespan off (nothing polls unless the test says so)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    config = uvicorn.Config(DaemonApp(daemon, stopping=stopping), lifespan="off", log_config=None,
                            access_log=False, timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110  # uvicorn offers no event to wait on
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    d = make_daemon(tmp_path)
    await d.scheduler.poll("alpha")
    await d.scheduler.poll("beta")
    d.state.set_status("alpha", ProviderStatus(kind="statuspage", indicator="minor", description="Degraded",
                                               url="https://status.alpha.example"), NOW)
    yield d
    await d.stop(timeout=1)


HOST = {"host": "127.0.0.1:8765"}


async def usage_elements(base: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=base, headers=HOST) as c:
        body: list[dict[str, object]] = (await c.get("/usage")).json()
        return body


async def test_connect_sends_every_current_payload_then_each_change(daemon: Daemon) -> None:
    async with served(daemon) as base, httpx.AsyncClient(base_url=base, headers=HOST, timeout=10) as c:
        expected = await usage_elements(base)
        async with c.stream("GET", "/events") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["cache-control"] == "no-store"
            assert r.headers["x-accel-buffering"] == "no"
            reader = Reader(r)
            hello = await reader.frame()
            assert (hello.retry, hello.comments) == (5000, ["codexbard events"])
            alpha, beta, status = await reader.frames(3)
            assert [(f.event, json.loads(f.data or "")) for f in (alpha, beta)] == [
                ("usage", expected[0]), ("usage", expected[1])]
            assert (status.event, json.loads(status.data or "")) == ("status", {
                "provider": "alpha", "kind": "statuspage", "indicator": "minor", "description": "Degraded",
                "updatedAt": None, "url": "https://status.alpha.example"})
            start = int(time.time() - daemon.uptime())
            assert (alpha.id, beta.id, status.id) == (None, None, f"{start}-0")

            await daemon.scheduler.poll("alpha")  # a poll: one usage frame with the new payload
            changed = await reader.frame()
            assert (changed.event, changed.id) == ("usage", f"{start}-1")
            assert json.loads(changed.data or "") == (await usage_elements(base))[0]
            daemon.state.set_status("alpha", ProviderStatus(kind="statuspage", indicator="none",
                                                            url="https://status.alpha.example"), NOW)
            flipped = await reader.frame()
            assert (flipped.event, flipped.id) == ("status", f"{start}-2")
            assert json.loads(flipped.data or "")["indicator"] == "none"


async def test_resume_with_last_event_id(daemon: Daemon) -> None:
    start = int(time.time() - daemon.uptime())
    async with served(daemon) as base, httpx.AsyncClient(base_url=base, headers=HOST, timeout=10) as c:
        async with c.stream("GET", "/events") as r:
            reader = Reader(r)
            await reader.frames(4)
            await daemon.scheduler.poll("alpha")
            await daemon.scheduler.poll("beta")
            first, second = await reader.frames(2)
        assert (first.id, second.id) == (f"{start}-1", f"{start}-2")
        # Resuming after frame 1 gets frame 2 only, then waits.
        async with c.stream("GET", "/events", headers={"last-event-id": f"{start}-1"}) as r:
            reader = Reader(r)
            await reader.frame()  # retry hint
            again = await reader.frame()
            assert (again.id, again.event, again.data) == (second.id, "usage", second.data)
            with pytest.raises(TimeoutError):
                await reader.frame(timeout=0.3)
        # An id from another process, a future one or garbage: every current payload first.
        for foreign in (f"{start - 100}-1", f"{start}-99", "nonsense", f"{start}-x"):
            async with c.stream("GET", "/events", headers={"last-event-id": foreign}) as r:
                reader = Reader(r)
                await reader.frame()
                frames = await reader.frames(3)
                assert [f.event for f in frames] == ["usage", "usage", "status"]
                assert frames[-1].id == f"{start}-2"


async def test_heartbeat_comment(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_route, "HEARTBEAT_SECONDS", 0.2)
    async with (served(daemon) as base, httpx.AsyncClient(base_url=base, headers=HOST, timeout=10) as c,
            c.stream("GET", "/events") as r):
        reader = Reader(r)
        await reader.frames(4)
        ping = await reader.frame(timeout=2)
        assert len(ping.comments) == 1 and ping.comments[0].startswith("ping - ")
        assert ping.event is None and ping.data is None


def test_heartbeat_is_fifteen_seconds() -> None:
    assert events_route.HEARTBEAT_SECONDS == 15.0


async def test_token_protected_bind_needs_the_token(tmp_path: Path) -> None:
    d = make_daemon(tmp_path, 'token = "tok-abcdef-123456"\n')
    try:
        async with served(d) as base, httpx.AsyncClient(base_url=base, headers=HOST, timeout=10) as c:
            refused = await c.get("/events")
            assert refused.status_code == 401
            async with c.stream("GET", "/events", headers={"authorization": "Bearer tok-abcdef-123456"}) as r:
                assert r.status_code == 200
                assert (await Reader(r).frame()).retry == 5000
    finally:
        await d.stop(timeout=1)


async def test_a_stalled_client_slows_nobody_and_a_reader_gets_every_change(daemon: Daemon) -> None:
    async with served(daemon) as base, httpx.AsyncClient(base_url=base, headers=HOST, timeout=10) as c:
        _stalled_reader, stalled_writer = await asyncio.open_connection(*base.removeprefix("http://").split(":"))
        stalled_writer.write(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1:8765\r\n\r\n")  # and never reads
        await stalled_writer.drain()
        async with c.stream("GET", "/events") as r:
            reader = Reader(r)
            await reader.frames(4)
            started = time.perf_counter()
            for i in range(300):
                daemon.state.succeed("alpha", snapshot(float(i % 100), reset_description="x" * 2000), "api",
                                     NOW)
            publish_seconds = time.perf_counter() - started
            # The burst reached the pump as one batch: one render of the account, its current payload.
            frame = await reader.frame()
            assert json.loads(frame.data or "")["usage"]["primary"]["usedPercent"] == 99.0
            for i in range(BUFFER + 20):  # changes one by one, more than the ring holds
                daemon.state.succeed("alpha", snapshot(float(i), reset_description="x" * 2000), "api", NOW)
                await asyncio.sleep(0)
            seen: list[float] = []
            while not seen or seen[-1] != float(BUFFER + 19):
                frame = await reader.frame()
                seen.append(json.loads(frame.data or "")["usage"]["primary"]["usedPercent"])
            assert seen == sorted(seen)  # in order, resynced or not
        stalled_writer.close()
    assert publish_seconds < 2.0


def parse(chunk: bytes) -> list[Frame]:
    """The frames of one chunk the stream yielded."""
    frames = []
    for block in chunk.decode().split("\n\n"):
        if not block:
            continue
        frame = Frame()
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "":
                frame.comments.append(value)
            elif name == "retry":
                frame.retry = int(value)
            else:
                setattr(frame, name, value)
        frames.append(frame)
    return frames


async def test_falling_behind_the_ring_resyncs_with_the_current_state(daemon: Daemon) -> None:
    ctx = context_of(daemon)
    stream = EventStream(ctx, buffer=8)
    chunks = stream.stream(None)
    hello = parse(await anext(chunks))
    assert hello[0].retry == 5000
    assert [f.event for f in parse(await anext(chunks))] == ["usage", "usage", "status"]
    for i in range(20):  # the client reads nothing meanwhile; each change is its own batch
        daemon.state.succeed("alpha", snapshot(float(i)), "api", NOW)
        await asyncio.sleep(COALESCE_SECONDS * 2)
    assert stream.seq == 20 and stream.after(0) is None and len(stream.after(12) or []) == 8
    resync = parse(await anext(chunks))
    assert [f.event for f in resync] == ["usage", "usage", "status"]
    assert json.loads(resync[0].data or "")["usage"]["primary"]["usedPercent"] == 19.0
    assert [f.id for f in resync] == [None, None, stream.event_id(20)]
    assert stream.clients == 1
    await chunks.aclose()
    assert stream.clients == 0
    await stream.aclose()


async def test_the_current_state_is_rendered_once_for_clients_connecting_together(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = context_of(daemon)
    stream = EventStream(ctx)
    renders: list[int] = []
    original = sse_module._payload_json

    def counting(context: Any, keys: list[str]) -> list[str]:
        renders.append(len(keys))
        return original(context, keys)

    monkeypatch.setattr(sse_module, "_payload_json", counting)
    monkeypatch.setattr(ctx.clock, "monotonic", lambda: 1000.25)
    first, second = stream.current(), stream.current()
    assert first == second and renders == [2]
    daemon.state.succeed("alpha", snapshot(42.0), "api", NOW)  # a new state version renders again
    changed = stream.current()
    assert renders == [2, 2] and json.loads(parse(changed)[0].data or "")["usage"]["primary"]["usedPercent"] == 42.0
    monkeypatch.setattr(ctx.clock, "monotonic", lambda: 1001.0)  # and so does the next second (ages, countdowns)
    stream.current()
    assert renders == [2, 2, 2]
    await stream.aclose()


async def test_one_refresh_is_one_batch(daemon: Daemon) -> None:
    stream = EventStream(context_of(daemon))
    chunks = stream.stream(None)
    await anext(chunks)
    await anext(chunks)
    await asyncio.gather(daemon.scheduler.poll("alpha"), daemon.scheduler.poll("beta"))
    batch = parse(await anext(chunks))
    assert [(f.event, f.id) for f in batch] == [("usage", stream.event_id(1)), ("usage", stream.event_id(2))]
    await chunks.aclose()
    await stream.aclose()


async def test_streams_end_when_the_server_stops(daemon: Daemon) -> None:
    stopping = asyncio.Event()
    async with (served(daemon, stopping) as base,
            httpx.AsyncClient(base_url=base, headers=HOST, timeout=10) as c, c.stream("GET", "/events") as r):
        reader = Reader(r)
        await reader.frames(4)
        stopping.set()
        with pytest.raises(AssertionError, match="the stream ended"):
            await reader.frame(timeout=3)


async def test_disabled_providers_and_no_providers(tmp_path: Path) -> None:
    d = make_daemon(tmp_path, specs=[fake_spec("gamma", ScriptedStrategy([snapshot(1.0)], available=False),
                                               status=StatusSource(kind="link", url="https://s.example"))])
    try:
        stream = EventStream(context_of(d))
        chunks = stream.stream("garbage")
        await anext(chunks)
        (only,) = parse(await anext(chunks))
        assert (only.comments, only.id, only.event) == (["no provider is enabled"], stream.event_id(0), None)
        await chunks.aclose()
        await stream.aclose()
    finally:
        await d.stop(timeout=1)


def test_the_ring_size() -> None:
    assert BUFFER == 256
