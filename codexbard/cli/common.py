"""What every `codexbard` command shares: the one-line error, exit codes, config loading, option helpers."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from codexbard.errors import ConfigError
from codexbard.host.files import HomeFiles

if TYPE_CHECKING:
    from codexbard.providers.registry import PollTarget
    from codexbard.runtime import Runtime

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A failure to report as one line with an exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def err(message: str) -> None:
    """Print one `codexbard: …` line to stderr."""
    print(f"codexbard: {message}", file=sys.stderr)


def config_arg(env: Mapping[str, str], config: str | None) -> Path | None:
    """The --config path, with `~` expanded against the given environment's HOME."""
    return HomeFiles(env).expand(config) if config else None


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Add the `--config PATH` option every command takes."""
    parser.add_argument(
        "--config", metavar="PATH",
        help="config file (default: $CODEXBARD_CONFIG, else $XDG_CONFIG_HOME/codexbard/config.toml)",
    )


def load_runtime(env: Mapping[str, str], config: str | None) -> Runtime:
    """Load settings and build the runtime, or raise CliError (exit 2) naming the bad key and file."""
    from codexbard.config import check_intervals, load_settings
    from codexbard.providers.registry import default_registry
    from codexbard.runtime import Runtime

    try:
        settings, paths = load_settings(env, config_arg(env, config))
        registry = default_registry()
        check_intervals(settings, registry, str(paths.config_file))
        return Runtime(settings, paths, env, registry=registry)
    except ConfigError as exc:
        raise CliError(f"config error: {exc}", EXIT_USAGE) from None


def unknown_provider(provider_id: str, runtime: Runtime) -> CliError:
    """The exit-2 error for a provider id the registry does not know."""
    return CliError(f"unknown provider '{provider_id}' (known: {', '.join(runtime.registry.ids())})", EXIT_USAGE)


def select_targets(runtime: Runtime, providers: Sequence[str] | None, account: str | None) -> list[PollTarget]:
    """The accounts `--provider`/`--account` name (default: every enabled one)."""
    for provider_id in providers or ():
        if provider_id != "all" and provider_id not in runtime.registry:
            raise unknown_provider(provider_id, runtime)
    if not providers:
        targets = [p for p in runtime.targets if runtime.detect_blocking(p).enabled]
    elif "all" in providers:
        targets = list(runtime.targets)
    else:
        targets = [p for p in runtime.targets if p.spec.id in providers]
    if account is not None:
        targets = [p for p in targets if p.account == account]
        if not targets:
            raise CliError(f"no configured account '{account}'", EXIT_USAGE)
    return targets


def source_choices() -> list[str]:
    """Every source mode some registered provider accepts (`auto` first)."""
    from codexbard.providers.registry import default_registry

    modes: dict[str, None] = {"auto": None}
    for spec in default_registry():
        modes.update(dict.fromkeys(spec.modes()))
    return list(modes)


def seconds(text: str) -> float:
    """An argparse type: a finite, non-negative number of seconds (`5`, `0.5`)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number of seconds, got {text!r}")
    return value
