"""The daemon: store, state (with its event hub) and scheduler around one runtime, with start and stop.

Subscribe to state changes with `daemon.state.hub.subscribe(name, maxsize)` (see codexbard/events.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

from codexbard.events import EventHub
from codexbard.forecast import MAIN_WINDOWS, Point, snapshot_forecast
from codexbard.models import Forecast, ProviderPayload
from codexbard.recent import KEEP
from codexbard.runtime import Runtime
from codexbard.scheduler import PollScheduler
from codexbard.scheduler.cost import CostJob
from codexbard.state import AccountState, State
from codexbard.store import Store

log = logging.getLogger(__name__)


class Daemon:
    """One running codexbard: what `serve` starts and the HTTP API reads."""

    def __init__(self, runtime: Runtime, store: Store | None, state: State, cost: CostJob | None = None) -> None:
        self.runtime = runtime
        self.store = store
        self.state = state
        self.cost = cost
        self.started_monotonic = time.monotonic()
        poller = None
        if any(p.spec.status is not None and p.spec.status.kind != "link" for p in runtime.targets):
            from codexbard.status.poller import StatusPoller

            poller = StatusPoller(runtime.http, runtime.clock)
        self.scheduler = PollScheduler(
            runtime, state, store, status_poller=poller, max_concurrent=runtime.settings.max_concurrent_polls,
            cost_job=cost,
        )
        self._stopped = False

    @classmethod
    async def open(cls, runtime: Runtime, *, use_store: bool = True) -> Daemon:
        """Open the database, detect providers and load the last stored data (marked stale)."""
        store = await Store.open(runtime.paths.database, clock=runtime.clock) if use_store else None
        detections = await asyncio.gather(*(runtime.detect(p) for p in runtime.targets))
        state = State(
            (AccountState(target, detection) for target, detection in zip(runtime.targets, detections, strict=True)),
            hub=EventHub(),
        )
        if store is not None:
            now = runtime.clock.now()
            for record in await store.load_latest():
                state.restore(record, now)
            for provider_id, status in (await store.load_statuses()).items():
                state.set_status(provider_id, status, now)
            await preload_recent(store, state, now)
        for account in state.accounts.values():
            log.info("%s: %s (%s)", account.target.key, "enabled" if account.enabled else "disabled",
                     account.detection.reason())
        cost = None
        if store is not None and runtime.settings.cost.enabled:
            from codexbard.cost.worker import ProcessScanRunner
            from codexbard.scheduler.cost import cost_job_for

            cost = cost_job_for(runtime.settings.cost, state, runtime.clock, db_path=store.path, env=runtime.env,
                                home=runtime.files.home, runner=ProcessScanRunner(),
                                http=runtime.http, data_dir=runtime.paths.data_dir)
            await cost.restore(store)
        return cls(runtime, store, state, cost)

    def start(self) -> None:
        """Start the background jobs (inside the running event loop)."""
        self.scheduler.start()

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop jobs, finish or cancel polls, close the database and the HTTP client."""
        if self._stopped:
            return
        self._stopped = True
        deadline = time.monotonic() + timeout
        if self.cost is not None:  # first: a scan in flight is abandoned, not reported as failed
            try:
                await asyncio.wait_for(self.cost.stop(), max(0.2, deadline - time.monotonic() - 1.5))
            except Exception as exc:
                log.error("stopping the cost job failed: %s", exc)
        await self.scheduler.shutdown(timeout=max(0.5, deadline - time.monotonic() - 1.5))
        if self.store is not None:
            try:
                await asyncio.wait_for(self.store.close(), max(0.2, deadline - time.monotonic()))
            except Exception as exc:
                log.error("closing the database failed: %s", exc)
        await self.runtime.aclose()
        log.info("stopped")

    def uptime(self) -> float:
        """Seconds since the daemon was created."""
        return time.monotonic() - self.started_monotonic

    def payloads(self, accounts: list[AccountState]) -> list[ProviderPayload]:
        """Build the payloads of some accounts at the current time, with forecasts from the recent samples."""
        now = self.runtime.clock.now()
        redact = self.runtime.settings.redact_identity
        costs = self.state.costs
        out = []
        for account in accounts:
            payload = account.payload(now, self.state.status_for(account), redact=redact,
                                      cost=costs.get(account.target.spec.id))
            forecast = self.forecast(account, now) if payload.usage is not None else None
            out.append(payload.model_copy(update={"forecast": forecast}) if forecast is not None else payload)
        return out

    def forecast(self, account: AccountState, now: datetime) -> Forecast | None:
        """The forecast of an account's windows from the in-memory samples (None without a snapshot)."""
        snapshot = account.snapshot
        if snapshot is None:
            return None
        recent, key = self.state.recent, account.key
        return snapshot_forecast(snapshot, lambda window: recent.series(key, window), now)


async def preload_recent(store: Store, state: State, now: datetime) -> int:
    """Fill the forecasts' in-memory samples from the last day of stored history; return how many."""
    try:
        stored = await store.recent_samples(now - KEEP)
    except Exception as exc:  # forecasts are an extra: a database that cannot answer must not stop the start
        log.warning("could not read recent history for forecasts: %s", exc)
        return 0
    taken = 0
    for (provider, account, window), samples in stored.items():
        key = provider if account is None else f"{provider}:{account}"
        if key in state.accounts and window in MAIN_WINDOWS:
            taken += state.recent.preload(key, window, (Point(s.t, s.used_percent, s.resets_at) for s in samples))
    return taken
