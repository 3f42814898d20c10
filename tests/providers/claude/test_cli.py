"""The Claude CLI strategy with a fake `claude` in a real PTY: the rendered panel, a login prompt, nothing;
the exact argv, keys and environment it sends (never a prompt that could spend quota)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codexbard.errors import AuthRequired, CliMissing, NotConfigured, Timeout, Unavailable
from codexbard.models import Identity
from codexbard.providers.claude import cli
from codexbard.providers.claude.cli import ClaudeCliStrategy, Timing
from codexbard.providers.claude.paths import project_folder_name
from tests.helpers import make_context
from tests.providers import kit
from tests.providers.claude import fakes

FAST = Timing(startup=0.3, read=0.03, enter=0.4, after_stop=0.3, status_idle=0.4, timeout_auto=2.0,
              timeout_explicit=2.0, recapture_min=2.0, status_max=2.0)


def ctx_for(home: Path, program: Path, **kwargs: object):  # type: ignore[no-untyped-def]
    env = {"CLAUDE_CLI_PATH": str(program), "ANTHROPIC_API_KEY": "sk-ant-api-SHOULD-NOT-PASS",
           "PATH": "/usr/bin:/bin", **kwargs.pop("env", {})}  # type: ignore[dict-item]
    return make_context("claude", kit.FakeUpstream(), home=home, env=env, **kwargs)  # type: ignore[arg-type]


async def run(strategy: ClaudeCliStrategy, ctx):  # type: ignore[no-untyped-def]
    availability = await strategy.available(ctx)
    assert availability.ok, availability.reason
    return await strategy.fetch(ctx)


async def test_rendered_panel_with_trust_prompt_ansi_and_cursor_moves(clean_env: Path, tmp_path: Path) -> None:
    program, log = fakes.fake_claude(tmp_path / "bin", "panel")
    snapshot = await run(ClaudeCliStrategy(FAST), ctx_for(clean_env, program))
    assert snapshot.primary is not None and snapshot.primary.used_percent == 23.0
    assert snapshot.primary.reset_description == "Resets 2pm (America/Chicago)"
    assert snapshot.secondary is not None and snapshot.secondary.used_percent == 41.0
    assert snapshot.tertiary is not None and snapshot.tertiary.used_percent == 9.0
    assert [(w.id, w.title, w.window.used_percent) for w in snapshot.extra_rate_windows] == [
        ("claude-weekly-scoped-fable", "Fable only", 17.0)]
    assert snapshot.identity == Identity(account_email="jordan.lee@example.net",
                                         account_organization="Jordan's Workspace", login_method="Max")
    # Exactly what was typed: /usage, the folder-trust answer, /status, /exit (plus bare Enters).
    # The trust prompt swallowed the first /usage, so the panel-less capture is taken once more.
    assert fakes.typed_lines(log) == ["/usage", "y", "/usage", "/status", "/exit"]
    entries = fakes.read_log(log)
    argvs = [value for kind, value in entries if kind == "argv"]
    assert argvs[0] == ["auth", "status", "--json"]
    assert argvs[1][:4] == ["--allowed-tools", "", "--strict-mcp-config", "--session-id"] and len(argvs[1]) == 5
    env = [value for kind, value in entries if kind == "env"][1]
    assert not any(name.startswith(("ANTHROPIC", "CODEXBAR")) for name in env)
    assert (env["DISABLE_AUTOUPDATER"], env["TERM"]) == ("1", "xterm-256color")
    probe = clean_env / ".local" / "state" / "codexbard" / "claude-probe"
    assert env["PWD"] == str(probe)
    assert (probe / ".claude" / "settings.local.json").read_text().count('"disableDeepLinkRegistration": "disable"')
    assert argvs[1][4] == (probe / "session-id").read_text().strip()


async def test_session_id_is_reused_and_probe_sessions_are_deleted(clean_env: Path, tmp_path: Path) -> None:
    program, log = fakes.fake_claude(tmp_path / "bin", "panel")
    probe = clean_env / ".local" / "state" / "codexbard" / "claude-probe"
    project = clean_env / ".claude" / "projects" / project_folder_name(str(probe))
    project.mkdir(parents=True)
    (project / "old.jsonl").write_text("{}\n")
    (project / "keep.txt").write_text("x")
    await run(ClaudeCliStrategy(FAST), ctx_for(clean_env, program))
    await run(ClaudeCliStrategy(FAST), ctx_for(clean_env, program))
    ids = [value[4] for kind, value in fakes.read_log(log) if kind == "argv" and len(value) == 5]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert sorted(p.name for p in project.iterdir()) == ["keep.txt"]


def test_project_folder_name() -> None:
    assert project_folder_name("/home/a.b/x_y") == "-home-a-b-x-y"
    long = "/" + "a" * 250
    name = project_folder_name(long)
    assert name.startswith("-" + "a" * 199 + "-") and len(name) > 200


async def test_login_prompt_is_auth_required(clean_env: Path, tmp_path: Path) -> None:
    program, log = fakes.fake_claude(tmp_path / "bin", "login")
    with pytest.raises(AuthRequired) as caught:
        await run(ClaudeCliStrategy(FAST), ctx_for(clean_env, program))
    assert caught.value.message == "Claude CLI is not logged in; run `claude` and log in (/login)"
    assert fakes.typed_lines(log) == ["/usage", "/exit"]


async def test_nothing_on_screen_is_unavailable(clean_env: Path, tmp_path: Path) -> None:
    program, log = fakes.fake_claude(tmp_path / "bin", "nothing")
    with pytest.raises(Unavailable) as caught:
        await run(ClaudeCliStrategy(FAST), ctx_for(clean_env, program))
    assert caught.value.kind == "unavailable"
    assert fakes.typed_lines(log) == ["/usage", "/usage", "/exit"]


async def test_logged_out_cli_is_skipped_without_a_pty(clean_env: Path, tmp_path: Path) -> None:
    program, log = fakes.fake_claude(tmp_path / "bin", "panel", logged_in=False)
    with pytest.raises(NotConfigured) as caught:
        await run(ClaudeCliStrategy(FAST), ctx_for(clean_env, program))
    assert caught.value.message == "Claude CLI is not logged in (`claude auth status`); run `claude` and log in"
    assert [value for kind, value in fakes.read_log(log) if kind == "argv"] == [["auth", "status", "--json"]]


async def test_missing_binary_is_cli_missing(clean_env: Path) -> None:
    strategy = ClaudeCliStrategy(FAST)
    ctx = make_context("claude", kit.FakeUpstream(), home=clean_env, env={"PATH": str(clean_env)})
    availability = await strategy.available(ctx)
    assert (availability.ok, availability.kind) == (False, "cli_missing")
    with pytest.raises(CliMissing):
        await strategy.fetch(ctx)


async def test_account_config_dir_reaches_the_child(clean_env: Path, tmp_path: Path) -> None:
    program, log = fakes.fake_claude(tmp_path / "bin", "panel")
    ctx = ctx_for(clean_env, program, account="work", options={"claude_config_dir": str(tmp_path / "work")})
    await run(ClaudeCliStrategy(FAST), ctx)
    env = [value for kind, value in fakes.read_log(log) if kind == "env"][1]
    assert env["CLAUDE_CONFIG_DIR"] == str(tmp_path / "work")
    assert env["PWD"].endswith("claude-probe-work")


async def test_child_that_exits_mid_capture_is_a_timeout(clean_env: Path, tmp_path: Path) -> None:
    program = tmp_path / "claude"
    program.write_text("#!/bin/sh\n[ \"$1\" = auth ] && echo '{\"loggedIn\": true}' && exit 0\nexit 0\n")
    program.chmod(0o755)
    with pytest.raises(Timeout):
        await run(ClaudeCliStrategy(FAST), ctx_for(clean_env, program))


def test_default_timing_is_the_sheets() -> None:
    assert (cli.TIMING.startup, cli.TIMING.enter, cli.TIMING.timeout_auto, cli.TIMING.timeout_explicit) == (
        2.0, 0.8, 12.0, 24.0)
