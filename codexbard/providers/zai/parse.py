"""Pure mapping of z.ai quota and BigModel balance payloads to a `UsageSnapshot` (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from codexbard.errors import AuthRequired, ParseError, Unavailable
from codexbard.host.clock import from_epoch_ms
from codexbard.host.redact import excerpt
from codexbard.models import Credits, Identity, NamedWindow, RateWindow, UsageSnapshot, WindowValue
from codexbard.providers.coerce import integral, number, percent
from codexbard.providers.zai.const import (
    CREDIT_LIMIT,
    CREDITS_UNIT,
    MCP_TITLE,
    MCP_WINDOW_ID,
    MONTHLY_MCP_MINUTES,
    SESSION_LABEL,
    TIME_LIMIT,
    TOKENS_LIMIT,
    UNIT_MINUTES,
    UNIT_NAMES,
    WEEKLY_LABEL,
)
from codexbard.providers.zai.models import LimitEntry, read_limit_entry

_PLAN_KEYS = ("planName", "plan", "plan_type", "packageName", "level")
_TOKEN_TYPES = (TOKENS_LIMIT, CREDIT_LIMIT)


def check_envelope(payload: dict[str, Any], *, service: str, secrets: Iterable[str] = ()) -> None:
    """Raise unless the envelope says `code: 200` and `success: true`."""
    code = integral(payload.get("code"))
    if code == 200 and payload.get("success") is True:
        return
    if "code" not in payload and "success" not in payload:
        raise ParseError(f"{service} answered without the code/success envelope")
    msg = payload.get("msg")
    # Scrubbed before it is cut, so a key straddling the cut cannot leave its first characters.
    detail = excerpt(msg, secrets) if isinstance(msg, str) and msg.strip() else None
    if code in (401, 403):
        raise AuthRequired(f"{service} rejected the API key (code {code}{': ' + detail if detail else ''})")
    raise Unavailable(f"{service} quota API error: {detail or 'invalid response'}")


def window_minutes(entry: LimitEntry) -> int | None:
    """Length of a limit's window in minutes, or None when the unit is unknown."""
    if entry.type == TIME_LIMIT and entry.unit == 5 and entry.number == 1:
        return MONTHLY_MCP_MINUTES
    per_unit = UNIT_MINUTES.get(entry.unit)
    if per_unit is None or entry.number <= 0:
        return None
    return entry.number * per_unit


def used_percent(entry: LimitEntry) -> float:
    """Used share in percent: computed from the amounts when the quota size is known, else the server's."""
    used: int | None = None
    if entry.usage is not None and entry.usage > 0:
        if entry.remaining is not None:
            spent = entry.usage - entry.remaining
            used = max(spent, entry.current_value if entry.current_value is not None else spent)
        elif entry.current_value is not None:
            used = entry.current_value
    value = used * 100 / entry.usage if used is not None and entry.usage else float(entry.percentage)
    return percent(value)


def reset_description(entry: LimitEntry, minutes: int | None) -> str | None:
    """`MCP`, `5-hour`, or `<number> <unit>[s] window` for other known lengths."""
    if entry.type == TIME_LIMIT:
        return MCP_TITLE
    if minutes is None:
        return None
    if minutes == 300:
        return SESSION_LABEL
    unit = UNIT_NAMES[entry.unit]
    return f"{entry.number} {unit}{'' if entry.number == 1 else 's'} window"


def window_label(entry: LimitEntry, minutes: int | None) -> str:
    """A short label for a main window, from its type and length."""
    if entry.type == TIME_LIMIT:
        return MCP_TITLE
    if minutes is None:
        return "Credits" if entry.type == CREDIT_LIMIT else "Tokens"
    if minutes == 300:
        return SESSION_LABEL
    if minutes == 10080:
        return WEEKLY_LABEL
    if minutes % 1440 == 0:
        return f"{minutes // 1440}-day"
    if minutes % 60 == 0:
        return f"{minutes // 60}-hour"
    return f"{minutes}-minute"


def _value(entry: LimitEntry) -> WindowValue:
    minutes = window_minutes(entry)
    return WindowValue(
        used_percent=used_percent(entry),
        window_minutes=minutes,
        resets_at=from_epoch_ms(entry.next_reset_time) if entry.next_reset_time is not None else None,
        reset_description=reset_description(entry, minutes),
    )


def _main(entry: LimitEntry) -> RateWindow:
    value = _value(entry)
    return RateWindow(**value.model_dump(), label=window_label(entry, value.window_minutes))


def _plan(data: dict[str, Any]) -> str | None:
    for key in _PLAN_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def parse_quota(
    payload: dict[str, Any], *, service: str = "z.ai", secrets: Iterable[str] = ()
) -> UsageSnapshot:
    """Turn a `/api/monitor/usage/quota/limit` answer into a snapshot (credits left empty)."""
    check_envelope(payload, service=service, secrets=secrets)
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ParseError("Failed to parse z.ai quota data: 'data' is missing or not an object")
    limits = data.get("limits")
    if not isinstance(limits, list):
        raise ParseError("Failed to parse z.ai quota data: 'data.limits' is missing or not an array")
    # Every entry is validated before its type is looked at, as upstream does.
    entries = [read_limit_entry(raw, index) for index, raw in enumerate(limits)]

    def length_key(entry: LimitEntry) -> tuple[bool, int]:
        minutes = window_minutes(entry)
        return (minutes is None, minutes or 0)

    tokens = sorted((e for e in entries if e.type in _TOKEN_TYPES), key=length_key)
    mcp = next((e for e in reversed(entries) if e.type == TIME_LIMIT), None)
    long = tokens[-1] if tokens else None
    # With three or more token limits only the shortest and the longest are shown.
    session = tokens[0] if len(tokens) >= 2 else None

    primary_entry = session or long or mcp
    primary = _main(primary_entry) if primary_entry else RateWindow(used_percent=0.0)
    secondary = _main(long) if session and long else None
    extra = [NamedWindow(id=MCP_WINDOW_ID, title=MCP_TITLE, window=_value(mcp))] if mcp and tokens else []
    plan = _plan(data)
    return UsageSnapshot(
        primary=primary,
        secondary=secondary,
        extra_rate_windows=extra,
        identity=Identity(login_method=plan) if plan else None,
    )


def parse_balance(payload: dict[str, Any]) -> Credits | None:
    """Read the BigModel account balance as credits in CNY, or None when it cannot be read."""
    if integral(payload.get("code")) != 200 or payload.get("success") is not True:
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    for key in ("availableBalance", "balance"):
        amount = number(data.get(key))
        if amount is not None:
            return Credits(remaining=amount, unit=CREDITS_UNIT)
    return None
