"""Poll statistics for `GET /metrics`: failed fetches by kind and fetch durations, as plain counters.

The scheduler records every poll here (`AccountPoll.run`); the metrics renderer turns the numbers into
Prometheus families on a scrape. Nothing here imports `prometheus_client`, so a daemon that is never
scraped never loads it. Label values are bounded: provider ids and account labels come from the config,
error kinds from the closed set in codexbard/errors.py.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

DURATION_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class DurationHistogram:
    """Fetch durations of one provider: per-bucket counts (the last one is +Inf), their sum and count."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, seconds: float) -> None:
        """Count one duration in the first bucket whose upper bound holds it."""
        seconds = max(0.0, seconds)
        self.counts[bisect_left(DURATION_BUCKETS, seconds)] += 1
        self.total += seconds
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(`le`, count at or below it) pairs ending with `+Inf`, as the exposition format wants them."""
        out: list[tuple[str, int]] = []
        running = 0
        for bound, n in zip((*map(_bound, DURATION_BUCKETS), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


def _bound(value: float) -> str:
    return repr(float(value))


class FetchStats:
    """Every poll's outcome since the daemon started; `version` changes with each recorded poll."""

    def __init__(self) -> None:
        self.errors: dict[tuple[str, str, str], int] = {}
        self.durations: dict[str, DurationHistogram] = {}
        self.version = 0

    def record(self, provider: str, account: str | None, seconds: float, error_kind: str | None) -> None:
        """Count one poll: its duration, and its error kind when it failed."""
        histogram = self.durations.get(provider)
        if histogram is None:
            histogram = self.durations[provider] = DurationHistogram()
        histogram.observe(seconds)
        if error_kind is not None:
            key = (provider, account or "", error_kind)
            self.errors[key] = self.errors.get(key, 0) + 1
        self.version += 1
