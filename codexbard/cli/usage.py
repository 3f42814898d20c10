"""`codexbard usage`: fetch usage once, without a daemon (same JSON as GET /usage)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from codexbard.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    add_config_option,
    err,
    load_runtime,
    select_plans,
    source_choices,
)

if TYPE_CHECKING:
    from codexbard.models import ProviderStatus
    from codexbard.state import State

NAME = "usage"


def add_parser(subparsers: Any) -> None:
    """Register `usage` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(NAME, help="fetch usage once, without a daemon")
    parser.add_argument("--provider", action="append", metavar="ID",
                        help="provider id (repeatable), or `all` for every registered provider "
                             "(default: every enabled provider)")
    parser.add_argument("--account", metavar="LABEL", help="only this configured account")
    parser.add_argument("--source", choices=source_choices(),
                        help="run only the strategies of this source mode (default: the configured `source`)")
    parser.add_argument("--status", action="store_true", help="also poll each provider's service status")
    parser.add_argument("--format", choices=["text", "json", "flat", "waybar", "swiftbar"], default="text",
                        help="text for people (default), the JSON of GET /usage, the flat object, one Waybar "
                             "JSON line, or SwiftBar/xbar plugin text")
    parser.add_argument("--pretty", action="store_true", help="indent the JSON output")
    add_config_option(parser)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Fetch, print, and exit 1 when any requested provider failed."""
    from codexbard import render
    from codexbard.cli.status import poll_statuses
    from codexbard.state import AccountState, State

    runtime = load_runtime(env, args.config)
    plans = select_plans(runtime, args.provider, args.account)
    if args.source:
        for plan in plans:
            if args.source not in plan.spec.modes():
                raise CliError(
                    f"{plan.spec.display_name} does not accept --source {args.source} "
                    f"(accepts: {', '.join(plan.spec.modes())})", EXIT_USAGE)
    if not plans and not args.provider and args.format != "text":  # the text output carries this hint itself
        err("no provider is enabled; run `codexbard providers` to see what each one needs")

    async def fetch() -> tuple[State, dict[str, ProviderStatus]]:
        # Like GET /usage: a requested provider that is not enabled is reported, not fetched.
        state = State([AccountState(p, await runtime.detect(p)) for p in plans])
        polled = state.enabled()
        try:
            outcomes = await asyncio.gather(*(runtime.fetch(a.plan, args.source) for a in polled))
            statuses = await poll_statuses(runtime, plans) if args.status else {}
        finally:
            await runtime.aclose()
        now = runtime.clock.now()
        for account, outcome in zip(polled, outcomes, strict=True):
            state.record_fetch(account.plan.key, outcome, now)
        return state, statuses

    state, statuses = asyncio.run(fetch())
    now = runtime.clock.now()
    redact = runtime.settings.redact_identity
    # `scheduled` only for the accounts that are not enabled: their payload says how to enable them.
    payloads = [a.payload(now, statuses.get(a.plan.spec.id), redact=redact, scheduled=not a.enabled)
                for a in state.accounts.values()]
    if args.format == "json":
        print(render.payloads_json(payloads, pretty=args.pretty))
    elif args.format == "flat":
        print(json.dumps(render.flat(payloads), indent=2 if args.pretty else None))
    elif args.format == "waybar":
        thresholds = render.Thresholds.of(runtime.settings.display)
        sys.stdout.write(render.waybar(payloads, now, thresholds, render.local_zone(env)))
    elif args.format == "swiftbar":
        # No daemon to POST /refresh to: the menu's refresh action re-runs the plugin, which fetches again.
        thresholds = render.Thresholds.of(runtime.settings.display)
        sys.stdout.write(render.swiftbar(payloads, now, thresholds, render.local_zone(env), None))
    else:
        sys.stdout.write(render.text(payloads, now, render.local_zone(env)))
    return EXIT_OK if all(p.error is None for p in payloads) else EXIT_FAILED
