"""Process-wide guards of the Claude usage endpoint and of delegated refreshes (state, no I/O).

`UsageGate` is keyed by the SHA-256 of an access token, so two accounts that share a token share one
5-minute floor and one 429 ladder: the second account gets the first one's snapshot instead of a second
call. `DelegationCooldowns` is keyed by the credentials file, with the sheet's cooldowns (5 min after a
success or an unreadable result, 20 s after a failure). Both use the fetch context's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from codexbard.providers.claude.backoff import floor_remaining, rate_limit_delay
from codexbard.providers.claude.const import DELEGATED_FAILURE_COOLDOWN, DELEGATED_SUCCESS_COOLDOWN

if TYPE_CHECKING:
    from codexbard.models import UsageSnapshot


@dataclass
class TokenRecord:
    """What is known about one token: its last call, its 429 streak and block, its last good snapshot."""

    last_call: datetime | None = None
    consecutive_429: int = 0
    blocked_until: datetime | None = None
    snapshot: UsageSnapshot | None = None
    snapshot_at: datetime | None = None


class UsageGate:
    """At most one usage call per token per 5 minutes; after a 429, none until the ladder's wait has passed."""

    def __init__(self) -> None:
        self._tokens: dict[str, TokenRecord] = {}

    def record(self, key: str) -> TokenRecord:
        """The record of a token key (created empty)."""
        return self._tokens.setdefault(key, TokenRecord())

    def blocked_for(self, key: str, now: datetime) -> float:
        """Seconds before a 429 block ends (0 when not blocked)."""
        record = self._tokens.get(key)
        if record is None or record.blocked_until is None:
            return 0.0
        return max(0.0, (record.blocked_until - now).total_seconds())

    def floor_for(self, key: str, now: datetime) -> float:
        """Seconds before the 5-minute floor allows the next call with this token."""
        record = self._tokens.get(key)
        return floor_remaining(record.last_call if record else None, now)

    def note_call(self, key: str, now: datetime) -> None:
        """A request is about to be sent with this token."""
        self.record(key).last_call = now

    def note_429(self, key: str, now: datetime, retry_after: str | None) -> tuple[int, float]:
        """A 429: climb the ladder; return (consecutive 429s, seconds to wait)."""
        record = self.record(key)
        record.consecutive_429 += 1
        delay = rate_limit_delay(retry_after, record.consecutive_429, now)
        record.blocked_until = now + timedelta(seconds=delay)
        return record.consecutive_429, delay

    def note_success(self, key: str, now: datetime, snapshot: UsageSnapshot) -> None:
        """A good answer: the streak and the block clear; the snapshot serves callers inside the floor."""
        record = self.record(key)
        record.consecutive_429 = 0
        record.blocked_until = None
        record.snapshot = snapshot
        record.snapshot_at = now

    def note_other_failure(self, key: str) -> None:
        """A non-429 failure: the last snapshot is no longer the latest truth (the 429 streak stays)."""
        record = self.record(key)
        record.snapshot = None
        record.snapshot_at = None

    def clear(self) -> None:
        """Forget everything (tests)."""
        self._tokens.clear()


class DelegationCooldowns:
    """When the next delegated refresh may run, per credentials profile."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}

    def remaining(self, profile: str, now: datetime) -> float:
        """Seconds left of this profile's cooldown (0 when a delegation may run)."""
        until = self._until.get(profile)
        return 0.0 if until is None else max(0.0, (until - now).total_seconds())

    def note(self, profile: str, now: datetime, *, success: bool) -> None:
        """A delegation finished: 5 min cooldown after a success (or unreadable result), 20 s after a failure."""
        seconds = DELEGATED_SUCCESS_COOLDOWN if success else DELEGATED_FAILURE_COOLDOWN
        self._until[profile] = now + timedelta(seconds=seconds)

    def clear(self) -> None:
        """Forget everything (tests)."""
        self._until.clear()
