"""Tests for codexbard.host.pty: real programs in a pseudo-terminal, read from the rendered screen."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest

from codexbard.errors import CliMissing, ParseError, Timeout, Unavailable
from codexbard.host.process import ProcessRunner
from codexbard.host.pty import PtySession
from tests.core.test_process import gone

PRELUDE = """
import os, sys, termios, time, tty
fd = sys.stdin.fileno()
attrs = termios.tcgetattr(fd)
attrs[3] &= ~termios.ECHO  # like a TUI: no echo of typed keys
termios.tcsetattr(fd, termios.TCSANOW, attrs)
def w(text):
    sys.stdout.write(text)
    sys.stdout.flush()
"""

# A `/usage` panel drawn the way TUIs draw: clear, a placeholder, cursor jumps, erases, colours, an overwrite.
PANEL = PRELUDE + r"""
size = os.get_terminal_size(sys.stdout.fileno())
w(f"size {size.columns}x{size.lines} key={os.environ.get('Z_AI_API_KEY', 'none')} term={os.environ['TERM']}\r\n")
w("> ")
if sys.stdin.readline().strip() != "/usage":
    w("unknown command\r\n")
    time.sleep(60)
w("\x1b[2J\x1b[H\x1b[?25lLoading usage...")
time.sleep(0.05)
w(
    "\x1b[1;1H\x1b[2K\x1b[1mCurrent session\x1b[0m"
    "\x1b[2;1H\x1b[32m████\x1b[0m░░░░ \x1b[31m99% used\x1b[0m"
    "\r\x1b[9C58"
    "\x1b[4;3HResets 7pm (UTC)"
    "\x1b[3;1HCurrent week (all models)   \x1b[K"
    "\x1b[6;1Hstale text\x1b[6;1H\x1b[2K"
)
time.sleep(60)
"""

LOGIN = PRELUDE + r"""
w("\x1b[2J\x1b[HWelcome to Claude Code\r\n\r\n\x1b[36mSelect login method:\x1b[0m\r\n  1. Claude account\r\n")
time.sleep(60)
"""

SILENT = "import time\ntime.sleep(60)\n"

# Asks for the cursor position and prints the terminal's answer.
QUERY = PRELUDE + r"""
tty.setcbreak(fd)
w("\x1b[3;7H\x1b[6n")
reply = b""
while not reply.endswith(b"R"):
    reply += os.read(fd, 1)
w("\x1b[1;1Hanswer " + repr(reply.decode()))
time.sleep(60)
"""

EXITS = "print('bye')\n"

FLOOD = "import sys\nwhile True:\n    sys.stdout.write('x' * 4096)\n    sys.stdout.flush()\n"


def program(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!{sys.executable}\n" + body)
    path.chmod(0o755)
    return path


@pytest.fixture
def runner(tmp_path: Path) -> ProcessRunner:
    bin_dir = tmp_path / "bin"
    for name, body in (("panel", PANEL), ("login", LOGIN), ("silent", SILENT), ("query", QUERY)):
        program(bin_dir, name, body)
    program(bin_dir, "exits", EXITS)
    program(bin_dir, "flood", FLOOD)
    return ProcessRunner({"PATH": str(bin_dir), "Z_AI_API_KEY": "zai-secret", "HOME": str(tmp_path)})


async def test_panel_is_rendered_not_garbled(runner: ProcessRunner) -> None:
    async with await PtySession.spawn(runner, ["panel"], cols=100, rows=30) as session:
        first = await session.expect(r"size (\d+)x(\d+) key=(\S+) term=(\S+)", timeout=5)
        assert first.groups() == ("100", "30", "none", "xterm-256color")  # fixed size, scrubbed env
        await session.expect(r"^>$", timeout=5)
        await session.send("/usage\r")
        await session.expect(r"Resets 7pm", timeout=5)
        assert session.screen() == (
            "Current session\n"
            "████░░░░ 58% used\n"
            "Current week (all models)\n"
            "  Resets 7pm (UTC)"
        )
        match = await session.expect(r"(\d+)% used", timeout=1)
        assert match.group(1) == "58"
        assert "Loading usage..." in session.transcript()
        assert "\x1b" not in session.transcript()
        pid = session.pid
    assert await gone(pid)


async def test_login_prompt_instead_of_the_panel(runner: ProcessRunner) -> None:
    session = await PtySession.spawn(runner, ["login"], cols=80, rows=24)
    await session.expect(r"Select login method:", timeout=5)
    assert session.screen() == "Welcome to Claude Code\n\nSelect login method:\n  1. Claude account"
    started = time.monotonic()
    with pytest.raises(Timeout) as info:
        await session.expect(r"Current session", timeout=0.5)
    assert 0.4 <= time.monotonic() - started < 2
    assert info.value.message == "`login` did not show what was expected within 0.5 s"
    assert session.exited
    assert await gone(session.pid)
    await session.close()  # idempotent


async def test_a_program_that_prints_nothing_times_out_and_is_killed(runner: ProcessRunner) -> None:
    session = await PtySession.spawn(runner, ["silent"], cols=40, rows=10)
    with pytest.raises(Timeout):
        await session.expect(r".", timeout=0.5)
    assert session.screen() == ""
    assert session.transcript() == ""
    assert await gone(session.pid)
    with pytest.raises(Unavailable):
        await session.send("/usage\r")


async def test_cursor_position_queries_are_answered(runner: ProcessRunner) -> None:
    async with await PtySession.spawn(runner, ["query"], cols=40, rows=10) as session:
        match = await session.expect(r"answer '(.*)'", timeout=5)
    assert match.group(1) == "\\x1b[3;7R"


async def test_a_program_that_exits_first(runner: ProcessRunner) -> None:
    session = await PtySession.spawn(runner, ["exits"])
    with pytest.raises(Unavailable) as info:
        await session.expect(r"never", timeout=5)
    assert info.value.message == "`exits` exited before showing what was expected"
    assert session.screen() == "bye"


async def test_output_cap(runner: ProcessRunner) -> None:
    session = await PtySession.spawn(runner, ["flood"], max_output=100_000)
    with pytest.raises(ParseError) as info:
        await session.expect(r"never", timeout=10)
    assert info.value.message == "`flood` wrote more than 100000 bytes"
    assert await gone(session.pid)


async def test_settle_waits_for_quiet(runner: ProcessRunner) -> None:
    async with await PtySession.spawn(runner, ["login"], cols=80, rows=24) as session:
        started = time.monotonic()
        await session.settle(0.3, timeout=5)
        assert 0.25 <= time.monotonic() - started < 2
        assert "Select login method:" in session.screen()


async def test_spawn_errors(runner: ProcessRunner) -> None:
    with pytest.raises(CliMissing) as info:
        await PtySession.spawn(runner, ["claude-not-here"])
    assert info.value.message == "`claude-not-here` is not installed or not on PATH"
    with pytest.raises(ValueError, match="argv must not be empty"):
        await PtySession.spawn(runner, [])
    with pytest.raises(ValueError, match="cols and rows"):
        await PtySession.spawn(runner, ["panel"], cols=0)


async def test_cancelled_expect_then_close_kills_the_group(runner: ProcessRunner) -> None:
    session = await PtySession.spawn(runner, ["silent"])
    task = asyncio.create_task(session.expect(r"x", timeout=30))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await session.close()
    assert await gone(session.pid)
