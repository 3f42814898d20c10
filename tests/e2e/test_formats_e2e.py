"""End to end: the real `codexbard serve` streams Waybar lines and ends the stream cleanly on SIGTERM."""

from __future__ import annotations

import json
import signal
import time

import httpx
import pytest

from tests.e2e.test_daemon import KEY, Daemon, daemon, upstream, zai_payload

pytestmark = pytest.mark.e2e
__all__ = ["daemon", "upstream"]


def test_waybar_stream_ends_cleanly_when_the_daemon_stops(daemon: Daemon) -> None:
    daemon.start()
    daemon.wait_ready()
    daemon.wait_for(lambda: zai_payload(daemon))
    for path in ("/usage?format=waybar", "/usage?format=swiftbar"):
        assert KEY not in daemon.get(path).text
    url = f"http://127.0.0.1:{daemon.port}/usage?format=waybar&stream=1&provider=zai"
    with httpx.stream("GET", url, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        lines = response.iter_lines()
        first = json.loads(next(lines))
        assert (first["text"], first["class"], first["percentage"]) == ("z.ai 40%", "ok", 40)
        assert daemon.proc is not None
        started = time.monotonic()
        daemon.proc.send_signal(signal.SIGTERM)
        assert list(lines) == []  # the response ends with its last chunk: no error, no cut connection
        assert time.monotonic() - started < 2
    assert daemon.proc.wait(10) == 0
    stderr = daemon.proc.stderr.read().decode()  # type: ignore[union-attr]
    assert "Cancel" not in stderr and "Traceback" not in stderr and KEY not in stderr
