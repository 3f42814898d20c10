"""End to end: `codexbard serve` on each event loop, under signals, systemd notify, and a connection flood."""

from __future__ import annotations

import json
import resource
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_daemon import KEY, QUOTA, Daemon, free_port, zai_payload
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.set_json("/zai/api/monitor/usage/quota/limit", QUOTA)
        fake.set_json("/zai/api/monitor/usage/model-usage",
                      {"code": 200, "success": True, "data": {"x_time": [], "modelDataList": []}})
        yield fake


def make_daemon(tmp_path: Path, upstream: FakeUpstream, **env: str) -> Daemon:
    home = tmp_path / "home-serve"
    home.mkdir()
    return Daemon(home, free_port(), {
        "Z_AI_API_KEY": KEY,
        "CODEXBARD_UPSTREAM_OVERRIDES": json.dumps({"https://api.z.ai": f"{upstream.base}/zai"}),
        **env,
    })


class NotifySocket:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.2)
        self.messages: list[str] = []

    def drain(self) -> list[str]:
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return self.messages


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_serve_on_each_loop_polls_stores_notifies_and_stops(tmp_path: Path, upstream: FakeUpstream,
                                                            loop: str) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    daemon = make_daemon(tmp_path, upstream, CODEXBARD_EVENT_LOOP=loop, CODEXBARD_LOG_LEVEL="info",
                         NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="400000")
    try:
        daemon.start()
        daemon.wait_ready()
        payload = daemon.wait_for(lambda: zai_payload(daemon))
        assert payload["usage"]["primary"]["usedPercent"] == 40.0
        time.sleep(0.5)
        messages = notify.drain()
        assert messages[0] == f"READY=1\nSTATUS=serving on 127.0.0.1:{daemon.port}"
        assert "WATCHDOG=1" in messages
        assert daemon.proc is not None
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(10) == 0
        assert time.monotonic() - started < 5
        assert notify.drain()[-1] == "STOPPING=1"
        stderr = daemon.proc.stderr.read().decode()  # type: ignore[union-attr]
        assert f"serving on http://127.0.0.1:{daemon.port} ({loop}, up to " in stderr
        assert "Traceback" not in stderr
        with sqlite3.connect(f"file:{daemon.database}?mode=ro", uri=True) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert db.execute("SELECT count(*) FROM latest").fetchone()[0] >= 1
    finally:
        daemon.stop()
        notify.sock.close()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_sigterm_during_a_refresh_gives_the_client_503(tmp_path: Path, upstream: FakeUpstream, loop: str) -> None:
    daemon = make_daemon(tmp_path, upstream, CODEXBARD_EVENT_LOOP=loop)
    try:
        upstream.delay = 20.0  # the first poll hangs on the upstream; the refresh joins it
        daemon.start()
        daemon.wait_ready()
        daemon.wait_for(lambda: upstream.requests)
        answer: list[httpx.Response] = []
        client = threading.Thread(target=lambda: answer.append(daemon.post("/refresh?provider=zai")))
        client.start()
        time.sleep(0.5)
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)
        client.join(10)
        assert answer and answer[0].status_code == 503
        assert answer[0].json() == {"error": "codexbard is shutting down; try again once it is back"}
        assert answer[0].headers["retry-after"] == "5"
        assert daemon.proc.wait(10) == 0
    finally:
        upstream.delay = 0
        daemon.stop()


def test_a_flood_of_half_open_connections_under_a_256_descriptor_limit(tmp_path: Path,
                                                                        upstream: FakeUpstream) -> None:
    daemon = make_daemon(tmp_path, upstream)

    def limit_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    proc = subprocess.Popen([sys.executable, "-m", "codexbard", "serve"], env=daemon.env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit_descriptors)
    daemon.proc = proc
    flood: list[socket.socket] = []
    try:
        daemon.wait_ready()
        for _ in range(300):
            conn = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
            conn.sendall(b"GET /usage HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ")
            flood.append(conn)
        started = time.monotonic()
        response = httpx.get(f"http://127.0.0.1:{daemon.port}/health", timeout=10)
        assert response.status_code == 200 and response.json()["status"] == "ok"
        assert time.monotonic() - started < 3
        assert proc.poll() is None
    finally:
        for conn in flood:
            conn.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        stderr = proc.stderr.read().decode()  # type: ignore[union-attr]
        daemon.stop()
    assert "Traceback" not in stderr
    assert len(stderr) < 4096
