"""The SwiftBar / xbar (BitBar) format: a menu bar line, `---`, a section per payload, and the actions.

Each section has the provider's title, one line per window with a bar, the used percentage and the reset
countdown (with the local reset time), the pace summary under a main window, credits and any error. The
last section refreshes: `POST /refresh` on the daemon through `/usr/bin/curl` (present on every Mac) when
the daemon can be reached without a token, else a plain re-run of the plugin. Titles never contain `|`
(which starts the parameters) and never start with `-` (which makes a submenu or a separator).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Final

from codexbard.models import ProviderPayload
from codexbard.render.levels import Meter, Thresholds, credits_line, meters, most_constrained, title
from codexbard.render.localtime import countdown, reset_short

BAR_CELLS: Final = 10
COLORS: Final = {"warning": "#d9822b", "critical": "#d13438", "stale": "#8a8a8a", "error": "#d13438"}
WILDCARD_BINDS: Final = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def clean(value: str) -> str:
    """A title SwiftBar shows as it is: no `|`, no line breaks, no leading `-`."""
    flat = " ".join(value.replace("|", "│").split())
    return flat.lstrip("-").lstrip() or "?"


def bar(used_percent: float, cells: int = BAR_CELLS) -> str:
    """`▰▰▰▰▱▱▱▱▱▱` for 40% (clamped to 0–100, rounded to the nearest cell)."""
    filled = max(0, min(cells, int(used_percent / 100.0 * cells + 0.5)))  # half up, not to even
    return "▰" * filled + "▱" * (cells - filled)


def local_base_url(host: str, port: int, token_required: bool) -> str | None:
    """Where a plugin on this machine reaches the daemon, or None when it needs a token to do so."""
    if token_required:
        return None
    name = WILDCARD_BINDS.get(host.strip("[]"), host.strip("[]"))
    return f"http://[{name}]:{port}" if ":" in name else f"http://{name}:{port}"


def _meter_lines(meter: Meter, now: datetime, zone: tzinfo) -> list[str]:
    used = meter.window.used_percent
    line = f"{meter.label} {bar(used)} {used:.0f}%"
    resets_at = meter.window.resets_at
    if resets_at is not None:
        left = countdown(resets_at, now)
        if left is not None:
            line += f" · resets in {left} ({reset_short(resets_at, now, zone)})"
    lines = [f"{clean(line)} | font=Menlo size=12"]
    if meter.window.reset_description and meter.window.reset_description.lower() != meter.label.lower():
        lines.append(f"{clean(meter.window.reset_description)} | size=11")
    if meter.pace is not None:
        lines.append(f"{clean(meter.pace.summary)} | size=11")
    return lines


def swiftbar(payloads: list[ProviderPayload], now: datetime, thresholds: Thresholds, zone: tzinfo,
             base_url: str | None) -> str:
    """The plugin output: header line, `---`, the sections, the actions; newline-terminated."""
    top = most_constrained(payloads, now)
    color: str | None = None
    if top is not None:
        payload, meter = top
        header = f"{title(payload)} {meter.window.used_percent:.0f}%"
        level = "stale" if payload.stale else thresholds.level(meter.window.used_percent)
        color = COLORS.get(level)
    elif any(p.error is not None for p in payloads) or not payloads:
        header, color = "AI ?", COLORS["error"]
    else:
        header = "AI –"
    lines = [clean(header) + (f" | color={color}" if color else "")]
    if not payloads:
        lines += ["---", "No provider is enabled | size=12",
                  "Run `codexbard providers` to see what each one needs | size=11"]
    for payload in payloads:
        lines.append("---")
        suffix = " | size=14" + (f" color={COLORS['stale']}" if payload.stale else "")
        lines.append(clean(title(payload) + (" (stale)" if payload.stale else "")) + suffix)
        for meter in meters(payload):
            lines.extend(_meter_lines(meter, now, zone))
        credits = credits_line(payload)
        if credits is not None:
            lines.append(f"{clean('Credits: ' + credits)} | size=12")
        if payload.error is not None:
            lines.append(f"{clean('Error: ' + payload.error.message)} | size=12 color={COLORS['error']}")
        elif payload.last_error is not None:
            lines.append(f"{clean('Last refresh failed: ' + payload.last_error.message)} | size=12 "
                         f"color={COLORS['stale']}")
        elif payload.usage is None and credits is None:
            lines.append("No data yet | size=12")
    lines.append("---")
    if base_url is not None:
        lines.append(f"Refresh now | bash=/usr/bin/curl param1=-fsS param2=-XPOST param3=--max-time "
                     f"param4=60 param5={base_url}/refresh terminal=false refresh=true")
        lines.append(f"Open dashboard | href={base_url}/")
    else:
        lines.append("Refresh | refresh=true")
    return "\n".join(lines) + "\n"
