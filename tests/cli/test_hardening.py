"""The CLI against hostile or mistaken input (issue 6, items 10-12): one line, the right exit code, no leaks."""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import pytest

from codexbard.cli import build_parser
from codexbard.cli.config import secret_fields
from codexbard.providers.registry import default_registry
from tests.cli import base_env, config_file, run, secrets_file

PASSWORD = "proxy-pa55word-9876"


def write_config(home: Path, text: str) -> Path:
    path = config_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def first_spec() -> object:
    return next(s for s in default_registry() if "api_key" in s.secret_fields())


def every_action(parser: argparse.ArgumentParser, prefix: str = "codexbard") -> list[tuple[str, argparse.Action]]:
    found: list[tuple[str, argparse.Action]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += every_action(sub, f"{prefix} {name}")
        elif not isinstance(action, argparse._HelpAction):
            found.append((prefix, action))
    return found


def test_every_option_has_help_text() -> None:
    missing = [f"{where} {'/'.join(a.option_strings) or a.dest}" for where, a in every_action(build_parser())
               if not a.help]
    assert missing == []


def test_every_command_registers_once() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == ["serve", "usage", "providers", "status", "history", "cost", "doctor", "config",
                                 "statusline", "service", "compat"]


# ------------------------------------------------------------------------------------------------ intervals


def test_default_interval_below_every_minimum_is_one_line_not_warnings(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_config(clean_env, "default_interval_seconds = 5\n")
    lowest = min(s.min_interval_seconds for s in default_registry() if s.default_interval_seconds is None)
    result = run(capsys, base_env(clean_env), "providers")
    assert result.code == 2
    assert result.out == ""
    assert result.err == (
        f"codexbard: config error: {path}: default_interval_seconds: 5 s is below the lowest provider "
        f"minimum ({lowest} s)\n"
    )


def test_config_set_refuses_an_interval_below_the_minimum(clean_env: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    spec = next(s for s in default_registry() if "api_key" in s.secret_fields())
    path = write_config(clean_env, "# mine\n")
    low = spec.min_interval_seconds - 1
    result = run(capsys, base_env(clean_env), "config", "set", f"providers.{spec.id}.interval_seconds", str(low))
    assert result.code == 2
    assert result.err == (
        f"codexbard: not saved: {path}: providers.{spec.id}.interval_seconds: {low} s is below the minimum "
        f"for {spec.display_name} ({spec.min_interval_seconds} s)\n"
    )
    assert path.read_text() == "# mine\n"
    ok = run(capsys, base_env(clean_env), "config", "set", f"providers.{spec.id}.interval_seconds",
             str(spec.min_interval_seconds))
    assert ok.code == 0


@pytest.mark.parametrize("value", ["99999999999999999999", "9223372036854775807", "true"])
def test_config_set_refuses_absurd_intervals(clean_env: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    result = run(capsys, base_env(clean_env), "config", "set", "default_interval_seconds", value)
    assert result.code == 2
    assert result.err.startswith(f"codexbard: not saved: {config_file(clean_env)}: default_interval_seconds: ")
    assert result.err.count("\n") == 1
    assert not config_file(clean_env).exists()


# --------------------------------------------------------------------------------------------- config files


def test_config_set_on_a_symlink_edits_the_target_and_keeps_the_link(
    clean_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = clean_env / "dotfiles" / "codexbard.toml"
    target.parent.mkdir(parents=True)
    target.write_text("# managed by my dotfiles\nport = 9000\n")
    target.chmod(0o640)
    link = config_file(clean_env)
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    result = run(capsys, base_env(clean_env), "config", "set", "port", "9001")
    assert result.code == 0
    assert result.out == f"set port in {link}\n"
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "# managed by my dotfiles\nport = 9001\n"
    assert target.stat().st_mode & 0o777 == 0o640


def test_config_set_keeps_a_byte_order_mark(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config_file(clean_env)
    path.parent.mkdir(parents=True)
    path.write_bytes("\ufeffport = 9000\n".encode())
    assert run(capsys, base_env(clean_env), "config", "set", "port", "9002").code == 0
    assert path.read_bytes() == "\ufeffport = 9002\n".encode()
    shown = run(capsys, base_env(clean_env), "config", "show")
    assert shown.code == 0 and "port = 9002" in shown.out.splitlines()


def test_deeply_nested_config_is_one_line_for_every_command(clean_env: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(clean_env, "x = " + "[" * 5000 + "]" * 5000 + "\n")
    for argv in (("providers",), ("config", "set", "port", "9000"), ("usage",)):
        result = run(capsys, base_env(clean_env), *argv)
        assert result.code == 2, argv
        assert result.err.count("\n") == 1, argv
        assert str(path) in result.err and "nested" in result.err, argv


def test_overrides_password_is_masked_by_show_and_doctor(clean_env: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    write_config(clean_env, f'[upstream_overrides]\n"https://api.z.ai" = "http://me:{PASSWORD}@127.0.0.1:9/zai"\n')
    env = base_env(clean_env, CODEXBARD_UPSTREAM_OVERRIDES=(
        f'{{"https://openrouter.ai": "http://u:{PASSWORD}@127.0.0.1:9/or"}}'))
    shown = run(capsys, env, "config", "show")
    assert shown.code == 0
    assert PASSWORD not in shown.out + shown.err
    assert '"https://openrouter.ai" = "http://u:***@127.0.0.1:9/or"' in shown.out.splitlines()
    env = base_env(clean_env)
    doctor = run(capsys, env, "doctor")
    assert PASSWORD not in doctor.out + doctor.err
    assert "overrides:     https://api.z.ai -> http://me:***@127.0.0.1:9/zai" in doctor.out.splitlines()


def test_provider_declared_secrets_are_masked_by_show(clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = next(s for s in default_registry() if s.account_setting_keys() and secret_fields(s))
    field = secret_fields(spec)[0]
    write_config(clean_env, f'[[providers.{spec.id}.accounts]]\nlabel = "w"\n{field} = "{PASSWORD}"\n')
    result = run(capsys, base_env(clean_env), "config", "show")
    assert result.code == 0
    assert PASSWORD not in result.out
    assert f'{field} = "***"' in result.out.splitlines()


# ---------------------------------------------------------------------------------------------- set-secret


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("interrupt", [EOFError, KeyboardInterrupt])
def test_set_secret_prompt_ctrl_d_and_ctrl_c_exit_1_cleanly(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    interrupt: type[BaseException],
) -> None:
    spec = next(s for s in default_registry() if "api_key" in s.secret_fields())

    def prompt(text: str) -> str:
        raise interrupt

    monkeypatch.setattr("sys.stdin", _Terminal(""))
    monkeypatch.setattr("getpass.getpass", prompt)
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", spec.id)
    assert result.code == 1
    assert result.out == ""
    assert result.err == "\ncodexbard: no secret entered; nothing stored\n"
    assert not secrets_file(clean_env).exists()


def test_set_secret_refuses_an_undeclared_field(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for spec in default_registry():
        monkeypatch.setattr("sys.stdin", io.StringIO("value\n"))
        result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", spec.id,
                     "--field", "colour", "--stdin")
        assert result.code == 2
        assert result.err == (
            f"codexbard: {spec.display_name} has no secret field 'colour' "
            f"(accepts: {', '.join(secret_fields(spec))})\n"
        )
    assert not secrets_file(clean_env).exists()


def test_set_secret_refuses_an_account_for_a_provider_without_accounts(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = next(s for s in default_registry() if not s.account_setting_keys())
    monkeypatch.setattr("sys.stdin", io.StringIO("value\n"))
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", spec.id,
                 "--account", "work", "--stdin")
    assert result.code == 2
    assert result.err == f"codexbard: {spec.display_name} has no accounts; leave out --account\n"
    assert not secrets_file(clean_env).exists()


def test_set_secret_refuses_an_account_that_is_not_configured(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = next(s for s in default_registry() if s.account_setting_keys() and "api_key" in s.secret_fields())
    write_config(clean_env, f'[[providers.{spec.id}.accounts]]\nlabel = "home"\n')
    monkeypatch.setattr("sys.stdin", io.StringIO("value\n"))
    result = run(capsys, base_env(clean_env), "config", "set-secret", "--provider", spec.id,
                 "--account", "work", "--stdin")
    assert result.code == 2
    assert result.err == (
        f"codexbard: no account 'work' is configured for {spec.id} (configured: home); add it as "
        f'[[providers.{spec.id}.accounts]] label = "work" first\n'
    )
    assert not secrets_file(clean_env).exists()


# ------------------------------------------------------------------------------------------------- history


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--until", "0001-01-01"), "'until' is out of range"),
        (("--since", "9999-12-31T23:59:59-01:00"), "'since' is out of range"),
        (("--step", "99999999999999999999999999"), "--step must be at most 31536000 (seconds, one year)"),
        (("--step", "1.5"), "--step must be a whole number of seconds"),
        (("--since", "2026-11-25T10:00:00Z", "--until", "2026-11-24T10:00:00Z"),
         "'since' must not be after 'until'"),
    ],
)
def test_history_bad_range_or_step_is_one_line_exit_2(clean_env: Path, capsys: pytest.CaptureFixture[str],
                                                       args: tuple[str, ...], message: str) -> None:
    spec = next(s for s in default_registry() if "api_key" in s.secret_fields())
    result = run(capsys, base_env(clean_env), "history", "--provider", spec.id, *args)
    assert result.code == 2
    assert result.out == ""
    assert result.err == f"codexbard: {message}\n"
