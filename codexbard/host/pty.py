"""A program in a pseudo-terminal, read as a person would see it: for CLIs that only talk to a terminal.

`PtySession` spawns a program on a PTY of a fixed size with the scrubbed child environment (in its own
session, so its whole process group can be killed), sends keys, and waits for a pattern on the *rendered
screen*: output is fed through the `pyte` terminal emulator, so cursor moves, erases and colours do not garble
the text. Cursor-position queries (`ESC [ 6 n`) are answered by the emulator. Output is capped; a timeout,
`close()` or leaving the `async with` block always kills the group and reaps the child.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import pty
import re
import signal
import struct
import termios
from collections.abc import Mapping, Sequence
from typing import Any, Final

from codexbard.errors import ParseError, Timeout, Unavailable
from codexbard.host.process import ProcessRunner, kill_group, signal_group, spawn_pty_child, strip_ansi

MAX_PTY_OUTPUT_BYTES: Final = 1024 * 1024
_READ_CHUNK: Final = 64 * 1024


def _screen_for(columns: int, lines: int, session: PtySession) -> tuple[Any, Any]:
    """A pyte screen that answers the program's terminal queries through the PTY.

    pyte is imported here, on first use: it costs the idle daemon about 2 MB of memory and only the
    providers that scrape a terminal need it.
    """
    import pyte

    class _Screen(pyte.Screen):
        def write_process_input(self, data: str) -> None:
            """Answer a query (cursor position, status) as a real terminal would."""
            session._write_now(data.encode())

    screen = _Screen(columns, lines)
    return screen, pyte.ByteStream(screen)


class PtySession:
    """One program running in a pseudo-terminal of `cols` x `rows`."""

    def __init__(self, program: str, cols: int, rows: int, max_output: int) -> None:
        self.program = program
        self.cols = cols
        self.rows = rows
        self.max_output = max_output
        self._screen, self._stream = _screen_for(cols, rows, self)
        self._raw = bytearray()
        self._changed = asyncio.Event()
        self._eof = False
        self._overflow = False
        self._master = -1
        self._proc: asyncio.subprocess.Process | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    async def spawn(
        cls,
        runner: ProcessRunner,
        argv: Sequence[str],
        *,
        cols: int = 160,
        rows: int = 50,
        extra_env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        max_output: int = MAX_PTY_OUTPUT_BYTES,
    ) -> PtySession:
        """Start `argv` on a new PTY; CliMissing when it cannot start. TERM defaults to xterm-256color."""
        if not argv:
            raise ValueError("argv must not be empty")
        if not (1 <= cols <= 1000 and 1 <= rows <= 1000):
            raise ValueError("cols and rows must be between 1 and 1000")
        session = cls(argv[0], cols, rows, max_output)
        env = runner.child_env({"COLUMNS": str(cols), "LINES": str(rows), **(extra_env or {})})
        env.setdefault("TERM", "xterm-256color")
        master, slave = pty.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
            os.set_blocking(master, False)
            session._proc = await spawn_pty_child(runner.resolve(argv[0]), argv, slave=slave, env=env, cwd=cwd)
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)  # the child holds its own copies; EOF on the master once it exits
        session._master = master
        session._loop = asyncio.get_running_loop()
        session._loop.add_reader(master, session._on_readable)
        return session

    @property
    def pid(self) -> int:
        """The child's process id (also its process group id)."""
        assert self._proc is not None
        return self._proc.pid

    @property
    def exited(self) -> bool:
        """Whether the program closed the terminal (exited, or closed its side)."""
        return self._eof

    def _on_readable(self) -> None:
        try:
            data = os.read(self._master, _READ_CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: every slave descriptor is closed (Linux)
            if exc.errno not in (errno.EIO, errno.EBADF):
                raise
            data = b""
        if not data:
            self._stop_reading()
            self._eof = True
        elif len(self._raw) + len(data) > self.max_output:
            self._stop_reading()
            self._overflow = True
            if self._proc is not None:
                signal_group(self._proc, signal.SIGKILL)
        else:
            self._raw.extend(data)
            self._stream.feed(data)
        self._changed.set()

    def _stop_reading(self) -> None:
        if self._loop is not None and self._master >= 0:
            self._loop.remove_reader(self._master)

    def _write_now(self, data: bytes) -> None:
        """Write without waiting (terminal answers are a few bytes); drops what the PTY cannot take."""
        if self._master < 0 or self._eof:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._master, data)

    async def send(self, keys: str | bytes, *, timeout: float = 5.0) -> None:
        """Type `keys` (e.g. `/usage\\r`); Unavailable once the program has gone, Timeout if it stops reading."""
        data = keys.encode() if isinstance(keys, str) else bytes(keys)
        deadline = asyncio.get_running_loop().time() + timeout
        while data:
            if self._master < 0 or self._eof:
                raise Unavailable(f"`{self.program}` exited")
            try:
                written = os.write(self._master, data)
            except BlockingIOError:
                if asyncio.get_running_loop().time() >= deadline:
                    await self.close()
                    raise Timeout(f"`{self.program}` stopped reading its input") from None
                await asyncio.sleep(0.01)
                continue
            except OSError:
                raise Unavailable(f"`{self.program}` exited") from None
            data = data[written:]

    def screen(self) -> str:
        """The rendered screen: one line per row, trailing spaces and trailing blank rows removed."""
        lines = [line.rstrip() for line in self._screen.display]
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines)

    def transcript(self) -> str:
        """Everything the program wrote so far, decoded, with ANSI escapes stripped (not rendered)."""
        return strip_ansi(self._raw.decode("utf-8", errors="replace"))

    async def expect(self, pattern: str | re.Pattern[str], *, timeout: float) -> re.Match[str]:
        """Wait until `pattern` matches the rendered screen and return the match (a str is compiled multi-line).

        Timeout (after killing the group) when it does not appear within `timeout` s; Unavailable when the
        program exits first; ParseError when its output passes the cap.
        """
        regex = re.compile(pattern, re.MULTILINE) if isinstance(pattern, str) else pattern
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            match = regex.search(self.screen())
            if match is not None:
                return match
            if self._overflow:
                await self.close()
                raise ParseError(f"`{self.program}` wrote more than {self.max_output} bytes")
            if self._eof:
                await self.close()
                raise Unavailable(f"`{self.program}` exited before showing what was expected")
            left = deadline - loop.time()
            if left <= 0:
                await self.close()
                raise Timeout(f"`{self.program}` did not show what was expected within {timeout:g} s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def settle(self, quiet: float, *, timeout: float) -> None:
        """Read until no output arrived for `quiet` s (or the program exited), at most `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._eof and not self._overflow:
            left = deadline - loop.time()
            if left <= 0:
                return
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(quiet, left))
            except TimeoutError:
                return

    async def close(self, *, grace: float = 0.4) -> None:
        """SIGTERM the group, wait `grace` s, SIGKILL it, reap the child and close the terminal (idempotent)."""
        proc = self._proc
        try:
            if proc is not None and proc.returncode is None:
                signal_group(proc, signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), grace)
        finally:
            if proc is not None:
                await kill_group(proc)
            self._stop_reading()
            if self._master >= 0:
                with contextlib.suppress(OSError):
                    os.close(self._master)
                self._master = -1
            self._eof = True

    async def __aenter__(self) -> PtySession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
