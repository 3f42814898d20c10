"""`codexbard doctor`: config, storage, secret store, and each provider's credentials and strategies.

It runs on an invalid config too: the bad keys are named (file or variable) and left out, the rest is
reported, and the exit code is 2.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from typing import Any

from codexbard.cli.common import EXIT_OK, EXIT_USAGE, add_config_option, config_arg, err

NAME = "doctor"


def add_parser(subparsers: Any) -> None:
    """Register `doctor` and its options."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        NAME, help="which credentials were found where, and each strategy's state")
    add_config_option(parser)


def run(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Print the report; exit 2 when the config has problems (after printing everything else)."""
    from codexbard import __version__
    from codexbard.config import load_settings_tolerant, redact_url
    from codexbard.errors import StoreError
    from codexbard.models import iso_z
    from codexbard.providers.registry import default_registry
    from codexbard.runtime import Runtime

    registry = default_registry()
    loaded = load_settings_tolerant(env, config_arg(env, args.config), registry)
    runtime = Runtime(loaded.settings, loaded.paths, env, registry=registry)
    paths = runtime.paths
    print(f"codexbard {__version__}")
    present = "present" if paths.config_file.exists() else "absent; defaults in use"
    print(f"config file:   {paths.config_file} ({present})")
    for problem in loaded.problems:
        print(f"config error:  {problem} (left out below)")
    print(f"database:      {paths.database} ({'present' if paths.database.exists() else 'not created yet'})")
    print(f"secret store:  {runtime.secret_store_note}")
    overrides = runtime.settings.upstream_overrides
    if overrides:
        print(f"overrides:     {', '.join(f'{redact_url(k)} -> {redact_url(v)}' for k, v in overrides.items())}")
    last_errors: dict[str, Any] = {}
    if paths.database.exists():
        from codexbard.store import Store

        async def read() -> list[Any]:
            store = await Store.open(paths.database, clock=runtime.clock)
            try:
                return await store.load_latest()
            finally:
                await store.close()

        try:
            for record in asyncio.run(read()):
                key = record.provider if record.account is None else f"{record.provider}:{record.account}"
                last_errors[key] = record
        except StoreError as exc:
            print(f"database problem: {exc}")
    print()
    for target in runtime.targets:
        detection = runtime.detect_blocking(target)
        print(f"{target.key}: {'enabled' if detection.enabled else 'disabled'}")
        for strategy_id, availability in detection.strategies:
            mark = "ok " if availability.ok else "-- "
            print(f"  {mark}{strategy_id}: {availability.reason}")
        record = last_errors.get(target.key)
        if record is not None:
            if record.last_success_at:
                print(f"  last success: {iso_z(record.last_success_at)}")
            if record.error is not None:
                print(f"  last error: {record.error.kind}: {record.error.message}")
        hint = target.spec.enable_hint
        if not detection.enabled and hint and not any(hint in a.reason for _, a in detection.strategies):
            print(f"  how to enable: {hint}")
    asyncio.run(runtime.aclose())
    for problem in loaded.problems:
        err(f"config error: {problem}")
    return EXIT_USAGE if loaded.problems else EXIT_OK
