"""`codexbard status`: poll the service-status sources of the enabled providers once."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from codexbard.cli.common import EXIT_FAILED, EXIT_OK, add_config_option, load_runtime

if TYPE_CHECKING:
    from codexbard.models import ProviderStatus
    from codexbard.providers.registry import PollTarget
    from codexbard.runtime import Runtime

NAME = "status"


def add_parser(subparsers: Any) -> None:
    """Register `status` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(NAME, help="poll the service status sources once")
    parser.add_argument("--format", choices=["text", "json"], default="text",
                        help="text for people (default) or the JSON of GET /status")
    add_config_option(parser)


async def poll_statuses(runtime: Runtime, targets: Sequence[PollTarget]) -> dict[str, ProviderStatus]:
    """The service status of each given provider that has a status source (link-only ones not polled)."""
    from codexbard.models import ProviderStatus
    from codexbard.status.poller import StatusPoller

    sources = {p.spec.id: p.spec.status for p in targets if p.spec.status is not None}
    polled = {k: v for k, v in sources.items() if v.kind != "link"}
    result = {k: v.link_status() for k, v in sources.items() if v.kind == "link"}
    if polled:
        result.update(await StatusPoller(runtime.http, runtime.clock).poll(polled))
    for provider_id, source in polled.items():
        result.setdefault(provider_id, ProviderStatus(kind=source.kind, indicator="unknown", url=source.page_url))
    return result


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Print each status; exit 1 when any could not be read."""
    runtime = load_runtime(env, args.config)
    targets = [p for p in runtime.targets if runtime.detect_blocking(p).enabled]

    async def poll() -> dict[str, ProviderStatus]:
        try:
            return await poll_statuses(runtime, targets)
        finally:
            await runtime.aclose()

    statuses = asyncio.run(poll())
    rows = [{"provider": k, **v.wire()} for k, v in statuses.items()]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        if not rows:
            print("No enabled provider has a status source.")
        for row in rows:
            indicator = row["indicator"] or "link"
            print(f"{row['provider']:<12} {indicator:<12} {row['description'] or ''} {row['url']}".rstrip())
    unknown = [r for r in rows if r["indicator"] == "unknown"]
    return EXIT_FAILED if unknown else EXIT_OK
