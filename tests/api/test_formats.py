"""`GET /usage?format=waybar|swiftbar|text` as served, and `&stream=1` over real sockets on both loops."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from codexbard.api.app import create_app
from codexbard.api.fast import UsageCache, context_of
from codexbard.api.security import GuardMiddleware
from codexbard.daemon import Daemon
from codexbard.errors import AuthRequired
from tests.api.test_app import BASE, client, make_daemon
from tests.api.test_serving import LOOPS, LiveServer, read_response, request
from tests.fakes import ScriptedStrategy, fake_spec, snapshot

ALPHA_WAYBAR = {"text": "Alpha 40%", "alt": "alpha", "tooltip": "Alpha\n  Session: 40% used\n\nBeta\n  Error: "
                "Beta key rejected (HTTP 401)", "class": "ok", "percentage": 40}


@pytest.fixture
async def daemon(tmp_path: Path) -> Any:
    d = make_daemon(tmp_path)
    await d.scheduler.poll("alpha")
    await d.scheduler.poll("beta")
    yield d
    await d.stop(timeout=1)


async def test_waybar_is_one_json_line_over_the_enabled_providers(daemon: Daemon) -> None:
    async with client(daemon) as c:
        r = await c.get("/usage?format=waybar")
        beta = await c.get("/usage?format=waybar&provider=beta")
        gamma = await c.get("/usage?format=waybar&provider=gamma")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.text.endswith("\n") and r.text.count("\n") == 1
    assert json.loads(r.text) == ALPHA_WAYBAR
    assert json.loads(beta.text) == {"text": "AI –", "alt": "beta", "class": "error", "percentage": 0,
                                     "tooltip": "Beta\n  Error: Beta key rejected (HTTP 401)"}
    assert json.loads(gamma.text)["class"] == "error"  # not enabled: its error says how to enable it
    assert json.loads(gamma.text)["tooltip"].startswith("Gamma\n  Error: Gamma is not enabled")


async def test_display_thresholds_apply(tmp_path: Path) -> None:
    d = make_daemon(tmp_path, "[display]\nwarning_percent = 30\ncritical_percent = 60\n")
    await d.scheduler.poll("alpha")
    async with client(d) as c:
        line = json.loads((await c.get("/usage?format=waybar&provider=alpha")).text)
    await d.stop(timeout=1)
    assert (line["class"], line["percentage"]) == ("warning", 40)


async def test_swiftbar_and_text_are_plain_text(daemon: Daemon) -> None:
    async with client(daemon) as c:
        swift = await c.get("/usage?format=swiftbar&provider=alpha")
        text = await c.get("/usage?format=text&provider=alpha")
    assert swift.headers["content-type"] == text.headers["content-type"] == "text/plain; charset=utf-8"
    assert swift.text == (
        "Alpha 40%\n---\nAlpha | size=14\nSession ▰▰▰▰▱▱▱▱▱▱ 40% | font=Menlo size=12\n---\n"
        "Refresh now | bash=/usr/bin/curl param1=-fsS param2=-XPOST param3=--max-time param4=60 "
        "param5=http://127.0.0.1:8765/refresh terminal=false refresh=true\n"
        "Open dashboard | href=http://127.0.0.1:8765/\n")
    assert text.text == "Alpha (api)\n  Session: 60% left (40% used)\n  Status: unknown\n"


async def test_text_hint_when_nothing_matches(daemon: Daemon) -> None:
    async with client(daemon) as c:
        r = await c.get("/usage?format=text&account=nobody")
    assert r.text == "No enabled provider matches; run `codexbard providers` to see what each one needs.\n"


async def test_text_reset_times_follow_tz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    resets = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
    spec = fake_spec("alpha", ScriptedStrategy([snapshot(40.0, window_minutes=300, resets_at=resets)]))
    d = make_daemon(tmp_path, specs=[spec])
    await d.scheduler.poll("alpha")
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    cache = UsageCache(context_of(d))
    status, body, _ = cache.get(b"format=text")
    await d.stop(timeout=1)
    assert status == 200 and "resets 2026-11-26 01:30 IST" in body.decode()


@pytest.mark.parametrize(("query", "error"), [
    ("format=json&stream=1", "stream=1 is only available with format=waybar"),
    ("stream=1", "stream=1 is only available with format=waybar"),
    ("format=waybar&stream=maybe", "stream must be 1 or 0, not 'maybe'"),
])
async def test_stream_misuse_is_a_400(daemon: Daemon, query: str, error: str) -> None:
    async with client(daemon) as c:
        r = await c.get(f"/usage?{query}")
        head = await c.head(f"/usage?{query}")
    assert r.status_code == head.status_code == 400
    assert r.json() == {"error": error}


async def test_stream_off_and_head_answer_one_line(daemon: Daemon) -> None:
    async with client(daemon) as c:
        off = await c.get("/usage?format=waybar&stream=0")
        head = await c.head("/usage?format=waybar&stream=1")
        unknown = await c.get("/usage?format=waybar&stream=1&provider=nope")
    assert json.loads(off.text) == ALPHA_WAYBAR
    assert head.status_code == 200 and head.headers["content-length"] == str(len(off.content))
    assert unknown.status_code == 400 and unknown.json()["error"] == "unknown provider 'nope'"


async def test_formats_are_cached_per_state_version(daemon: Daemon) -> None:
    cache = UsageCache(context_of(daemon))
    for query in (b"format=waybar", b"format=swiftbar", b"format=text"):
        first = cache.get(query)[1]
        assert cache.get(query)[1] is first  # the same bytes object: rendered once
        daemon.state.touch()
        assert cache.get(query)[1] is not first


@pytest.mark.parametrize("path", ["/usage?format=waybar", "/usage?format=swiftbar&provider=all"])
async def test_router_serves_the_bytes_the_guard_serves(daemon: Daemon, path: str) -> None:
    app = create_app(daemon)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not GuardMiddleware]
    async with client(daemon) as guarded, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE) as bare:
        hot, routed = await guarded.get(path), await bare.get(path)
    assert routed.status_code == hot.status_code == 200
    assert routed.headers["content-type"] == hot.headers["content-type"]
    assert routed.content == hot.content


# -- the stream over real sockets -----------------------------------------------------------------

class ChunkReader:
    """Reads a chunked response off a socket: the head, then one chunk at a time."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""

    def _fill(self) -> None:
        chunk = self.conn.recv(65536)
        if not chunk:
            raise EOFError(self.buffer)
        self.buffer += chunk

    def head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        return int(lines[0].split()[1]), headers

    def chunk(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        size_line, _, rest = self.buffer.partition(b"\r\n")
        size = int(size_line, 16)
        while len(rest) < size + 2:
            self._fill()
            size_line, _, rest = self.buffer.partition(b"\r\n")
        self.buffer = rest[size + 2:]
        return rest[:size]


def run_on(live: LiveServer, coro: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, live.server._loop).result(10)


def stream_specs() -> list[Any]:
    return [fake_spec("alpha", ScriptedStrategy([snapshot(40.0), snapshot(40.0), snapshot(95.0)])),
            fake_spec("beta", ScriptedStrategy([AuthRequired("Beta key rejected (HTTP 401)")]))]


@pytest.mark.parametrize("loop", LOOPS)
def test_stream_writes_a_line_at_once_and_one_per_change(tmp_path: Path, loop: str) -> None:
    with LiveServer(tmp_path, loop, specs=stream_specs()) as live:
        deadline = time.monotonic() + 10
        while live.daemon.state.require("alpha").snapshot is None:  # the first scheduled poll
            assert time.monotonic() < deadline
            time.sleep(0.01)
        conn = live.connect()
        conn.sendall(request("/usage?format=waybar&stream=1&provider=alpha"))
        reader = ChunkReader(conn)
        status, headers = reader.head()
        assert status == 200
        assert headers["content-type"] == "application/json"
        assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
        first = reader.chunk()
        assert json.loads(first) == {"text": "Alpha 40%", "alt": "alpha", "tooltip": "Alpha\n  Session: 40% used",
                                     "class": "ok", "percentage": 40}
        assert live.server.config.app.router_loaded is False  # streams are served by the guard, not FastAPI
        run_on(live, live.daemon.scheduler.poll("alpha"))  # the same numbers: no line
        run_on(live, live.daemon.scheduler.poll("alpha"))  # 95%: one line
        second = reader.chunk()
        assert json.loads(second)["text"] == "Alpha 95%" and json.loads(second)["class"] == "critical"
        conn.settimeout(1.5)
        try:
            extra = reader.chunk()
        except TimeoutError:
            extra = None
        assert extra is None  # nothing more: no heartbeats, no line for an unchanged poll
        # polls and other requests go on while the stream is open
        with live.connect() as other:
            other.sendall(request("/usage?format=waybar&provider=alpha"))
            assert json.loads(read_response(other)[2])["text"] == "Alpha 95%"
        conn.settimeout(10)
        subscribers = live.daemon.state.hub.subscribers
        assert subscribers >= 1
        started = time.monotonic()
        live.server.should_exit = True  # shutdown: the stream ends with its last chunk, not by a cut
        assert reader.chunk() == b""
        assert time.monotonic() - started < 1.0
        conn.close()


@pytest.mark.parametrize("loop", LOOPS)
def test_a_client_that_leaves_unsubscribes(tmp_path: Path, loop: str) -> None:
    with LiveServer(tmp_path, loop, specs=stream_specs()) as live:
        hub = live.daemon.state.hub
        before = hub.subscribers
        conn = live.connect()
        conn.sendall(request("/usage?format=waybar&stream=1"))
        reader = ChunkReader(conn)
        assert reader.head()[0] == 200
        reader.chunk()
        assert hub.subscribers == before + 1
        conn.close()
        deadline = time.monotonic() + 5
        while hub.subscribers != before:
            assert time.monotonic() < deadline, "the stream kept its subscription after the client left"
            time.sleep(0.01)
