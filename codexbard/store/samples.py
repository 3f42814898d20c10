"""Which window samples a snapshot contributes, and whether each one is worth storing."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final

from codexbard.models import UsageSnapshot, WindowValue
from codexbard.store.records import opt_epoch

log = logging.getLogger(__name__)

MAIN_WINDOWS: Final = ("primary", "secondary", "tertiary")


@dataclass(frozen=True)
class Point:
    """A sample as stored: epoch seconds and numbers only."""

    t: float
    used_percent: float
    resets_at: float | None


def window_points(snapshot: UsageSnapshot, t: float) -> dict[str, Point]:
    """Return one point per window of the snapshot, keyed by series name (main windows, then extra ids)."""
    values: list[tuple[str, WindowValue | None]] = [
        ("primary", snapshot.primary),
        ("secondary", snapshot.secondary),
        ("tertiary", snapshot.tertiary),
    ]
    values += [(extra.id, extra.window) for extra in snapshot.extra_rate_windows]
    points: dict[str, Point] = {}
    for name, value in values:
        if value is None or name in points:
            # A duplicate id (or an extra window named like a main one) would write two values into one
            # series; the first one wins.
            continue
        if not math.isfinite(value.used_percent):
            log.debug("window %s has no finite usedPercent; no sample stored", name)
            continue
        points[name] = Point(t=t, used_percent=value.used_percent, resets_at=opt_epoch(value.resets_at))
    return points


def worth_storing(last: Point | None, new: Point, *, heartbeat: float, resets_tolerance: float) -> bool:
    """Decide whether `new` is a change (or a due heartbeat) relative to the series' last stored sample."""
    if last is None:
        return True
    if new.used_percent != last.used_percent:
        return True
    if (new.resets_at is None) != (last.resets_at is None):
        return True
    if (
        new.resets_at is not None
        and last.resets_at is not None
        and abs(new.resets_at - last.resets_at) >= resets_tolerance
    ):
        return True
    return new.t - last.t >= heartbeat
