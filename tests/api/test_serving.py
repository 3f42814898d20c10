"""The HTTP serving layer with real sockets: the server `codexbard serve` builds, on both event loops.

Each test runs `serve.build_server` on a listening socket from `serve.bind_socket`, in a thread with
its own loop (asyncio or uvloop), and talks to it with plain sockets, so what is checked is what a
client of the daemon gets byte for byte.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codexbard.api.protocol import Limits, ThrottledLog
from codexbard.serve import _Server, bind_socket, build_server, loop_factory
from tests.api.test_app import make_daemon
from tests.fakes import ScriptedStrategy, fake_spec, snapshot

LOOPS = ["asyncio", "uvloop"]


class LiveServer:
    """The real server in a background thread."""

    def __init__(self, tmp_path: Path, loop: str, *, host: str = "127.0.0.1", limits: Limits | None = None,
                 specs: list[Any] | None = None) -> None:
        self.sock = bind_socket(host, 0)
        self.host = host
        self.port = int(self.sock.getsockname()[1])
        self.daemon = make_daemon(tmp_path, specs=specs)
        self.server: _Server = build_server(self.daemon, self.sock, limits)
        self.loop_name = loop
        self.loop_type = ""
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=loop_factory(self.loop_name)) as runner:
            self.loop_type = type(runner.get_loop()).__module__
            runner.run(self.server.serve(sockets=[self.sock]))

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self.sock.close()
        assert not self._thread.is_alive()

    def connect(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        conn = socket.create_connection((self.host, self.port), timeout=10)
        assert conn.family == family
        return conn


def request(path: str = "/health", method: str = "GET", host: str = "127.0.0.1", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


def read_response(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response: status, headers (lower-case names), body (by content-length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def closed_by_server(conn: socket.socket, within: float) -> bool:
    conn.settimeout(within)
    try:
        while conn.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


@pytest.fixture(params=LOOPS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(tmp_path, request.param) as server:
        yield server


# -- the root cause of the 44 ms keep-alive delay ------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_listening_socket_is_tcp_with_nodelay(host: str) -> None:
    sock = bind_socket(host, 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()


@pytest.mark.parametrize("loop", LOOPS)
@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_accepted_connections_have_nodelay(tmp_path: Path, loop: str, host: str) -> None:
    with LiveServer(tmp_path, loop, host=host) as live, live.connect() as conn:
        conn.sendall(request(host=f"[{host}]" if ":" in host else host))
        status, _, _ = read_response(conn)
        assert status == 200
        accepted = [c.transport.get_extra_info("socket") for c in live.server.server_state.connections]
        assert len(accepted) == 1
        assert accepted[0].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_each_loop_is_the_one_asked_for(tmp_path: Path) -> None:
    for name, module in (("asyncio", "asyncio.unix_events"), ("uvloop", "uvloop")):
        with LiveServer(tmp_path, name) as live:
            assert live.loop_type == module


def test_keep_alive_serves_many_requests_on_one_connection(live: LiveServer) -> None:
    with live.connect() as conn:
        for _ in range(20):
            conn.sendall(request("/usage"))
            status, headers, body = read_response(conn)
            assert status == 200 and headers["content-type"] == "application/json"
            assert [p["provider"] for p in json.loads(body)] == ["alpha", "beta"]


# -- hostile clients ------------------------------------------------------------------------------

def test_slow_headers_get_408_json_and_are_closed(tmp_path: Path) -> None:
    with LiveServer(tmp_path, "asyncio", limits=Limits(head_timeout=0.3)) as live, live.connect() as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        status, headers, body = read_response(conn)
        assert status == 408 and headers["content-type"] == "application/json"
        assert json.loads(body) == {"error": "the request headers did not arrive within 0.3 s"}
        assert closed_by_server(conn, 2)


def test_a_silent_connection_is_closed_after_the_head_timeout(tmp_path: Path) -> None:
    with LiveServer(tmp_path, "uvloop", limits=Limits(head_timeout=0.3)) as live, live.connect() as conn:
        assert closed_by_server(conn, 3)
        assert len(live.server.table) == 0


def test_idle_keep_alive_connections_are_closed(tmp_path: Path) -> None:
    with LiveServer(tmp_path, "asyncio", limits=Limits(keep_alive=1)) as live, live.connect() as conn:
        conn.sendall(request())
        assert read_response(conn)[0] == 200
        started = time.monotonic()
        assert closed_by_server(conn, 4)
        assert time.monotonic() - started < 3


@pytest.mark.parametrize(("raw", "status", "error"), [
    (request(extra="".join(f"X-H{i}: v\r\n" for i in range(101))), 431, "more than 100 request headers"),
    (request(extra=f"X-Big: {'a' * 40_000}\r\n"), 431, "request headers exceed 32768 bytes"),
    (request("/usage?" + "p=x&" * 3000), 414, "the request target exceeds 8192 bytes"),
    (b"GET /health HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1\r\n\r\n", 400, "more than one Host header"),
    (b"GET http://evil.example/usage HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400,
     "the request target names a different host than the Host header"),
    (b"GARBAGE\r\n\r\n", 400, "malformed HTTP request"),
])
def test_bad_request_heads_get_json_errors(live: LiveServer, raw: bytes, status: int, error: str) -> None:
    with live.connect() as conn:
        conn.sendall(raw)
        got, headers, body = read_response(conn)
        assert (got, headers["content-type"], json.loads(body)) == (status, "application/json", {"error": error})
        assert headers["connection"] == "close"


def test_a_one_megabyte_header_is_refused_before_it_is_all_read(live: LiveServer) -> None:
    with live.connect() as conn:
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        sent = 0
        try:
            while sent < 1_000_000:
                conn.sendall(b"a" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < 1_000_000 or closed_by_server(conn, 2)


def test_absolute_form_with_the_same_host_is_served(live: LiveServer) -> None:
    with live.connect() as conn:
        conn.sendall(b"GET http://127.0.0.1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(conn)[0] == 200


def test_connection_cap_evicts_the_oldest_idle_connection(tmp_path: Path) -> None:
    with LiveServer(tmp_path, "asyncio", limits=Limits(max_connections=8)) as live:
        idle = [live.connect() for _ in range(8)]
        try:
            deadline = time.monotonic() + 5
            while len(live.server.table) < 8:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            with live.connect() as fresh:
                fresh.sendall(request())
                assert read_response(fresh)[0] == 200
            assert closed_by_server(idle[0], 2)
            assert len(live.server.table) <= 8
        finally:
            for conn in idle:
                conn.close()


def test_throttled_log_writes_one_line_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    throttled = ThrottledLog(__import__("logging").getLogger("t"), interval=60, clock=lambda: now[0])
    assert [throttled.warning("out of descriptors") for _ in range(5)] == [True, False, False, False, False]
    now[0] = 61
    assert throttled.warning("out of descriptors") is True
    assert [r.getMessage() for r in caplog.records] == [
        "out of descriptors", "out of descriptors (4 more since the last report)"]


def test_405_keeps_the_allow_header(live: LiveServer) -> None:
    with live.connect() as conn:
        conn.sendall(request("/usage", method="DELETE"))
        status, headers, body = read_response(conn)
        assert (status, headers["allow"]) == (405, "GET")
        assert json.loads(body) == {"error": "Method Not Allowed"}


@pytest.mark.parametrize(("extra", "status"), [
    ("Origin: https://evil.example\r\n", 403),
    ("Sec-Fetch-Site: cross-site\r\n", 403),
    ("Origin: null\r\n", 403),
    ("Sec-Fetch-Site: same-origin\r\nOrigin: http://127.0.0.1:8765\r\n", 200),
    ("", 200),  # curl and the CLI
])
def test_state_changing_requests_from_other_sites_are_refused(live: LiveServer, extra: str, status: int) -> None:
    with live.connect() as conn:
        conn.sendall(request("/refresh", method="POST", extra="Content-Length: 0\r\n" + extra))
        got, _, body = read_response(conn)
        assert got == status
        if status == 403:
            assert json.loads(body) == {"error": "cross-site requests may not change anything here"}


def test_cross_site_reads_are_not_refused(live: LiveServer) -> None:
    with live.connect() as conn:
        conn.sendall(request("/usage", extra="Origin: https://dashboard.example\r\nSec-Fetch-Site: cross-site\r\n"))
        assert read_response(conn)[0] == 200


@pytest.mark.parametrize("loop", LOOPS)
def test_shutdown_during_a_refresh_answers_503(tmp_path: Path, loop: str) -> None:
    slow = ScriptedStrategy([snapshot(10.0)], delay=30)
    with LiveServer(tmp_path, loop, specs=[fake_spec("alpha", slow)]) as live, live.connect() as conn:
        conn.sendall(request("/refresh", method="POST", extra="Content-Length: 0\r\n"))
        deadline = time.monotonic() + 5
        while slow.running == 0:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        started = time.monotonic()
        live.server.handle_exit(signal.SIGTERM, None)
        status, headers, body = read_response(conn)
        assert (status, headers["retry-after"]) == (503, "5")
        assert json.loads(body) == {"error": "codexbard is shutting down; try again once it is back"}
        assert time.monotonic() - started < 2
