"""Time: one injectable clock and every timestamp parser upstream payloads need.

Upstreams send epoch seconds, epoch milliseconds, ISO 8601 strings with offsets and fractions, and
relative text ("resets in 2h 13m"). Each form is parsed here and nowhere else.
"""

from __future__ import annotations

import functools
import math
import os
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Numbers at or above this are epoch milliseconds (the Kimi K2 sheet counts exactly 1e12 as ms).
EPOCH_MS_THRESHOLD: Final = 1_000_000_000_000
# Datetimes past this are nonsense from an upstream (and beyond what Python can represent safely).
_MAX_EPOCH_SECONDS: Final = 64_060_588_800  # 4000-01-01


class Clock:
    """A wall clock plus a monotonic clock, replaceable in tests."""

    def __init__(
        self,
        now: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None,
    ) -> None:
        self._now = now or (lambda: datetime.now(UTC))
        self._monotonic = monotonic or time.monotonic

    def now(self) -> datetime:
        """Return the current time, timezone-aware UTC."""
        return self._now()

    def monotonic(self) -> float:
        """Return monotonic seconds, for durations."""
        return self._monotonic()


class FixedClock(Clock):
    """A clock that stands still until moved (tests)."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self._mono = 1000.0
        super().__init__(now=lambda: self.at, monotonic=lambda: self._mono)

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        self.at += timedelta(seconds=seconds)
        self._mono += seconds


def utcnow() -> datetime:
    """Return the current time, timezone-aware UTC."""
    return datetime.now(UTC)


def from_epoch_seconds(value: float) -> datetime | None:
    """Convert epoch seconds to UTC, or None when out of range."""
    if not math.isfinite(value) or value <= 0 or value >= _MAX_EPOCH_SECONDS:
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def from_epoch_ms(value: float) -> datetime | None:
    """Convert epoch milliseconds to UTC, or None when out of range."""
    if not math.isfinite(value):
        return None
    return from_epoch_seconds(value / 1000.0)


def from_epoch_auto(value: float) -> datetime | None:
    """Convert an epoch number that may be seconds or milliseconds (>= 1e12 means ms)."""
    if not math.isfinite(value):
        return None
    if abs(value) >= EPOCH_MS_THRESHOLD:
        return from_epoch_ms(value)
    return from_epoch_seconds(value)


_FRACTION = re.compile(r"(\.\d+)")


def parse_iso(text: str) -> datetime | None:
    """Parse ISO 8601 with `Z` or an offset and any fraction length; naive values are taken as UTC."""
    value = text.strip()
    if not value:
        return None
    if value[-1] in "zZ":
        value = value[:-1] + "+00:00"
    # Python accepts at most 6 fraction digits; upstreams send 7 or 9 (and 1-2).
    match = _FRACTION.search(value)
    if match:
        digits = match.group(1)[1:]
        value = value[: match.start()] + "." + (digits + "000000")[:6] + value[match.end() :]
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # e.g. 9999-12-31T23:59:59-01:00 is past datetime.max in UTC
        return None


def parse_http_date(text: str) -> datetime | None:
    """Parse an RFC 7231 HTTP-date (as in Retry-After)."""
    try:
        parsed = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Read a Retry-After header (delta seconds or HTTP-date) as seconds from now, never negative."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    when = parse_http_date(text)
    if when is None:
        return None
    return max(0.0, (when - now).total_seconds())


_REL_PART = re.compile(
    r"(\d+(?:\.\d+)?)\s*(d|day|days|h|hr|hrs|hour|hours|m|min|mins|minute|minutes|s|sec|secs|second|seconds)\b",
    re.I,
)
_UNIT_SECONDS: Final = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_relative(text: str, now: datetime) -> datetime | None:
    """Parse relative text such as `resets in 2h 13m` or `in 3 days 4 hours` into an instant."""
    total = 0.0
    found = False
    for number, unit in _REL_PART.findall(text):
        key = unit.lower()[0]
        if key == "m" and unit.lower().startswith("mo"):
            continue
        total += float(number) * _UNIT_SECONDS[key]
        found = True
    if not found:
        return None
    return now + timedelta(seconds=total)


QUERY_TIME_MIN: Final = datetime(1970, 1, 1, tzinfo=UTC)
QUERY_TIME_MAX: Final = datetime.fromtimestamp(_MAX_EPOCH_SECONDS - 1, tz=UTC)  # 3999-12-31T23:59:59Z
MAX_QUERY_STEP_SECONDS: Final = 31_536_000  # one year


def parse_query_time(name: str, value: str) -> datetime:
    """Parse a user-given instant (ISO 8601 or epoch seconds) between 1970 and 3999; ValueError names `name`.

    The range keeps arithmetic on the result (a default `since` 24 h before `until`) from overflowing.
    """
    text = value.strip()
    out_of_range = ValueError(f"'{name}' is out of range")
    try:
        number = float(text)
    except ValueError:
        parsed = parse_iso(text)
        if parsed is None:
            if _iso_shaped_overflow(text):
                raise out_of_range from None
            raise ValueError(f"'{name}' must be ISO 8601 or epoch seconds") from None
        if not QUERY_TIME_MIN <= parsed <= QUERY_TIME_MAX:
            raise out_of_range from None
        return parsed
    if not math.isfinite(number) or not 0 <= number < _MAX_EPOCH_SECONDS:
        raise out_of_range
    return datetime.fromtimestamp(number, tz=UTC)


def _iso_shaped_overflow(text: str) -> bool:
    """Whether ISO text is well formed but lands outside datetime's range once converted to UTC."""
    value = text[:-1] + "+00:00" if text[-1:] in "zZ" else text
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def parse_query_step(name: str, value: str | int) -> int:
    """Parse a history step in whole seconds, 1 to one year; ValueError names `name`."""
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?\d{1,30}", text):
            raise ValueError(f"{name} must be a whole number of seconds")
        value = int(text)
    if value < 1:
        raise ValueError(f"{name} must be at least 1 (seconds)")
    if value > MAX_QUERY_STEP_SECONDS:
        raise ValueError(f"{name} must be at most {MAX_QUERY_STEP_SECONDS} (seconds, one year)")
    return value


