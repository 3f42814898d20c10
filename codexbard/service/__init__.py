"""`codexbard service`: install, remove and inspect codexbard as a systemd user service or a launchd agent.

The CLI registers the command with `add_parser(subparsers)` and dispatches to `run(args, env)`. This module stays
light (it is imported whenever the CLI starts); the work lives in `codexbard.service.command`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, TextIO

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `service` and its three subcommands on the CLI's subparsers."""
    service: argparse.ArgumentParser = subparsers.add_parser(
        "service", help="install, remove or inspect the systemd/launchd service")
    actions = service.add_subparsers(dest="service_command", required=True)
    helps = {
        "install": "write the unit/agent for this install, enable and start it",
        "uninstall": "stop the service and remove the file `install` wrote",
        "status": "the service manager's view of the service and the daemon's /health",
    }
    for name, text in helps.items():
        action = actions.add_parser(name, help=text)
        action.add_argument("--dry-run", action="store_true",
                            help="print what would be written and run, change nothing")
        action.add_argument("--platform", choices=["linux", "macos"],
                            help="systemd (linux) or launchd (macos); default: this machine's")
        action.add_argument("--config", help="config file the service's daemon uses (default: $CODEXBARD_CONFIG "
                                             "or ~/.config/codexbard/config.toml)")
        if name != "status":
            action.add_argument("--force", action="store_true",
                                help="replace or remove a file that `service install` did not write")
    return service


def run(args: argparse.Namespace, env: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    """Carry out `codexbard service …` (env defaults to os.environ, out to stdout); the process exit code."""
    from codexbard.service.command import run_service

    return run_service(args, env, out)
