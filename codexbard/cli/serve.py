"""`codexbard serve`: run the daemon in the foreground (the work is in codexbard.serve)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from codexbard.cli.common import add_config_option, config_arg

NAME = "serve"


def add_parser(subparsers: Any) -> None:
    """Register `serve` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(NAME, help="run the daemon in the foreground")
    parser.add_argument("--host", help="address to bind (default: the `host` setting, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: the `port` setting, 8765)")
    add_config_option(parser)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Run the daemon until SIGTERM/SIGINT; the process exit code."""
    from codexbard.serve import run_serve

    return run_serve(env, config_arg(env, args.config), args.host, args.port)
