"""The installed `codexbar` shim run as a subprocess, the way clients written for CodexBar run it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from codexbard import __version__
from codexbard.compat.install import install
from codexbard.service.install import detect_install
from tests.e2e.test_daemon import Daemon, free_port
from tests.e2e.upstream import FakeUpstream

pytestmark = pytest.mark.e2e

KEY = "zai-compat-secret-key-4242"
QUOTA_PATH = "/zai/api/monitor/usage/quota/limit"
# No reset times: the payload then holds nothing that depends on the clock but `updatedAt` and `fetchedAt`.
QUOTA = {"code": 200, "msg": "ok", "success": True, "data": {"planName": "Pro", "limits": [
    {"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": 40},
    {"type": "TOKENS_LIMIT", "unit": 6, "number": 1, "percentage": 12},
]}}
NO_DATA_ANSWER = {"code": 200, "success": True, "data": {"x_time": [], "modelDataList": []}}


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.set_json(QUOTA_PATH, QUOTA)
        fake.set_json("/zai/api/monitor/usage/model-usage", NO_DATA_ANSWER)
        yield fake


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "user"
    path.mkdir()
    return path


@pytest.fixture
def env(home: Path, upstream: FakeUpstream) -> dict[str, str]:
    """A user with z.ai configured (key in env, upstream faked) and ~/.local/bin on PATH."""
    return {
        "HOME": str(home),
        "PATH": os.pathsep.join([str(home / ".local" / "bin"), "/usr/bin", "/bin"]),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "TZ": "UTC",
        "Z_AI_API_KEY": KEY,
        "CODEXBARD_UPSTREAM_OVERRIDES": json.dumps({"https://api.z.ai": f"{upstream.base}/zai"}),
    }


@pytest.fixture
def shim(env: dict[str, str], home: Path) -> Path:
    """The `codexbar` that `codexbard compat install` wrote."""
    install(env, detect_install().command, home / ".local" / "bin", force=False)
    return home / ".local" / "bin" / "codexbar"


def codexbar(shim: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(shim), *argv], env=env, capture_output=True, text=True, timeout=60)


def test_capabilities_in_the_shape_the_raycast_extension_reads(shim: Path, env: dict[str, str]) -> None:
    result = codexbar(shim, env, "capabilities", "--format", "json", "--json-only")
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == {
        "implementation": "codexbard",
        "version": __version__,
        "commands": ["usage", "cost", "serve", "capabilities", "config providers"],
        "capabilities": {"fetchProfiles": [], "interactionModes": [], "presentationSchemaVersions": [],
                         "serve": {"fetchProfile": False, "forceRefresh": False}},
    }
    text = codexbar(shim, env, "capabilities")
    assert text.stdout.splitlines()[1] == "commands: usage, cost, serve, capabilities, config providers"


def test_config_providers_lists_the_registry_with_what_is_enabled(shim: Path, env: dict[str, str]) -> None:
    result = codexbar(shim, env, "config", "providers", "--format", "json", "--json-only")
    assert (result.returncode, result.stderr) == (0, "")
    from codexbard.providers.registry import default_registry

    assert json.loads(result.stdout) == [  # every registered provider; only z.ai has a key in this test
        {"provider": spec.id, "displayName": spec.display_name, "enabled": spec.id == "zai"}
        for spec in default_registry()
    ]
    assert {"provider": "zai", "displayName": "z.ai", "enabled": True} in json.loads(result.stdout)
    assert KEY not in result.stdout


def test_cost_is_codexbards_own_cost_command(shim: Path, env: dict[str, str]) -> None:
    result = codexbar(shim, env, "cost", "--format", "json", "--json-only")
    assert (result.returncode, result.stderr) == (0, "")
    reports = json.loads(result.stdout)
    assert [r["provider"] for r in reports] == ["codex", "claude"]  # no logs in the test HOME: empty reports
    assert all(r["daily"] == [] and r["sessionTokens"] == 0 and r["source"] == "local" for r in reports)
    same = codexbar(shim, env, "cost", "--json-only")
    assert [r["provider"] for r in json.loads(same.stdout)] == ["codex", "claude"]


@pytest.mark.parametrize(("argv", "line"), [
    (["frobnicate"], "codexbar: unknown command 'frobnicate' (codexbard's codexbar answers: usage, cost, serve, "
                     "capabilities, config)\n"),
    (["config", "enable", "--provider", "zai"],
     "codexbar: unknown command 'config enable' (codexbard's codexbar answers: config providers; change settings "
     "with `codexbard config`)\n"),
    (["capabilities", "--format", "yaml"],
     "codexbar: capabilities: argument --format: invalid choice: 'yaml' (choose from 'text', 'json')\n"),
    ([], None),
])
def test_unknown_subcommands_and_bad_arguments_exit_2(shim: Path, env: dict[str, str], argv: list[str],
                                                      line: str | None) -> None:
    result = codexbar(shim, env, *argv)
    assert result.returncode == 2
    if line is not None:
        assert (result.stdout, result.stderr) == ("", line)
    else:
        assert result.stdout.startswith("usage: codexbar {usage,cost,serve,capabilities,config} ...")


def expected_zai(at: str) -> dict[str, Any]:
    """What `codexbar usage --provider zai` prints for QUOTA, fetched at `at`."""
    return {
        "provider": "zai", "displayName": "z.ai", "account": None, "source": "api", "version": None,
        "status": None,
        "usage": {
            "primary": {"usedPercent": 40.0, "windowMinutes": 300, "resetsAt": None,
                        "resetDescription": "5-hour", "label": "5-hour"},
            "secondary": {"usedPercent": 12.0, "windowMinutes": 10080, "resetsAt": None,
                          "resetDescription": "1 week window", "label": "Weekly"},
            "tertiary": None, "extraRateWindows": [], "providerCost": None,
            "details": [{"title": "Quota details", "rows": [
                {"label": "Token quota", "value": "12% used", "secondaryValue": None},
                {"label": "Session token quota", "value": "40% used", "secondaryValue": None},
            ], "chart": None}],
            "openRouterUsage": None,
            "updatedAt": at,
            "identity": {"providerID": "zai", "accountEmail": None, "accountOrganization": None,
                         "loginMethod": "Pro"},
            "accountEmail": None, "accountOrganization": None, "loginMethod": "Pro",
        },
        "credits": None, "cost": None,
        "pace": {"primary": None, "secondary": None, "tertiary": None},
        "forecast": None, "error": None, "lastError": None, "stale": False,
        "fetchedAt": at, "nextRefreshAt": None,
    }


def test_usage_the_extensions_one_shot_fallback(shim: Path, env: dict[str, str], upstream: FakeUpstream) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    result = codexbar(shim, env, "usage", "--format", "json", "--json-only", "--json-output", "--web-timeout", "5",
                      "--provider", "zai", "--source", "auto")
    after = datetime.now(UTC)
    assert (result.returncode, result.stderr) == (0, "")
    payloads = json.loads(result.stdout)
    at = payloads[0]["fetchedAt"]
    assert before <= datetime.fromisoformat(at) <= after
    assert payloads == [expected_zai(at)]
    assert [path.split("?")[0] for _, path, _ in upstream.requests].count(QUOTA_PATH) == 1
    assert KEY not in result.stdout


def test_usage_with_an_unknown_provider_exits_2(shim: Path, env: dict[str, str]) -> None:
    result = codexbar(shim, env, "usage", "--format", "json", "--json-only", "--provider", "nope")
    assert result.returncode == 2
    assert result.stderr.startswith("codexbard: unknown provider 'nope' (known: codex, claude, zai")


class Shim:
    """A `codexbar serve` process, its stderr read line by line."""

    def __init__(self, shim: Path, env: dict[str, str], *argv: str) -> None:
        self.proc = subprocess.Popen([str(shim), "serve", *argv], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)

    def line(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.readline()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@pytest.fixture
def daemon(home: Path, env: dict[str, str]) -> Iterator[Daemon]:
    """A real `codexbard serve` for the same user, on a free port."""
    port = free_port()
    running = Daemon(home, port, {k: v for k, v in env.items() if k not in ("HOME", "PATH")})
    running.env["CODEXBARD_CONFIG"] = str(running.config)
    env["CODEXBARD_CONFIG"] = str(running.config)
    try:
        running.start()
        running.wait_ready()
        yield running
    finally:
        running.stop()


def test_serve_reuses_a_running_daemon_until_sigterm(shim: Path, env: dict[str, str], daemon: Daemon) -> None:
    served = Shim(shim, env, "--port", str(daemon.port), "--refresh-interval", "600", "--request-timeout", "30")
    try:
        assert served.line() == (f"codexbar: reusing the codexbard daemon at http://127.0.0.1:{daemon.port}; not "
                                 "starting a second poller\n")
        time.sleep(1.5)
        assert served.proc.poll() is None  # stays in the foreground while the daemon lives
        assert daemon.get("/health").json()["status"] == "ok"
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(10) == 0
        assert daemon.proc is not None and daemon.proc.poll() is None  # the daemon is not ours to stop
    finally:
        served.stop()


def test_serve_exits_when_the_reused_daemon_goes_away(shim: Path, env: dict[str, str], daemon: Daemon) -> None:
    served = Shim(shim, env, "--port", str(daemon.port))
    try:
        assert served.line().startswith("codexbar: reusing the codexbard daemon")
        daemon.stop()
        assert served.proc.wait(20) == 1
        assert served.line() == (f"codexbar: the codexbard daemon at http://127.0.0.1:{daemon.port} stopped "
                                 "answering; exiting\n")
    finally:
        served.stop()


def test_serve_starts_codexbard_when_nothing_answers(shim: Path, env: dict[str, str], home: Path) -> None:
    port = free_port()
    (home / "config.toml").write_text("")
    env["CODEXBARD_CONFIG"] = str(home / "config.toml")
    served = Shim(shim, env, "--port", str(port), "--refresh-interval", "600", "--request-timeout", "30")
    try:
        deadline = time.monotonic() + 20
        health: dict[str, Any] = {}
        while time.monotonic() < deadline and not health:
            assert served.proc.poll() is None
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
            except httpx.TransportError:
                time.sleep(0.1)
        assert health["status"] == "ok"
        assert health["providersEnabled"] == 1
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(15) == 0
    finally:
        served.stop()


def test_serve_refuses_a_port_held_by_something_else(shim: Path, env: dict[str, str],
                                                     upstream: FakeUpstream) -> None:
    port = int(upstream.base.rsplit(":", 1)[1])
    result = codexbar(shim, env, "serve", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr == (f"codexbar: something that is not codexbard answers on 127.0.0.1:{port}; choose "
                             "another --port\n")
