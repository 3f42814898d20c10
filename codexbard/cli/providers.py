"""`codexbard providers`: what is registered, enabled, available, and why not."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from codexbard.cli.common import EXIT_OK, add_config_option, load_runtime

NAME = "providers"


def add_parser(subparsers: Any) -> None:
    """Register `providers` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME, help="what is registered, enabled, available, and why not")
    parser.add_argument("--format", choices=["text", "json"], default="text",
                        help="text for people (default) or the JSON of GET /providers")
    add_config_option(parser)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Print every registered provider and each strategy's availability."""
    from codexbard import render
    from codexbard.state import AccountState

    runtime = load_runtime(env, args.config)
    accounts = [AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets]
    infos = [render.provider_info(spec, [a for a in accounts if a.target.spec.id == spec.id])
             for spec in runtime.registry]
    if args.format == "json":
        print(json.dumps(infos, indent=2))
        return EXIT_OK
    for info in infos:
        print(f"{info['id']:<12} {'enabled' if info['enabled'] else 'disabled'}")
        for strategy in info["strategies"]:
            state = "available" if strategy["available"] else "unavailable"
            reason = f": {strategy['reason']}" if strategy["reason"] else ""
            print(f"    {strategy['id']} ({strategy['sourceLabel']}) {state}{reason}")
        hint = info["enableHint"]
        if not info["enabled"] and hint and not any(hint in (s["reason"] or "") for s in info["strategies"]):
            print(f"    how to enable: {hint}")
    return EXIT_OK
