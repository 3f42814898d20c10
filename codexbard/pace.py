"""Pace: how a window's usage compares with spending it evenly until the reset (API.md, `pace`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from codexbard.models import Pace, PaceStage, PaceValue, UsageSnapshot, WindowValue


def format_duration(seconds: float) -> str:
    """Format a duration as `2h 30m`, `3d 4h` or `45m`."""
    total_minutes = max(0, int(seconds // 60))
    days, rest = divmod(total_minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


def _stage(delta: float) -> PaceStage:
    size = abs(delta)
    if size <= 2:
        return "onTrack"
    ahead = delta > 0
    if size <= 6:
        return "slightlyAhead" if ahead else "slightlyBehind"
    if size <= 12:
        return "ahead" if ahead else "behind"
    return "farAhead" if ahead else "farBehind"


def window_pace(window: WindowValue | None, now: datetime) -> PaceValue | None:
    """Compute the pace of one window, or None when its reset or length is unknown or out of range."""
    if window is None or window.resets_at is None or not window.window_minutes:
        return None
    length = timedelta(minutes=window.window_minutes)
    remaining = window.resets_at - now
    if remaining <= timedelta(0) or remaining > length:
        return None
    elapsed = (length - remaining).total_seconds()
    expected = elapsed / length.total_seconds() * 100.0
    used = min(100.0, max(0.0, window.used_percent))
    delta = used - expected
    eta: int | None
    if used >= 100.0:
        eta = 0
    elif used <= 0.0 or elapsed <= 0:
        eta = None
    else:
        seconds_to_empty = (100.0 - used) / (used / elapsed)
        eta = int(seconds_to_empty) if seconds_to_empty < remaining.total_seconds() else None
    will_last = eta is None
    if abs(delta) <= 2:
        lead = "On pace"
    elif delta > 0:
        lead = f"{round(delta)}% in deficit"
    else:
        lead = f"{round(-delta)}% in reserve"
    tail = "Lasts until reset" if will_last else ("Used up" if eta == 0 else f"Runs out in {format_duration(eta or 0)}")
    return PaceValue(
        stage=_stage(delta),
        delta_percent=round(delta, 1),
        expected_used_percent=round(expected, 1),
        will_last_to_reset=will_last,
        eta_seconds=eta,
        summary=f"{lead} | Expected {round(expected)}% used | {tail}",
    )


def snapshot_pace(snapshot: UsageSnapshot, now: datetime) -> Pace:
    """Compute pace for the three main windows of a snapshot."""
    return Pace(
        primary=window_pace(snapshot.primary, now),
        secondary=window_pace(snapshot.secondary, now),
        tertiary=window_pace(snapshot.tertiary, now),
    )
