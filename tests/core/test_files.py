"""Tests for codexbard.host.files: HOME and XDG resolution and small, bounded reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from codexbard.host.files import MAX_READ_BYTES, FileChanged, HomeFiles, Resume, classify_resume


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


def test_larger_limit_reads_files_above_one_mib(tmp_path: Path) -> None:
    big = b"y" * (2 * MAX_READ_BYTES) + b"\nend"
    (tmp_path / "big").write_bytes(big)
    files = HomeFiles({"HOME": str(tmp_path)})
    assert files.read_text("~/big") is None  # the default stays 1 MiB
    assert files.read_text("~/big", limit=4 * MAX_READ_BYTES) == big.decode()
    assert files.first_line("~/big", limit=4 * MAX_READ_BYTES) == "y" * (2 * MAX_READ_BYTES)


async def test_read_text_async(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("key\n")
    files = HomeFiles({"HOME": str(tmp_path)})
    assert await files.read_text_async("~/k") == "key\n"
    assert await files.read_text_async("~/none") is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "HOME/.codex"),
        ({"CODEX_HOME": ""}, "HOME/.codex"),
        ({"CODEX_HOME": "   "}, "HOME/.codex"),
        ({"CODEX_HOME": " /srv/codex \n"}, "/srv/codex"),
        ({"CODEX_HOME": "~/literal"}, "~/literal"),  # used literally: no ~ expansion for the variable
        ({"CODEX_HOME": "rel/dir"}, "rel/dir"),
    ],
)
def test_tool_dir(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    files = HomeFiles({"HOME": str(tmp_path), **env})
    assert files.tool_dir(("CODEX_HOME",), "~/.codex") == Path(expected.replace("HOME", str(tmp_path)))


def test_tool_dir_first_non_blank_wins(tmp_path: Path) -> None:
    names = ("CLAUDE_SECURESTORAGE_CONFIG_DIR", "CLAUDE_CONFIG_DIR")
    files = HomeFiles({"HOME": str(tmp_path), "CLAUDE_SECURESTORAGE_CONFIG_DIR": "", "CLAUDE_CONFIG_DIR": "/c"})
    assert files.tool_dir(names, "~/.claude") == Path("/c")
    files = HomeFiles({"HOME": str(tmp_path), "CLAUDE_SECURESTORAGE_CONFIG_DIR": "/s", "CLAUDE_CONFIG_DIR": "/c"})
    assert files.tool_dir(names, "~/.claude") == Path("/s")
    assert HomeFiles({"HOME": str(tmp_path)}).tool_dir(names, "~/.claude") == tmp_path / ".claude"


# --- streaming reads from an offset -------------------------------------------------------------------------


async def collect(
    files: HomeFiles, path: Path, offset: int, **kwargs: object
) -> list[tuple[bytes, int]]:
    return [item async for item in files.read_lines_from(path, offset, **kwargs)]  # type: ignore[arg-type]


async def test_lines_from_offset_and_partial_last_line(tmp_path: Path) -> None:
    log = tmp_path / "s.jsonl"
    log.write_bytes(b'{"a":1}\n{"b":22}\r\n\n{"partial"')
    files = HomeFiles({"HOME": str(tmp_path)})
    assert await collect(files, log, 0) == [(b'{"a":1}', 8), (b'{"b":22}\r', 18), (b"", 19)]
    assert await collect(files, log, 8) == [(b'{"b":22}\r', 18), (b"", 19)]
    assert await collect(files, log, 19) == []  # only the partial line is left
    with log.open("ab") as handle:  # the writer finishes the line and appends another
        handle.write(b':3}\n{"c":4}\n')
    assert await collect(files, log, 19) == [(b'{"partial":3}', 33), (b'{"c":4}', 41)]


async def test_small_chunks_give_the_same_lines(tmp_path: Path) -> None:
    log = tmp_path / "s.jsonl"
    lines = [b"x" * n for n in (0, 1, 2, 3, 5, 8, 13, 21)]
    log.write_bytes(b"".join(line + b"\n" for line in lines) + b"tail")
    files = HomeFiles({"HOME": str(tmp_path)})
    whole = await collect(files, log, 0)
    for chunk in (1, 2, 3, 7, 64):
        assert await collect(files, log, 0, chunk=chunk) == whole
    assert [line for line, _ in whole] == lines
    assert whole[-1][1] == log.stat().st_size - 4


async def test_large_file_streams_past_one_mib(tmp_path: Path) -> None:
    log = tmp_path / "big.jsonl"
    line = b'{"tokens": 12345, "pad": "' + b"p" * 1000 + b'"}'
    count = 3000  # about 3 MiB
    log.write_bytes((line + b"\n") * count)
    files = HomeFiles({"HOME": str(tmp_path)})
    seen = 0
    last = 0
    async for got, offset in files.read_lines_from(log, 0):
        assert got == line
        seen += 1
        last = offset
    assert seen == count
    assert last == count * (len(line) + 1)


async def test_overlong_lines_are_skipped(tmp_path: Path) -> None:
    log = tmp_path / "s.jsonl"
    log.write_bytes(b"ok1\n" + b"z" * 50 + b"\nok2\n" + b"w" * 30)
    files = HomeFiles({"HOME": str(tmp_path)})
    for chunk in (4, 16, 1024):
        assert await collect(files, log, 0, chunk=chunk, max_line=10) == [(b"ok1", 4), (b"ok2", 59)]


async def test_identity_truncation_replacement_and_rename(tmp_path: Path) -> None:
    files = HomeFiles({"HOME": str(tmp_path)})
    log = tmp_path / "rollout.jsonl"
    log.write_bytes(b"one\ntwo\n")
    first = files.stat_identity(log)
    assert first is not None
    assert first.size == 8
    assert await files.stat_identity_async(log) == first
    assert files.stat_identity(tmp_path / "missing") is None
    assert classify_resume(None, 0, first) == (Resume.NEW, 0)
    assert classify_resume(first, 8, first) == (Resume.UNCHANGED, 8)

    with log.open("ab") as handle:
        handle.write(b"three\n")
    appended = files.stat_identity(log)
    assert appended is not None
    assert classify_resume(first, 8, appended) == (Resume.APPENDED, 8)
    assert await collect(files, log, 8, expect=first) == [(b"three", 14)]

    # Renamed (Codex archives sessions): same device+inode under a new path, resume where we were.
    moved = tmp_path / "archived" / "rollout.jsonl"
    moved.parent.mkdir()
    log.rename(moved)
    renamed = files.stat_identity(moved)
    assert renamed is not None
    assert renamed.same_file(first)
    assert classify_resume(first, 14, renamed) == (Resume.UNCHANGED, 14)
    assert await collect(files, moved, 8, expect=first) == [(b"three", 14)]

    # Truncated in place: same inode, shorter than where we stopped.
    moved.write_bytes(b"new\n")
    truncated = files.stat_identity(moved)
    assert truncated is not None
    assert truncated.same_file(first)
    assert classify_resume(first, 14, truncated) == (Resume.TRUNCATED, 0)
    with pytest.raises(FileChanged) as info:
        await collect(files, moved, 14, expect=first)
    assert info.value.how is Resume.TRUNCATED
    assert str(info.value) == f"{moved} was truncated since it was last read"

    # Replaced: another file under the old path.
    log.write_bytes(b"one\ntwo\nthree\nfour\n")
    replaced = files.stat_identity(log)
    assert replaced is not None
    assert not replaced.same_file(first)
    assert classify_resume(first, 14, replaced) == (Resume.REPLACED, 0)
    with pytest.raises(FileChanged) as info:
        await collect(files, log, 14, expect=first)
    assert info.value.how is Resume.REPLACED
    assert await collect(files, log, 14, expect=replaced) == [(b"four", 19)]


async def test_read_lines_from_errors(tmp_path: Path) -> None:
    files = HomeFiles({"HOME": str(tmp_path)})
    with pytest.raises(FileNotFoundError):
        await collect(files, tmp_path / "missing", 0)
    (tmp_path / "f").write_bytes(b"a\n")
    with pytest.raises(ValueError, match="offset must be >= 0"):
        await collect(files, tmp_path / "f", -1)
    with pytest.raises(FileChanged):
        await collect(files, tmp_path / "f", 3)  # past the end without `expect`: truncated
