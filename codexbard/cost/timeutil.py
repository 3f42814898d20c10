"""Log timestamps to UTC quarter-hour slots, and slots to local day keys (zoneinfo)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from codexbard.cost.pricing import SLOT_SECONDS
from codexbard.errors import ConfigError

_EPOCH_DAY: Final[dict[str, int]] = {}
_SLOT_BY_MINUTE: Final[dict[str, int | None]] = {}  # `YYYY-MM-DDTHH:MM` -> slot (bounded: cleared when full)
_MINUTE_CACHE: Final[int] = 4096


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
    # Fast path for what both CLIs write: 2026-03-02T09:14:03.512Z (the answer depends on the first 16 characters).
    if len(ts) >= 17 and ts[-1] == "Z" and ts[10] == "T" and ts[13] == ":":
        minute = ts[:16]
        if minute in _SLOT_BY_MINUTE:
            return _SLOT_BY_MINUTE[minute]
        slot = _minute_slot(minute)
        if len(_SLOT_BY_MINUTE) >= _MINUTE_CACHE:
            _SLOT_BY_MINUTE.clear()
        _SLOT_BY_MINUTE[minute] = slot
        return slot
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) // SLOT_SECONDS


def _minute_slot(minute: str) -> int | None:
    """Return the slot of `YYYY-MM-DDTHH:MM` (the fast path of `slot_of`), or None."""
    day = minute[:10]
    base = _EPOCH_DAY.get(day)
    if base is None:
        try:
            base = date.fromisoformat(day).toordinal() * 86400 - 719163 * 86400
        except ValueError:
            return None
        if len(_EPOCH_DAY) < 100_000:
            _EPOCH_DAY[day] = base
    hh, mm = minute[11:13], minute[14:16]
    if hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60:
        return (base + int(hh) * 3600 + int(mm) * 60) // SLOT_SECONDS
    return None


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
