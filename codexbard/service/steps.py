"""What `codexbard service` does, as a list of steps that are either carried out or only printed (--dry-run)."""

from __future__ import annotations

import asyncio
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from codexbard.errors import CliMissing, Timeout
from codexbard.host.process import ProcessResult, ProcessRunner

COMMAND_TIMEOUT = 60.0
"""Seconds one systemctl/launchctl/loginctl call may take (`systemctl start` waits for READY=1)."""


class ServiceError(Exception):
    """A `codexbard service` failure to report as one message with an exit code (1 failed, 2 bad usage)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class MakeDir:
    """Create a directory (and its parents) if it is missing."""

    path: Path
    mode: int = 0o700


@dataclass(frozen=True)
class WriteFile:
    """Write a file atomically with a final mode."""

    path: Path
    data: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class RemoveFile:
    """Remove a file this command wrote."""

    path: Path


@dataclass(frozen=True)
class Run:
    """Run a program; a non-zero exit stops the plan unless `may_fail`."""

    argv: tuple[str, ...]
    may_fail: bool = False
    retries: int = 0  # extra attempts after a failure, half a second apart


@dataclass(frozen=True)
class Note:
    """A line of explanation for the user."""

    text: str


Step = MakeDir | WriteFile | RemoveFile | Run | Note


class Processes:
    """Runs the service manager's commands through the host's ProcessRunner."""

    def __init__(self, runner: ProcessRunner) -> None:
        self.runner = runner

    async def run(self, argv: Sequence[str]) -> ProcessResult:
        """Run one command, turning a missing program or a timeout into a ServiceError."""
        try:
            return await self.runner.run(argv, timeout=COMMAND_TIMEOUT)
        except CliMissing:
            raise ServiceError(f"`{argv[0]}` is not installed or not on PATH; {_missing_hint(argv[0])}") from None
        except Timeout:
            raise ServiceError(f"`{shlex.join(argv)}` did not finish within {COMMAND_TIMEOUT:g} s") from None

    async def pause(self, seconds: float) -> None:
        """Wait between retries without blocking the loop."""
        await asyncio.sleep(seconds)


def _missing_hint(program: str) -> str:
    if program == "systemctl":
        return ("`codexbard service` needs a systemd user manager on Linux "
                "(elsewhere run `codexbard serve` under your own supervisor)")
    if program == "launchctl":
        return "launchd agents exist only on macOS (use --platform linux on Linux)"
    return "it is needed for this step"


def describe_failure(result: ProcessResult) -> str:
    """One line saying which command failed and what it printed (its first non-empty stderr/stdout line)."""
    text = next((line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines() if line.strip()), "")
    detail = f": {text}" if text else ""
    return f"`{shlex.join(result.argv)}` failed (exit {result.returncode}){detail}"


async def carry_out(steps: Sequence[Step], processes: Processes, out: TextIO, *, dry_run: bool) -> None:
    """Print and carry out each step in order (only print with `dry_run`); raise ServiceError on a failure."""
    for step in steps:
        if isinstance(step, Note):
            print(step.text, file=out)
        elif isinstance(step, MakeDir):
            if step.path.is_dir():
                continue
            if dry_run:
                print(f"would create {step.path}/", file=out)
                continue
            try:
                step.path.mkdir(mode=step.mode, parents=True, exist_ok=True)
            except OSError as exc:
                raise ServiceError(f"cannot create {step.path}: {exc.strerror}") from None
            print(f"created {step.path}/", file=out)
        elif isinstance(step, WriteFile):
            if dry_run:
                print(f"would write {step.path}:", file=out)
                text = step.data.decode("utf-8")
                out.write(text if text.endswith("\n") else text + "\n")
                continue
            _write_atomic(step.path, step.data, step.mode)
            print(f"wrote {step.path}", file=out)
        elif isinstance(step, RemoveFile):
            if dry_run:
                print(f"would remove {step.path}", file=out)
                continue
            try:
                step.path.unlink(missing_ok=True)
            except OSError as exc:
                raise ServiceError(f"cannot remove {step.path}: {exc.strerror}") from None
            print(f"removed {step.path}", file=out)
        else:
            line = shlex.join(step.argv)
            if dry_run:
                print(f"would run: {line}", file=out)
                continue
            print(f"$ {line}", file=out)
            result = await processes.run(step.argv)
            attempts = step.retries
            while result.returncode != 0 and attempts > 0:
                attempts -= 1
                await processes.pause(0.5)
                result = await processes.run(step.argv)
            if result.returncode != 0 and not step.may_fail:
                raise ServiceError(describe_failure(result))


def _write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to a temporary file beside `path` created with `mode`, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ServiceError(f"cannot write {path}: {exc.strerror}") from None
