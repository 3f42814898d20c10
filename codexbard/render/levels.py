"""What the status-bar formats share: a payload's meters, the most constrained one, and threshold levels."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from codexbard.config import DisplayConfig
from codexbard.models import PaceValue, ProviderPayload, WindowValue

Level = Literal["ok", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Thresholds:
    """`[display]` warning and critical percentages: at or above them a window is warning or critical."""

    warning: float = 75.0
    critical: float = 90.0

    @classmethod
    def of(cls, display: DisplayConfig) -> Thresholds:
        """The thresholds of a `[display]` table."""
        return cls(float(display.warning_percent), float(display.critical_percent))

    def level(self, used_percent: float) -> Level:
        """The level of a used percentage (critical is checked first)."""
        if used_percent >= self.critical:
            return "critical"
        if used_percent >= self.warning:
            return "warning"
        return "ok"


@dataclass(frozen=True, slots=True)
class Meter:
    """One window of a payload with the label it is shown under and its pace (main windows only)."""

    label: str
    window: WindowValue
    pace: PaceValue | None = None


def meters(payload: ProviderPayload) -> list[Meter]:
    """The payload's windows in order: primary, secondary, tertiary, then the extra windows."""
    usage = payload.usage
    if usage is None:
        return []
    pace = payload.pace
    out: list[Meter] = []
    for slot, window, window_pace in (
        ("primary", usage.primary, pace.primary if pace else None),
        ("secondary", usage.secondary, pace.secondary if pace else None),
        ("tertiary", usage.tertiary, pace.tertiary if pace else None),
    ):
        if window is not None:
            out.append(Meter(window.label or slot.capitalize(), window, window_pace))
    out.extend(Meter(extra.title, extra.window) for extra in usage.extra_rate_windows)
    return out


def binding(payload: ProviderPayload, now: datetime) -> Meter | None:
    """The payload's most used window whose reset has not passed yet (the first one on a tie)."""
    best: Meter | None = None
    for meter in meters(payload):
        resets_at = meter.window.resets_at
        if resets_at is not None and resets_at <= now:
            continue  # that window has reset since the data was read: it no longer constrains
        if best is None or meter.window.used_percent > best.window.used_percent:
            best = meter
    return best


def most_constrained(payloads: Iterable[ProviderPayload],
                     now: datetime) -> tuple[ProviderPayload, Meter] | None:
    """The payload and window with the highest used percentage (the first one on a tie), or None."""
    best: tuple[ProviderPayload, Meter] | None = None
    for payload in payloads:
        meter = binding(payload, now)
        if meter is not None and (best is None or meter.window.used_percent > best[1].window.used_percent):
            best = (payload, meter)
    return best


def title(payload: ProviderPayload) -> str:
    """The provider's display name, with the account label in parentheses for a named account."""
    return payload.display_name + (f" ({payload.account})" if payload.account else "")


def clamp_percent(used_percent: float) -> int:
    """A used percentage rounded and clamped to 0–100 (over-quota values can exceed 100)."""
    return max(0, min(100, round(used_percent)))


def credits_line(payload: ProviderPayload) -> str | None:
    """`162.65 of 250 USD left`, or None without credits."""
    credits = payload.credits
    if credits is None:
        return None
    total = f" of {credits.total:g}" if credits.total is not None else ""
    return f"{credits.remaining:g}{total} {credits.unit} left"
