"""The values the store hands back, its retention policy, and the timestamp and account encodings it uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from codexbard.models import FetchError, UsageSnapshot

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

DEFAULT_ACCOUNT: Final = ""


@dataclass(frozen=True)
class LatestRecord:
    """The newest known state of one provider account: last good snapshot plus the last error."""

    provider: str
    account: str | None
    snapshot: UsageSnapshot | None
    source: str | None
    fetched_at: datetime | None
    error: FetchError | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int


@dataclass(frozen=True)
class Sample:
    """One stored point of a window's history."""

    t: datetime
    used_percent: float
    resets_at: datetime | None


@dataclass(frozen=True)
class RetentionPolicy:
    """How long history is kept and how finely (DESIGN.md, "Backoff and retention")."""

    heartbeat: timedelta = timedelta(minutes=30)
    # A reset time that moves by less than this is not a change: strategies that read relative text
    # ("resets in 2h 13m") compute a slightly different instant on every poll.
    resets_at_tolerance: timedelta = timedelta(seconds=60)
    raw_for: timedelta = timedelta(hours=48)
    five_minute_until: timedelta = timedelta(days=30)
    hourly_until: timedelta = timedelta(days=400)
    poll_log_for: timedelta = timedelta(days=30)
    poll_log_max_rows: int = 50_000


def to_epoch(value: datetime) -> float:
    """Encode an instant as epoch seconds; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH).total_seconds()


def from_epoch(value: float) -> datetime:
    """Decode epoch seconds to an aware UTC datetime, exact to the microsecond."""
    return _EPOCH + timedelta(microseconds=round(value * 1_000_000))


def opt_epoch(value: datetime | None) -> float | None:
    """Encode an optional instant."""
    return None if value is None else to_epoch(value)


def opt_datetime(value: float | None) -> datetime | None:
    """Decode an optional instant."""
    return None if value is None else from_epoch(value)


def encode_account(account: str | None) -> str:
    """Store the default account (None) as ''."""
    return account or DEFAULT_ACCOUNT


def decode_account(account: str) -> str | None:
    """Return '' as None (the default account)."""
    return account or None
