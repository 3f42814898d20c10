"""`codexbard compat install|uninstall|run`: the `codexbar` command for clients written for CodexBar's CLI."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from codexbard.cli.common import EXIT_OK, CliError

NAME = "compat"


def add_parser(subparsers: Any) -> None:
    """Register `compat` and its subcommands."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME, help="install or remove a `codexbar` command for clients written for CodexBar's CLI")
    actions = parser.add_subparsers(dest="compat_command", required=True)
    install = actions.add_parser("install", help="write the `codexbar` shim (default into ~/.local/bin)")
    install.add_argument("--force", action="store_true",
                         help="install even though another `codexbar` exists (on PATH or in DIR, overwritten)")
    install.add_argument("--dir", metavar="DIR", help="where to write it (default: ~/.local/bin)")
    uninstall = actions.add_parser("uninstall", help="remove the shim `install` wrote (only if unchanged)")
    uninstall.add_argument("--dir", metavar="DIR", help="where it was written (default: ~/.local/bin)")
    run = actions.add_parser("run", help="what the shim runs: answer one `codexbar …` call")
    run.add_argument("words", nargs=argparse.REMAINDER, help="the codexbar subcommand and its arguments")


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Install, uninstall, or answer a shim call; the process exit code."""
    from codexbard.compat.install import CompatError, install, shim_dir, uninstall

    if args.compat_command == "run":
        from codexbard.compat.shim import run_shim

        return run_shim(args.words, env)
    directory = shim_dir(env, args.dir)
    try:
        if args.compat_command == "install":
            from codexbard.service.install import detect_install
            from codexbard.service.steps import ServiceError

            try:
                command = detect_install().command
            except ServiceError as exc:
                raise CompatError(str(exc).replace("a service could not start it", "a shim could not run it"),
                                  exc.code) from None
            outcome = install(env, command, directory, force=args.force)
        else:
            outcome = uninstall(directory)
    except CompatError as exc:
        raise CliError(str(exc), exc.code) from None
    for line in outcome.lines:
        print(line)
    return EXIT_OK
