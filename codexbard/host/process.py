"""Run external programs: exec without a shell, bounded by a timeout that kills the whole process group."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from codexbard.errors import CliMissing, Timeout

log = logging.getLogger(__name__)

# CSI, OSC, then any other escape: optional intermediates and one final byte (`ESC ( B` from tput sgr0,
# `ESC 7`/`ESC 8` cursor save/restore, `ESC c`).
_ANSI: Final = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[ -/]*[0-~]")
MAX_OUTPUT_BYTES: Final = 4 * 1024 * 1024


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences (colours, cursor moves, OSC titles)."""
    return _ANSI.sub("", text)


@dataclass(frozen=True)
class ProcessResult:
    """What a finished program left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class ProcessRunner:
    """Spawns programs for providers, with the environment the host decides."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)

    def which(self, name: str) -> str | None:
        """Find a program on this environment's PATH."""
        return shutil.which(name, path=self.env.get("PATH", os.defpath))

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout: float,
        input_data: bytes | None = None,
        extra_env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> ProcessResult:
        """Run `argv` (never through a shell) and return its output, or raise CliMissing/Timeout."""
        if not argv:
            raise ValueError("argv must not be empty")
        program = argv[0]
        resolved = program if os.sep in program else self.which(program)
        if resolved is None:
            raise CliMissing(f"`{program}` is not installed or not on PATH")
        env = {**self.env, **(extra_env or {})}
        try:
            proc = await asyncio.create_subprocess_exec(
                resolved,
                *argv[1:],
                stdin=asyncio.subprocess.PIPE if input_data is not None else asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
                cwd=cwd,
                start_new_session=True,  # its own process group, so a timeout can kill every child
            )
        except FileNotFoundError:
            raise CliMissing(f"`{program}` is not installed or not on PATH") from None
        except PermissionError:
            raise CliMissing(f"`{program}` is not executable") from None
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(input_data), timeout)
        except (TimeoutError, asyncio.CancelledError) as exc:
            await _kill_group(proc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            raise Timeout(f"`{program}` did not finish within {timeout:g} s") from None
        finally:
            if proc.returncode is None:
                await _kill_group(proc)
        return ProcessResult(
            argv=tuple(argv),
            returncode=proc.returncode if proc.returncode is not None else -1,
            stdout=stdout[:MAX_OUTPUT_BYTES].decode("utf-8", errors="replace"),
            stderr=stderr[:MAX_OUTPUT_BYTES].decode("utf-8", errors="replace"),
        )


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the process group the child leads, then reap the child."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    with contextlib.suppress(Exception):
        await asyncio.wait_for(proc.wait(), 5)
