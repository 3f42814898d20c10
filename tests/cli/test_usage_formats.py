"""`codexbard usage --format waybar|swiftbar|text`: the one-shot command prints what the daemon serves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tzdata

from codexbard.render import localtime
from tests.cli import config_file, run
from tests.cli.test_usage import KIMI_KEY, env, fixed_clock, no_secret, upstream
from tests.e2e.upstream import FakeUpstream

__all__ = ["env", "fixed_clock", "upstream"]


def test_waybar_line(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "waybar")
    assert result.code == 0 and result.err == ""
    assert result.out.endswith("\n") and result.out.count("\n") == 1
    assert json.loads(result.out) == {
        "text": "z.ai 40%", "alt": "zai", "class": "ok", "percentage": 40,
        "tooltip": "z.ai\n  5-hour: 40% used, resets 20:00\n  Weekly: 12% used, resets Mon 00:00"}
    no_secret(result)


def test_waybar_thresholds_come_from_display(env: dict[str, str], clean_env: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = config_file(clean_env)
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[display]\nwarning_percent = 20\ncritical_percent = 40\n")
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "waybar")
    assert json.loads(result.out)["class"] == "critical"


def test_waybar_failure_is_class_error_and_exit_1(env: dict[str, str], upstream: FakeUpstream,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    upstream.set_json("/zai/api/monitor/usage/quota/limit", {"error": "no"}, status=401)
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "waybar")
    assert result.code == 1
    line = json.loads(result.out)
    assert (line["text"], line["class"], line["percentage"]) == ("AI –", "error", 0)
    assert line["tooltip"].startswith("z.ai\n  Error: ")
    no_secret(result)


def test_swiftbar_menu_refreshes_by_rerunning_the_plugin(env: dict[str, str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, env, "usage", "--provider", "zai", "--format", "swiftbar")
    assert result.code == 0
    assert result.out == (
        "z.ai 40%\n---\nz.ai | size=14\n"
        "5-hour ▰▰▰▰▱▱▱▱▱▱ 40% · resets in 2h 0m (20:00) | font=Menlo size=12\n"
        "20% in reserve │ Expected 60% used │ Lasts until reset | size=11\n"
        "Weekly ▰▱▱▱▱▱▱▱▱▱ 12% · resets in 4d 6h (Mon 00:00) | font=Menlo size=12\n"
        "1 week window | size=11\n"
        "27% in reserve │ Expected 39% used │ Lasts until reset | size=11\n"
        "---\nRefresh | refresh=true\n")


def test_text_in_the_tz_zone(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, {**env, "TZ": "Europe/Berlin"}, "usage", "--provider", "zai")
    assert result.out == (
        "z.ai (api)\n"
        "  5-hour: 60% left (40% used), resets 2026-11-25 21:00 CET (in 2h 0m)\n"
        "  Weekly: 88% left (12% used), resets 2026-11-30 01:00 CET (in 4d 6h), 1 week window\n"
        "  Pro\n")


def test_text_in_the_system_zone_without_tz(env: dict[str, str], capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    zone_file = tmp_path / "localtime"
    zone_file.write_bytes((Path(tzdata.__file__).parent / "zoneinfo" / "Asia" / "Tokyo").read_bytes())
    monkeypatch.setattr(localtime.local_zone, "__kwdefaults__", {"localtime": zone_file})  # as /etc/localtime
    plain = {k: v for k, v in env.items() if k != "TZ"}
    result = run(capsys, plain, "usage", "--provider", "zai")
    assert result.out.splitlines()[1] == "  5-hour: 60% left (40% used), resets 2026-11-26 05:00 JST (in 2h 0m)"


def test_kimi_credits_are_not_repeated(env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, {**env, "KIMI_K2_API_KEY": KIMI_KEY}, "usage", "--provider", "kimik2")
    assert result.code == 0, result.err
    assert result.out.count("Credits:") == 1
    no_secret(result)
