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
    seconds,
    select_targets,
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
    parser.add_argument("--format", choices=["text", "json", "flat", "waybar", "swiftbar"], default=None,
                        help="text for people (default), the JSON of GET /usage, the flat object, one Waybar "
                             "JSON line, or SwiftBar/xbar plugin text")
    parser.add_argument("--pretty", action="store_true", help="indent the JSON output")
    add_config_option(parser)
    add_codexbar_usage_flags(parser)


def add_codexbar_usage_flags(parser: argparse.ArgumentParser) -> None:
    """The flags clients written for `codexbar usage` pass, with the CodexBar CLI's meanings."""
    group = parser.add_argument_group("CodexBar CLI compatibility")
    group.add_argument("--json", action="store_true", help="same as --format json")
    group.add_argument("--json-only", action="store_true",
                       help="print JSON only: --format json unless another format is given, and no hints on stderr")
    group.add_argument("--json-output", action="store_true", help="write logs to stderr as JSON lines")
    group.add_argument("--web-timeout", type=seconds, metavar="SECONDS",
                       help="give each web (browser-cookie) strategy at most this long")


def output_format(args: argparse.Namespace) -> str:
    """The format asked for: --format, else json for --json/--json-only, else text."""
    if args.format is not None:
        if args.json and args.format != "json":
            raise CliError(f"--json contradicts --format {args.format}", EXIT_USAGE)
        return str(args.format)
    return "json" if args.json or args.json_only else "text"


def json_log_handler() -> None:
    """Send every log record to stderr as one JSON line (`--json-output`)."""
    import logging

    from codexbard.serve import JsonLinesFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLinesFormatter())
    logging.getLogger().handlers[:] = [handler]


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Fetch, print, and exit 1 when any requested provider failed."""
    from codexbard import render
    from codexbard.cli.status import poll_statuses
    from codexbard.state import AccountState, State

    fmt = output_format(args)
    if args.json_output:
        json_log_handler()
    runtime = load_runtime(env, args.config)
    targets = select_targets(runtime, args.provider, args.account)
    if args.source:
        for target in targets:
            if args.source not in target.spec.modes():
                raise CliError(
                    f"{target.spec.display_name} does not accept --source {args.source} "
                    f"(accepts: {', '.join(target.spec.modes())})", EXIT_USAGE)
    if not targets and not args.provider and fmt != "text" and not args.json_only:  # text carries the hint itself
        err("no provider is enabled; run `codexbard providers` to see what each one needs")

    async def fetch() -> tuple[State, dict[str, ProviderStatus]]:
        # Like GET /usage: a requested provider that is not enabled is reported, not fetched.
        state = State([AccountState(p, await runtime.detect(p)) for p in targets])
        polled = state.enabled()
        try:
            outcomes = await asyncio.gather(*(runtime.fetch(a.target, args.source, web_timeout=args.web_timeout)
                                              for a in polled))
            statuses = await poll_statuses(runtime, targets) if args.status else {}
        finally:
            await runtime.aclose()
        now = runtime.clock.now()
        for account, outcome in zip(polled, outcomes, strict=True):
            state.record_fetch(account.target.key, outcome, now)
        return state, statuses

    state, statuses = asyncio.run(fetch())
    now = runtime.clock.now()
    redact = runtime.settings.redact_identity
    # `scheduled` only for the accounts that are not enabled: their payload says how to enable them.
    payloads = [a.payload(now, statuses.get(a.target.spec.id), redact=redact, scheduled=not a.enabled)
                for a in state.accounts.values()]
    if fmt == "json":
        print(render.payloads_json(payloads, pretty=args.pretty))
    elif fmt == "flat":
        print(json.dumps(render.flat(payloads), indent=2 if args.pretty else None))
    elif fmt == "waybar":
        thresholds = render.Thresholds.of(runtime.settings.display)
        sys.stdout.write(render.waybar(payloads, now, thresholds, render.local_zone(env)))
    elif fmt == "swiftbar":
        # No daemon to POST /refresh to: the menu's refresh action re-runs the plugin, which fetches again.
        thresholds = render.Thresholds.of(runtime.settings.display)
        sys.stdout.write(render.swiftbar(payloads, now, thresholds, render.local_zone(env), None))
    else:
        sys.stdout.write(render.text(payloads, now, render.local_zone(env)))
    return EXIT_OK if all(p.error is None for p in payloads) else EXIT_FAILED
