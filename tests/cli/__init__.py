"""Tests of the `codexbard` command line, run in-process through `codexbard.cli.main(argv, env)`.

Shared helpers live here (this package may only hold `__init__.py` and `test_*.py`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from codexbard.cli import main
from codexbard.providers.registry import default_registry


@dataclass(frozen=True)
class Result:
    """What one `main()` call returned and printed."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as JSON."""
        return json.loads(self.out)


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """The env mapping every call gets: HOME and XDG dirs under `home`, the null keyring, PATH."""
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PATH": os.environ.get("PATH", ""),
        "TZ": "UTC",  # reset times print in the local zone: pin it (tests that need another zone override it)
        **extra,
    }


def run(capsys: pytest.CaptureFixture[str], env: dict[str, str], *argv: str) -> Result:
    """Call `main(argv, env)` and capture exactly what it printed."""
    capsys.readouterr()
    code = main(list(argv), env=env)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def known_ids() -> str:
    """The `(known: …)` list of an unknown-provider message: every registered id, in registry order."""
    return ", ".join(default_registry().ids())


def config_file(home: Path) -> Path:
    """The default config file for `base_env(home)`."""
    return home / ".config" / "codexbard" / "config.toml"


def secrets_file(home: Path) -> Path:
    """The secrets file beside the default config file."""
    return home / ".config" / "codexbard" / "secrets.toml"


def store_note(home: Path) -> str:
    """What the runtime says about the secret store under the null keyring backend."""
    return (
        "keyring backend keyring.backends.null.Keyring is not a secure store; "
        f"using {secrets_file(home)}"
    )
