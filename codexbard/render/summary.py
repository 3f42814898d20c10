"""The human-readable summary (`codexbard usage`, `GET /usage?format=text`), reset times in the local zone."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Final

from codexbard.models import ProviderPayload, WindowValue
from codexbard.pace import format_duration
from codexbard.render.localtime import reset_stamp

NOTHING_ENABLED: Final = (
    "No enabled provider matches; run `codexbard providers` to see what each one needs.\n"
)


def _window_line(name: str, window: WindowValue, now: datetime, zone: tzinfo = UTC) -> str:
    used = window.used_percent
    parts = [f"{name}: {max(0.0, 100.0 - used):.0f}% left ({used:.0f}% used)"]
    if window.resets_at is not None:
        seconds = (window.resets_at - now).total_seconds()
        when = reset_stamp(window.resets_at, zone)
        parts.append(f"resets {when}" + (f" (in {format_duration(seconds)})" if seconds > 0 else ""))
    if window.reset_description and window.reset_description.strip().lower() != name.strip().lower():
        parts.append(window.reset_description)  # a description that only repeats the label is left out
    return ", ".join(parts)


def _label(line: str) -> str:
    return line.partition(":")[0].strip().lower() if ":" in line else ""


def text(payloads: list[ProviderPayload], now: datetime, zone: tzinfo = UTC) -> str:
    """A human-readable summary, one block per provider account (a hint when there is none)."""
    if not payloads:
        return NOTHING_ENABLED
    blocks: list[str] = []
    for p in payloads:
        title = p.display_name + (f" [{p.account}]" if p.account else "")
        tags = [t for t in (p.source, "stale" if p.stale else None) if t]
        lines = [title + (f" ({', '.join(tags)})" if tags else "")]
        if p.usage is not None:
            for slot, window in (("primary", p.usage.primary), ("secondary", p.usage.secondary),
                                 ("tertiary", p.usage.tertiary)):
                if window is not None:
                    lines.append("  " + _window_line(window.label or slot.capitalize(), window, now, zone))
            for extra in p.usage.extra_rate_windows:
                lines.append("  " + _window_line(extra.title, extra.window, now, zone))
            login = p.usage.login_method
            # A plan line such as Kimi's "Credits: 160 left" repeats the Credits line below: leave it out.
            if login and not (p.credits is not None and _label(login) == "credits"):
                lines.append(f"  {login}")
            if p.usage.account_email:
                lines.append(f"  Account: {p.usage.account_email}")
        if p.credits is not None:
            total = f" of {p.credits.total:g}" if p.credits.total is not None else ""
            lines.append(f"  Credits: {p.credits.remaining:g}{total} {p.credits.unit} left")
        if p.status is not None and p.status.indicator not in (None, "none"):
            lines.append(f"  Status: {p.status.indicator} {p.status.description or ''}".rstrip())
        if p.error is not None:
            lines.append(f"  Error ({p.error.kind}): {p.error.message}")
        elif p.last_error is not None and p.usage is not None:
            # The numbers above are the last good ones; say why they were not refreshed.
            lines.append(f"  Last refresh failed {p.last_error.at.strftime('%Y-%m-%d %H:%M UTC')} "
                         f"({p.last_error.kind}): {p.last_error.message}")
        if p.usage is None and p.error is None:
            lines.append("  No data yet")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")
