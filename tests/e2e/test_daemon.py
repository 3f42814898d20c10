"""End to end: the real `codexbard serve` as a subprocess against a fake upstream on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codexbard.providers.registry import default_registry
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

KEY = "zai-e2e-secret-key-1234"
QUOTA = {
    "code": 200, "msg": "ok", "success": True,
    "data": {"planName": "Pro", "limits": [
        {"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": 40, "nextResetTime": 4102444800000},
        {"type": "TOKENS_LIMIT", "unit": 6, "number": 1, "percentage": 12, "nextResetTime": 4103049600000},
    ]},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemon:
    """One `codexbard serve` process."""

    def __init__(self, home: Path, port: int, env: dict[str, str], config: str = "") -> None:
        self.home = home
        self.port = port
        self.config = home / "config.toml"
        self.config.write_text(config)
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "CODEXBARD_CONFIG": str(self.config),
            "CODEXBARD_PORT": str(port),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.database = home / ".local" / "share" / "codexbard" / "codexbard.db"

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        self._close_pipes()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "codexbard", "serve", *args],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        return self.proc

    def run(self, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "codexbard", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def wait_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                if self.get("/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("daemon did not become ready")

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=10, **kwargs)

    def post(self, path: str) -> httpx.Response:
        return httpx.post(f"http://127.0.0.1:{self.port}{path}", timeout=40)

    def wait_for(self, predicate: Any, timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError("condition not reached")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._close_pipes()

    def _close_pipes(self) -> None:
        if self.proc is not None:
            for pipe in (self.proc.stdout, self.proc.stderr):
                if pipe is not None:
                    pipe.close()


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.set_json("/zai/api/monitor/usage/quota/limit", QUOTA)
        fake.set_json("/zai/api/monitor/usage/model-usage",
                      {"code": 200, "success": True, "data": {"x_time": [], "modelDataList": []}})
        yield fake


@pytest.fixture
def daemon(tmp_path: Path, upstream: FakeUpstream) -> Iterator[Daemon]:
    home = tmp_path / "home-e2e"
    home.mkdir()
    d = Daemon(home, free_port(), {
        "Z_AI_API_KEY": KEY,
        "CODEXBARD_UPSTREAM_OVERRIDES": json.dumps({"https://api.z.ai": f"{upstream.base}/zai"}),
    })
    yield d
    d.stop()


def zai_payload(d: Daemon) -> dict[str, Any] | None:
    body = d.get("/usage").json()
    found = [p for p in body if p["provider"] == "zai" and p["usage"] is not None]
    return found[0] if found else None


def test_serve_polls_and_serves_contract_json(daemon: Daemon, upstream: FakeUpstream) -> None:
    daemon.start()
    daemon.wait_ready()
    payload = daemon.wait_for(lambda: zai_payload(daemon))
    assert payload["source"] == "api" and payload["stale"] is False and payload["error"] is None
    assert payload["usage"]["primary"] == {
        "usedPercent": 40.0, "windowMinutes": 300, "resetsAt": "2100-01-01T00:00:00Z",
        "resetDescription": "5-hour", "label": "5-hour"}
    assert payload["usage"]["secondary"]["usedPercent"] == 12.0
    assert payload["usage"]["secondary"]["windowMinutes"] == 10080
    assert payload["usage"]["loginMethod"] == "Pro"
    quota_requests = [r for r in upstream.requests if r[1].startswith("/zai/api/monitor/usage/quota/limit")]
    assert quota_requests and quota_requests[0][2]["Authorization"] == f"Bearer {KEY}"
    providers = {p["id"]: p for p in daemon.get("/providers").json()}
    assert providers["zai"]["enabled"] is True and providers["warp"]["enabled"] is False
    assert "WARP_API_KEY" in providers["warp"]["enabledReason"] + (providers["warp"]["enableHint"] or "")
    # nothing the daemon serves, logs or stores contains the key
    for path in ("/usage", "/providers", "/status", "/health", "/usage?format=text", "/openapi.json"):
        assert KEY not in daemon.get(path).text
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert daemon.proc.wait(10) == 0
    assert time.monotonic() - started < 5
    stderr = daemon.proc.stderr.read().decode()  # type: ignore[union-attr]
    assert KEY not in stderr
    assert KEY.encode() not in daemon.database.read_bytes()


def test_sigkill_then_restart_serves_last_data_as_stale(daemon: Daemon, upstream: FakeUpstream) -> None:
    daemon.start()
    daemon.wait_ready()
    first = daemon.wait_for(lambda: zai_payload(daemon))
    time.sleep(0.3)  # let the store commit
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(10)
    with sqlite3.connect(f"file:{daemon.database}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # the upstream is now down: the restarted daemon can only serve what it stored
    upstream.routes.clear()
    daemon.start()
    daemon.wait_ready()
    restarted = zai_payload(daemon)
    assert restarted is not None
    assert restarted["usage"]["primary"] == first["usage"]["primary"]
    assert restarted["fetchedAt"] == first["fetchedAt"]
    stale = daemon.wait_for(lambda: (p := zai_payload(daemon)) and p["lastError"] and p)
    # Good data beside a failure: `error` null (API.md), the failure in `lastError`.
    assert stale["stale"] is True and stale["error"] is None and stale["lastError"]["kind"] == "unavailable"
    assert stale["usage"]["primary"]["usedPercent"] == 40.0
    daemon.stop()
    with sqlite3.connect(f"file:{daemon.database}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_refresh_and_history(daemon: Daemon, upstream: FakeUpstream) -> None:
    daemon.start()
    daemon.wait_ready()
    daemon.wait_for(lambda: zai_payload(daemon))
    changed = json.loads(json.dumps(QUOTA))
    changed["data"]["limits"][0]["percentage"] = 55
    upstream.set_json("/zai/api/monitor/usage/quota/limit", changed)
    time.sleep(10.5)  # past the refresh debounce after the first success
    refreshed = daemon.post("/refresh?provider=zai").json()
    assert refreshed[0]["usage"]["primary"]["usedPercent"] == 55.0
    history = daemon.get("/history?provider=zai&window=primary").json()
    assert [p["usedPercent"] for p in history["points"]] == [40.0, 55.0]
    cli = daemon.run("history", "--provider", "zai", "--format", "json")
    assert cli.returncode == 0, cli.stderr
    assert [p["usedPercent"] for p in json.loads(cli.stdout)["points"]] == [40.0, 55.0]


def test_no_credentials_still_starts_and_explains(tmp_path: Path) -> None:
    home = tmp_path / "bare"
    home.mkdir()
    d = Daemon(home, free_port(), {})
    try:
        d.start()
        d.wait_ready()
        assert d.get("/usage").json() == []
        providers = d.get("/providers").json()
        assert [p["id"] for p in providers] == default_registry().ids()
        for p in providers:
            assert p["enabled"] is False
            assert p["enabledReason"] and p["enableHint"]
        assert "Z_AI_API_KEY" in {p["id"]: p for p in providers}["zai"]["enabledReason"]
        zai = d.get("/usage?provider=zai").json()[0]
        assert zai["usage"] is None and zai["error"]["kind"] == "not_configured"
    finally:
        d.stop()


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("port = [", "invalid TOML"),
        ("bogus_key = 1\n", "unknown key 'bogus_key'"),
        ("[providers.zai]\ninterval_seconds = -5\n", "providers.zai.interval_seconds"),
        ("[providers.zai]\nregion = \"mars\"\n", "providers.zai.region"),
        ("[providers.nope]\n", "unknown provider 'providers.nope'"),
    ],
)
def test_invalid_config_stops_serve_with_one_line(tmp_path: Path, config: str, expected: str) -> None:
    d = Daemon(tmp_path, free_port(), {}, config)
    result = d.run("serve", timeout=20)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert d.config.read_text() == config  # never rewritten


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        d = Daemon(tmp_path, port, {})
        result = d.run("serve")
    assert result.returncode == 2
    assert result.stderr.strip() == f"codexbard: port {port} on 127.0.0.1 is already in use (set `port` or --port)"


def test_public_bind_without_token_refuses(tmp_path: Path) -> None:
    d = Daemon(tmp_path, free_port(), {})
    result = d.run("serve", "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "CODEXBARD_TOKEN" in result.stderr


def test_unreadable_database_stops_and_is_left_alone(tmp_path: Path) -> None:
    d = Daemon(tmp_path, free_port(), {})
    d.database.parent.mkdir(parents=True)
    garbage = b"this is not a database, it is a user's precious file\n" * 100
    d.database.write_bytes(garbage)
    result = d.run("serve")
    assert result.returncode == 1
    assert "database" in result.stderr.lower() and str(d.database) in result.stderr
    assert d.database.read_bytes() == garbage


def test_sigterm_during_a_slow_poll_exits_cleanly_within_5_s(daemon: Daemon, upstream: FakeUpstream) -> None:
    upstream.delay = 25.0  # the first poll hangs on the upstream
    daemon.start()
    daemon.wait_ready()
    daemon.wait_for(lambda: any("quota/limit" in r[1] for r in upstream.requests))
    assert daemon.proc is not None
    started = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(10) == 0
    assert time.monotonic() - started < 5
    with sqlite3.connect(f"file:{daemon.database}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize(("args", "expected"), [
    (("--port", "70000"), "--port must be between 1 and 65535 (got 70000)"),
    (("--host", "no such host name"), "cannot bind no such host name:"),
])
def test_bad_serve_arguments_are_one_line(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    d = Daemon(tmp_path, free_port(), {"CODEXBARD_TOKEN": "a-token-for-a-public-bind"})
    result = d.run("serve", *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
