"""Run a user's own shell command synchronously (the status-line command codexbard wraps), bounded and quiet.

Only for commands the user configured for their own tools (Claude Code's `statusLine.command`): the command
gets the caller's environment, runs in its own session and is killed with its group after `timeout` seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping


def run_shell(command: str, stdin: bytes, *, timeout: float, env: Mapping[str, str] | None = None) -> str:
    """The command's stdout (decoded, replacing bad bytes); empty when it fails to start or times out."""
    try:
        proc = subprocess.Popen(
            command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=dict(env) if env is not None else None, start_new_session=True,
        )
    except OSError:
        return ""
    try:
        out, _ = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return ""
    return out.decode("utf-8", errors="replace")
