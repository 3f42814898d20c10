"""Forecasts from history: a window's recent burn rate, its projected use at the reset, when it runs out.

Pure functions over a window's samples (oldest first), used for the payload's `forecast` (API.md). The
rules, each chosen so that a known history gives a known answer:

- Only the current period counts. Walking back from the newest sample, the history stops at a reset:
  where the older sample's `resetsAt` had passed by the newer sample's time, or where usage fell by
  `RESET_DROP` points or more. Smaller falls (a rolling window forgetting old use) count as no use.
- Only recent history counts: samples within `lookback(window length)` of the newest one (a fifth of the
  window, between one hour and a day; six hours when the length is unknown).
- Holes do not count. An interval longer than `GAP` between two samples means the daemon was not
  watching (stopped, asleep); it says neither when the use inside it happened nor how long the user was
  idle, so neither its time nor its use enters the rate. An idle stretch that *was* watched (samples
  showing no change) counts as time with no use.
- The burn rate is the use over the watched time: sum of increases ÷ covered hours. It needs at least
  `MIN_SAMPLES` samples and `MIN_COVERED` of watched time, else there is no forecast.
- The projection starts from the newest sample: used + rate × hours until the reset (not capped: above
  100 means the window runs out first); it runs out at newest + (100 − used) ÷ rate when that is before
  the reset, or at the first sample that reached 100 when it already has.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Final, NamedTuple

from codexbard.models import Forecast, ForecastValue, UsageSnapshot, WindowValue

GAP: Final = timedelta(hours=1)
RESET_DROP: Final = 5.0
RESET_TOLERANCE: Final = timedelta(seconds=60)
MIN_SAMPLES: Final = 3
MIN_COVERED: Final = timedelta(minutes=15)
DEFAULT_LOOKBACK: Final = timedelta(hours=6)
MIN_LOOKBACK: Final = timedelta(hours=1)
MAX_LOOKBACK: Final = timedelta(hours=24)
MAIN_WINDOWS: Final = ("primary", "secondary", "tertiary")


class Point(NamedTuple):
    """One observation of a window: when, how much was used, and when the window said it resets."""

    t: datetime
    used_percent: float
    resets_at: datetime | None


def lookback(window_minutes: int | None) -> timedelta:
    """How far back the burn rate looks for a window of this length."""
    if not window_minutes or window_minutes <= 0:
        return DEFAULT_LOOKBACK
    return min(MAX_LOOKBACK, max(MIN_LOOKBACK, timedelta(minutes=window_minutes) / 5))


def is_reset(older: Point, newer: Point) -> bool:
    """Whether the window reset between two consecutive samples."""
    if older.resets_at is not None and older.resets_at <= newer.t + RESET_TOLERANCE:
        return True
    return newer.used_percent <= older.used_percent - RESET_DROP


def current_period(samples: Sequence[Point]) -> list[Point]:
    """The newest samples back to (not across) the last reset, oldest first."""
    if not samples:
        return []
    start = len(samples) - 1
    while start > 0 and not is_reset(samples[start - 1], samples[start]):
        start -= 1
    return list(samples[start:])


def burn_rate(samples: Sequence[Point]) -> tuple[float, timedelta]:
    """Percent per hour over the watched intervals of one period, and how much time they cover."""
    used = 0.0
    covered = timedelta(0)
    for older, newer in pairwise(samples):
        step = newer.t - older.t
        if step <= timedelta(0) or step > GAP:
            continue
        covered += step
        used += max(0.0, newer.used_percent - older.used_percent)
    hours = covered.total_seconds() / 3600.0
    return (used / hours if hours > 0 else 0.0), covered


def window_forecast(samples: Sequence[Point], window: WindowValue | None, now: datetime) -> ForecastValue | None:
    """The forecast of one window from its samples (oldest first), or None with too little history."""
    if window is None or window.resets_at is None or window.resets_at <= now or not samples:
        return None
    period = current_period(samples)
    newest = period[-1]
    horizon = newest.t - lookback(window.window_minutes)
    recent = [p for p in period if p.t >= horizon]
    if len(recent) < MIN_SAMPLES:
        return None
    rate, covered = burn_rate(recent)
    if covered < MIN_COVERED:
        return None
    until_reset = (window.resets_at - newest.t).total_seconds() / 3600.0
    projected = newest.used_percent + rate * max(0.0, until_reset)
    exhausts: datetime | None = None
    if newest.used_percent >= 100.0:
        exhausts = next(p.t for p in period if p.used_percent >= 100.0)
    elif rate > 0:
        when = newest.t + timedelta(hours=(100.0 - newest.used_percent) / rate)
        exhausts = when if when < window.resets_at else None
    return ForecastValue(
        burn_rate_percent_per_hour=round(rate, 2),
        projected_used_percent_at_reset=round(projected, 1),
        exhausts_at=exhausts,
        samples=len(recent),
    )


def snapshot_forecast(
    snapshot: UsageSnapshot, series: Callable[[str], Sequence[Point]], now: datetime
) -> Forecast:
    """The forecast of a snapshot's three main windows; `series(name)` gives a window's samples."""
    return Forecast(
        primary=window_forecast(series("primary"), snapshot.primary, now) if snapshot.primary else None,
        secondary=window_forecast(series("secondary"), snapshot.secondary, now) if snapshot.secondary else None,
        tertiary=window_forecast(series("tertiary"), snapshot.tertiary, now) if snapshot.tertiary else None,
    )
