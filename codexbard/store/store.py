"""The Store: the database plus its repositories, and the operations the daemon and the CLI call.

The cost scan state is written by blocking code outside the event loop (codexbard.store.cost); the Store only
reads its aggregate.

A poll is recorded by `record_poll` in one transaction: the latest row (snapshot or error), the window
samples that changed and the poll-log row commit together or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import aiosqlite

from codexbard.host.clock import Clock
from codexbard.models import FetchError, ProviderStatus, UsageSnapshot
from codexbard.store.cost import CostStateRepository, StoredAggregate
from codexbard.store.database import DEFAULT_BUSY_TIMEOUT_MS, Database
from codexbard.store.history import SamplesRepository
from codexbard.store.latest import LatestRepository
from codexbard.store.poll_log import PollLogRepository
from codexbard.store.records import LatestRecord, RetentionPolicy, Sample
from codexbard.store.retention import run_retention
from codexbard.store.statuses import StatusRepository


@dataclass(frozen=True)
class PollRecord:
    """Everything one poll writes: the outcome (a snapshot or an error) and its log row."""

    provider: str
    account: str | None
    started_at: datetime
    finished_at: datetime
    duration_ms: float
    attempts: list[dict[str, object]]
    snapshot: UsageSnapshot | None = None
    source: str | None = None
    error: FetchError | None = None
    consecutive_failures: int | None = None  # after a failure: the count to store (None: stored + 1)

    @property
    def ok(self) -> bool:
        """Whether the poll produced a snapshot."""
        return self.snapshot is not None


class Store:
    """codexbard's database: latest snapshots, window history, statuses, the poll log, retention."""

    def __init__(self, db: Database, policy: RetentionPolicy, clock: Clock) -> None:
        """Wrap an open Database; use `Store.open()`."""
        self.db = db
        self.policy = policy
        self._clock = clock
        self.latest = LatestRepository(db)
        self.samples = SamplesRepository(db, policy)
        self.statuses = StatusRepository(db)
        self.polls = PollLogRepository(db)
        self.cost = CostStateRepository(db)

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        clock: Clock | None = None,
        retention_policy: RetentionPolicy | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> Store:
        """Open (creating and migrating when needed) the database at `path`; raise StoreError if unusable."""
        clock = clock or Clock()
        db = await Database.open(path, clock=clock, busy_timeout_ms=busy_timeout_ms)
        return cls(db, retention_policy or RetentionPolicy(), clock)

    @property
    def path(self) -> Path:
        """The database file."""
        return self.db.path

    @property
    def _conn(self) -> aiosqlite.Connection:
        return self.db.connection

    async def close(self) -> None:
        """Checkpoint the WAL and close the connection; calling it again does nothing."""
        await self.db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- one poll --------------------------------------------------------------------------------

    async def record_poll(self, poll: PollRecord) -> int:
        """Write one poll in one transaction; return the stored consecutive failure count (0 on success)."""
        async with self.db.transaction() as conn:
            failures = 0
            if poll.snapshot is not None:
                await self.latest.write_success(conn, poll.provider, poll.account, poll.snapshot,
                                                poll.source or "", poll.finished_at)
                await self.samples.append(conn, poll.provider, poll.account, poll.snapshot, poll.finished_at)
            elif poll.error is not None:
                failures = await self.latest.write_failure(conn, poll.provider, poll.account, poll.error,
                                                           poll.finished_at, poll.consecutive_failures)
            await self.polls.append(conn, poll.provider, poll.account, poll.started_at, poll.duration_ms,
                                    poll.ok, poll.error.kind if poll.error is not None else None, poll.attempts)
        return failures

    # -- single operations (the CLI, tests, imports) --------------------------------------------

    async def save_success(
        self, provider: str, account: str | None, snapshot: UsageSnapshot, source: str, fetched_at: datetime
    ) -> None:
        """Record a successful fetch: replace the latest row and append the window samples that changed."""
        async with self.db.transaction() as conn:
            await self.latest.write_success(conn, provider, account, snapshot, source, fetched_at)
            await self.samples.append(conn, provider, account, snapshot, fetched_at)

    async def save_failure(
        self, provider: str, account: str | None, error: FetchError, at: datetime,
        consecutive_failures: int | None = None,
    ) -> int:
        """Record a failed fetch beside the last good snapshot; return the consecutive failure count."""
        async with self.db.transaction() as conn:
            return await self.latest.write_failure(conn, provider, account, error, at, consecutive_failures)

    async def load_latest(self) -> list[LatestRecord]:
        """Every provider account's latest state; rows that cannot be read are skipped (and kept)."""
        return await self.latest.load()

    async def history(
        self,
        provider: str,
        account: str | None,
        window: str,
        since: datetime,
        until: datetime,
        step: int | None = None,
    ) -> list[Sample]:
        """One window's samples in [since, until] by time; with `step`, the last one per bucket."""
        return await self.samples.history(provider, account, window, since, until, step)

    async def recent_samples(self, since: datetime) -> dict[tuple[str, str | None, str], list[Sample]]:
        """Every window series' samples at or after `since`, keyed by (provider, account, window)."""
        return await self.samples.recent(since)

    async def save_status(self, provider: str, status: ProviderStatus, fetched_at: datetime) -> None:
        """Replace the stored service status of a provider."""
        async with self.db.transaction() as conn:
            await self.statuses.write(conn, provider, status, fetched_at)

    async def load_statuses(self) -> dict[str, ProviderStatus]:
        """The stored service status of each provider; unreadable rows are skipped."""
        return await self.statuses.load()

    async def load_cost_aggregate(self, scope: str) -> StoredAggregate | None:
        """The stored local-cost aggregate of a scan scope (codexbard.cost.service), or None."""
        return await self.cost.load_aggregate(scope)

    async def log_poll(
        self,
        provider: str,
        account: str | None,
        started_at: datetime,
        duration_ms: float,
        ok: bool,
        error_kind: str | None,
        attempts: list[dict[str, object]],
    ) -> None:
        """Append one poll to the log (its strategy attempts as JSON)."""
        async with self.db.transaction() as conn:
            await self.polls.append(conn, provider, account, started_at, duration_ms, ok, error_kind, attempts)

    async def poll_log(self, provider: str | None = None, limit: int = 100) -> list[dict[str, object]]:
        """The newest polls first (see PollLogRepository.newest)."""
        return await self.polls.newest(provider, limit)

    async def run_retention(self, now: datetime | None = None) -> dict[str, int]:
        """Downsample and expire history and the poll log; return how many rows each table lost."""
        return await run_retention(self.db, self.policy, now or self._clock.now())

    async def integrity_check(self) -> str:
        """Run SQLite's integrity check; return "ok" or the first problem it reports."""
        return await self.db.integrity_check()
