"""`codexbard service install|uninstall|status` against fake systemctl, launchctl and loginctl on PATH."""

from __future__ import annotations

import os
import plistlib
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from codexbard.service.install import detect_install
from codexbard.service.render import owner_of
from tests.cli import Result, base_env, run

UID = os.getuid()
FAKE = """#!/bin/sh
# Record the argv (one line, fields separated by |), then answer like the real tool would.
# The paths are written in: children get a scrubbed environment (codexbard.host.process).
FAKE_LOG='{log}'
FAKE_DIR='{dir}'
name=$(basename "$0")
{ printf '%s' "$name"; for arg in "$@"; do printf '|%s' "$arg"; done; printf '\\n'; } >> "$FAKE_LOG"
case "$name $1" in
  "systemctl --user") [ "$2" = show ] && cat "$FAKE_DIR/show" 2>/dev/null;;
  "loginctl show-user") cat "$FAKE_DIR/linger" 2>/dev/null || echo no;;
  "launchctl print") [ -f "$FAKE_DIR/print" ] || exit 113; cat "$FAKE_DIR/print";;
esac
exit 0
"""


class Fakes:
    """The fake programs' directory, what they print, and what they were asked."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "fakebin"
        self.dir.mkdir()
        self.log = root / "argv.log"
        for name in ("systemctl", "launchctl", "loginctl"):
            path = self.dir / name
            path.write_text(FAKE.replace("{log}", str(self.log)).replace("{dir}", str(self.dir)))
            path.chmod(0o755)

    def env(self, home: Path) -> dict[str, str]:
        return base_env(home, PATH=f"{self.dir}:{os.environ['PATH']}")

    def calls(self) -> list[str]:
        """Every recorded argv since the last call, as `prog|arg|arg`."""
        text = self.log.read_text() if self.log.exists() else ""
        self.log.unlink(missing_ok=True)
        return text.splitlines()

    def answer(self, name: str, text: str) -> None:
        (self.dir / name).write_text(text)


@pytest.fixture
def fakes(tmp_path: Path) -> Fakes:
    return Fakes(tmp_path)


@pytest.fixture
def home(clean_env: Path) -> Path:
    return clean_env


def service(capsys: pytest.CaptureFixture[str], env: dict[str, str], *argv: str) -> Result:
    return run(capsys, env, "service", *argv)


def entry_point() -> str:
    """The console script of the install running these tests (the worktree's .venv)."""
    return str(Path(sys.executable).parent / "codexbard")


def unit_path(home: Path) -> Path:
    return home / ".config" / "systemd" / "user" / "codexbard.service"


def plist_path(home: Path) -> Path:
    return home / "Library" / "LaunchAgents" / "dev.codexbard.agent.plist"


LINGER_ADVICE = (
    "the service runs while you are logged in. To start it at boot and keep it running after you log out (a "
    "headless machine, a server used over SSH), enable lingering once: sudo loginctl enable-linger ")


# ------------------------------------------------------------------------------------------------ systemd


def test_the_running_install_is_what_the_tests_run() -> None:
    assert detect_install().command == (entry_point(),)


def test_install_writes_the_unit_and_enables_and_starts_it(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    result = service(capsys, fakes.env(home), "install", "--platform", "linux")
    assert result.code == 0, result.err
    assert fakes.calls() == [
        "systemctl|--user|daemon-reload",
        "systemctl|--user|enable|codexbard.service",
        "systemctl|--user|start|codexbard.service",
        f"loginctl|show-user|{UID}|--property=Linger|--value",
    ]
    text = unit_path(home).read_text()
    assert f"\nExecStart={entry_point()} serve\n" in text
    assert "\nProtectSystem=full\n" in text and "ReadWritePaths" not in text
    assert owner_of(text.encode()) == "ours"
    assert (home / ".local" / "share" / "codexbard").is_dir()
    lines = result.out.splitlines()
    assert lines[:5] == [
        f"created {home}/.config/codexbard/",
        f"created {home}/.local/share/codexbard/",
        f"created {home}/.config/systemd/user/",
        f"wrote {unit_path(home)}",
        "$ systemctl --user daemon-reload",
    ]
    assert lines[-1].startswith(LINGER_ADVICE)
    assert f"{home}/.config/codexbard/service.env (chmod 600)" in result.out


def test_reinstall_is_idempotent_and_a_changed_unit_restarts(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    env = fakes.env(home)
    assert service(capsys, env, "install", "--platform", "linux").code == 0
    first = unit_path(home).read_bytes()
    fakes.calls()
    fakes.answer("linger", "yes\n")
    again = service(capsys, env, "install", "--platform", "linux")
    assert again.code == 0
    assert fakes.calls() == [
        "systemctl|--user|enable|codexbard.service",
        "systemctl|--user|start|codexbard.service",
        f"loginctl|show-user|{UID}|--property=Linger|--value",
    ]
    assert unit_path(home).read_bytes() == first
    assert again.out.splitlines()[0] == f"{unit_path(home)} is up to date"
    assert again.out.splitlines()[-1] == (
        "lingering is on: the service starts at boot and keeps running after you log out.")
    # Another config file changes ExecStart: the unit is rewritten and the daemon restarted.
    config = home / "other.toml"
    config.write_text("port = 9000\n")
    changed = service(capsys, env, "install", "--platform", "linux", "--config", str(config))
    assert changed.code == 0
    assert fakes.calls()[:3] == [
        "systemctl|--user|daemon-reload",
        "systemctl|--user|enable|codexbard.service",
        "systemctl|--user|restart|codexbard.service",
    ]
    assert f"\nExecStart={entry_point()} serve --config {config}\n" in unit_path(home).read_text()


def test_install_refuses_a_unit_it_did_not_write_unless_forced(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    env = fakes.env(home)
    unit_path(home).parent.mkdir(parents=True)
    unit_path(home).write_text("[Service]\nExecStart=/usr/bin/mine\n")
    refused = service(capsys, env, "install", "--platform", "linux")
    assert refused.code == 1
    assert refused.err == (
        f"codexbard: {unit_path(home)} was not written by `codexbard service install`; not overwriting it without "
        "--force (for lasting changes use `systemctl --user edit codexbard`)\n")
    assert fakes.calls() == []
    assert unit_path(home).read_text() == "[Service]\nExecStart=/usr/bin/mine\n"
    forced = service(capsys, env, "install", "--platform", "linux", "--force")
    assert forced.code == 0
    assert fakes.calls()[:3] == [
        "systemctl|--user|daemon-reload",
        "systemctl|--user|enable|codexbard.service",
        "systemctl|--user|restart|codexbard.service",
    ]
    assert owner_of(unit_path(home).read_bytes()) == "ours"


def test_install_refuses_a_unit_edited_since_it_wrote_it(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    env = fakes.env(home)
    assert service(capsys, env, "install", "--platform", "linux").code == 0
    unit_path(home).write_text(unit_path(home).read_text().replace("RestartSec=5s", "RestartSec=30s"))
    fakes.calls()
    result = service(capsys, env, "install", "--platform", "linux")
    assert result.code == 1
    assert "was edited since `codexbard service install` wrote it; not overwriting it without --force" in result.err
    assert fakes.calls() == []


def test_uninstall_removes_only_what_install_wrote(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    env = fakes.env(home)
    assert service(capsys, env, "install", "--platform", "linux").code == 0
    fakes.calls()
    result = service(capsys, env, "uninstall", "--platform", "linux")
    assert result.code == 0
    assert fakes.calls() == [
        "systemctl|--user|disable|--now|codexbard.service",
        "systemctl|--user|daemon-reload",
    ]
    assert result.out == (
        "$ systemctl --user disable --now codexbard.service\n"
        f"removed {unit_path(home)}\n"
        "$ systemctl --user daemon-reload\n")
    assert not unit_path(home).exists()
    assert (home / ".local" / "share" / "codexbard").is_dir()  # data is never removed
    again = service(capsys, env, "uninstall", "--platform", "linux")
    assert (again.code, again.out) == (0, f"nothing to uninstall: {unit_path(home)} does not exist\n")
    assert fakes.calls() == []
    unit_path(home).write_text("[Service]\nExecStart=/usr/bin/mine\n")
    foreign = service(capsys, env, "uninstall", "--platform", "linux")
    assert foreign.code == 1 and "not removing it without --force" in foreign.err
    assert unit_path(home).exists() and fakes.calls() == []


def test_dry_run_prints_the_unit_and_the_commands_and_changes_nothing(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    env = fakes.env(home)
    result = service(capsys, env, "install", "--platform", "linux", "--dry-run")
    assert result.code == 0
    assert fakes.calls() == []
    assert not (home / ".config").exists() and not (home / ".local").exists()
    lines = result.out.splitlines()
    assert lines[:4] == [
        f"would create {home}/.config/codexbard/",
        f"would create {home}/.local/share/codexbard/",
        f"would create {home}/.config/systemd/user/",
        f"would write {unit_path(home)}:",
    ]
    assert lines[4].startswith("# Written by `codexbard service install`; codexbard-service-install sha256=")
    assert f"ExecStart={entry_point()} serve" in lines
    end = lines.index("WantedBy=default.target")
    assert lines[end + 1:end + 4] == [
        "would run: systemctl --user daemon-reload",
        "would run: systemctl --user enable codexbard.service",
        "would run: systemctl --user start codexbard.service",
    ]
    assert lines[-1].startswith(LINGER_ADVICE)
    assert service(capsys, env, "install", "--platform", "linux").code == 0
    fakes.calls()
    dry = service(capsys, env, "uninstall", "--platform", "linux", "--dry-run")
    assert dry.out == (
        "would run: systemctl --user disable --now codexbard.service\n"
        f"would remove {unit_path(home)}\n"
        "would run: systemctl --user daemon-reload\n")
    assert unit_path(home).exists() and fakes.calls() == []


def test_a_failing_systemctl_stops_with_its_message(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    (fakes.dir / "systemctl").write_text(
        '#!/bin/sh\necho "Failed to connect to bus: No medium found" >&2\nexit 1\n')
    result = service(capsys, fakes.env(home), "install", "--platform", "linux")
    assert result.code == 1
    assert result.err == ("codexbard: `systemctl --user daemon-reload` failed (exit 1): "
                          "Failed to connect to bus: No medium found\n")


def test_no_systemctl_on_path_is_one_clear_line(capsys: pytest.CaptureFixture[str], home: Path) -> None:
    env = base_env(home, PATH=str(home / "empty"))
    result = service(capsys, env, "install", "--platform", "linux")
    assert result.code == 1
    assert result.err == ("codexbard: `systemctl` is not installed or not on PATH; `codexbard service` needs a "
                          "systemd user manager on Linux (elsewhere run `codexbard serve` under your own supervisor)\n")


def test_an_invalid_config_is_a_usage_error(capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    config = home / ".config" / "codexbard" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("port = 0\n")
    result = service(capsys, fakes.env(home), "install", "--platform", "linux")
    assert result.code == 2 and result.err.startswith("codexbard: config error: ")
    assert fakes.calls() == []
    gone = service(capsys, fakes.env(home), "uninstall", "--platform", "linux")
    assert (gone.code, gone.out) == (0, f"nothing to uninstall: {unit_path(home)} does not exist\n")


# ------------------------------------------------------------------------------------------------ launchd


def test_launchd_install_reinstall_and_uninstall(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    env = fakes.env(home)
    target = f"gui/{UID}/dev.codexbard.agent"
    first = service(capsys, env, "install", "--platform", "macos")
    assert first.code == 0, first.err
    assert fakes.calls() == [
        f"launchctl|enable|{target}",
        f"launchctl|bootstrap|gui/{UID}|{plist_path(home)}",
    ]
    agent = plistlib.loads(plist_path(home).read_bytes())
    log = f"{home}/Library/Logs/codexbard/codexbard.log"
    assert agent["ProgramArguments"] == [entry_point(), "serve"]
    assert (agent["RunAtLoad"], agent["KeepAlive"]) == (True, {"SuccessfulExit": False})
    assert (agent["StandardOutPath"], agent["StandardErrorPath"]) == (log, log)
    assert (home / "Library" / "Logs" / "codexbard").is_dir()
    # Unchanged and loaded: only kicked (started if it is not running).
    fakes.answer("print", "gui/0/dev.codexbard.agent = {\n\tstate = running\n\tpid = 4242\n}\n")
    assert service(capsys, env, "install", "--platform", "macos").code == 0
    assert fakes.calls() == [f"launchctl|print|{target}", f"launchctl|kickstart|{target}"]
    # Changed and loaded: unloaded, then loaded again.
    config = home / "other.toml"
    config.write_text("port = 9000\n")
    assert service(capsys, env, "install", "--platform", "macos", "--config", str(config)).code == 0
    assert fakes.calls() == [
        f"launchctl|print|{target}",
        f"launchctl|bootout|{target}",
        f"launchctl|enable|{target}",
        f"launchctl|bootstrap|gui/{UID}|{plist_path(home)}",
    ]
    assert plistlib.loads(plist_path(home).read_bytes())["ProgramArguments"] == [
        entry_point(), "serve", "--config", str(config)]
    gone = service(capsys, env, "uninstall", "--platform", "macos")
    assert gone.code == 0
    assert fakes.calls() == [f"launchctl|bootout|{target}"]
    assert not plist_path(home).exists()
    assert gone.out.splitlines()[-1] == f"logs kept in {home}/Library/Logs/codexbard"


def test_launchd_dry_run_runs_nothing(capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    result = service(capsys, fakes.env(home), "install", "--platform", "macos", "--dry-run")
    assert result.code == 0 and fakes.calls() == []
    assert not plist_path(home).exists()
    lines = result.out.splitlines()
    assert lines[:3] == [
        f"would create {home}/Library/Logs/codexbard/",
        f"would create {home}/Library/LaunchAgents/",
        f"would write {plist_path(home)}:",
    ]
    assert f"would run: launchctl enable gui/{UID}/dev.codexbard.agent" in lines
    assert f"would run: launchctl bootstrap gui/{UID} {plist_path(home)}" in lines


def test_launchd_refuses_a_foreign_plist(capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path) -> None:
    plist_path(home).parent.mkdir(parents=True)
    plist_path(home).write_bytes(plistlib.dumps({"Label": "dev.codexbard.agent"}))
    for action in ("install", "uninstall"):
        result = service(capsys, fakes.env(home), action, "--platform", "macos")
        assert result.code == 1 and "was not written by `codexbard service install`" in result.err
    assert fakes.calls() == []


# ------------------------------------------------------------------------------------------------ status


class _Health(BaseHTTPRequestHandler):
    body = b'{"status":"ok","providersEnabled":2,"uptimeSeconds":75.5}'

    def do_GET(self) -> None:
        code = 200 if self.path == "/health" else 404
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def daemon_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def write_port(home: Path, port: int) -> None:
    config = home / ".config" / "codexbard" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"port = {port}\n")


SHOW = ("LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\nMainPID=4242\n"
        "ExecMainStatus=0\nNRestarts=0\n")


def test_status_shows_the_unit_state_and_health(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path, daemon_port: int) -> None:
    env = fakes.env(home)
    write_port(home, daemon_port)
    assert service(capsys, env, "install", "--platform", "linux").code == 0
    fakes.calls()
    fakes.answer("show", SHOW)
    result = service(capsys, env, "status", "--platform", "linux")
    assert result.code == 0
    assert fakes.calls() == [
        "systemctl|--user|show|codexbard.service|"
        "--property=LoadState,ActiveState,SubState,UnitFileState,MainPID,ExecMainStatus,NRestarts"]
    assert result.out == (
        f"file: {unit_path(home)} (written by codexbard service install)\n"
        "service: active (running), enabled, pid 4242\n"
        f"health: ok (2 providers enabled, up 75 s) at http://127.0.0.1:{daemon_port}/health\n")


def test_status_of_a_failed_unit_names_the_sandbox_fix(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path, unused_port: int) -> None:
    write_port(home, unused_port)
    fakes.answer("show", "LoadState=loaded\nActiveState=failed\nSubState=failed\nUnitFileState=enabled\n"
                         "MainPID=0\nExecMainStatus=226\nNRestarts=5\n")
    result = service(capsys, fakes.env(home), "status", "--platform", "linux")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == f"file: {unit_path(home)} (not installed)"
    assert lines[1] == "service: failed (failed), enabled, 5 restarts, last exit status 226"
    assert lines[2].startswith("hint: status 226/NAMESPACE: this machine does not allow the unit's filesystem "
                               "sandbox. Run `systemctl --user edit codexbard`")
    assert lines[3].startswith(f"health: http://127.0.0.1:{unused_port}/health is not answering (")


def test_launchd_status_and_dry_run(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path, daemon_port: int) -> None:
    env = fakes.env(home)
    write_port(home, daemon_port)
    fakes.answer("print", "gui/0/dev.codexbard.agent = {\n\tstate = running\n\tpid = 77\n"
                          "\tlast exit code = (never exited)\n}\n")
    result = service(capsys, env, "status", "--platform", "macos")
    assert result.code == 0
    assert result.out.splitlines()[1:] == [
        "service: running, pid 77",
        f"health: ok (2 providers enabled, up 75 s) at http://127.0.0.1:{daemon_port}/health",
    ]
    fakes.calls()
    dry = service(capsys, env, "status", "--platform", "macos", "--dry-run")
    assert dry.out.splitlines()[1:] == [
        f"would run: launchctl print gui/{UID}/dev.codexbard.agent",
        f"would fetch: http://127.0.0.1:{daemon_port}/health",
    ]
    assert fakes.calls() == []


def test_status_of_a_daemon_answering_an_error(
        capsys: pytest.CaptureFixture[str], fakes: Fakes, home: Path, daemon_port: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    write_port(home, daemon_port)
    monkeypatch.setattr(_Health, "body", b"<html>proxy</html>")
    fakes.answer("show", SHOW)
    result = service(capsys, fakes.env(home), "status", "--platform", "linux")
    assert result.code == 1
    assert result.out.splitlines()[-1] == (
        f"health: http://127.0.0.1:{daemon_port}/health answered HTTP 200 with a body that is not JSON")
