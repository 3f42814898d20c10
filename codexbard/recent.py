"""The in-memory ring of recent window samples that forecasts read (no database query per request).

`State.succeed` adds each new snapshot's three main windows; `Daemon.open` preloads the last day from
the database. Like the store, a series keeps a sample only when the window changed or `HEARTBEAT` has
passed since its last one (so unchanged stretches stay visible as watched idle time, see
codexbard/forecast.py), drops samples older than `KEEP`, and holds at most `MAX_POINTS` per series.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Final

from codexbard.forecast import MAIN_WINDOWS, MAX_LOOKBACK, Point
from codexbard.models import UsageSnapshot

HEARTBEAT: Final = timedelta(minutes=10)
KEEP: Final = MAX_LOOKBACK + timedelta(hours=1)
MAX_POINTS: Final = 512
RESETS_TOLERANCE: Final = timedelta(seconds=60)


class RecentSamples:
    """Recent samples per `(<provider>[:<account>], window)`, oldest first."""

    def __init__(self, keep: timedelta = KEEP, max_points: int = MAX_POINTS) -> None:
        if max_points < 2:
            raise ValueError("a series keeps at least two samples")
        self.keep = keep
        self.max_points = max_points
        self._series: dict[tuple[str, str], deque[Point]] = {}

    def add(self, key: str, snapshot: UsageSnapshot, at: datetime) -> None:
        """Record the main windows of a snapshot fetched at `at`."""
        for name in MAIN_WINDOWS:
            window = getattr(snapshot, name)
            if window is not None:
                self.add_point(key, name, Point(at, window.used_percent, window.resets_at))

    def add_point(self, key: str, window: str, point: Point) -> None:
        """Append one sample unless it repeats the last one within the heartbeat; trim old samples."""
        series = self._series.get((key, window))
        if series is None:
            series = self._series[(key, window)] = deque(maxlen=self.max_points)
        if series:
            last = series[-1]
            if point.t < last.t:
                return  # out of order: the ring only grows forward
            if point.t - last.t < HEARTBEAT and _same(last, point):
                return
        series.append(point)
        cutoff = point.t - self.keep
        while series and series[0].t < cutoff:
            series.popleft()

    def preload(self, key: str, window: str, points: Iterable[Point]) -> int:
        """Put stored samples (oldest first) before the ones already held; return how many were taken."""
        series = self._series.get((key, window))
        if series is None:
            series = self._series[(key, window)] = deque(maxlen=self.max_points)
        first = series[0].t if series else None
        older = [p for p in points if first is None or p.t < first]
        room = self.max_points - len(series)
        taken = older[-room:] if room > 0 else []
        series.extendleft(reversed(taken))
        return len(taken)

    def series(self, key: str, window: str) -> Sequence[Point]:
        """One window's samples, oldest first (empty when there are none)."""
        return tuple(self._series.get((key, window), ()))

    def forget(self, key: str) -> None:
        """Drop every series of one account."""
        for pair in [pair for pair in self._series if pair[0] == key]:
            del self._series[pair]

    def __len__(self) -> int:
        return sum(len(s) for s in self._series.values())


def _same(a: Point, b: Point) -> bool:
    if a.used_percent != b.used_percent:
        return False
    if a.resets_at is None or b.resets_at is None:
        return a.resets_at is b.resets_at
    return abs(a.resets_at - b.resets_at) < RESETS_TOLERANCE
