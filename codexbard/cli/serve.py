"""`codexbard serve`: run the daemon in the foreground (the work is in codexbard.serve)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from codexbard.cli.common import add_config_option, config_arg, seconds

NAME = "serve"


def add_parser(subparsers: Any) -> None:
    """Register `serve` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(NAME, help="run the daemon in the foreground")
    parser.add_argument("--host", help="address to bind (default: the `host` setting, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: the `port` setting, 8765)")
    add_config_option(parser)
    add_codexbar_serve_flags(parser)


def add_codexbar_serve_flags(parser: argparse.ArgumentParser) -> None:
    """The flags clients written for `codexbar serve` pass (CodexBar's CLI meanings, mapped to settings)."""
    group = parser.add_argument_group("CodexBar CLI compatibility")
    group.add_argument("--refresh-interval", type=seconds, metavar="SECONDS",
                       help="poll every provider this often (sets default_interval_seconds; "
                            "raised to a provider's minimum)")
    group.add_argument("--request-timeout", type=seconds, metavar="SECONDS",
                       help="how long POST /refresh waits for polls (sets refresh_timeout_seconds; 0: the longest, "
                            "600 s)")
    group.add_argument("--json-output", action="store_true", help="write logs to stderr as JSON lines")


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Run the daemon until SIGTERM/SIGINT; the process exit code."""
    from codexbard.host.lean import trim_imports

    trim_imports()
    from codexbard.serve import ServeOptions, run_serve

    options = ServeOptions(refresh_interval=args.refresh_interval, request_timeout=args.request_timeout,
                           json_logs=args.json_output)
    return run_serve(env, config_arg(env, args.config), args.host, args.port, options)
