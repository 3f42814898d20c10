"""What the routes read: the daemon's parts, passed to each route module explicitly by `create_app`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from codexbard.api.errors import ClientError
from codexbard.api.sessions import SessionStore
from codexbard.config import Settings
from codexbard.host.clock import Clock
from codexbard.models import ProviderPayload
from codexbard.providers.registry import Registry
from codexbard.scheduler import PollScheduler
from codexbard.scheduler.cost import CostJob
from codexbard.state import AccountState, State
from codexbard.store import Store


@dataclass(frozen=True, slots=True)
class ApiContext:
    """The daemon's state, registry, scheduler, store and clock as the API sees them, and the page's sessions."""

    state: State
    registry: Registry
    settings: Settings
    clock: Clock
    scheduler: PollScheduler
    store: Store | None
    payloads: Callable[[list[AccountState]], list[ProviderPayload]]
    uptime: Callable[[], float]
    stopping: asyncio.Event | None = None
    sessions: SessionStore = field(default_factory=SessionStore)
    cost: CostJob | None = None

    def unknown_provider(self, provider_id: str, status: int = 400) -> ClientError:
        """The error for an id the registry does not know, listing the ones it does."""
        return ClientError(status, {"error": f"unknown provider '{provider_id}'", "known": self.registry.ids()})

    def select(self, providers: list[str] | None, account: str | None) -> list[AccountState]:
        """The accounts a `?provider=…&account=…` query names (default: the enabled ones)."""
        wanted = [p for p in (providers or []) if p]
        if not wanted:
            chosen = self.state.enabled()
        elif "all" in wanted:
            chosen = list(self.state.accounts.values())
        else:
            for provider_id in wanted:
                if provider_id not in self.registry:
                    raise self.unknown_provider(provider_id)
            chosen = [a for a in self.state.accounts.values() if a.target.spec.id in wanted]
        if account is not None:
            chosen = [a for a in chosen if a.target.account == account]
        return chosen

    async def finished_before_shutdown(self, work: Coroutine[Any, Any, Any]) -> bool:
        """Run `work` unless the server stops first; whether it finished (its errors propagate)."""
        stopping = self.stopping
        if stopping is None:
            await work
            return True
        if stopping.is_set():
            work.close()
            return False
        job = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(stopping.wait())
        await asyncio.wait((job, stop), return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not job.done():
            job.cancel()
            return False
        if stopping.is_set() and (job.cancelled() or job.exception() is not None):
            return False
        job.result()
        return True
