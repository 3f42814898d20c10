"""Response models: what `/openapi.json` says each route returns.

The routes do not build responses through these models (the busy ones serve cached bytes); the models
describe the same JSON, and tests validate real responses against them with `extra="forbid"`, so the
description cannot drift from what is served. The provider payload is `codexbard.models.ProviderPayload`
itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from codexbard.models import Credits, FetchError, RateWindow, StatusIndicator, StatusKind


class Schema(BaseModel):
    """Base of the response models: camelCase wire names, no undeclared keys."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class AuthResult(Schema):
    """`POST /auth` with the right token; the session cookie comes in `Set-Cookie`."""

    authenticated: Literal[True] = Field(description="always true (a wrong token is a 401)")
    expires_in_seconds: int = Field(description="how long the session cookie is valid")


class ErrorBody(Schema):
    """Every 4xx and 5xx answer."""

    error: str = Field(description="what was wrong, in one line")
    known: list[str] | None = Field(None, description="the accepted values, when the error is an unknown one")


class StoreHealth(Schema):
    """Why the store cannot write (no file paths: /health is open without a token)."""

    writable: bool
    reason: str


class Health(Schema):
    """`GET /health`: liveness, no account data."""

    status: Literal["ok", "degraded"] = Field(description="`degraded` when the database cannot be written")
    version: str
    uptime_seconds: float
    providers_enabled: int = Field(description="how many providers have at least one polled account")
    store: StoreHealth | None = Field(default=None, description="present only when the store cannot write")


class StrategyInfo(Schema):
    """One strategy of a provider, in auto order."""

    id: str
    kind: str
    source_label: str
    available: bool
    reason: str | None


class AttemptInfo(Schema):
    """One strategy's try during the last fetch."""

    strategy: str
    kind: str
    source_label: str
    ok: bool
    error_kind: str | None
    message: str | None
    duration_ms: float


class ProviderInfo(Schema):
    """One element of `GET /providers`: registration, detection, schedule and the last error."""

    id: str
    display_name: str
    enabled: bool
    enabled_reason: str
    enable_hint: str | None
    configured_source: str | None
    strategies: list[StrategyInfo]
    interval_seconds: int | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    next_run_at: datetime | None
    consecutive_failures: int
    last_error: FetchError | None
    last_attempts: list[AttemptInfo]
    dashboard_url: str | None
    status_url: str | None
    accounts: list[str] = Field(description="the configured account labels (empty for default credentials)")


class StatusEntry(Schema):
    """One element of `GET /status`."""

    provider: str
    kind: StatusKind
    indicator: StatusIndicator | None = Field(description="null for a link-only status source")
    description: str | None
    updated_at: datetime | None
    url: str


class HistoryPoint(Schema):
    """One stored sample (the last one of its step)."""

    t: datetime
    used_percent: float
    resets_at: datetime | None


class History(Schema):
    """`GET /history`: the samples of one window."""

    provider: str
    account: str | None
    window: str
    points: list[HistoryPoint]


class FlatEntry(Schema):
    """One value of `GET /usage?format=flat`, keyed by `<id>` or `<id>:<account>`."""

    display_name: str
    primary: RateWindow | None
    secondary: RateWindow | None
    tertiary: RateWindow | None
    credits: Credits | None
    stale: bool
    error: str | None = Field(description="the error message when there is no data, else null")
    last_error: str | None = Field(description="why the latest poll failed while stale data is shown, else null")
    updated_at: datetime | None


CLIENT_ERRORS: dict[int | str, dict[str, Any]] = {"4XX": {"model": ErrorBody, "description": "a bad request"}}
"""The `responses=` entry of a route that answers bad input with `ErrorBody` (and never with FastAPI's 422)."""


class CostModelBreakdown(Schema):
    """One model's share of a day (`GET /cost`)."""

    model_name: str
    cost: float | None = Field(description="USD; null for a model without a known price")
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    total_tokens: int


class CostTotals(Schema):
    """Token classes (disjoint: input excludes cache reads and writes) and the cost of a day or the window."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    total_tokens: int = Field(description="input + output + cache read + cache creation")
    reasoning_tokens: int = Field(description="part of output, informational")
    unpriced_tokens: int = Field(description="tokens of models without a price")
    total_cost: float | None = Field(description="USD; null when nothing in it could be priced")


class CostDay(CostTotals):
    """One local day."""

    date: str = Field(description="YYYY-MM-DD in the configured time zone")
    models_used: list[str]
    model_breakdowns: list[CostModelBreakdown]


class CostBlock(Schema):
    """`GET /cost`: one provider's local token cost, from its session logs."""

    provider: Literal["codex", "claude"]
    source: Literal["local"]
    updated_at: str | None = Field(description="when the logs were last scanned; null before the first scan")
    session_tokens: int | None = Field(description="today (local day)")
    session_cost_usd: float | None = Field(alias="sessionCostUSD")
    last30_days_tokens: int | None = Field(alias="last30DaysTokens", description="the requested window")
    last30_days_cost_usd: float | None = Field(alias="last30DaysCostUSD")
    daily: list[CostDay]
    totals: CostTotals
