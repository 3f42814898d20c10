"""The poll scheduler: APScheduler 3.x jobs per provider account, backoff, refresh-now and shutdown.

Each enabled account gets one interval job (`max_instances=1`, coalescing, no misfire limit so a
laptop waking from sleep polls once instead of skipping). First runs are staggered. After every poll
the job's next run is set explicitly: the interval plus jitter after a success, the backoff of
`backoff.failure_delay` after a failure. A poll and a `POST /refresh` for the same account share one
in-flight task, so nothing is fetched twice at once. A semaphore caps concurrent polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from codexbard.host.clock import Clock
from codexbard.models import FetchError, ProviderStatus
from codexbard.runtime import Runtime
from codexbard.scheduler.backoff import failure_delay
from codexbard.state import AccountState, State
from codexbard.status.source import StatusSource

log = logging.getLogger(__name__)

REFRESH_DEBOUNCE_SECONDS: Final = 10.0
STAGGER_SECONDS: Final = 0.25
DETECT_INTERVAL_SECONDS: Final = 60
# Failures that wait for the user to fix credentials or setup (re-checked hourly, or when they change).
CREDENTIAL_KINDS: Final = frozenset({"auth_required", "not_configured", "cli_missing", "unsupported"})
RETENTION_INTERVAL_SECONDS: Final = 3600
SHUTDOWN_GRACE_SECONDS: Final = 2.0


class StoreLike(Protocol):
    """What the scheduler needs of the store."""

    async def save_success(self, provider: str, account: str | None, snapshot: Any, source: str,
                           fetched_at: datetime) -> None: ...
    async def save_failure(self, provider: str, account: str | None, error: FetchError, at: datetime) -> int: ...
    async def log_poll(self, provider: str, account: str | None, started_at: datetime, duration_ms: float,
                       ok: bool, error_kind: str | None, attempts: list[dict[str, object]]) -> None: ...
    async def save_status(self, provider: str, status: ProviderStatus, fetched_at: datetime) -> None: ...
    async def run_retention(self, now: datetime | None = None) -> dict[str, int]: ...


class StatusPollerLike(Protocol):
    """What the scheduler needs of the status poller."""

    async def poll(self, sources: dict[str, StatusSource]) -> dict[str, ProviderStatus]: ...


class PollScheduler:
    """Owns the background jobs and the single-flight poll of each account."""

    def __init__(
        self,
        runtime: Runtime,
        state: State,
        store: StoreLike | None,
        *,
        status_poller: StatusPollerLike | None = None,
        clock: Clock | None = None,
        max_concurrent: int = 32,
    ) -> None:
        self.runtime = runtime
        self.state = state
        self.store = store
        self.status_poller = status_poller
        self.clock = clock or runtime.clock
        self._semaphore = asyncio.Semaphore(max_concurrent)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._closing = False
        self._aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Add every job and start the scheduler (must run inside the event loop)."""
        now = self.clock.now()
        for index, account in enumerate(self.state.enabled()):
            self._add_poll_job(account, now + timedelta(seconds=index * STAGGER_SECONDS))
        settings = self.runtime.settings
        if self.status_poller is not None and settings.status.enabled:
            self._aps.add_job(
                self._status_job, IntervalTrigger(seconds=settings.status.interval_seconds, jitter=5),
                id="status", next_run_time=now + timedelta(seconds=1), replace_existing=True,
            )
        if self.store is not None:
            self._aps.add_job(
                self._retention_job, IntervalTrigger(seconds=RETENTION_INTERVAL_SECONDS, jitter=60),
                id="retention", next_run_time=now + timedelta(seconds=60), replace_existing=True,
            )
        self._aps.add_job(
            self._detect_job, IntervalTrigger(seconds=DETECT_INTERVAL_SECONDS, jitter=10),
            id="detect", replace_existing=True,
        )
        self._aps.start()
        log.info("scheduler started: %d provider account(s) polled", len(self.state.enabled()))

    async def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the jobs; let in-flight polls finish briefly, then cancel them."""
        self._closing = True
        if self._aps.running:
            self._aps.shutdown(wait=False)
        pending = [t for t in self._tasks.values() if not t.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=min(SHUTDOWN_GRACE_SECONDS, timeout))
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=max(0.1, timeout - SHUTDOWN_GRACE_SECONDS))

    # -- jobs ------------------------------------------------------------------------------------

    def _job_id(self, account: AccountState) -> str:
        return f"poll:{account.plan.key}"

    def _add_poll_job(self, account: AccountState, first_run: datetime) -> None:
        interval = account.plan.interval_seconds
        account.next_run_at = first_run
        self._aps.add_job(
            self._poll_job,
            IntervalTrigger(seconds=interval, jitter=min(interval * 0.1, 30.0)),
            args=[account.plan.key],
            id=self._job_id(account),
            name=f"poll {account.plan.key}",
            next_run_time=first_run,
            replace_existing=True,
        )

    async def _poll_job(self, key: str) -> None:
        try:
            await self.poll(key)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("poll of %s failed unexpectedly", key)

    async def _status_job(self) -> None:
        assert self.status_poller is not None
        sources = {
            a.plan.spec.id: a.plan.spec.status
            for a in self.state.enabled()
            if a.plan.spec.status is not None and a.plan.spec.status.kind != "link"
        }
        if not sources:
            return
        try:
            results = await self.status_poller.poll(sources)
        except Exception:
            log.exception("status poll failed unexpectedly")
            return
        now = self.clock.now()
        for provider_id, status in results.items():
            self.state.statuses[provider_id] = status
            if self.store is not None:
                await self._persist("status", self.store.save_status(provider_id, status, now))
        if results:
            self.state.touch()

    async def _retention_job(self) -> None:
        if self.store is None:
            return
        try:
            counts = await self.store.run_retention(self.clock.now())
        except Exception as exc:
            log.error("retention failed: %s", exc)
            return
        log.debug("retention: %s", counts)

    async def _detect_job(self) -> None:
        """Pick up credentials that appeared or changed since start (a key set with `config set-secret`)."""
        now = self.clock.now()
        changed = False
        for account in self.state.accounts.values():
            if account.enabled and account.error is not None and account.error.kind in CREDENTIAL_KINDS:
                fingerprint = await self.runtime.credential_fingerprint(account.plan)
                if account.credential_fingerprint is not None and fingerprint != account.credential_fingerprint:
                    log.info("%s: credentials changed; polling now", account.plan.key)
                    account.credential_fingerprint = fingerprint
                    self._reschedule(account, now)
                continue
            if account.enabled or account.plan.enabled_setting is not None:
                continue
            detection = await self.runtime.detect(account.plan)
            if detection.enabled:
                account.detection = detection
                log.info("%s: credentials detected; polling from now on", account.plan.key)
                self._add_poll_job(account, now + timedelta(seconds=1))
                changed = True
        if changed:
            self.state.touch()

    # -- polling ---------------------------------------------------------------------------------

    async def poll(self, key: str) -> None:
        """Poll one account now, joining a poll already in flight."""
        task = self._tasks.get(key)
        if task is None or task.done():
            task = asyncio.create_task(self._poll_once(key), name=f"poll:{key}")
            self._tasks[key] = task
        await asyncio.shield(task)

    async def refresh(self, keys: Iterable[str], timeout: float) -> None:
        """Poll the given accounts now unless debounced; wait at most `timeout` seconds."""
        now = self.clock.now()
        waiting: list[asyncio.Future[None]] = []
        for key in keys:
            account = self.state.get(key)
            if account is None or not account.enabled or self._closing:
                continue
            if self._debounced(account, now):
                continue
            waiting.append(asyncio.ensure_future(self.poll(key)))
        if waiting:
            await asyncio.wait(waiting, timeout=timeout)

    def _debounced(self, account: AccountState, now: datetime) -> bool:
        if account.last_success_at and (now - account.last_success_at).total_seconds() < REFRESH_DEBOUNCE_SECONDS:
            return True
        if account.rate_limited_until and now < account.rate_limited_until:
            return True
        floor = account.plan.spec.refresh_floor_seconds
        return bool(
            floor and account.last_attempt_at and (now - account.last_attempt_at).total_seconds() < floor
        )

    async def _poll_once(self, key: str) -> None:
        account = self.state.get(key)
        if account is None:
            return
        plan = account.plan
        async with self._semaphore:
            started = self.clock.now()
            outcome = await self.runtime.fetch(plan)
        now = self.clock.now()
        previous_error = account.error.kind if account.error else None
        if outcome.snapshot is not None:
            assert outcome.source is not None
            account.snapshot = outcome.snapshot
            account.source = outcome.source
            account.fetched_at = now
            account.error = None
            account.stale = False
            account.last_success_at = now
            account.consecutive_failures = 0
            account.rate_limited_until = None
            interval = float(plan.interval_seconds)
            delay = interval + random.uniform(0, min(interval * 0.1, 30.0))
            if previous_error:
                log.info("%s: recovered (was %s)", key, previous_error)
            if self.store is not None:
                await self._persist(key, self.store.save_success(plan.spec.id, plan.account, outcome.snapshot,
                                                                 outcome.source, now))
        else:
            assert outcome.error is not None
            error = FetchError.from_exception(outcome.error)
            account.error = error
            account.stale = account.snapshot is not None
            account.consecutive_failures += 1
            delay = failure_delay(
                error.kind, plan.interval_seconds, account.consecutive_failures,
                outcome.error.retry_after, plan.spec.refresh_floor_seconds,
            )
            if error.kind == "rate_limited":
                account.rate_limited_until = now + timedelta(seconds=delay)
            if error.kind in CREDENTIAL_KINDS:
                account.credential_fingerprint = await self.runtime.credential_fingerprint(plan)
            level = logging.INFO if error.kind != previous_error else logging.DEBUG
            log.log(level, "%s: %s: %s (next try in %.0f s)", key, error.kind, error.message, delay)
            if self.store is not None:
                await self._persist(key, self.store.save_failure(plan.spec.id, plan.account, error, now))
        account.last_attempt_at = now
        account.attempts = outcome.attempts
        if self.store is not None:
            await self._persist(key, self.store.log_poll(
                plan.spec.id, plan.account, started, outcome.duration_ms, outcome.ok,
                outcome.error.kind if outcome.error else None, [a.wire() for a in outcome.attempts],
            ))
        self._reschedule(account, now + timedelta(seconds=delay))
        self.state.touch()

    def _reschedule(self, account: AccountState, when: datetime) -> None:
        account.next_run_at = when
        if self._closing or not self._aps.running:
            return
        with contextlib.suppress(JobLookupError):
            self._aps.modify_job(self._job_id(account), next_run_time=when)

    async def _persist(self, what: str, operation: Awaitable[object]) -> None:
        """Await a store write; a failing database is logged, never fatal (memory stays current)."""
        try:
            await operation
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("could not write %s to the database: %s", what, exc)

    def job_next_run(self, key: str) -> datetime | None:
        """The next scheduled run of an account's job."""
        account = self.state.get(key)
        return account.next_run_at if account else None
