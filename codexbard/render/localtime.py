"""The user's local time zone (`TZ`, else the system zone) and how reset times are written in it.

Zones come from the system database when it has them and from the `tzdata` package otherwise, so a
container or a macOS install without `/usr/share/zoneinfo` still resolves `TZ=Europe/Berlin`. A `TZ` that
names no zone falls back to UTC, as the C library does; nothing here raises on bad input.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from codexbard.host.clock import local_zone
from codexbard.pace import format_duration

__all__ = ["countdown", "local_zone", "reset_short", "reset_stamp", "zone_label"]

def zone_label(when: datetime) -> str:
    """The zone abbreviation of an aware time (`CET`, `UTC`), or its offset when the zone has none."""
    name = when.tzname()
    if name and not name.startswith(("+", "-")):
        return name
    offset = when.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{rest:02d}" if rest else f"UTC{sign}{hours:02d}"


def reset_stamp(resets_at: datetime, zone: tzinfo) -> str:
    """A reset time in full: `2026-11-25 21:00 CET`."""
    local = resets_at.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {zone_label(local)}"


def reset_short(resets_at: datetime, now: datetime, zone: tzinfo) -> str:
    """A reset time as a status bar shows it: `21:00` today, `Mon 09:00` within a week, else `Dec 24 09:00`."""
    local = resets_at.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    if days == 0:
        return f"{local:%H:%M}"
    if 0 < days < 7:
        return f"{local:%a %H:%M}"
    return f"{local:%b} {local.day} {local:%H:%M}"


def countdown(resets_at: datetime, now: datetime) -> str | None:
    """`2h 10m` until the reset, or None once it has passed."""
    seconds = (resets_at - now).total_seconds()
    return format_duration(seconds) if seconds > 0 else None

