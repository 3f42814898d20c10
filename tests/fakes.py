"""Scripted providers for scheduler, API and end-to-end tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codexbard.config import load_settings
from codexbard.errors import ProviderError
from codexbard.host.clock import Clock
from codexbard.host.credentials import MemorySecretStore
from codexbard.models import RateWindow, UsageSnapshot
from codexbard.providers.base import Availability, ConfigKey, FetchContext, ProviderSpec, Strategy
from codexbard.providers.registry import Registry
from codexbard.runtime import Runtime
from codexbard.status.source import StatusSource


class ScriptedStrategy(Strategy):
    """Returns (or raises) the next scripted result; the last one repeats."""

    id = "api"
    kind = "api"
    source_label = "api"

    def __init__(self, results: Sequence[UsageSnapshot | ProviderError], *, available: bool = True,
                 delay: float = 0.0) -> None:
        self.results = list(results)
        self.is_available = available
        self.delay = delay
        self.calls = 0
        self.running = 0
        self.max_running = 0

    async def available(self, ctx: FetchContext) -> Availability:
        return Availability.yes("scripted") if self.is_available else Availability.no("no scripted key")

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        self.calls += 1
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            result = self.results[min(self.calls - 1, len(self.results) - 1)]
        finally:
            self.running -= 1
        if isinstance(result, ProviderError):
            raise result
        return result


def snapshot(used: float, **kwargs: Any) -> UsageSnapshot:
    """A snapshot with one primary window."""
    return UsageSnapshot(primary=RateWindow(used_percent=used, label="Session", **kwargs))


def fake_spec(provider_id: str, strategy: Strategy, *, status: StatusSource | None = None,
              display_name: str | None = None, refresh_floor: int = 0,
              account_keys: tuple[ConfigKey, ...] = ()) -> ProviderSpec:
    """A ProviderSpec around one strategy."""
    return ProviderSpec(
        id=provider_id,
        display_name=display_name or provider_id.capitalize(),
        strategies=(strategy,),
        window_labels=("Session", None, None),
        min_interval_seconds=1,
        status=status,
        refresh_floor_seconds=refresh_floor,
        account_keys=account_keys,
        enable_hint=f"Set {provider_id.upper()}_KEY.",
    )


def make_runtime(tmp_path: Path, specs: Sequence[ProviderSpec], toml: str = "",
                 env: dict[str, str] | None = None, clock: Clock | None = None) -> Runtime:
    """A Runtime over fake specs with a config file and an in-memory secret store."""
    config = tmp_path / "config.toml"
    config.write_text(toml)
    environment = {"HOME": str(tmp_path / "home"), **(env or {})}
    settings, paths = load_settings(environment, config)
    return Runtime(settings, paths, environment, registry=Registry(specs),
                   secret_store=MemorySecretStore(), clock=clock)
