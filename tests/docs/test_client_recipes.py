"""docs/clients/: every recipe is read out of its page and run (or its paths resolved) against a served daemon.

The daemon is the real server on an ephemeral loopback port with fake providers (`claude` with data, `beta`
failing); the recipes' `127.0.0.1:8765` is pointed at it. "Down" is a loopback port nothing listens on.
"""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import time
import tomllib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from codexbard.errors import AuthRequired
from codexbard.host.clock import FixedClock
from codexbard.models import RateWindow, UsageSnapshot
from codexbard.render.waybar import CLASSES
from tests.api.test_serving import LiveServer
from tests.fakes import ScriptedStrategy, fake_spec
from tests.helpers import NOW

DOCS = Path(__file__).resolve().parents[2] / "docs" / "clients"
DEFAULT = "127.0.0.1:8765"
RESETS = NOW + timedelta(hours=2)  # 20:00 UTC; NOW is Wed 2026-11-25 18:00 UTC
CLAUDE = UsageSnapshot(
    primary=RateWindow(used_percent=82.0, window_minutes=300, resets_at=RESETS, label="Session"),
    secondary=RateWindow(used_percent=35.0, window_minutes=10080, resets_at=NOW + timedelta(hours=50),
                         label="Weekly"),
)


def recipe(page: str, name: str) -> str:
    """The fenced block right after `<!-- recipe: name -->` in a page."""
    text = (DOCS / page).read_text()
    match = re.search(rf"<!-- recipe: {re.escape(name)} -->\n```[\w-]*\n(.*?)\n```", text, re.S)
    assert match is not None, f"{page} has no recipe {name}"
    return match.group(1)


def sh(command: str, timeout: float = 15) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=timeout,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ["HOME"]})


def down_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    specs = [
        fake_spec("claude", ScriptedStrategy([CLAUDE])),
        fake_spec("beta", ScriptedStrategy([AuthRequired("Beta key rejected (HTTP 401)")])),
    ]
    with pytest.MonkeyPatch.context() as patch:  # the daemon's clock stands at NOW; its local zone is UTC
        patch.setattr("codexbard.runtime.Clock", lambda: FixedClock(NOW))
        patch.setenv("TZ", "UTC")
        live = LiveServer(tmp_path_factory.mktemp("docs"), "asyncio", specs=specs)
    with live:
        deadline = time.monotonic() + 10
        while any(a.last_attempt_at is None for a in live.daemon.state.accounts.values()):
            assert time.monotonic() < deadline, "the first polls did not finish"
            time.sleep(0.01)
        yield live


def at(live: LiveServer, command: str) -> str:
    return command.replace(DEFAULT, f"127.0.0.1:{live.port}")


def get(live: LiveServer, path: str) -> Any:
    out = sh(f"curl -sf --max-time 5 'http://127.0.0.1:{live.port}{path}'")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def check_waybar_line(line: str) -> dict[str, Any]:
    """What Waybar needs: one line of JSON, strings for text/alt/tooltip, a class, a 0–100 integer."""
    assert line.endswith("\n") and "\n" not in line[:-1]
    obj: dict[str, Any] = json.loads(line)
    assert all(isinstance(obj[k], str) for k in ("text", "alt", "tooltip", "class"))
    assert obj["class"] in CLASSES
    assert isinstance(obj["percentage"], int) and 0 <= obj["percentage"] <= 100
    return obj


def check_swiftbar(output: str) -> list[str]:
    """The BitBar line format: a header, `---`, and `title | key=value …` lines whose keys SwiftBar knows."""
    known = {"color", "size", "font", "bash", "terminal", "refresh", "href", "length"} | {
        f"param{i}" for i in range(1, 10)}
    lines = output.rstrip("\n").split("\n")
    assert lines[0] and lines[0] != "---" and "---" in lines
    for line in lines:
        if line == "---":
            continue
        title, sep, params = line.partition(" | ")
        assert title.strip() and not title.startswith("-") and "|" not in title
        if sep:
            for token in params.split(" "):
                key, eq, value = token.partition("=")
                assert eq and value and key in known, line
    return lines


# -- Waybar -----------------------------------------------------------------------------------------

def jsonc_module(block: str) -> dict[str, Any]:
    """A module fragment from a config.jsonc (comments dropped, wrapped into an object)."""
    body = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("//"))
    parsed: dict[str, Any] = json.loads("{" + body + "}")
    return next(iter(parsed.values()))


