"""Pure parsing of OpenRouter's `/credits` and `/key` payloads into a UsageSnapshot (no I/O)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from codexbard.errors import ParseError
from codexbard.models import (
    ChartPoint,
    Credits,
    DetailChart,
    DetailRow,
    DetailSection,
    Identity,
    OpenRouterRateLimit,
    OpenRouterUsage,
    ProviderCost,
    RateWindow,
    UsageSnapshot,
)
from codexbard.providers.coerce import number, percent
from codexbard.providers.openrouter.const import COST_PERIOD, CURRENCY, PRIMARY_LABEL

# Reasons the key section is unavailable (the sheet's wording); they go to the debug log only.
KEY_INVALID: Final = "Response was invalid"
KEY_UNAVAILABLE: Final = "Response was unavailable"
KEY_TIMED_OUT: Final = "Request timed out"

_KEY_NUMBERS: Final = (
    "limit",
    "limit_remaining",
    "usage",
    "usage_daily",
    "usage_weekly",
    "usage_monthly",
)
_RESET_USAGE: Final = {"daily": "usage_daily", "weekly": "usage_weekly", "monthly": "usage_monthly"}


@dataclass(frozen=True)
class CreditsInfo:
    """The account's prepaid credit totals from `/credits`, in USD."""

    total_credits: float
    total_usage: float

    @property
    def balance(self) -> float:
        """Credits left: total added minus total used, never below zero."""
        return max(0.0, self.total_credits - self.total_usage)


@dataclass(frozen=True)
class RateLimitInfo:
    """The key's request rate limit, e.g. 60 requests per `10s`."""

    requests: int
    interval: str


@dataclass(frozen=True)
class KeyInfo:
    """The API key's own spending cap and spend from `/key` (all USD; None when absent)."""

    limit: float | None = None
    limit_remaining: float | None = None
    limit_reset: str | None = None
    usage: float | None = None
    usage_daily: float | None = None
    usage_weekly: float | None = None
    usage_monthly: float | None = None
    rate_limit: RateLimitInfo | None = None


@dataclass(frozen=True)
class KeyResult:
    """The outcome of the optional `/key` request: the data, or why there is none."""

    info: KeyInfo | None
    reason: str | None = None


def parse_credits(payload: Mapping[str, Any]) -> CreditsInfo:
    """Read `data.total_credits` and `data.total_usage`; anything else is a ParseError naming the field."""
    data = payload.get("data")
    if not isinstance(data, dict):
        raise ParseError("OpenRouter /credits response has no `data` object")
    values: dict[str, float] = {}
    for name in ("total_credits", "total_usage"):
        value = number(data.get(name), strings=False)  # OpenRouter sends JSON numbers, never strings
        if value is None:
            raise ParseError(f"OpenRouter /credits field `data.{name}` is not a finite number")
        values[name] = value
    return CreditsInfo(total_credits=values["total_credits"], total_usage=values["total_usage"])


def parse_key(payload: object) -> KeyResult:
    """Validate a `/key` payload; any type violation makes the whole key section unavailable."""
    if not isinstance(payload, dict):
        return KeyResult(None, KEY_INVALID)
    data = payload.get("data")
    if data is None:
        return KeyResult(None, KEY_UNAVAILABLE)
    if not isinstance(data, dict):
        return KeyResult(None, KEY_INVALID)
    numbers: dict[str, float | None] = {}
    for name in _KEY_NUMBERS:
        raw = data.get(name)
        value = number(raw, strings=False)
        if raw is not None and value is None:
            return KeyResult(None, KEY_INVALID)
        numbers[name] = value
    limit_reset = data.get("limit_reset")
    if limit_reset is not None and not isinstance(limit_reset, str):
        return KeyResult(None, KEY_INVALID)
    rate_limit: RateLimitInfo | None = None
    raw_rate = data.get("rate_limit")
    if raw_rate is not None:
        if not isinstance(raw_rate, dict):
            return KeyResult(None, KEY_INVALID)
        requests = raw_rate.get("requests")
        interval = raw_rate.get("interval")
        if isinstance(requests, bool) or not isinstance(requests, int) or not isinstance(interval, str):
            return KeyResult(None, KEY_INVALID)
        rate_limit = RateLimitInfo(requests=requests, interval=interval)
    return KeyResult(
        KeyInfo(
            limit=numbers["limit"],
            limit_remaining=numbers["limit_remaining"],
            limit_reset=limit_reset,
            usage=numbers["usage"],
            usage_daily=numbers["usage_daily"],
            usage_weekly=numbers["usage_weekly"],
            usage_monthly=numbers["usage_monthly"],
            rate_limit=rate_limit,
        )
    )


def key_used(info: KeyInfo) -> float | None:
    """Return the spend counted against the key's cap (the sheet's three-step rule), or None."""
    limit = info.limit
    if limit is None:
        return None
    # 1. The server's own remaining wins; a negative remaining means the cap is exhausted.
    if info.limit_remaining is not None:
        return limit - min(limit, max(0.0, info.limit_remaining))
    # 2. A cap that resets uses the spend of the current period.
    period_field = _RESET_USAGE.get(info.limit_reset or "")
    if period_field is not None:
        period_usage: float | None = getattr(info, period_field)
        if period_usage is not None:
            return period_usage
    # 3. Otherwise the cap applies to the cumulative spend.
    return info.usage


