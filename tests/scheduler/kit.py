"""Helpers for the scheduler tests: a runtime over fake specs with a fixed clock and a counting upstream."""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from codexbard.config import load_settings
from codexbard.host.clock import FixedClock
from codexbard.host.credentials import MemorySecretStore
from codexbard.host.http import HttpClient
from codexbard.models import UsageSnapshot
from codexbard.providers.base import Availability, FetchContext, ProviderSpec, Strategy
from codexbard.providers.registry import Registry
from codexbard.runtime import Runtime
from codexbard.scheduler import PollScheduler
from codexbard.state import AccountState, State
from codexbard.store import PollRecord
from tests.fakes import snapshot

T0 = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


class HttpStrategy(Strategy):
    """GETs one URL through the shared client; any 2xx is a snapshot at 25 %."""

    id = "api"
    kind = "api"
    source_label = "api"

    def __init__(self, url: str) -> None:
        self.url = url

    async def available(self, ctx: FetchContext) -> Availability:
        return Availability.yes("test key")

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        await ctx.http.get(self.url, service="Alpha")
        return snapshot(25.0)


def spec(strategy: Strategy, **kwargs: Any) -> ProviderSpec:
    """A one-strategy spec named alpha."""
    return ProviderSpec(id="alpha", display_name="Alpha", strategies=(strategy,), min_interval_seconds=1, **kwargs)


class Upstream:
    """An in-process upstream (httpx MockTransport) that counts requests and answers from a script."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests = 0
        self._answer = answer

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return self._answer(request)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)


def closed_port() -> int:
    """A 127.0.0.1 port with nothing listening (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build(tmp_path: Path, specs: Sequence[ProviderSpec], *, transport: httpx.AsyncBaseTransport | None = None,
          toml: str = "", store: Any = None) -> tuple[PollScheduler, State, FixedClock]:
    """A scheduler (not started) over `specs`, with a fixed clock at T0."""
    config = tmp_path / "config.toml"
    config.write_text(toml)
    env = {"HOME": str(tmp_path / "home")}
    settings, paths = load_settings(env, config)
    clock = FixedClock(T0)
    http = HttpClient(clock=clock, transport=transport)
    runtime = Runtime(settings, paths, env, registry=Registry(specs), secret_store=MemorySecretStore(),
                      clock=clock, http=http)
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    return PollScheduler(runtime, state, store), state, clock


class RecordingStore:
    """Keeps every recorded poll."""

    def __init__(self) -> None:
        self.polls: list[PollRecord] = []
        self.statuses: list[tuple[str, Any, datetime]] = []

    async def record_poll(self, poll: PollRecord) -> int:
        self.polls.append(poll)
        return 0 if poll.ok else (poll.consecutive_failures or 0)

    async def save_status(self, provider: str, status: Any, fetched_at: datetime) -> None:
        self.statuses.append((provider, status, fetched_at))

    async def run_retention(self, now: datetime | None = None) -> dict[str, int]:
        return {}

