"""When to poll again after a failure (DESIGN.md, "Backoff and retention"; README, "Backoff").

The backoff class of a failure comes from the error policy table (errors.KIND_POLICIES):

- rate: max(Retry-After, interval, the provider's floor); a Retry-After above a day is taken as a day.
- exponential (the upstream answers with errors): interval × 2^failures, at most ×8 and at most an hour,
  never below the interval.
- connection (no connection at all: DNS, refused, unreachable — the network is down, not the upstream):
  30 s, 60 s, then every 2 minutes, never later than the interval, so polling resumes soon after the
  network returns instead of up to 40 minutes later.
- credential: re-check every hour, or at once when the credentials change.
"""

from __future__ import annotations

import math
import socket
from typing import Final

import httpx

from codexbard.errors import BackoffClass, ConnectionFailed, ProviderError, policy_for

MAX_BACKOFF_SECONDS: Final = 3600.0
MAX_MULTIPLIER: Final = 8
RECHECK_SECONDS: Final = 3600.0
MAX_RETRY_AFTER_SECONDS: Final = 86400.0
CONNECTION_SCHEDULE: Final[tuple[float, ...]] = (30.0, 60.0, 120.0)
# A user-initiated refresh after an `unavailable`-like failure waits at least this long since the last
# attempt, so a client looping on POST /refresh cannot hammer a failing upstream.
FAILURE_REFRESH_FLOOR_SECONDS: Final = 30.0

# What httpx (or the socket layer under it) raises when no connection could be made at all.
_CONNECT_ERRORS: Final = (httpx.ConnectError, httpx.ConnectTimeout, ConnectionRefusedError, socket.gaierror)


def clamp_retry_after(value: float | None) -> float | None:
    """A usable Retry-After: None for a missing, negative or NaN one; at most a day."""
    if value is None or math.isnan(value) or value < 0:
        return None
    return min(value, MAX_RETRY_AFTER_SECONDS)


def is_connection_failure(error: BaseException) -> bool:
    """Whether an error means no connection could be made (raised as ConnectionFailed or from httpx)."""
    if isinstance(error, ConnectionFailed):
        return True
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _CONNECT_ERRORS):
            return True
        current = current.__cause__ or current.__context__
    return False


def backoff_class(error: ProviderError) -> BackoffClass:
    """The backoff class of a raised error: its kind's, or `connection` when the network is down."""
    if error.backoff == "exponential" and is_connection_failure(error):
        return "connection"
    return error.backoff


def failure_delay(
    kind: str,
    interval: float,
    consecutive_failures: int,
    retry_after: float | None = None,
    floor: float = 0.0,
    *,
    backoff: BackoffClass | None = None,
) -> float:
    """Seconds until the next poll after the `consecutive_failures`-th failure in a row of `kind`.

    `backoff` overrides the class the kind's policy gives (a connection failure travels as `unavailable`).
    """
    how = backoff or policy_for(kind).backoff
    failures = max(consecutive_failures, 1)
    if how == "rate":
        return max(clamp_retry_after(retry_after) or 0.0, interval, floor)
    if how == "connection":
        step = CONNECTION_SCHEDULE[min(failures, len(CONNECTION_SCHEDULE)) - 1]
        return max(min(step, interval), floor)
    if how == "exponential":
        multiplier = min(1 << min(failures, 16), MAX_MULTIPLIER)
        return max(interval, min(interval * multiplier, MAX_BACKOFF_SECONDS))
    return RECHECK_SECONDS
