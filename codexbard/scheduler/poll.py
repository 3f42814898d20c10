"""One poll of one account: run the pipeline, apply the state transition, record it in one transaction.

Also the refresh gate: what a user-initiated refresh (`POST /refresh`, `refresh_now`) may skip (the
interval) and what it may not (a rate limit, the provider's floor, the credential back-off, and a floor
after an upstream failure), so a client looping on refresh cannot send more to the upstream than that.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from codexbard.errors import policy_for
from codexbard.host.clock import Clock
from codexbard.models import FetchError
from codexbard.providers.runner import FetchOutcome
from codexbard.runtime import Runtime
from codexbard.scheduler.backoff import (
    FAILURE_REFRESH_FLOOR_SECONDS,
    backoff_class,
    clamp_retry_after,
    failure_delay,
)
from codexbard.state import AccountState, State
from codexbard.store.store import PollRecord
from codexbard.telemetry import FetchStats

log = logging.getLogger(__name__)

REFRESH_DEBOUNCE_SECONDS: Final = 10.0


class PollStore(Protocol):
    """What a poll needs of the store: one transaction per poll."""

    async def record_poll(self, poll: PollRecord) -> int: ...


@dataclass(frozen=True)
class PollResult:
    """What one poll decided: whether it succeeded and when the account's job runs next."""

    ok: bool
    next_run_at: datetime
    delay_seconds: float


def success_delay(interval: float) -> float:
    """The interval plus up to 10 % jitter (at most 30 s)."""
    return interval + random.uniform(0, min(interval * 0.1, 30.0))


def refresh_blocked(account: AccountState, now: datetime) -> str | None:
    """Why a user-initiated refresh must not poll this account now (None: it may).

    Checked without I/O; the credential back-off (which needs a fingerprint) is checked by the caller.
    """
    since_success = _seconds_since(account.last_success_at, now)
    if since_success is not None and since_success < REFRESH_DEBOUNCE_SECONDS:
        return "polled successfully less than 10 s ago"
    if account.rate_limited_until is not None and now < account.rate_limited_until:
        return "rate limited"
    since_attempt = _seconds_since(account.last_attempt_at, now)
    floor = account.target.spec.refresh_floor_seconds
    if floor and since_attempt is not None and since_attempt < floor:
        return f"inside the provider's {floor} s floor"
    failing = account.error is not None and policy_for(account.error.kind).backoff == "exponential"
    # Also connection failures, which travel as `unavailable`.
    if failing and since_attempt is not None and since_attempt < FAILURE_REFRESH_FLOOR_SECONDS:
        return f"failed less than {FAILURE_REFRESH_FLOOR_SECONDS:g} s ago"
    return None


def in_credential_backoff(account: AccountState) -> bool:
    """Whether the account waits for its credentials to change (auth_required, not_configured, …)."""
    return account.error is not None and policy_for(account.error.kind).backoff == "credential"


def _seconds_since(then: datetime | None, now: datetime) -> float | None:
    return None if then is None else (now - then).total_seconds()


class AccountPoll:
    """Runs one poll of one account and applies its outcome (the scheduler's single-flight wraps it)."""

    def __init__(self, runtime: Runtime, state: State, store: PollStore | None, clock: Clock,
                 semaphore: asyncio.Semaphore, stats: FetchStats | None = None) -> None:
        self.runtime = runtime
        self.state = state
        self.store = store
        self.clock = clock
        self._semaphore = semaphore
        self.stats = stats if stats is not None else FetchStats()

    async def run(self, key: str, *, manual: bool = False) -> PollResult | None:
        """Poll `key` now; None for an unknown account."""
        account = self.state.get(key)
        if account is None:
            return None
        async with self._semaphore:
            started = self.clock.now()
            outcome = await self.runtime.fetch(account.target)
        now = self.clock.now()
        failed_as = None if outcome.snapshot is not None else (outcome.error.kind if outcome.error else "internal")
        self.stats.record(account.target.spec.id, account.target.account, outcome.duration_ms / 1000.0, failed_as)
        if outcome.snapshot is not None:
            result = self._succeeded(account, outcome, now, manual=manual)
        else:
            result = await self._failed(account, outcome, now, manual=manual)
        await self._record(account, outcome, started, now)
        return result

    def _succeeded(self, account: AccountState, outcome: FetchOutcome, now: datetime, *,
                   manual: bool) -> PollResult:
        assert outcome.snapshot is not None
        delay = success_delay(float(account.target.interval_seconds))
        when = now + timedelta(seconds=delay)
        self.state.succeed(account.key, outcome.snapshot, outcome.source or "", now,
                           attempts=outcome.attempts, next_run_at=when, manual=manual)
        return PollResult(True, when, delay)

    async def _failed(self, account: AccountState, outcome: FetchOutcome, now: datetime, *,
                      manual: bool) -> PollResult:
        assert outcome.error is not None
        raised = outcome.error
        error = FetchError.from_exception(raised)
        target = account.target
        how = backoff_class(raised)
        # A user-initiated refresh never counts toward the schedule's backoff.
        failures = account.consecutive_failures + (0 if manual else 1)
        delay = failure_delay(error.kind, target.interval_seconds, failures, raised.retry_after,
                              target.spec.refresh_floor_seconds, backoff=how)
        when = now + timedelta(seconds=delay)
        rate_limited_until = when if how == "rate" else None
        if manual and account.next_run_at is not None:
            # Keep the schedule; only a rate limit the upstream just announced may push it later.
            when = max(account.next_run_at, rate_limited_until) if rate_limited_until else account.next_run_at
        fingerprint = None
        if how == "credential":
            fingerprint = await self.runtime.credential_fingerprint(target)
        if how == "rate" and raised.retry_after is not None and clamp_retry_after(raised.retry_after) != (
            raised.retry_after
        ):
            log.info("%s: Retry-After %s s is not plausible; waiting %.0f s", account.key,
                     f"{raised.retry_after:.0f}", delay)
        self.state.fail(account.key, error, now, attempts=outcome.attempts, counts=not manual,
                        next_run_at=when, rate_limited_until=rate_limited_until,
                        credential_fingerprint=fingerprint, manual=manual)
        return PollResult(False, when, (when - now).total_seconds())

    async def _record(self, account: AccountState, outcome: FetchOutcome, started: datetime,
                      finished: datetime) -> None:
        """Write the poll in one transaction; a failing database is logged, never fatal."""
        if self.store is None:
            return
        target = account.target
        record = PollRecord(
            provider=target.spec.id,
            account=target.account,
            started_at=started,
            finished_at=finished,
            duration_ms=outcome.duration_ms,
            attempts=[a.wire() for a in outcome.attempts],
            snapshot=outcome.snapshot,
            source=outcome.source,
            error=account.error if outcome.snapshot is None else None,
            consecutive_failures=account.consecutive_failures,
        )
        try:
            await self.store.record_poll(record)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("could not write %s to the database: %s", account.key, exc)
