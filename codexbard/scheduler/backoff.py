"""When to poll again after a failure (DESIGN.md, "Backoff and retention")."""

from __future__ import annotations

from typing import Final

MAX_BACKOFF_SECONDS: Final = 3600.0
MAX_MULTIPLIER: Final = 8
RECHECK_SECONDS: Final = 3600.0

_TRANSIENT: Final = frozenset({"unavailable", "timeout", "parse_error", "internal"})


def failure_delay(
    kind: str,
    interval: float,
    consecutive_failures: int,
    retry_after: float | None = None,
    floor: float = 0.0,
) -> float:
    """Seconds until the next poll after a failure of `kind`.

    rate_limited → max(Retry-After, interval, floor); transient failures → interval × 2^failures,
    at most ×8 and at most an hour (never below the interval); credential and setup problems →
    re-check every hour.
    """
    if kind == "rate_limited":
        return max(retry_after or 0.0, interval, floor)
    if kind in _TRANSIENT:
        multiplier = min(1 << min(max(consecutive_failures, 0), 16), MAX_MULTIPLIER)
        return max(interval, min(interval * multiplier, MAX_BACKOFF_SECONDS))
    return RECHECK_SECONDS
