"""Pure mapping of z.ai quota and BigModel balance payloads to a `UsageSnapshot` (no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from codexbard.errors import AuthRequired, ParseError, Unavailable
from codexbard.host.clock import from_epoch_ms
from codexbard.host.redact import excerpt
from codexbard.models import (
    MAX_DETAIL_ROWS,
    ChartPoint,
    Credits,
    DetailChart,
    DetailRow,
    DetailSection,
    Identity,
    NamedWindow,
    RateWindow,
    UsageSnapshot,
    WindowValue,
)
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


QUOTA_SECTION: Final = "Quota details"
MAX_TOOL_ROWS: Final = 20
MAX_MODEL_ROWS: Final = 20
# Credit plans are charged at the peak rate Mon-Fri 06:00-10:00 UTC (the sheet's "Quota rate" row).
PEAK_START_HOUR: Final = 6
PEAK_END_HOUR: Final = 10


def _percent_text(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def limit_row(label: str, entry: LimitEntry) -> DetailRow:
    """A quota row: `<pct>% used`, with `<usage> limit · <remaining> remaining` when the amounts are known."""
    parts = []
    if entry.usage is not None:
        parts.append(f"{entry.usage} limit")
    if entry.remaining is not None:
        parts.append(f"{entry.remaining} remaining")
    return DetailRow(label=label, value=f"{_percent_text(used_percent(entry))}% used",
                     secondary_value=" \u00b7 ".join(parts) or None)


def countdown(seconds: float) -> str:
    """`in 2d 3h`, `in 4h 5m`, `in 12m` (whole minutes rounded up), or `now`."""
    if seconds < 1:
        return "now"
    minutes = max(1, -(-int(seconds) // 60))
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"in {days}d {hours}h" if hours else (f"in {days}d {mins}m" if mins else f"in {days}d")
    if hours:
        return f"in {hours}h {mins}m" if mins else f"in {hours}h"
    return f"in {minutes}m"


def quota_rate_row(now: datetime) -> DetailRow:
    """`Peak`/`Off-peak` now, with a countdown to the next switch (weekends are off-peak all day)."""
    utc = now.astimezone(UTC)
    peak = utc.weekday() < 5 and PEAK_START_HOUR <= utc.hour < PEAK_END_HOUR
    day = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    if peak:
        switch = day + timedelta(hours=PEAK_END_HOUR)
    else:
        switch = day + timedelta(hours=PEAK_START_HOUR)
        if utc.hour >= PEAK_START_HOUR:
            switch += timedelta(days=1)
        while switch.weekday() >= 5:
            switch += timedelta(days=1)
    text = countdown((switch - utc).total_seconds())
    return DetailRow(label="Quota rate", value="Peak" if peak else "Off-peak",
                     secondary_value=f"{'off-peak' if peak else 'peak'} {text}")


def quota_section(session: LimitEntry | None, long: LimitEntry | None, mcp: LimitEntry | None,
                  now: datetime | None, balance: DetailRow | None = None) -> DetailSection | None:
    """The "Quota details" section, or None when it would have no rows."""
    rows: list[DetailRow] = []
    if long is not None:
        rows.append(limit_row("Credit quota" if long.type == CREDIT_LIMIT else "Token quota", long))
    if session is not None:
        rows.append(limit_row("Session credit quota" if session.type == CREDIT_LIMIT else "Session token quota",
                              session))
    if now is not None and any(e is not None and e.type == CREDIT_LIMIT for e in (session, long)):
        rows.append(quota_rate_row(now))
    tools: list[DetailRow] = []
    if mcp is not None:
        rows.append(limit_row("MCP quota", mcp))
        tools = [DetailRow(label=code, value=str(count)) for code, count in mcp.usage_details[:MAX_TOOL_ROWS]]
    tail = [balance] if balance is not None else []
    # Tool rows give way first, so the balance row always fits within the section's row limit.
    rows += tools[: max(0, MAX_DETAIL_ROWS - len(rows) - len(tail))] + tail
    return DetailSection(title=QUOTA_SECTION, rows=rows) if rows else None


def parse_quota(
    payload: dict[str, Any], *, service: str = "z.ai", secrets: Iterable[str] = (), now: datetime | None = None,
    balance: DetailRow | None = None,
) -> UsageSnapshot:
    """Turn a `/api/monitor/usage/quota/limit` answer into a snapshot (credits left empty).

    With `now`, credit plans get the time-dependent "Quota rate" detail row; `balance` (BigModel CN's
    "Account balance" row) ends the "Quota details" section.
    """
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
    section = quota_section(session, long, mcp, now, balance)
    return UsageSnapshot(
        primary=primary,
        secondary=secondary,
        extra_rate_windows=extra,
        identity=Identity(login_method=plan) if plan else None,
        details=[section] if section is not None else [],
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


def _yuan(value: float) -> str:
    return f"\u00a5{value:.2f}"


def balance_row(payload: dict[str, Any]) -> DetailRow | None:
    """The BigModel "Account balance" row, or None when the balance cannot be read."""
    if integral(payload.get("code")) != 200 or payload.get("success") is not True:
        return None
    data = payload.get("data")
    if not isinstance(data, dict):
        return None
    amount = number(data.get("availableBalance"))
    if amount is None:
        amount = number(data.get("balance"))
    if amount is None:
        return None
    parts = []
    recharged, granted, spent = (number(data.get(k)) for k in ("rechargeAmount", "giveAmount", "totalSpendAmount"))
    if recharged is not None:
        parts.append(f"recharged {_yuan(recharged)}")
    if granted is not None and granted > 0:
        parts.append(f"granted {_yuan(granted)}")
    if spent is not None:
        parts.append(f"spent {_yuan(spent)}")
    return DetailRow(label="Account balance", value=_yuan(amount), secondary_value=" \u00b7 ".join(parts) or None)


def _positive(value: Any) -> int:
    count = integral(value)
    return count if count is not None and count > 0 else 0


def model_usage_section(payload: dict[str, Any], title: str) -> DetailSection | None:
    """A token chart per time bucket plus the top models, from a `model-usage` answer; None when empty.

    Raises ParseError for an answer without the OK envelope (the caller ignores it: the call is optional).
    """
    if integral(payload.get("code")) != 200 or payload.get("success") is not True:
        raise ParseError("z.ai model usage answered without the OK envelope")
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    labels = data.get("x_time")
    labels = labels if isinstance(labels, list) else []
    raw_models = data.get("modelDataList")
    models: list[dict[str, Any]] = [m for m in raw_models if isinstance(m, dict)] \
        if isinstance(raw_models, list) else []
    series: list[list[Any]] = []
    for model in models:
        values = model.get("tokensUsage")
        series.append(values if isinstance(values, list) else [])
    points = []
    for index, label in enumerate(labels):
        total: int = sum((_positive(values[index]) for values in series if index < len(values)), 0)
        if total > 0:
            points.append(ChartPoint(label=str(label), value=float(total)))
    if not points:
        return None
    totals = []
    for model, values in zip(models, series, strict=True):
        name = model.get("modelName")
        tokens: int = sum((_positive(v) for v in values), 0)
        if tokens > 0:
            totals.append((name if isinstance(name, str) and name.strip() else "Unknown", tokens))
    totals.sort(key=lambda item: (-item[1], item[0]))
    rows = [DetailRow(label=name, value=str(tokens)) for name, tokens in totals[:MAX_MODEL_ROWS]]
    return DetailSection(title=title, rows=rows, chart=DetailChart(kind="bars", title=title, unit="tokens",
                                                                   points=points))
