"""`codexbard statusline`: the line from the input, from the daemon, or plain; what it forwards; never an error.
Also install/uninstall round trips, and one end-to-end run against a real `codexbard serve`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from codexbard.cli import main
from codexbard.cli import statusline as sl
from codexbard.cli.statusline_setup import backup_path, install, settings_path, uninstall
from tests.e2e.test_daemon import Daemon, free_port

FUTURE = 4102444800  # 2100-01-01T00:00:00Z
BODY = {"model": {"display_name": "Opus"},
        "rate_limits": {"five_hour": {"used_percentage": 23.5, "resets_at": FUTURE + 19 * 3600 + 15 * 60},
                        "seven_day": {"used_percentage": 41.0, "resets_at": FUTURE + 7 * 86400}}}
LINE = "5h 23% ↻19:15 · 7d 41%"


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


class Recorder(BaseHTTPRequestHandler):
    """A fake daemon: records requests, answers /usage with a stored Claude payload."""

    seen: ClassVar[list[tuple[str, str, dict[str, str], bytes]]] = []
    usage: ClassVar[list[dict[str, Any]]] = []

    def _record(self, body: bytes = b"") -> None:
        Recorder.seen.append((self.command, self.path, dict(self.headers), body))

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self._record(body)
        self._answer({"accepted": True, "reason": None})

    def do_GET(self) -> None:
        self._record()
        self._answer(Recorder.usage)

    def _answer(self, data: Any) -> None:
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_daemon() -> Iterator[int]:
    Recorder.seen = []
    Recorder.usage = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def feed(env: dict[str, str], body: bytes, wrap: str | None = None) -> str:
    out = io.StringIO()
    assert sl.feed(env, wrap=wrap, stdin=io.BytesIO(body), stdout=out) == 0
    return out.getvalue()


def env_for(home: Path, port: int, **extra: str) -> dict[str, str]:
    return {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "CODEXBARD_PORT": str(port), **extra}


def test_line_from_input_is_forwarded_to_the_daemon(clean_env: Path, fake_daemon: int) -> None:
    config = clean_env / ".config" / "codexbard" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('token = "tok-123456"\n[[providers.claude.accounts]]\nlabel = "work"\n'
                      'claude_config_dir = "~/.claude-work"\n')
    env = env_for(clean_env, fake_daemon, CLAUDE_CONFIG_DIR=str(clean_env / ".claude-work"))
    raw = json.dumps(BODY).encode()
    assert feed(env, raw) == LINE + "\n"
    [(method, path, headers, body)] = Recorder.seen
    assert (method, path, body) == ("POST", "/ingest/claude-statusline?account=work", raw)
    assert headers["Authorization"] == "Bearer tok-123456"


def test_unmatched_config_dir_is_sent_for_the_daemon_to_match(clean_env: Path, fake_daemon: int) -> None:
    env = env_for(clean_env, fake_daemon, CLAUDE_CONFIG_DIR="/srv/claude x")
    feed(env, json.dumps(BODY).encode())
    assert Recorder.seen[0][1] == "/ingest/claude-statusline?config_dir=/srv/claude%20x"


def test_without_rate_limits_the_daemon_data_is_shown(clean_env: Path, fake_daemon: int) -> None:
    Recorder.usage = [
        {"provider": "zai", "account": None, "usage": {"primary": {"usedPercent": 99.0}}},
        {"provider": "claude", "account": None, "usage": {
            "primary": {"usedPercent": 12.9, "windowMinutes": 300, "resetsAt": "2100-01-01T08:05:00Z"},
            "secondary": {"usedPercent": 40.2, "windowMinutes": 10080, "resetsAt": None}}},
    ]
    assert feed(env_for(clean_env, fake_daemon), b'{"model": {"display_name": "Opus"}}') == "5h 12% ↻08:05 · 7d 40%\n"
    assert [(m, p) for m, p, _, _ in Recorder.seen] == [("GET", "/usage?provider=claude")]


def test_daemon_without_claude_data_gives_the_plain_line(clean_env: Path, fake_daemon: int) -> None:
    assert feed(env_for(clean_env, fake_daemon), b'{"model": {"display_name": "Opus"}}') == "Claude (Opus)\n"


@pytest.mark.parametrize("body", [b"", b"garbage", b"[1]", b'{"rate_limits": {"five_hour": {"used_percentage": "x"}}}',
                                  b'{"rate_limits": {"five_hour": {"used_percentage": 5, "resets_at": 10}}}'])
def test_daemon_down_and_odd_input_never_fail(clean_env: Path, body: bytes) -> None:
    started = time.monotonic()
    assert feed(env_for(clean_env, free_port()), body) == "Claude\n"
    assert time.monotonic() - started < 0.5


def test_daemon_down_still_shows_the_input(clean_env: Path) -> None:
    assert feed(env_for(clean_env, free_port()), json.dumps(BODY).encode()) == LINE + "\n"


def test_silent_daemon_is_cut_off_by_the_budget(clean_env: Path) -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)  # accepts connections, never answers
        started = time.monotonic()
        line = feed(env_for(clean_env, listener.getsockname()[1]), b"{}")
        elapsed = time.monotonic() - started
    assert line == "Claude\n" and elapsed < 0.4


def test_main_dispatches_the_feed_without_the_parser(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(BODY).encode())))
    assert main(["statusline"], env_for(clean_env, free_port())) == 0
    assert capsys.readouterr().out == LINE + "\n"


def test_feed_imports_no_framework(clean_env: Path) -> None:
    code = ("import sys, io; sys.stdin = io.TextIOWrapper(io.BytesIO(b'{}'))\n"
            "from codexbard.cli import main\nmain(['statusline'])\n"
            "heavy = [m for m in ('fastapi', 'pydantic', 'httpx', 'asyncio', 'argparse',"
            " 'codexbard.config', 'codexbard.providers.registry') if m in sys.modules]\n"
            "print(heavy, file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**env_for(clean_env, free_port()), "PATH": os.environ.get("PATH", "")}, timeout=20)
    assert result.stdout == "Claude\n"
    assert result.stderr.strip() == "[]"


def test_wrap_shows_both_outputs(clean_env: Path) -> None:
    line = feed(env_for(clean_env, free_port()), json.dumps(BODY).encode(),
                wrap="read x; printf 'mine:%s' \"$(printf %s \"$x\" | head -c 1)\"")
    assert line == "mine:{ · " + LINE + "\n"


# --- install / uninstall ------------------------------------------------------------------------------------------

ORIGINAL = ('{\n    "model": "opus",\n'
            '    "statusLine": {"type": "command", "command": "~/bin/my line", "padding": 0},\n'
            '    "permissions": {"allow": ["Bash(ls)"]}\n}\n')


def test_install_wraps_and_uninstall_restores_byte_for_byte(clean_env: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    env = {"HOME": str(clean_env), "PATH": "/nonexistent"}
    path = settings_path(env)
    path.parent.mkdir(parents=True)
    path.write_text(ORIGINAL)
    path.chmod(0o600)
    assert install(env, dry_run=True) == 0
    assert path.read_text() == ORIGINAL  # a dry run writes nothing
    assert '"command": "codexbard statusline --wrap \'~/bin/my line\'"' in capsys.readouterr().out
    assert install(env) == 0
    data = json.loads(path.read_text())
    assert data["statusLine"] == {"type": "command", "command": "codexbard statusline --wrap '~/bin/my line'",
                                  "padding": 0}
    assert (data["model"], data["permissions"]) == ("opus", {"allow": ["Bash(ls)"]})
    assert path.stat().st_mode & 0o777 == 0o600
    assert install(env) == 0  # idempotent
    assert json.loads(path.read_text()) == data
    assert uninstall(env) == 0
    assert path.read_text() == ORIGINAL
    assert not backup_path(env, path).exists()
    assert uninstall(env) == 0  # nothing to do


def test_uninstall_after_other_edits_restores_only_the_status_line(clean_env: Path) -> None:
    env = {"HOME": str(clean_env), "PATH": "/nonexistent"}
    path = settings_path(env)
    path.parent.mkdir(parents=True)
    path.write_text(ORIGINAL)
    install(env)
    data = json.loads(path.read_text())
    data["model"] = "sonnet"  # the user changed something else meanwhile
    path.write_text(json.dumps(data))
    uninstall(env)
    restored = json.loads(path.read_text())
    assert restored["statusLine"] == {"type": "command", "command": "~/bin/my line", "padding": 0}
    assert restored["model"] == "sonnet"


def test_install_without_settings_file_and_uninstall_removes_it(clean_env: Path, tmp_path: Path) -> None:
    env = {"HOME": str(clean_env), "CLAUDE_CONFIG_DIR": str(tmp_path / "cfg"), "PATH": "/nonexistent"}
    path = settings_path(env)
    assert path == tmp_path / "cfg" / "settings.json"
    install(env)
    assert json.loads(path.read_text()) == {"statusLine": {"type": "command", "command": "codexbard statusline"}}
    uninstall(env)
    assert not path.exists()


def test_invalid_settings_json_is_refused(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = clean_env / ".claude" / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    assert main(["statusline", "install"], {"HOME": str(clean_env), "PATH": "/nonexistent"}) == 1
    assert path.read_text() == "{not json"
    assert "is not valid JSON" in capsys.readouterr().err


# --- end to end ---------------------------------------------------------------------------------------------------


def test_end_to_end_with_a_real_daemon(tmp_path: Path) -> None:
    port = free_port()
    daemon = Daemon(tmp_path, port, {"TZ": "UTC"}, config="[providers.claude]\nenabled = true\n")
    env = {**daemon.env, "TZ": "UTC"}

    def statusline(body: bytes) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "codexbard", "statusline"], input=body, env=env,
                              capture_output=True, timeout=20)

    daemon.start()
    try:
        daemon.wait_ready()
        first = statusline(json.dumps(BODY).encode())
        assert (first.returncode, first.stdout.decode()) == (0, LINE + "\n")

        def claude() -> Any:
            payload = next(p for p in daemon.get("/usage?provider=claude").json() if p["provider"] == "claude")
            return payload if payload["source"] == "statusline" else None

        payload = daemon.wait_for(claude)
        assert payload["usage"]["primary"]["usedPercent"] == 23.5
        assert payload["usage"]["secondary"]["usedPercent"] == 41.0
        second = statusline(b'{"model": {"display_name": "Opus"}}')
        assert (second.returncode, second.stdout.decode()) == (0, "5h 23% ↻19:15 · 7d 41%\n")
    finally:
        daemon.stop()
    down = statusline(b"{}")
    assert (down.returncode, down.stdout.decode(), down.stderr) == (0, "Claude\n", b"")
