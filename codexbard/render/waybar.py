"""The Waybar format: one JSON line for a `custom/<name>` module with `"return-type": "json"`.

`{"text", "alt", "tooltip", "class", "percentage"}`: `text` names the most constrained window's provider and
its used percentage, `alt` is that provider's id (for an object-valued `format-icons`), `tooltip` has one block
per payload joined with `\\n`, `class` is one of `CLASSES`, `percentage` is 0–100. Waybar feeds `text`, `alt`
and `tooltip` to Pango, so every string is markup-escaped (`&`, `<`, `>`), and the line never contains a raw
newline. Reset times are absolute local times, not countdowns, so a line changes only when the data does
(what `?stream=1` relies on to write one line per change).
"""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Final, Literal

from codexbard.models import ProviderPayload
from codexbard.render.levels import (
    Meter,
    Thresholds,
    clamp_percent,
    credits_line,
    meters,
    most_constrained,
    title,
)
from codexbard.render.localtime import reset_short

WaybarClass = Literal["ok", "warning", "critical", "stale", "error"]
CLASSES: Final[tuple[WaybarClass, ...]] = ("ok", "warning", "critical", "stale", "error")
NOTHING_ENABLED: Final = "no provider is enabled; run `codexbard providers` to see what each one needs"
NO_DATA_TEXT: Final = "AI –"


# Pango markup's three special characters (the `html` module would pull in its 2,000-entry entity table).
_PANGO_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _escape(value: str) -> str:
    return value.translate(_PANGO_ESCAPES)


def _meter_line(meter: Meter, now: datetime, zone: tzinfo) -> str:
    line = f"  {meter.label}: {meter.window.used_percent:.0f}% used"
    resets_at = meter.window.resets_at
    if resets_at is not None and resets_at > now:
        line += f", resets {reset_short(resets_at, now, zone)}"
    return line


def tooltip_lines(payloads: list[ProviderPayload], now: datetime, zone: tzinfo) -> list[str]:
    """The tooltip's lines (not escaped): a header per payload, its windows, credits and error."""
    lines: list[str] = []
    for payload in payloads:
        if lines:
            lines.append("")
        lines.append(title(payload) + (" (stale)" if payload.stale else ""))
        for meter in meters(payload):
            lines.append(_meter_line(meter, now, zone))
        credits = credits_line(payload)
        if credits is not None:
            lines.append(f"  Credits: {credits}")
        if payload.error is not None:
            lines.append(f"  Error: {payload.error.message}")
        elif payload.last_error is not None:  # stale numbers above: say why they are not fresh
            lines.append(f"  Last refresh failed: {payload.last_error.message}")
        elif payload.usage is None and credits is None:
            lines.append("  No data yet")
    return lines


def waybar_object(payloads: list[ProviderPayload], now: datetime, thresholds: Thresholds,
                  zone: tzinfo) -> dict[str, str | int]:
    """The Waybar object for some payloads (the enabled ones, or the ones `?provider=` picked)."""
    tooltip = "\n".join(_escape(line) for line in tooltip_lines(payloads, now, zone))
    top = most_constrained(payloads, now)
    if top is not None:
        payload, meter = top
        used = meter.window.used_percent
        klass: WaybarClass = "stale" if payload.stale else thresholds.level(used)
        return {"text": _escape(f"{title(payload)} {used:.0f}%"), "alt": _escape(payload.provider),
                "tooltip": tooltip, "class": klass, "percentage": clamp_percent(used)}
    with_credits = next((p for p in payloads if p.credits is not None), None)
    if with_credits is not None and with_credits.credits is not None:
        credits = with_credits.credits
        share = 0
        if credits.total:
            share = clamp_percent((credits.total - credits.remaining) / credits.total * 100.0)
        return {"text": _escape(f"{title(with_credits)} {credits.remaining:g} {credits.unit}"),
                "alt": _escape(with_credits.provider), "tooltip": tooltip,
                "class": "stale" if with_credits.stale else thresholds.level(share), "percentage": share}
    if not payloads:
        return {"text": NO_DATA_TEXT, "alt": "none", "tooltip": _escape(NOTHING_ENABLED), "class": "error",
                "percentage": 0}
    failed = any(p.error is not None for p in payloads)
    return {"text": NO_DATA_TEXT, "alt": _escape(payloads[0].provider), "tooltip": tooltip,
            "class": "error" if failed else "stale", "percentage": 0}


def waybar(payloads: list[ProviderPayload], now: datetime, thresholds: Thresholds, zone: tzinfo) -> str:
    """One Waybar JSON line, newline-terminated."""
    obj = waybar_object(payloads, now, thresholds, zone)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"