def test_waybar_polling_module_prints_a_line_up_and_down(served: LiveServer) -> None:
    module = jsonc_module(recipe("waybar.md", "waybar-config"))
    assert module["return-type"] == "json" and module["interval"] == 60 and "{text}" in module["format"]
    up = sh(at(served, module["exec"]))
    assert up.returncode == 0
    assert check_waybar_line(up.stdout) == {
        "text": "Claude 82%", "alt": "claude", "class": "warning", "percentage": 82,
        "tooltip": "Claude\n  Session: 82% used, resets 20:00\n  Weekly: 35% used, resets Fri 20:00\n\n"
                   "Beta\n  Error: Beta key rejected (HTTP 401)"}
    down = sh(module["exec"].replace(DEFAULT, f"127.0.0.1:{down_port()}"))
    assert down.returncode == 0  # a non-zero exit or empty output would hide the module
    assert check_waybar_line(down.stdout) == {"text": "AI ?", "alt": "down", "tooltip": "codexbard is not running",
                                              "class": "error", "percentage": 0}


def test_waybar_live_module_streams_lines(served: LiveServer) -> None:
    module = jsonc_module(recipe("waybar.md", "waybar-live"))
    assert "interval" not in module and module["restart-interval"] > 0
    proc = subprocess.Popen(["sh", "-c", at(served, module["exec"])], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert check_waybar_line(first)["text"] == "Claude 82%"
        assert proc.poll() is None  # it stays connected for the next change
    finally:
        proc.terminate()
        proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
    down = sh(module["exec"].replace(DEFAULT, f"127.0.0.1:{down_port()}"))
    assert down.returncode == 0 and check_waybar_line(down.stdout)["class"] == "error"


def test_waybar_css_styles_only_classes_the_daemon_emits() -> None:
    css = recipe("waybar.md", "waybar-css")
    used = set(re.findall(r"#custom-codexbard(?:-live)?\.(\w+)", css))
    assert used == {"warning", "critical", "stale", "error"} and used <= set(CLASSES)


def test_waybar_sample_is_a_valid_line() -> None:
    sample = re.search(r"```json\n(.*?)\n```", (DOCS / "waybar.md").read_text(), re.S)
    assert sample is not None
    check_waybar_line(sample.group(1) + "\n")


# -- SwiftBar ---------------------------------------------------------------------------------------

def test_swiftbar_plugin_up_and_down(served: LiveServer, tmp_path: Path) -> None:
    script = recipe("swiftbar.md", "swiftbar-plugin")
    assert script.startswith("#!/bin/sh\n") and "/usr/bin/curl" in script
    plugin = tmp_path / "codexbard.1m.sh"
    plugin.write_text(at(served, script))
    plugin.chmod(plugin.stat().st_mode | stat.S_IXUSR)
    up = subprocess.run([str(plugin)], capture_output=True, text=True, timeout=15)
    assert up.returncode == 0
    lines = check_swiftbar(up.stdout)
    assert lines[0] == "Claude 82% | color=#d9822b"
    assert lines[2:4] == ["Claude | size=14",
                          "Session ▰▰▰▰▰▰▰▰▱▱ 82% · resets in 2h 0m (20:00) | font=Menlo size=12"]
    assert "param5=http://127.0.0.1:8765/refresh" in lines[-2]  # the daemon names its own configured address
    plugin.write_text(script.replace(DEFAULT, f"127.0.0.1:{down_port()}"))
    down = subprocess.run([str(plugin)], capture_output=True, text=True, timeout=15)
    assert down.returncode == 0  # not SwiftBar's error icon
    assert check_swiftbar(down.stdout)[0] == "AI ? | color=#d13438"


def test_swiftbar_sample_is_valid() -> None:
    sample = re.search(r"```text\n(.*?)\n```", (DOCS / "swiftbar.md").read_text(), re.S)
    assert sample is not None
    check_swiftbar(sample.group(1) + "\n")


# -- dashboards ----------------------------------------------------------------------------------

class _SecretLoader(yaml.SafeLoader):
    """YAML with Home Assistant's `!secret` tag."""


_SecretLoader.add_constructor("!secret", lambda loader, node: f"<secret {loader.construct_scalar(node)}>")


def test_home_assistant_rest_sensors_render(served: LiveServer) -> None:
    config = yaml.load(recipe("home-assistant.md", "home-assistant"), Loader=_SecretLoader)
    resource = config["rest"][0]
    assert resource["resource"].endswith("/usage?format=flat")
    assert resource["headers"]["Authorization"] == "<secret codexbard_bearer>"
    flat = get(served, "/usage?format=flat")
    env = jinja2.Environment(autoescape=False)
    states = {}
    for sensor in resource["sensor"] + resource["binary_sensor"]:
        states[sensor["unique_id"]] = env.from_string(sensor["value_template"]).render(value_json=flat)
        if "json_attributes_path" in sensor:
            target: Any = flat
            for part in sensor["json_attributes_path"].removeprefix("$.").split("."):
                target = target[part]
            assert set(sensor["json_attributes"]) <= set(target)
    assert states["codexbard_claude_primary_used"] == "82.0"
    assert states["codexbard_claude_secondary_used"] == "35.0"
    reset = datetime.fromisoformat(states["codexbard_claude_primary_reset"])
    assert reset == RESETS and reset.tzinfo is not None  # a `timestamp` sensor needs the zone
    assert states["codexbard_claude_stale"].lower() in {"true", "false"}


def test_homepage_mappings_resolve(served: LiveServer) -> None:
    services = yaml.safe_load(recipe("homepage.md", "homepage"))
    widget = services[0]["AI plans"][0]["Claude"]["widget"]
    assert widget["type"] == "customapi" and widget["url"].endswith("/usage?format=flat")
    flat = get(served, "/usage?format=flat")
    values = {}
    for mapping in widget["mappings"]:
        target: Any = flat
        field: Any = mapping["field"]
        while isinstance(field, dict):
            assert len(field) == 1  # Homepage reads only the first key of each level
            key, field = next(iter(field.items()))
            target = target[key]
        values[mapping["label"]] = target[field]
    assert values["Session"] == 82.0 and 0 <= values["Session"] <= 100  # `percent` expects 0–100
    assert datetime.fromisoformat(values["Session resets"]) == RESETS  # `relativeDate` reads ISO strings
    assert values["Weekly"] == 35.0 and values["Stale"] is False


def _gjson(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def test_glance_template_paths_resolve(served: LiveServer) -> None:
    widget = yaml.safe_load(recipe("glance.md", "glance"))[0]
    assert widget["type"] == "custom-api" and widget["url"].endswith("/usage") and widget["cache"] == "1m"
    template = widget["template"]
    assert template.count("{{ range") + template.count("{{ if") == template.count("{{ end }}")
    payloads = get(served, "/usage")
    assert "{{ range .JSON.Array \"\" }}" in template and isinstance(payloads, list)
    calls = re.findall(r'\.(String|Float|Bool|Exists) "([^"]+)"', template)
    assert calls
    by_provider = {p["provider"]: p for p in payloads}
    for kind, path in calls:
        for payload in payloads:
            value = _gjson(payload, path)
            if value is None:
                continue
            expected = {"String": str, "Float": (int, float), "Bool": bool, "Exists": object}[kind]
            assert isinstance(value, expected), (kind, path, value)  # type: ignore[arg-type]
    assert _gjson(by_provider["claude"], "usage.primary.usedPercent") == 82.0
    assert datetime.fromisoformat(_gjson(by_provider["claude"], "usage.primary.resetsAt")) == RESETS  # rfc3339
    assert _gjson(by_provider["beta"], "usage.primary.usedPercent") is None
    assert _gjson(by_provider["beta"], "error.message") == "Beta key rejected (HTTP 401)"


# -- terminal ---------------------------------------------------------------------------------------

def tmux_command(block: str) -> str:
    line = next(line for line in block.splitlines() if line.startswith("set -g status-right"))
    return line[line.index("#(") + 2:line.rindex(")")]


def test_tmux_and_starship_print_the_header_or_a_fallback(served: LiveServer) -> None:
    starship = tomllib.loads(recipe("terminal.md", "starship"))["custom"]["codexbard"]
    assert starship["shell"] == ["sh"] and starship["when"] is True
    for command in (tmux_command(recipe("terminal.md", "tmux")), starship["command"]):
        up = sh(at(served, command))
        assert (up.returncode, up.stdout) == (0, "Claude 82%\n")
        down = sh(command.replace(DEFAULT, f"127.0.0.1:{down_port()}"))
        assert (down.returncode, down.stdout) == (0, "AI ?\n")
