"""The `codexbard` command (API.md, "CLI"): one module per command, registered below.

Machine output goes to stdout, messages to stderr. Exit codes: 0 success, 1 the operation failed,
2 bad arguments or config. `usage` exits 1 when any requested provider failed (JSON still printed).
A command module exposes `add_parser(subparsers)` and `run(args, env) -> int`.

Command modules are imported when a command runs, not when this package loads: `codexbard statusline` runs
on every Claude Code prompt and must start in a few tens of milliseconds, so its feed path (no arguments)
skips the parser and every other module (see `codexbard.cli.statusline`).
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "CliError", "Command", "build_parser", "main"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def __getattr__(name: str) -> Any:
    """`CliError` and `err` come from `codexbard.cli.common`, loaded on first use."""
    if name in ("CliError", "err"):
        from codexbard.cli import common

        return getattr(common, name)
    raise AttributeError(name)


class Command:
    """One subcommand: its name and the module (`add_parser`, `run`) that implements it."""

    __slots__ = ("module", "name")

    def __init__(self, name: str, module: str) -> None:
        self.name = name
        self.module = module

    def __repr__(self) -> str:
        return f"Command({self.name!r}, {self.module!r})"

    def _target(self) -> Any:
        return importlib.import_module(self.module)

    @property
    def add_parser(self) -> Callable[[Any], object]:
        """How the command adds its parser."""
        add: Callable[[Any], object] = self._target().add_parser
        return add

    @property
    def run(self) -> Callable[[argparse.Namespace, Mapping[str, str]], int]:
        """What runs the command."""
        run: Callable[[argparse.Namespace, Mapping[str, str]], int] = self._target().run
        return run


# One line per command, in `--help` order.
COMMANDS: tuple[Command, ...] = (
    Command("serve", "codexbard.cli.serve"),
    Command("usage", "codexbard.cli.usage"),
    Command("providers", "codexbard.cli.providers"),
    Command("status", "codexbard.cli.status"),
    Command("history", "codexbard.cli.history"),
    Command("cost", "codexbard.cli.cost"),
    Command("doctor", "codexbard.cli.doctor"),
    Command("config", "codexbard.cli.config"),
    Command("statusline", "codexbard.cli.statusline"),
    Command("service", "codexbard.service"),
    Command("compat", "codexbard.cli.compat"),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    import argparse

    from codexbard import __version__

    parser = argparse.ArgumentParser(prog="codexbard", description="AI coding plan usage daemon and CLI")
    parser.add_argument("--version", action="version", version=f"codexbard {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of the `codexbard` command."""
    words = list(sys.argv[1:] if argv is None else argv)
    if words == ["statusline"] or (len(words) == 3 and words[:2] == ["statusline", "--wrap"]):
        from codexbard.cli.statusline import feed  # the hot path: Claude Code runs it on every prompt

        return feed(dict(os.environ if env is None else env), wrap=words[2] if len(words) == 3 else None)
    if words[:2] == ["compat", "run"]:  # the `codexbar` shim: its words are CodexBar's CLI, not ours
        from codexbard.compat.shim import run_shim

        try:
            return run_shim(words[2:], dict(os.environ if env is None else env))
        except KeyboardInterrupt:
            return 130
    from codexbard.cli.common import CliError, err

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    environment = dict(os.environ if env is None else env)
    handler = {c.name: c.run for c in COMMANDS}[args.command]
    if args.command != "serve":  # serve sets up its own logging
        import logging

        logging.basicConfig(level=logging.WARNING, format="codexbard: %(levelname)s %(name)s: %(message)s")
    try:
        return handler(args, environment)
    except CliError as exc:
        err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
