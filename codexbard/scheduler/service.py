"""The scheduler service: lifecycle (start, shutdown), single-flight polls, refresh-now, the event log.

A poll and a `POST /refresh` for the same account share one in-flight task, so nothing is fetched twice
at once. A semaphore caps concurrent polls. A refresh may skip the interval, never a rate limit, the
provider's floor, the credential back-off (until the credentials change), or the floor after an upstream
failure (scheduler/poll.py, `refresh_blocked`); a failed refresh never lengthens the schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Final, Protocol

from codexbard.events import log_events
from codexbard.host.clock import Clock
from codexbard.runtime import Runtime
from codexbard.scheduler.cost import CostJob
from codexbard.scheduler.jobs import Jobs, StatusPollerLike, StatusStore
from codexbard.scheduler.poll import AccountPoll, PollResult, PollStore, in_credential_backoff, refresh_blocked
from codexbard.state import AccountState, State
from codexbard.telemetry import FetchStats

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_SECONDS: Final = 2.0


class StoreLike(PollStore, StatusStore, Protocol):
    """What the scheduler needs of the store (codexbard.store.Store)."""


class PollScheduler:
    """Owns the jobs, the single-flight poll of each account, and the event-log subscriber."""

    def __init__(
        self,
        runtime: Runtime,
        state: State,
        store: StoreLike | None,
        *,
        status_poller: StatusPollerLike | None = None,
        clock: Clock | None = None,
        max_concurrent: int = 32,
        cost_job: CostJob | None = None,
    ) -> None:
        self.runtime = runtime
        self.state = state
        self.store = store
        self.clock = clock or runtime.clock
        self.fetch_stats = FetchStats()  # what GET /metrics reports of the polls
        self.poller = AccountPoll(runtime, state, store, self.clock, asyncio.Semaphore(max_concurrent),
                                  self.fetch_stats)
        self.cost = cost_job
        self.jobs = Jobs(runtime, state, store, self.clock, self._poll_job, status_poller, cost_job)
        self._tasks: dict[str, asyncio.Task[PollResult | None]] = {}
        self._closing = False
        self._event_log: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Add every job, start the scheduler and the event log (must run inside the event loop)."""
        if self._event_log is None:
            subscription = self.state.hub.subscribe("log", maxsize=1024)
            self._event_log = asyncio.create_task(log_events(subscription), name="event-log")
        self.jobs.start()
        log.info("scheduler started: %d provider account(s) polled", len(self.state.enabled()))

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the jobs; let in-flight polls finish briefly, then cancel them."""
        self._closing = True
        self.jobs.stop()
        pending = [t for t in self._tasks.values() if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=min(SHUTDOWN_GRACE_SECONDS, timeout))
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=max(0.1, timeout - SHUTDOWN_GRACE_SECONDS))
        if self._event_log is not None:
            self.state.hub.close()  # the log task writes what is queued, then ends
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._event_log, 0.5)
            self._event_log = None

    # -- polling ---------------------------------------------------------------------------------

    async def _poll_job(self, key: str) -> None:
        try:
            await self.poll(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("poll of %s failed unexpectedly", key)

    async def poll(self, key: str, *, manual: bool = False) -> None:
        """Poll one account now, joining a poll already in flight."""
        task = self._tasks.get(key)
        if task is None or task.done():
            task = asyncio.create_task(self._poll_once(key, manual), name=f"poll:{key}")
            self._tasks[key] = task
        await asyncio.shield(task)

    async def _poll_once(self, key: str, manual: bool) -> PollResult | None:
        result = await self.poller.run(key, manual=manual)
        account = self.state.get(key)
        if result is not None and account is not None:
            self.jobs.reschedule(account, result.next_run_at)
        return result

    async def refresh(self, keys: Iterable[str], timeout: float) -> None:
        """Poll the given accounts now unless the refresh gate says no; wait at most `timeout` seconds."""
        now = self.clock.now()
        waiting: list[asyncio.Future[None]] = []
        for key in keys:
            account = self.state.get(key)
            if account is None or not account.enabled or self._closing:
                continue
            if await self._refresh_blocked(account, now):
                continue
            waiting.append(asyncio.ensure_future(self.poll(key, manual=True)))
        if waiting:
            await asyncio.wait(waiting, timeout=timeout)

    async def _refresh_blocked(self, account: AccountState, now: datetime) -> bool:
        reason = refresh_blocked(account, now)
        if reason is None and in_credential_backoff(account) and account.credential_fingerprint is not None:
            fingerprint = await self.runtime.credential_fingerprint(account.target)
            if fingerprint == account.credential_fingerprint:
                reason = "waiting for its credentials to change"
        if reason is not None:
            log.debug("%s: refresh skipped (%s)", account.key, reason)
            return True
        return False

    def job_next_run(self, key: str) -> datetime | None:
        """The next scheduled run of an account's job."""
        account = self.state.get(key)
        return account.next_run_at if account else None
