"""Run external programs: exec without a shell, a scrubbed environment, capped output, group kill on timeout.

Three shapes of child live here: `ProcessRunner.run` (run to completion), `JsonRpcChild` (a long-lived child
speaking newline-delimited JSON-RPC over stdin/stdout, e.g. `codex app-server`), and the environment scrubbing
both use (the PTY session in `host/pty.py` uses it too). A child never sees the daemon's whole environment: only
an allow-list of plain system variables plus what the caller passes explicitly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import re
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from codexbard.errors import CliMissing, ErrorKind, ParseError, ProviderError, Timeout, Unavailable

log = logging.getLogger(__name__)

# CSI, OSC, then any other escape: optional intermediates and one final byte (`ESC ( B` from tput sgr0,
# `ESC 7`/`ESC 8` cursor save/restore, `ESC c`).
_ANSI: Final = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]")
MAX_OUTPUT_BYTES: Final = 4 * 1024 * 1024
MAX_RPC_LINE_BYTES: Final = 1024 * 1024
_READ_CHUNK: Final = 64 * 1024

# What a child inherits from the daemon's environment; everything else (every provider's API key, tokens,
# codexbard's own settings) stays behind unless a strategy passes it explicitly.
ENV_ALLOW: Final = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "LANG", "TERM", "TZ", "TMPDIR", "SHELL",
        # A child that talks to the network (a CLI refreshing its own tokens) needs the user's proxy and CA setup.
        "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
        "SSL_CERT_FILE", "SSL_CERT_DIR",
    }
)  # fmt: skip
_XDG_DIR: Final = re.compile(r"XDG_[A-Z_]+_(HOME|DIR|DIRS)")


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences (colours, cursor moves, OSC titles)."""
    return _ANSI.sub("", text)


def env_allowed(name: str) -> bool:
    """Whether a variable of the daemon's environment may reach a child."""
    return name in ENV_ALLOW or name.startswith("LC_") or _XDG_DIR.fullmatch(name) is not None


