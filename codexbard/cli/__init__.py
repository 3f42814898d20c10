"""The `codexbard` command (API.md, "CLI"): one module per command, registered below.

Machine output goes to stdout, messages to stderr. Exit codes: 0 success, 1 the operation failed,
2 bad arguments or config. `usage` exits 1 when any requested provider failed (JSON still printed).
A command module exposes `add_parser(subparsers)` and `run(args, env) -> int`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from codexbard import __version__, service
from codexbard.cli import config, cost, doctor, history, providers, serve, status, usage
from codexbard.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, err

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "CliError", "Command", "build_parser", "main"]


@dataclass(frozen=True)
class Command:
    """One subcommand: its name, how it adds its parser, and what runs it."""

    name: str
    add_parser: Callable[[Any], object]
    run: Callable[[argparse.Namespace, Mapping[str, str]], int]


# One line per command, in `--help` order.
COMMANDS: tuple[Command, ...] = (
    Command(serve.NAME, serve.add_parser, serve.run),
    Command(usage.NAME, usage.add_parser, usage.run),
    Command(providers.NAME, providers.add_parser, providers.run),
    Command(status.NAME, status.add_parser, status.run),
    Command(history.NAME, history.add_parser, history.run),
    Command(cost.NAME, cost.add_parser, cost.run),
    Command(doctor.NAME, doctor.add_parser, doctor.run),
    Command(config.NAME, config.add_parser, config.run),
    Command("service", service.add_parser, lambda args, env: service.run(args, env)),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="codexbard", description="AI coding plan usage daemon and CLI")
    parser.add_argument("--version", action="version", version=f"codexbard {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of the `codexbard` command."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code not in (0, None) else EXIT_OK
    environment = dict(os.environ if env is None else env)
    handler = {c.name: c.run for c in COMMANDS}[args.command]
    if args.command != serve.NAME:  # serve sets up its own logging
        import logging

        logging.basicConfig(level=logging.WARNING, format="codexbard: %(levelname)s %(name)s: %(message)s")
    try:
        return handler(args, environment)
    except CliError as exc:
        err(str(exc))
        return exc.code
    except KeyboardInterrupt:
        return 130
