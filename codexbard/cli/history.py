"""`codexbard history`: stored samples of one window, read from the database (no daemon needed)."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Mapping
from typing import Any

from codexbard.cli.common import EXIT_OK, EXIT_USAGE, CliError, add_config_option, load_runtime, unknown_provider

NAME = "history"


def add_parser(subparsers: Any) -> None:
    """Register `history` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(NAME, help="stored samples of one window")
    parser.add_argument("--provider", required=True, metavar="ID", help="provider id")
    parser.add_argument("--account", metavar="LABEL", help="a configured account (default: the default account)")
    parser.add_argument("--window", default="primary", metavar="W",
                        help="primary (default), secondary, tertiary, or an extra window id")
    parser.add_argument("--since", metavar="T", help="ISO 8601 or epoch seconds (default: 24 h before --until)")
    parser.add_argument("--until", metavar="T", help="ISO 8601 or epoch seconds (default: now)")
    parser.add_argument("--step", metavar="SECONDS",
                        help="one point per step, the last sample in it (1 to 31536000; default: every sample)")
    parser.add_argument("--format", choices=["text", "json"], default="text",
                        help="text for people (default) or the JSON of GET /history")
    add_config_option(parser)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Print the samples; exit 2 for a bad range or step, 1 when the database cannot be read."""
    from datetime import timedelta

    from codexbard.errors import StoreError
    from codexbard.host.clock import parse_query_step, parse_query_time
    from codexbard.models import iso_z
    from codexbard.store import Store

    runtime = load_runtime(env, args.config)
    if args.provider not in runtime.registry:
        raise unknown_provider(args.provider, runtime)
    now = runtime.clock.now()
    try:
        step = parse_query_step("--step", args.step) if args.step is not None else None
        until = parse_query_time("until", args.until) if args.until else now
        since = parse_query_time("since", args.since) if args.since else until - timedelta(hours=24)
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if since > until:
        raise CliError("'since' must not be after 'until'", EXIT_USAGE)
    database = runtime.paths.database
    if not database.exists():
        raise CliError(f"no database at {database} yet (start `codexbard serve` first)")

    async def read() -> list[Any]:
        try:
            store = await Store.open(database, clock=runtime.clock)
            try:
                return await store.history(args.provider, args.account, args.window, since, until, step)
            finally:
                await store.close()
        finally:
            await runtime.aclose()

    try:
        samples = asyncio.run(read())
    except StoreError as exc:
        raise CliError(f"database error: {exc}") from None
    points = [{"t": iso_z(s.t), "usedPercent": s.used_percent,
               "resetsAt": iso_z(s.resets_at) if s.resets_at else None} for s in samples]
    if args.format == "json":
        print(json.dumps({"provider": args.provider, "account": args.account, "window": args.window,
                          "points": points}, indent=2))
    else:
        if not points:
            print(f"No samples for {args.provider} {args.window} in that range.")
        for point in points:
            print(f"{point['t']}  {point['usedPercent']:6.1f}%  resets {point['resetsAt'] or '-'}")
    return EXIT_OK