def parse_timestamp(value: object) -> datetime | None:
    """Parse any upstream timestamp: epoch s/ms (number or numeric string) or an ISO string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return from_epoch_auto(float(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            return parse_iso(text)
        return from_epoch_auto(number)
    return None



# --- the local time zone ---------------------------------------------------------------------------------

SYSTEM_LOCALTIME: Final = Path("/etc/localtime")


def _zone_key(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _zone_file(path: Path) -> tzinfo | None:
    """A zone from a TZif file: by its key when the path lies in a zoneinfo tree, else read from the file."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    parts = target.parts
    if "zoneinfo" in parts:
        key = "/".join(parts[len(parts) - parts[::-1].index("zoneinfo"):])
        zone = _zone_key(key) if key else None
        if zone is not None:
            return zone
    try:
        with target.open("rb") as handle:
            return ZoneInfo.from_file(handle, key=target.name)
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=16)
def _resolve(tz: str | None, localtime: Path) -> tzinfo:
    if tz is not None:
        name = tz.strip().removeprefix(":")
        if not name:
            return UTC
        if name.startswith("/"):
            return _zone_file(Path(name)) or UTC
        return _zone_key(name) or UTC
    return _zone_file(localtime) or UTC


def local_zone(env: Mapping[str, str] | None = None, *, localtime: Path = SYSTEM_LOCALTIME) -> tzinfo:
    """The zone `TZ` names (a zone key or a TZif path), else the system zone of `localtime`, else UTC.

    The one place the user's zone is decided (the renderers, the CLI and providers' reset texts use it); zones
    come from the system database or the `tzdata` package, and a `TZ` naming no zone gives UTC."""
    environment = os.environ if env is None else env
    return _resolve(environment.get("TZ"), localtime)
