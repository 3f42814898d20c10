"""Tests for codexbard.host.files: HOME and XDG resolution and small, bounded reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from codexbard.host.files import MAX_READ_BYTES, HomeFiles


def test_home_and_xdg_defaults(tmp_path: Path) -> None:
    files = HomeFiles({"HOME": str(tmp_path)})
    assert files.home == tmp_path
    assert files.config_home == tmp_path / ".config"
    assert files.data_home == tmp_path / ".local" / "share"
    assert files.state_home == tmp_path / ".local" / "state"


def test_absolute_xdg_values_win(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": "/x/cfg", "XDG_DATA_HOME": "/x/d"}
    env["XDG_STATE_HOME"] = "/x/st"
    files = HomeFiles(env)
    assert files.config_home == Path("/x/cfg")
    assert files.data_home == Path("/x/d")
    assert files.state_home == Path("/x/st")


def test_relative_or_empty_xdg_values_are_ignored(tmp_path: Path) -> None:
    files = HomeFiles({"HOME": str(tmp_path), "XDG_CONFIG_HOME": "relative/cfg", "XDG_DATA_HOME": ""})
    assert files.config_home == tmp_path / ".config"
    assert files.data_home == tmp_path / ".local" / "share"


def test_home_falls_back_to_the_password_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("/from/passwd")))
    assert HomeFiles({}).home == Path("/from/passwd")
    assert HomeFiles({"HOME": ""}).config_home == Path("/from/passwd/.config")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("~", "HOME"),
        ("~/.codex", "HOME/.codex"),
        ("~/a/b.json", "HOME/a/b.json"),
        ("/abs/path", "/abs/path"),
        ("rel/path", "rel/path"),
        # Another user's home is not expanded.
        ("~bob/x", "~bob/x"),
    ],
)
def test_expand(tmp_path: Path, raw: str, expected: str) -> None:
    files = HomeFiles({"HOME": str(tmp_path)})
    assert files.expand(raw) == Path(expected.replace("HOME", str(tmp_path)))
    assert files.expand(Path(raw)) == Path(expected.replace("HOME", str(tmp_path)))


def test_read_text(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"line one\nline two\n")
    (tmp_path / "bad.txt").write_bytes(b"ok \xff\n")
    files = HomeFiles({"HOME": str(tmp_path)})
    assert files.read_text("~/a.txt") == "line one\nline two\n"
    assert files.read_text(tmp_path / "a.txt") == "line one\nline two\n"
    assert files.read_text("~/bad.txt") == "ok \ufffd\n"
    assert files.read_text("~/missing.txt") is None
    assert files.read_text(tmp_path) is None  # a directory


def test_read_text_size_limit(tmp_path: Path) -> None:
    assert MAX_READ_BYTES == 1024 * 1024
    (tmp_path / "ten").write_bytes(b"0123456789")
    files = HomeFiles({"HOME": str(tmp_path)})
    assert files.read_text("~/ten", limit=10) == "0123456789"
    assert files.read_text("~/ten", limit=9) is None
    (tmp_path / "big").write_bytes(b"x" * (MAX_READ_BYTES + 1))
    assert files.read_text("~/big") is None


def test_first_line(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("  sk-abc  \r\nsecond\n")
    (tmp_path / "empty").write_text("")
    (tmp_path / "blank-first").write_text("\nsecond\n")
    files = HomeFiles({"HOME": str(tmp_path)})
    assert files.first_line("~/key") == "  sk-abc  "
    assert files.first_line("~/empty") == ""
    assert files.first_line("~/blank-first") == ""
    assert files.first_line("~/missing") is None
