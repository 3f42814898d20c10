"""Tests for codexbard.host.process: real tiny scripts, missing programs, and timeouts that kill the group."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from codexbard.errors import CliMissing, Timeout
from codexbard.host.process import ProcessRunner, strip_ansi


def script(directory: Path, name: str, body: str, *, executable: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755 if executable else 0o644)
    return path


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    return tmp_path / "bin"


@pytest.fixture
def runner(bin_dir: Path) -> ProcessRunner:
    return ProcessRunner({"PATH": f"{bin_dir}:{os.environ.get('PATH', os.defpath)}", "LC_ALL": "C"})


def alive(pid: int) -> bool:
    """Whether pid is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


async def gone(pid: int, within: float = 2.0) -> bool:
    """Wait until pid is no longer alive (the kernel may need a moment to tear it down)."""
    for _ in range(int(within / 0.05)):
        if not alive(pid):
            return True
        await asyncio.sleep(0.05)
    return not alive(pid)


async def test_stdout_stderr_and_exit_code(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "fake-cli", 'echo "out $1 $2"\necho "err" >&2\nexit 3\n')
    result = await runner.run(["fake-cli", "usage", "--json"], timeout=5)
    assert result.argv == ("fake-cli", "usage", "--json")
    assert result.returncode == 3
    assert result.stdout == "out usage --json\n"
    assert result.stderr == "err\n"


async def test_absolute_path_stdin_env_and_cwd(runner: ProcessRunner, bin_dir: Path, tmp_path: Path) -> None:
    path = script(bin_dir, "echoer", 'cat\necho "$EXTRA_VAR"\npwd\n')
    result = await runner.run(
        [str(path)],
        timeout=5,
        input_data=b"from stdin\n",
        extra_env={"EXTRA_VAR": "extra"},
        cwd=str(tmp_path),
    )
    assert result.returncode == 0
    assert result.stdout == f"from stdin\nextra\n{tmp_path}\n"


async def test_stdin_is_closed_without_input(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "reader", 'cat\necho "done"\n')
    result = await runner.run(["reader"], timeout=5)
    assert result.stdout == "done\n"


async def test_environment_is_only_the_runners(bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAKED_FROM_PARENT", "yes")
    script(bin_dir, "envdump", 'echo "[$LEAKED_FROM_PARENT][$MINE]"\n')
    runner = ProcessRunner({"PATH": str(bin_dir), "MINE": "m"})
    result = await runner.run(["envdump"], timeout=5)
    assert result.stdout == "[][m]\n"


async def test_undecodable_output_is_replaced(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "binary", "printf 'ok \\377\\n'\n")
    result = await runner.run(["binary"], timeout=5)
    assert result.stdout == "ok \ufffd\n"


async def test_missing_program_by_name(runner: ProcessRunner) -> None:
    with pytest.raises(CliMissing) as info:
        await runner.run(["codexbard-no-such-cli", "--version"], timeout=5)
    assert info.value.kind == "cli_missing"
    assert info.value.message == "`codexbard-no-such-cli` is not installed or not on PATH"


async def test_missing_program_by_path(runner: ProcessRunner, tmp_path: Path) -> None:
    missing = str(tmp_path / "nope" / "cli")
    with pytest.raises(CliMissing) as info:
        await runner.run([missing], timeout=5)
    assert info.value.message == f"`{missing}` is not installed or not on PATH"


async def test_non_executable_by_path(runner: ProcessRunner, bin_dir: Path) -> None:
    path = script(bin_dir, "plain", "echo hi\n", executable=False)
    with pytest.raises(CliMissing) as info:
        await runner.run([str(path)], timeout=5)
    assert info.value.message == f"`{path}` is not executable"


async def test_non_executable_by_name_is_not_found(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "plain", "echo hi\n", executable=False)
    assert runner.which("plain") is None
    with pytest.raises(CliMissing) as info:
        await runner.run(["plain"], timeout=5)
    assert info.value.message == "`plain` is not installed or not on PATH"


async def test_empty_argv_is_a_programming_error(runner: ProcessRunner) -> None:
    with pytest.raises(ValueError, match="argv must not be empty"):
        await runner.run([], timeout=5)


def test_which_uses_the_runners_path(bin_dir: Path) -> None:
    path = script(bin_dir, "only-here", "exit 0\n")
    assert ProcessRunner({"PATH": str(bin_dir)}).which("only-here") == str(path)
    assert ProcessRunner({"PATH": "/nonexistent"}).which("only-here") is None


async def test_timeout_kills_the_whole_process_group(
    runner: ProcessRunner, bin_dir: Path, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"
    script(bin_dir, "hangs", 'sleep 30 &\necho $! > "$1"\necho started\nwait\n')
    started = time.monotonic()
    with pytest.raises(Timeout) as info:
        await runner.run(["hangs", str(pid_file)], timeout=1.0)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 2.0
    assert info.value.kind == "timeout"
    assert info.value.message == "`hangs` did not finish within 1 s"
    assert await gone(int(pid_file.read_text()))


async def test_timeout_when_the_child_ignores_sigterm(runner: ProcessRunner, bin_dir: Path) -> None:
    script(bin_dir, "stubborn", "trap '' TERM INT HUP\nwhile :; do sleep 1; done\n")
    started = time.monotonic()
    with pytest.raises(Timeout):
        await runner.run(["stubborn"], timeout=0.5)
    assert time.monotonic() - started < 1.5


async def test_cancellation_kills_the_group(runner: ProcessRunner, bin_dir: Path, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    script(bin_dir, "hangs", 'sleep 30 &\necho $! > "$1"\nwait\n')
    task = asyncio.create_task(runner.run(["hangs", str(pid_file)], timeout=30))
    deadline = time.monotonic() + 5
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await gone(int(pid_file.read_text()))


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[31mred\x1b[0m plain", "red plain"),
        ("\x1b[1;32;48;5;236mbold\x1b[m", "bold"),
        ("\x1b[2K\x1b[1G\x1b[?25lprogress\x1b[?25h", "progress"),
        ("\x1b]0;window title\x07text", "text"),
        ("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("\x1b(B\x1b[mx\x1b7y\x1b8\x1bc", "xy"),
        ("\x1b#8\x1b%Gz\x1b=", "z"),
        ("no escapes at all", "no escapes at all"),
        ("5h limit: 28% used", "5h limit: 28% used"),
    ],
)
def test_strip_ansi(raw: str, clean: str) -> None:
    assert strip_ansi(raw) == clean