def primary_window(info: KeyInfo) -> RateWindow | None:
    """Return the "Credits" window (share of the key's cap used), or None when the key has no cap."""
    if info.limit is None or info.limit <= 0:
        return None
    used = key_used(info)
    if used is None or not math.isfinite(used) or used < 0:
        return None
    return RateWindow(used_percent=percent(used * 100.0 / info.limit), label=PRIMARY_LABEL)


def provider_cost(info: KeyInfo, balance: float) -> ProviderCost | None:
    """Return this month's key spend as providerCost (the cap only when it is a monthly cap)."""
    if info.usage_monthly is None:
        return None
    monthly_cap = info.limit if info.limit_reset == "monthly" and info.limit and info.limit > 0 else 0.0
    return ProviderCost(
        used=max(0.0, info.usage_monthly),
        limit=monthly_cap,
        currency_code=CURRENCY,
        period=COST_PERIOD,
        balance=balance,
    )


def money(value: float) -> str:
    """A USD amount as the detail rows show it: `$x.xx`, never below zero."""
    return f"${max(0.0, value):.2f}"


_PERIODS: Final = (("Today", "usage_daily"), ("This week", "usage_weekly"), ("This month", "usage_monthly"))


def key_remaining(info: KeyInfo) -> float | None:
    """What is left of the key's cap (the same rule as the primary window), or None without a usable cap."""
    if info.limit is None or info.limit <= 0:
        return None
    used = key_used(info)
    if used is None or not math.isfinite(used) or used < 0:
        return None
    return max(0.0, info.limit - used)


def credits_section(credits: CreditsInfo) -> DetailSection:
    """The "Credits" detail section: remaining, used and total added."""
    return DetailSection(title="Credits", rows=[
        DetailRow(label="Remaining", value=money(credits.balance)),
        DetailRow(label="Used", value=money(credits.total_usage)),
        DetailRow(label="Total added", value=money(credits.total_credits)),
    ])


def key_section(key: KeyInfo | None, reason: str | None) -> DetailSection:
    """The "API key" detail section: budget, remaining, spend per period and rate limit, with a spend chart."""
    if key is None:
        return DetailSection(title="API key", rows=[
            DetailRow(label="API key budget", value="Unavailable right now", secondary_value=reason or KEY_UNAVAILABLE),
        ])
    rows: list[DetailRow] = []
    remaining = key_remaining(key)
    if key.limit is not None and key.limit > 0:
        rows.append(DetailRow(label="API key budget", value=money(key.limit)))
        if remaining is not None:
            rows.append(DetailRow(label="API key remaining", value=money(remaining)))
        if key.usage is not None:
            rows.append(DetailRow(label="API key used", value=money(key.usage)))
    else:
        rows.append(DetailRow(label="API key budget", value="No limit configured"))
    if key.limit_reset and key.limit_reset.strip():
        rows.append(DetailRow(label="Reset window", value=key.limit_reset.strip()))
    points: list[ChartPoint] = []
    for label, field in _PERIODS:
        spent: float | None = getattr(key, field)
        if spent is not None:
            rows.append(DetailRow(label=label, value=money(spent)))
            points.append(ChartPoint(label=label, value=spent))
    if key.rate_limit is not None:
        rows.append(DetailRow(label="Rate limit",
                              value=f"{key.rate_limit.requests} requests / {key.rate_limit.interval}"))
    chart = DetailChart(kind="bars", title="Key spend", unit=CURRENCY, points=points) if points else None
    return DetailSection(title="API key", rows=rows, chart=chart)


def open_router_usage(credits: CreditsInfo, key: KeyInfo | None) -> OpenRouterUsage:
    """The `usage.openRouterUsage` block older CodexBar clients read."""
    total = credits.total_credits
    used_share = min(100.0, credits.total_usage / total * 100.0) if total > 0 else 0.0
    return OpenRouterUsage(
        total_credits=total,
        total_usage=credits.total_usage,
        balance=credits.balance,
        used_percent=used_share,
        key_data_fetched=key is not None,
        key_limit=key.limit if key else None,
        key_limit_remaining=key.limit_remaining if key else None,
        key_limit_reset=key.limit_reset if key else None,
        key_usage=key.usage if key else None,
        key_usage_daily=key.usage_daily if key else None,
        key_usage_weekly=key.usage_weekly if key else None,
        key_usage_monthly=key.usage_monthly if key else None,
        rate_limit=(OpenRouterRateLimit(requests=key.rate_limit.requests, interval=key.rate_limit.interval)
                    if key and key.rate_limit else None),
    )


def build_snapshot(credits: CreditsInfo, key: KeyInfo | None, *, key_reason: str | None = None) -> UsageSnapshot:
    """Combine the credits totals and the optional key data (or why it is missing) into a snapshot."""
    balance = credits.balance
    return UsageSnapshot(
        primary=primary_window(key) if key is not None else None,
        provider_cost=provider_cost(key, balance) if key is not None else None,
        credits=Credits(remaining=balance, total=credits.total_credits, unit=CURRENCY),
        identity=Identity(login_method=f"Balance: ${balance:.2f}"),
        details=[credits_section(credits), key_section(key, key_reason)],
        open_router_usage=open_router_usage(credits, key),
    )
