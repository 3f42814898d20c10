"""Log timestamps to UTC quarter-hour slots, and slots to local day keys (zoneinfo)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from codexbard.cost.pricing import SLOT_SECONDS
from codexbard.errors import ConfigError

_EPOCH_DAY: Final[dict[str, int]] = {}


class TimeZoneError(ConfigError):
    """A time-zone name that zoneinfo does not know."""


def zone(name: str | ZoneInfo) -> ZoneInfo:
    """Return the ZoneInfo for an IANA name (a ZoneInfo passes through)."""
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimeZoneError(f"unknown time zone {name!r}") from exc


def slot_of(ts: str) -> int | None:
    """Return the UTC quarter-hour slot (epoch seconds // 900) of an ISO-8601 instant, or None if it is invalid."""
    # Fast path for what both CLIs write: 2026-03-02T09:14:03.512Z
    if len(ts) >= 17 and ts[-1] == "Z" and ts[10] == "T" and ts[13] == ":":
        day = ts[:10]
        base = _EPOCH_DAY.get(day)
        if base is None:
            try:
                base = date.fromisoformat(day).toordinal() * 86400 - 719163 * 86400
            except ValueError:
                return None
            if len(_EPOCH_DAY) < 100_000:
                _EPOCH_DAY[day] = base
        hh, mm = ts[11:13], ts[14:16]
        if hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60:
            return (base + int(hh) * 3600 + int(mm) * 60) // SLOT_SECONDS
        return None
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) // SLOT_SECONDS


def epoch_of(ts: str) -> float | None:
    """Return epoch seconds of an ISO-8601 instant (naive = UTC), or None."""
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


class DayKeys:
    """Memoised slot → local `YYYY-MM-DD` for one time zone."""

    __slots__ = ("_cache", "tz")

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._cache: dict[int, str] = {}

    def day(self, slot: int) -> str:
        """Return the local day key of a slot."""
        hit = self._cache.get(slot)
        if hit is None:
            hit = datetime.fromtimestamp(slot * SLOT_SECONDS, self.tz).date().isoformat()
            self._cache[slot] = hit
        return hit
