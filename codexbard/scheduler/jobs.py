"""The scheduled jobs: one poll job per enabled account, the status job, retention, the credential re-check, cost.

Each enabled account gets one interval job (`max_instances=1`, coalescing, no misfire limit so a laptop
waking from sleep polls once instead of skipping). First runs are staggered. After every poll the job's next
run is set explicitly (the poll's `PollResult.next_run_at`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from codexbard.host.clock import Clock
from codexbard.models import ProviderStatus
from codexbard.runtime import Runtime
from codexbard.scheduler.cost import CostJob
from codexbard.scheduler.poll import in_credential_backoff
from codexbard.state import AccountState, State
from codexbard.status.source import StatusSource

log = logging.getLogger(__name__)

STAGGER_SECONDS: Final = 0.25
DETECT_INTERVAL_SECONDS: Final = 60
RETENTION_INTERVAL_SECONDS: Final = 3600


class StatusStore(Protocol):
    """What the status and retention jobs need of the store."""

    async def save_status(self, provider: str, status: ProviderStatus, fetched_at: datetime) -> None: ...
    async def run_retention(self, now: datetime | None = None) -> dict[str, int]: ...


class StatusPollerLike(Protocol):
    """What the status job needs of the status poller."""

    async def poll(self, sources: dict[str, StatusSource]) -> dict[str, ProviderStatus]: ...


PollJob = Callable[[str], Awaitable[None]]


class Jobs:
    """The APScheduler jobs of one daemon and the periodic work they do."""

    def __init__(self, runtime: Runtime, state: State, store: StatusStore | None, clock: Clock,
                 poll_job: PollJob, status_poller: StatusPollerLike | None = None,
                 cost_job: CostJob | None = None) -> None:
        self.runtime = runtime
        self.state = state
        self.store = store
        self.clock = clock
        self.status_poller = status_poller
        self.cost_job = cost_job
        self._poll_job = poll_job
        self.closing = False
        self.aps = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def start(self) -> None:
        """Add every job and start APScheduler (inside the event loop)."""
        now = self.clock.now()
        for index, account in enumerate(self.state.enabled()):
            self.add_poll_job(account, now + timedelta(seconds=index * STAGGER_SECONDS))
        settings = self.runtime.settings
        if self.status_poller is not None and settings.status.enabled:
            self.aps.add_job(
                self.status_job, IntervalTrigger(seconds=settings.status.interval_seconds, jitter=5),
                id="status", next_run_time=now + timedelta(seconds=1), replace_existing=True,
            )
        if self.store is not None:
            self.aps.add_job(
                self.retention_job, IntervalTrigger(seconds=RETENTION_INTERVAL_SECONDS, jitter=60),
                id="retention", next_run_time=now + timedelta(seconds=60), replace_existing=True,
            )
        if self.cost_job is not None:
            # At start, then every interval; APScheduler's max_instances=1 and the job's own single flight
            # mean a scan that outlasts the interval is never joined by a second one.
            self.aps.add_job(
                self.cost_job.run, IntervalTrigger(seconds=self.cost_job.config.interval_seconds),
                id="cost", next_run_time=now, replace_existing=True,
            )
        self.aps.add_job(
            self.detect_job, IntervalTrigger(seconds=DETECT_INTERVAL_SECONDS, jitter=10),
            id="detect", replace_existing=True,
        )
        self.aps.start()

    def stop(self) -> None:
        """Stop APScheduler without waiting (polls in flight are the service's business)."""
        self.closing = True
        if self.aps.running:
            self.aps.shutdown(wait=False)

    @staticmethod
    def job_id(account: AccountState) -> str:
        """The APScheduler id of an account's poll job."""
        return f"poll:{account.key}"

    def add_poll_job(self, account: AccountState, first_run: datetime) -> None:
        """Schedule an account's interval job, first running at `first_run`."""
        interval = account.target.interval_seconds
        self.state.schedule(account.key, first_run)
        self.aps.add_job(
            self._poll_job,
            IntervalTrigger(seconds=interval, jitter=min(interval * 0.1, 30.0)),
            args=[account.key],
            id=self.job_id(account),
            name=f"poll {account.key}",
            next_run_time=first_run,
            replace_existing=True,
        )

    def reschedule(self, account: AccountState, when: datetime) -> None:
        """Move an account's next poll to `when` (state and job)."""
        self.state.schedule(account.key, when)
        if self.closing or not self.aps.running:
            return
        with contextlib.suppress(JobLookupError):
            self.aps.modify_job(self.job_id(account), next_run_time=when)

    async def status_job(self) -> None:
        """Read the service status of every enabled provider with a status page."""
        if self.status_poller is None:
            return
        sources = {
            a.target.spec.id: a.target.spec.status
            for a in self.state.enabled()
            if a.target.spec.status is not None and a.target.spec.status.kind != "link"
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
            self.state.set_status(provider_id, status, now)
            if self.store is not None:
                try:
                    await self.store.save_status(provider_id, status, now)
                except Exception as exc:
                    log.error("could not write the status of %s to the database: %s", provider_id, exc)

    async def retention_job(self) -> None:
        """Downsample and expire history."""
        if self.store is None:
            return
        try:
            counts = await self.store.run_retention(self.clock.now())
        except Exception as exc:
            log.error("retention failed: %s", exc)
            return
        log.debug("retention: %s", counts)

    async def detect_job(self) -> None:
        """Credential re-check: end a credential back-off when credentials change; enable new accounts."""
        now = self.clock.now()
        for account in list(self.state.accounts.values()):
            if account.enabled and in_credential_backoff(account):
                fingerprint = await self.runtime.credential_fingerprint(account.target)
                if account.credential_fingerprint is not None and fingerprint != account.credential_fingerprint:
                    log.info("%s: credentials changed; polling now", account.key)
                    self.state.note_credentials(account.key, fingerprint)
                    self.reschedule(account, now)
                continue
            if account.enabled or account.target.enabled_setting is not None:
                continue
            detection = await self.runtime.detect(account.target)
            if detection.enabled:
                first_run = now + timedelta(seconds=1)
                self.state.enable(account.key, detection, now, first_run=first_run)
                self.add_poll_job(account, first_run)