def scrub_env(env: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of `env`, plus `extra` (what the caller passes explicitly, e.g. CODEX_HOME)."""
    child = {name: value for name, value in env.items() if env_allowed(name)}
    child.update(extra or {})
    return child


@dataclass(frozen=True)
class ProcessResult:
    """What a finished program left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class ProcessRunner:
    """Spawns programs for providers, with a scrubbed copy of the environment the host decides."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)

    def which(self, name: str) -> str | None:
        """Find a program on this environment's PATH."""
        return shutil.which(name, path=self.env.get("PATH", os.defpath))

    def resolve(self, program: str) -> str:
        """Return the path a program runs from, or raise CliMissing."""
        resolved = program if os.sep in program else self.which(program)
        if resolved is None:
            raise CliMissing(f"`{program}` is not installed or not on PATH")
        return resolved

    def child_env(self, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment a child gets: the allow-list of this runner's env, plus `extra_env`."""
        return scrub_env(self.env, extra_env)

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input_data: bytes | None = None,
        extra_env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        max_output: int = MAX_OUTPUT_BYTES,
    ) -> ProcessResult:
        """Run `argv` (never through a shell) and return its output.

        Raises CliMissing, Timeout (the group is killed), or ParseError when stdout or stderr grows past
        `max_output` bytes (reading stops and the group is killed at once).
        """
        if not argv:
            raise ValueError("argv must not be empty")
        program = argv[0]
        proc = await _spawn(
            self.resolve(program),
            argv,
            stdin=asyncio.subprocess.PIPE if input_data is not None else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=self.child_env(extra_env),
            cwd=cwd,
        )
        out = bytearray()
        err = bytearray()
        too_large: list[str] = []

        async def feed() -> None:
            if proc.stdin is None or input_data is None:
                return
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(input_data)
                await proc.stdin.drain()
            proc.stdin.close()

        async def drain(stream: asyncio.StreamReader | None, buf: bytearray, name: str) -> None:
            if stream is None:
                return
            while chunk := await stream.read(_READ_CHUNK):
                if len(buf) + len(chunk) > max_output:
                    too_large.append(name)
                    signal_group(proc, signal.SIGKILL)  # the other pipe reaches EOF too
                    return
                buf.extend(chunk)

        try:
            async with asyncio.timeout(timeout):
                await asyncio.gather(feed(), drain(proc.stdout, out, "stdout"), drain(proc.stderr, err, "stderr"))
                await proc.wait()
        except TimeoutError:
            raise Timeout(f"`{program}` did not finish within {timeout:g} s") from None
        finally:
            if proc.returncode is None or too_large:
                await kill_group(proc)
        if too_large:
            raise ParseError(f"`{program}` wrote more than {max_output} bytes to {too_large[0]}; stopped reading")
        return ProcessResult(
            argv=tuple(argv),
            returncode=proc.returncode if proc.returncode is not None else -1,
            stdout=out.decode("utf-8", errors="replace"),
            stderr=err.decode("utf-8", errors="replace"),
        )


async def _spawn(
    resolved: str,
    argv: Sequence[str],
    *,
    stdin: int,
    stderr: int,
    env: Mapping[str, str],
    cwd: str | None,
) -> asyncio.subprocess.Process:
    """Start a child in its own session (so its whole group can be killed), or raise CliMissing."""
    program = argv[0]
    try:
        return await asyncio.create_subprocess_exec(
            resolved,
            *argv[1:],
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            limit=MAX_RPC_LINE_BYTES + 2,
        )
    except FileNotFoundError:
        raise CliMissing(f"`{program}` is not installed or not on PATH") from None
    except PermissionError:
        raise CliMissing(f"`{program}` is not executable") from None
    except OSError as exc:  # e.g. ENOEXEC: a file that is not a program
        raise CliMissing(f"`{program}` cannot be started: {exc.strerror}") from None


def signal_group(proc: asyncio.subprocess.Process, sig: int) -> None:
    """Send `sig` to the process group the child leads (it is the group leader: start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


async def kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process group the child leads, then reap the child."""
    signal_group(proc, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(proc.wait(), 5)
    # The child is gone, but its pipes close only once the loop has read their EOF; a caller that stops
    # reading (a timeout, a cap, a cancelled reader) would otherwise leave them open until garbage collection.
    transport = getattr(proc, "_transport", None)
    if transport is not None:
        transport.close()


class JsonRpcError(ProviderError):
    """The child answered a request with an error object; `error` keeps it (code, message, data)."""

    kind: ClassVar[ErrorKind] = "unavailable"

    def __init__(self, method: str, error: Mapping[str, Any]) -> None:
        message = error.get("message")
        text = message if isinstance(message, str) and message else "no message"
        super().__init__(f"`{method}` failed: {text}")
        self.method = method
        self.error = dict(error)
        self.error_message = text


class JsonRpcChild:
    """A long-lived child speaking newline-delimited JSON-RPC (one object per line, no `jsonrpc` member).

    Requests are sequential. Blank lines and lines that are not JSON objects are skipped, as are
    notifications (a `method` and no `id`); a line longer than `max_line` bytes kills the child. Every
    step is bounded by a timeout; `close()` always ends the whole process group and reaps the child.
    """

    def __init__(self, proc: asyncio.subprocess.Process, program: str, *, max_line: int) -> None:
        self._proc = proc
        self.program = program
        self.max_line = max_line
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._stderr_task = asyncio.create_task(self._drain_stderr())
        self.stderr_tail = b""
        self.skipped = 0  # notifications, garbage and stale responses read past

    @property
    def pid(self) -> int:
        """The child's process id (also its process group id)."""
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the child is reaped."""
        return self._proc.returncode

    @classmethod
    async def spawn(
        cls,
        runner: ProcessRunner,
        argv: Sequence[str],
        *,
        extra_env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        max_line: int = MAX_RPC_LINE_BYTES,
    ) -> JsonRpcChild:
        """Start `argv` with the runner's scrubbed environment; raise CliMissing when it cannot start."""
        if not argv:
            raise ValueError("argv must not be empty")
        proc = await _spawn(
            runner.resolve(argv[0]),
            argv,
            stdin=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=runner.child_env(extra_env),
            cwd=cwd,
        )
        return cls(proc, argv[0], max_line=max_line)

    async def _drain_stderr(self) -> None:
        """Read stderr so the child never blocks on a full pipe; keep only a short tail (for debug logs)."""
        stream = self._proc.stderr
        if stream is None:
            return
        with contextlib.suppress(Exception):
            while chunk := await stream.read(_READ_CHUNK):
                self.stderr_tail = (self.stderr_tail + chunk)[-4096:]

    async def _write(self, message: Mapping[str, Any]) -> None:
        stdin = self._proc.stdin
        if stdin is None or stdin.is_closing():
            raise Unavailable(f"`{self.program}` closed its input")
        try:
            stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise Unavailable(f"`{self.program}` exited") from None

    async def _read_line(self) -> bytes:
        stdout = self._proc.stdout
        if stdout is None:
            raise Unavailable(f"`{self.program}` has no output")
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                line = await stdout.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                raise Unavailable(f"`{self.program}` closed its output") from None
            except asyncio.LimitOverrunError as exc:
                # The buffer holds exc.consumed bytes without a newline: take them and keep counting.
                piece = await stdout.readexactly(exc.consumed)
                size += len(piece)
                if size > self.max_line:
                    await self._kill()
                    raise ParseError(f"`{self.program}` wrote a line longer than {self.max_line} bytes") from None
                chunks.append(piece)
                continue
            size += len(line)
            if size > self.max_line + 1:
                await self._kill()
                raise ParseError(f"`{self.program}` wrote a line longer than {self.max_line} bytes")
            chunks.append(line)
            return b"".join(chunks)

    async def notify(self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float = 3.0) -> None:
        """Send a notification (no id, no answer expected)."""
        try:
            async with asyncio.timeout(timeout):
                await self._write({"method": method, "params": dict(params or {})})
        except TimeoutError:
            await self._kill()
            raise Timeout(f"timed out writing `{method}` to `{self.program}`") from None

    async def request(self, method: str, params: Mapping[str, Any] | None = None, *, timeout: float) -> Any:
        """Send one request and return its `result`; JsonRpcError for an error answer, Timeout after `timeout`."""
        async with self._lock:
            request_id = next(self._ids)
            try:
                async with asyncio.timeout(timeout):
                    await self._write({"id": request_id, "method": method, "params": dict(params or {})})
                    while True:
                        message = _decode(await self._read_line())
                        if message is None or message.get("id") != request_id:
                            self.skipped += 1
                            continue
                        error = message.get("error")
                        if error is not None:
                            raise JsonRpcError(method, error if isinstance(error, Mapping) else {"message": str(error)})
                        return message.get("result")
            except TimeoutError:
                await self._kill()
                raise Timeout(f"timed out waiting for `{method}` from `{self.program}`") from None

    async def _kill(self) -> None:
        await kill_group(self._proc)

    async def close(self, *, grace: float = 0.4) -> None:
        """Close stdin, SIGTERM the group, wait `grace` s, then SIGKILL it; always reaps the child."""
        proc = self._proc
        try:
            if proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()
            if proc.returncode is None:
                signal_group(proc, signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), grace)
        finally:
            # Even when the leader exited, members of its group may live on: kill the group regardless.
            await kill_group(proc)
            self._stderr_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._stderr_task

    async def __aenter__(self) -> JsonRpcChild:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _decode(line: bytes) -> dict[str, Any] | None:
    """One line as a JSON object, or None for blank lines and anything that is not an object."""
    text = line.strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


async def spawn_pty_child(
    resolved: str, argv: Sequence[str], *, slave: int, env: Mapping[str, str], cwd: str | None
) -> asyncio.subprocess.Process:
    """Start a child whose stdin, stdout and stderr are a PTY's slave side, in its own session."""
    program = argv[0]
    try:
        return await asyncio.create_subprocess_exec(
            resolved,
            *argv[1:],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise CliMissing(f"`{program}` is not installed or not on PATH") from None
    except PermissionError:
        raise CliMissing(f"`{program}` is not executable") from None
    except OSError as exc:
        raise CliMissing(f"`{program}` cannot be started: {exc.strerror}") from None
