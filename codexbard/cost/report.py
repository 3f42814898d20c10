"""Aggregate a `ScanState` into the `GET /cost` block of one provider (API.md), priced at report time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

from codexbard.cost.pricing import SLOT_SECONDS, Pricing, Provider
from codexbard.cost.state import N_COUNTERS, ScanState
from codexbard.cost.timeutil import DayKeys, zone
from codexbard.errors import ConfigError

Period = Literal["days", "month", "all"]
MAX_DAYS: Final[int] = 365
_NDIGITS: Final[int] = 10


class CostReportError(ConfigError):
    """Bad report arguments (days out of range, unknown period or provider)."""


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _NDIGITS)


def _sum_cost(costs: list[float | None]) -> float | None:
    known = [c for c in costs if c is not None]
    return sum(known) if known else None


def _block(counters: list[int], cost: float | None, unpriced: int) -> dict[str, Any]:
    return {
        "inputTokens": counters[0],
        "outputTokens": counters[4],
        "cacheReadTokens": counters[1],
        "cacheCreationTokens": counters[2] + counters[3],
        "totalTokens": counters[0] + counters[1] + counters[2] + counters[3] + counters[4],
        "reasoningTokens": counters[5],
        "unpricedTokens": unpriced,
        "totalCost": _round(cost),
    }


def _window_start(today: date, days: int, period: Period) -> date | None:
    if period == "all":
        return None
    if period == "month":
        return today.replace(day=1)
    return today - timedelta(days=days - 1)


def cost_report(
    state: ScanState | None,
    provider: Provider,
    *,
    pricing: Pricing,
    tz: Any = "UTC",
    now: datetime | None = None,
    days: int = 30,
    period: Period = "days",
) -> dict[str, Any]:
    """Return one provider's `/cost` block: daily rows (oldest first), totals, today and window headline numbers."""
    if provider not in ("codex", "claude"):
        raise CostReportError(f"unknown cost provider {provider!r}")
    if period not in ("days", "month", "all"):
        raise CostReportError(f"unknown period {period!r}; use days, month or all")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise CostReportError(f"days must be 1..{MAX_DAYS}, got {days!r}")
    zi = zone(tz)
    keys = DayKeys(zi)
    now = now if now is not None else datetime.now(UTC)
    today = now.astimezone(zi).date()
    start = _window_start(today, days, period)
    start_key = start.isoformat() if start is not None else ""
    today_key = today.isoformat()
    # Slots a day or more outside the window can be skipped without a day lookup.
    lo_slot = (
        int(datetime.combine(start, datetime.min.time(), zi).timestamp()) // SLOT_SECONDS - 96
        if start is not None
        else None
    )
    per_day: dict[str, dict[str, list[Any]]] = {}  # day -> model -> [counters, cost | None]
    totals = state.totals.get(provider, {}) if state is not None else {}
    entries: dict[str, Any] = {}
    for (slot, band, model), counters in totals.items():
        if lo_slot is not None and slot < lo_slot:
            continue
        day = keys.day(slot)
        if day < start_key or day > today_key:
            continue
        if model not in entries:
            entries[model] = pricing.entry(provider, model)
        entry = entries[model]
        cost = entry.at(slot).rates(band).cost(*counters[:5]) if entry is not None else None
        models = per_day.setdefault(day, {})
        acc = models.get(model)
        if acc is None:
            models[model] = [list(counters), cost]
        else:
            tokens = acc[0]
            for i in range(N_COUNTERS):
                tokens[i] += counters[i]
            acc[1] = None if acc[1] is None or cost is None else acc[1] + cost
    daily: list[dict[str, Any]] = []
    grand = [0] * N_COUNTERS
    grand_unpriced = 0
    day_costs: list[float | None] = []
    for day in sorted(per_day):
        models = per_day[day]
        day_tokens = [0] * N_COUNTERS
        unpriced = 0
        breakdown: list[dict[str, Any]] = []
        for model, (tokens, cost) in models.items():
            for i in range(N_COUNTERS):
                day_tokens[i] += tokens[i]
            model_total = tokens[0] + tokens[1] + tokens[2] + tokens[3] + tokens[4]
            if cost is None:
                unpriced += model_total
            breakdown.append(
                {
                    "modelName": model,
                    "cost": _round(cost),
                    "inputTokens": tokens[0],
                    "outputTokens": tokens[4],
                    "cacheReadTokens": tokens[1],
                    "cacheCreationTokens": tokens[2] + tokens[3],
                    "totalTokens": model_total,
                }
            )
        breakdown.sort(key=lambda b: b["modelName"], reverse=True)
        breakdown.sort(key=lambda b: (-(b["cost"] if b["cost"] is not None else -1.0), -b["totalTokens"]))
        day_cost = _sum_cost([cost for _, cost in models.values()])
        day_costs.append(day_cost)
        for i in range(N_COUNTERS):
            grand[i] += day_tokens[i]
        grand_unpriced += unpriced
        row = {"date": day, **_block(day_tokens, day_cost, unpriced)}
        row["modelsUsed"] = [b["modelName"] for b in breakdown]
        row["modelBreakdowns"] = breakdown
        daily.append(row)
    total_block = _block(grand, _sum_cost(day_costs), grand_unpriced)
    scanned = state is not None and state.last_scan_epoch is not None
    today_row = next((r for r in daily if r["date"] == today_key), None)
    if today_row is not None:
        session_tokens: int | None = today_row["totalTokens"]
        session_cost: float | None = today_row["totalCost"]
    elif scanned:
        session_tokens, session_cost = 0, 0.0
    else:
        session_tokens, session_cost = None, None
    updated = (
        datetime.fromtimestamp(state.last_scan_epoch, UTC).isoformat().replace("+00:00", "Z")
        if state is not None and state.last_scan_epoch is not None
        else None
    )
    return {
        "provider": provider,
        "source": "local",
        "updatedAt": updated,
        "sessionTokens": session_tokens,
        "sessionCostUSD": session_cost,
        "last30DaysTokens": total_block["totalTokens"] if scanned else None,
        "last30DaysCostUSD": total_block["totalCost"] if scanned else None,
        "daily": daily,
        "totals": total_block,
    }


def corrupt_lines(state: ScanState, provider: Provider) -> int:
    """Return how many corrupt lines the provider's files have had skipped (files currently known)."""
    return sum(f.corrupt_lines for f in state.files.values() if f.provider == provider)
