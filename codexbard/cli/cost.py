"""`codexbard cost`: local token cost from the Codex and Claude logs, scanned here (no daemon needed).

It reads and updates the same incremental scan state in the database as the daemon's cost job, so it reads only
what is new; `--format json` prints exactly the `GET /cost` array.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from typing import Any

from codexbard.cli.common import EXIT_OK, EXIT_USAGE, CliError, add_config_option, config_arg

NAME = "cost"


def add_parser(subparsers: Any) -> None:
    """Register `cost` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME, help="local token cost from the Codex and Claude logs (scans them itself)"
    )
    parser.add_argument("--provider", choices=["codex", "claude", "all"], default="all",
                        help="whose logs (default: all)")
    window = parser.add_mutually_exclusive_group()
    window.add_argument("--days", type=int, metavar="N", help="the last N local days including today (1-365; "
                                                                "default 30)")
    window.add_argument("--period", choices=["month", "all"], help="this local month, or everything kept")
    parser.add_argument("--format", choices=["text", "json"], default=None,
                        help="text for people (default) or the JSON array of GET /cost")
    parser.add_argument("--timezone", metavar="TZ",
                        help="IANA time zone for the days (default: [cost] timezone, else the local zone)")
    add_config_option(parser)
    compat = parser.add_argument_group("CodexBar CLI compatibility")
    compat.add_argument("--json", action="store_true", help="same as --format json")
    compat.add_argument("--json-only", action="store_true", help="--format json unless another format is given")
    compat.add_argument("--json-output", action="store_true", help="accepted; logs already go to stderr")


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Scan, then print the report; exit 2 for bad options or config, 1 when the database fails."""
    from codexbard.config import load_settings
    from codexbard.cost.pricing import Pricing
    from codexbard.cost.roots import discover_roots
    from codexbard.cost.service import (
        CostQueryError,
        PersistentScan,
        cost_json,
        cost_reports,
        local_zone_name,
        parse_cost_query,
    )
    from codexbard.cost.timeutil import TimeZoneError, zone
    from codexbard.errors import ConfigError, StoreError
    from codexbard.host.clock import Clock
    from codexbard.host.files import HomeFiles
    from codexbard.store import Store

    try:
        settings, paths = load_settings(env, config_arg(env, args.config))
    except ConfigError as exc:
        raise CliError(f"config error: {exc}", EXIT_USAGE) from None
    tz = args.timezone or settings.cost.timezone or local_zone_name(env)
    try:
        zi = zone(tz)
        query = parse_cost_query([args.provider], str(args.days) if args.days is not None else None, args.period)
    except (TimeZoneError, CostQueryError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    roots = discover_roots(env, HomeFiles(env).home)
    database = paths.database
    clock = Clock()

    async def migrate() -> None:
        store = await Store.open(database, clock=clock)
        await store.close()

    try:
        asyncio.run(migrate())
        outcome = PersistentScan(database, roots, tz).run()
    except StoreError as exc:
        raise CliError(f"database error: {exc}") from None
    reports = cost_reports(outcome.snapshot, query, pricing=Pricing(settings.cost.pricing), tz=zi, now=clock.now())
    fmt = args.format or ("json" if args.json or args.json_only else "text")
    if args.json and fmt != "json":
        raise CliError(f"--json contradicts --format {fmt}", EXIT_USAGE)
    if fmt == "json":
        sys.stdout.write(cost_json(reports).decode() + "\n")
    else:
        sys.stdout.write(render_text(reports, tz))
    return EXIT_OK


_NAMES = {"codex": "Codex", "claude": "Claude"}
_COLUMNS = ("Date", "Input", "Output", "Cache read", "Cache write", "Total tokens", "Cost (USD)", "Models")


def _usd(value: float | None) -> str:
    return "n/a" if value is None else f"${value:,.2f}"


def _row(label: str, block: dict[str, Any], models: str) -> list[str]:
    return [label, f"{block['inputTokens']:,}", f"{block['outputTokens']:,}", f"{block['cacheReadTokens']:,}",
            f"{block['cacheCreationTokens']:,}", f"{block['totalTokens']:,}", _usd(block["totalCost"]), models]


def render_text(reports: list[dict[str, Any]], tz: str) -> str:
    """A readable table per provider: one row per local day, the window's total, today and unpriced tokens."""
    out: list[str] = []
    for report in reports:
        name = _NAMES.get(report["provider"], report["provider"])
        scanned = report["updatedAt"] or "never"
        out.append(f"{name}: local logs, days in {tz}, scanned {scanned}")
        if not report["daily"]:
            out.append("  no usage in this window")
            out.append("")
            continue
        rows = [list(_COLUMNS)]
        rows += [_row(d["date"], d, ", ".join(d["modelsUsed"])) for d in report["daily"]]
        rows.append(_row("Total", report["totals"], ""))
        widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS) - 1)]
        for r in rows:
            cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, len(widths))]
            out.append("  " + "  ".join(cells) + ("  " + r[-1] if r[-1] else ""))
        today = report["sessionTokens"]
        out.append(f"  Today: {today or 0:,} tokens, {_usd(report['sessionCostUSD'])}")
        unpriced = report["totals"]["unpricedTokens"]
        if unpriced:
            out.append(f"  {unpriced:,} tokens are of models without a known price (not counted in the cost)")
        out.append("")
    return "\n".join(out)
