"""Pure rate-limit rules of the Claude usage endpoint: the 5-minute floor, Retry-After, the 429 ladder.

The endpoint rate-limits hard, sometimes for hours, and answers `Retry-After: 0` while doing so. Rules:
- never call it more than once per `USAGE_FLOOR_SECONDS` (5 min) per token;
- a `Retry-After` of 0, absent or unreadable counts as the floor;
- consecutive 429s climb the ladder 5 → 10 → 20 → 40 → 60 minutes (and stay at 60);
- the wait after a 429 is the larger of the header and the ladder step, capped at `RETRY_AFTER_CAP_SECONDS`;
- the gate is keyed by a SHA-256 of the access token, so a new login is not blocked by the old token's 429s.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from codexbard.host.clock import parse_retry_after
from codexbard.providers.claude.const import (
    RATE_LIMIT_LADDER_SECONDS,
    REFRESH_BACKOFF_BASE,
    REFRESH_BACKOFF_CAP,
    RETRY_AFTER_CAP_SECONDS,
    USAGE_FLOOR_SECONDS,
)


def ladder_seconds(consecutive_429: int) -> float:
    """The ladder step for the n-th consecutive 429 (1 → 300 s, 2 → 600 s, … 5 and above → 3600 s)."""
    index = min(max(consecutive_429, 1), len(RATE_LIMIT_LADDER_SECONDS)) - 1
    return RATE_LIMIT_LADDER_SECONDS[index]


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float:
    """Seconds a Retry-After header asks for (delta seconds or HTTP date); 0, absent or unreadable → the floor."""
    seconds = parse_retry_after(header, now or datetime.now(UTC))
    if seconds is None or seconds <= 0:
        return USAGE_FLOOR_SECONDS
    return min(seconds, RETRY_AFTER_CAP_SECONDS)


def rate_limit_delay(header: str | None, consecutive_429: int = 1, now: datetime | None = None) -> float:
    """Seconds to wait after the n-th consecutive 429: max(Retry-After or floor, ladder step), capped."""
    return min(max(retry_after_seconds(header, now), ladder_seconds(consecutive_429)), RETRY_AFTER_CAP_SECONDS)


def blocked_until(header: str | None, consecutive_429: int, now: datetime) -> datetime:
    """The instant before which no background call may be made after a 429."""
    return now + timedelta(seconds=rate_limit_delay(header, consecutive_429, now))


def floor_remaining(last_call: datetime | None, now: datetime) -> float:
    """Seconds until the 5-minute floor allows the next call (0 when allowed now or never called)."""
    if last_call is None:
        return 0.0
    return max(0.0, USAGE_FLOOR_SECONDS - (now - last_call).total_seconds())


def next_poll_delay(interval: float) -> float:
    """The poll interval raised to the floor: a configured interval below 5 minutes is not honoured."""
    return max(float(interval), USAGE_FLOOR_SECONDS)


def refresh_backoff_seconds(consecutive_failures: int) -> float:
    """Back-off after transient direct-refresh failures: 5 min doubling per failure, capped at 6 h."""
    exponent = max(consecutive_failures, 1) - 1
    if exponent >= 16:  # 300 * 2**16 is far beyond the cap; avoid huge powers
        return REFRESH_BACKOFF_CAP
    return min(REFRESH_BACKOFF_BASE * float(2**exponent), REFRESH_BACKOFF_CAP)


def token_key(access_token: str) -> str:
    """The gate key of an access token: its SHA-256 hex digest (the token itself is never stored)."""
    return hashlib.sha256(access_token.encode("utf-8")).hexdigest()
