"""Which interpreter and entry point run this codexbard: a virtualenv, a pipx or uv tool install, or a system Python."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codexbard.service.steps import ServiceError

InstallKind = Literal["venv", "pipx", "uv tool", "system"]


@dataclass(frozen=True)
class Install:
    """How the service must start codexbard: `command` followed by `serve …`."""

    kind: InstallKind
    python: Path
    command: tuple[str, ...]

    def describe(self) -> str:
        """One line for people: the kind of install and the interpreter."""
        return f"{self.kind} install, Python {self.python}"


def _is_installed() -> bool:
    try:
        importlib.metadata.distribution("codexbard")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def detect_install(
    executable: str | None = None,
    prefix: str | None = None,
    base_prefix: str | None = None,
    *,
    installed: bool | None = None,
) -> Install:
    """The install this process runs from (defaults: `sys.executable`, `sys.prefix`, `sys.base_prefix`).

    The interpreter path is kept as it is, never resolved: a virtualenv's `bin/python` is a symlink to the base
    interpreter, and only the link finds the environment's packages. The console script beside the interpreter
    (what `pip`, `pipx` and `uv tool` write) is preferred; without one, `python -m codexbard` is used.
    """
    executable = sys.executable if executable is None else executable
    prefix = sys.prefix if prefix is None else prefix
    base_prefix = sys.base_prefix if base_prefix is None else base_prefix
    if not executable or not os.path.isabs(executable):
        raise ServiceError("cannot tell which Python runs codexbard (sys.executable is empty or relative)")
    python = Path(executable)
    posix = python.as_posix()
    kind: InstallKind
    if "/pipx/venvs/" in posix:
        kind = "pipx"
    elif "/uv/tools/" in posix:
        kind = "uv tool"
    elif os.path.realpath(prefix) != os.path.realpath(base_prefix):
        kind = "venv"
    else:
        kind = "system"
    script = python.parent / "codexbard"
    if script.is_file() and os.access(script, os.X_OK):
        return Install(kind, python, (str(script),))
    if not (_is_installed() if installed is None else installed):
        raise ServiceError(
            f"codexbard is not installed in {python}, so a service could not start it; install it first "
            "(`pipx install .`, `uv tool install .`, or `python3 -m venv .venv && .venv/bin/pip install .`) "
            "and run `service install` with that install's codexbard"
        )
    return Install(kind, python, (str(python), "-m", "codexbard"))
