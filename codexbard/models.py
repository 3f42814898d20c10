"""The normalized data codexbard passes around and serves, with its camelCase wire form (API.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator
from pydantic.alias_generators import to_camel

from codexbard.errors import ErrorKind, ProviderError, exit_code_for


def _to_utc(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    return value


def iso_z(value: datetime) -> str:
    """Format an aware datetime as ISO 8601 UTC with a `Z` suffix, to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


UtcDateTime = Annotated[
    datetime,
    BeforeValidator(_to_utc),
    PlainSerializer(iso_z, return_type=str, when_used="json"),
]


class WireModel(BaseModel):
    """Base for models that travel as camelCase JSON."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
        allow_inf_nan=False,  # a NaN or infinite number from an upstream is a parse error, never stored
    )

    def wire(self) -> dict[str, Any]:
        """Return the JSON-ready dict with wire names."""
        return self.model_dump(mode="json", by_alias=True)


class WindowValue(WireModel):
    """One quota window: how much is used and when it resets."""

    used_percent: float
    window_minutes: int | None = None
    resets_at: UtcDateTime | None = None
    reset_description: str | None = None


class RateWindow(WindowValue):
    """A primary/secondary/tertiary window, which also carries its display label."""

    label: str | None = None


class NamedWindow(WireModel):
    """An extra window beyond the three main ones (e.g. z.ai's MCP quota)."""

    id: str
    title: str
    window: WindowValue


class ProviderCost(WireModel):
    """Spend the provider itself reports (API.md `usage.providerCost`)."""

    used: float
    limit: float = 0.0
    currency_code: str = "USD"
    period: str | None = None
    resets_at: UtcDateTime | None = None
    balance: float | None = None
    updated_at: UtcDateTime | None = None


class Credits(WireModel):
    """A credit balance (prepaid credits, plan credits)."""

    remaining: float
    total: float | None = None
    unit: str = "credits"
    updated_at: UtcDateTime | None = None


class Identity(WireModel):
    """Who the usage belongs to, as far as the provider says."""

    account_email: str | None = None
    account_organization: str | None = None
    login_method: str | None = None


MAX_DETAIL_SECTIONS: Final = 8
MAX_DETAIL_ROWS: Final = 24
MAX_CHART_POINTS: Final = 120
MAX_DETAIL_TEXT: Final = 120
_ELLIPSIS: Final = "\u2026"


def detail_text(value: Any) -> Any:
    """Trim a detail string and cut it to `MAX_DETAIL_TEXT` characters (the last one an ellipsis)."""
    if not isinstance(value, str):
        return value
    text = " ".join(value.split())  # one line: no newlines or runs of blanks in a menu row
    if len(text) > MAX_DETAIL_TEXT:
        text = text[: MAX_DETAIL_TEXT - 1].rstrip() + _ELLIPSIS
    return text


def _required_text(value: Any) -> Any:
    text = detail_text(value)
    return text if text != "" else "-"  # the reference rejects an empty label or value


def _optional_text(value: Any) -> Any:
    text = detail_text(value)
    return None if text == "" else text


DetailText = Annotated[str, BeforeValidator(_required_text)]
OptionalDetailText = Annotated[str | None, BeforeValidator(_optional_text)]


class DetailRow(WireModel):
    """One label/value row of a detail section (`usage.details[].rows[]`)."""

    label: DetailText
    value: DetailText
    secondary_value: OptionalDetailText = None


class ChartPoint(WireModel):
    """One bar or point of a detail chart."""

    label: DetailText
    value: float


class DetailChart(WireModel):
    """A small chart under a detail section: at most `MAX_CHART_POINTS` points (the newest kept)."""

    kind: Literal["bars", "line"]
    title: OptionalDetailText = None
    unit: OptionalDetailText = None
    points: list[ChartPoint]

    @field_validator("points", mode="before")
    @classmethod
    def _cut_points(cls, value: Any) -> Any:
        # Charts are time series in time order: keep the newest points.
        return value[-MAX_CHART_POINTS:] if isinstance(value, list) else value


class DetailSection(WireModel):
    """A section of provider-specific detail (API.md `usage.details`): a title, rows, an optional chart."""

    title: OptionalDetailText = None
    rows: list[DetailRow] = Field(default_factory=list)
    chart: DetailChart | None = None

    @field_validator("rows", mode="before")
    @classmethod
    def _cut_rows(cls, value: Any) -> Any:
        return value[:MAX_DETAIL_ROWS] if isinstance(value, list) else value


class OpenRouterRateLimit(WireModel):
    """The key's request rate limit, e.g. 60 requests per `10s`."""

    requests: int
    interval: str


class OpenRouterUsage(WireModel):
    """`usage.openRouterUsage`, the provider-specific block older CodexBar clients read (USD amounts).

    `usedPercent` is the share of all purchased credits used (the clients' "Credits used" bar), not the
    key's cap; `keyUsage`/`keyLimit` are the key's cumulative spend and cap.
    """

    total_credits: float
    total_usage: float
    balance: float
    used_percent: float
    key_data_fetched: bool = False
    key_limit: float | None = None
    key_limit_remaining: float | None = None
    key_limit_reset: str | None = None
    key_usage: float | None = None
    key_usage_daily: float | None = None
    key_usage_weekly: float | None = None
    key_usage_monthly: float | None = None
    rate_limit: OpenRouterRateLimit | None = None
    updated_at: UtcDateTime | None = None


def _cut_sections(value: Any) -> Any:
    return value[:MAX_DETAIL_SECTIONS] if isinstance(value, list) else value


DetailSections = Annotated[list[DetailSection], BeforeValidator(_cut_sections)]


class UsageSnapshot(WireModel):
    """What a strategy returns: the provider's usage, normalized."""

    primary: RateWindow | None = None
    secondary: RateWindow | None = None
    tertiary: RateWindow | None = None
    extra_rate_windows: list[NamedWindow] = Field(default_factory=list)
    provider_cost: ProviderCost | None = None
    credits: Credits | None = None
    identity: Identity | None = None
    updated_at: UtcDateTime | None = None
    version: str | None = None
    details: DetailSections = Field(default_factory=list)
    open_router_usage: OpenRouterUsage | None = None


class FetchError(WireModel):
    """The serialized form of a failed fetch."""

    kind: ErrorKind
    message: str
    code: int = 1

    @classmethod
    def of(cls, kind: ErrorKind, message: str) -> FetchError:
        """Build a FetchError with the exit code that belongs to its kind."""
        return cls(kind=kind, message=message, code=exit_code_for(kind))

    @classmethod
    def from_exception(cls, error: ProviderError) -> FetchError:
        """Build a FetchError from a raised ProviderError."""
        return cls.of(error.kind, error.message)


class LastError(FetchError):
    """The most recent failed poll since the last success (API.md `lastError`): a FetchError plus when."""

    at: UtcDateTime

    @classmethod
    def of_error(cls, error: FetchError, at: datetime) -> LastError:
        """The `lastError` block of an error that happened at `at`."""
        return cls(kind=error.kind, message=error.message, code=error.code, at=at)


StatusIndicator = Literal["none", "minor", "major", "critical", "maintenance", "unknown"]
StatusKind = Literal["statuspage", "google-workspace", "link"]


class ProviderStatus(WireModel):
    """A provider's service status, as its status page reports it."""

    kind: StatusKind
    indicator: StatusIndicator | None = None
    description: str | None = None
    updated_at: UtcDateTime | None = None
    url: str


PaceStage = Literal[
    "onTrack", "slightlyAhead", "slightlyBehind", "ahead", "behind", "farAhead", "farBehind"
]


class PaceValue(WireModel):
    """How usage compares with a linear spend of the window."""

    stage: PaceStage
    delta_percent: float
    expected_used_percent: float
    will_last_to_reset: bool
    eta_seconds: int | None
    summary: str


class Pace(WireModel):
    """Pace for each of the three main windows."""

    primary: PaceValue | None = None
    secondary: PaceValue | None = None
    tertiary: PaceValue | None = None


class ForecastValue(WireModel):
    """A window's projection from its recent history (API.md, `forecast`)."""

    burn_rate_percent_per_hour: float
    projected_used_percent_at_reset: float
    exhausts_at: UtcDateTime | None
    samples: int


class Forecast(WireModel):
    """Forecast for each of the three main windows (null where the history is too short)."""

    primary: ForecastValue | None = None
    secondary: ForecastValue | None = None
    tertiary: ForecastValue | None = None


class WireIdentity(WireModel):
    """The identity block inside `usage` (carries `providerID`)."""

    provider_id: str = Field(alias="providerID")
    account_email: str | None = None
    account_organization: str | None = None
    login_method: str | None = None


class UsageBlock(WireModel):
    """The `usage` object of a provider payload."""

    primary: RateWindow | None
    secondary: RateWindow | None
    tertiary: RateWindow | None
    extra_rate_windows: list[NamedWindow]
    provider_cost: ProviderCost | None
    details: DetailSections
    open_router_usage: OpenRouterUsage | None
    updated_at: UtcDateTime
    identity: WireIdentity | None
    account_email: str | None
    account_organization: str | None
    login_method: str | None

    @classmethod
    def build(
        cls, provider_id: str, snapshot: UsageSnapshot, fetched_at: datetime, *, redact: bool = False
    ) -> UsageBlock:
        """Turn a provider snapshot into the wire block."""
        ident = snapshot.identity
        email = redact_email(ident.account_email) if ident and redact else (ident.account_email if ident else None)
        wire_identity = (
            WireIdentity(
                providerID=provider_id,
                account_email=email,
                account_organization=ident.account_organization,
                login_method=ident.login_method,
            )
            if ident
            else None
        )
        return cls(
            primary=snapshot.primary,
            secondary=snapshot.secondary,
            tertiary=snapshot.tertiary,
            extra_rate_windows=snapshot.extra_rate_windows,
            provider_cost=snapshot.provider_cost,
            details=snapshot.details,
            open_router_usage=(
                snapshot.open_router_usage.model_copy(
                    update={"updated_at": snapshot.open_router_usage.updated_at or snapshot.updated_at or fetched_at})
                if snapshot.open_router_usage is not None
                else None
            ),
            updated_at=snapshot.updated_at or fetched_at,
            identity=wire_identity,
            account_email=email,
            account_organization=ident.account_organization if ident else None,
            login_method=ident.login_method if ident else None,
        )


class CostSummary(WireModel):
    """The local token-cost headline of a provider (`cost` in a payload; the meanings of `GET /cost`)."""

    source: Literal["local"] = "local"
    session_tokens: int | None = Field(default=None, alias="sessionTokens")
    session_cost_usd: float | None = Field(default=None, alias="sessionCostUSD")
    last30_days_tokens: int | None = Field(default=None, alias="last30DaysTokens")
    last30_days_cost_usd: float | None = Field(default=None, alias="last30DaysCostUSD")
    updated_at: UtcDateTime | None = Field(default=None, alias="updatedAt")


class ProviderPayload(WireModel):
    """One element of `GET /usage` (API.md, "Provider payload")."""

    provider: str
    display_name: str
    account: str | None
    source: str | None
    version: str | None
    status: ProviderStatus | None
    usage: UsageBlock | None
    credits: Credits | None
    cost: CostSummary | None
    pace: Pace | None
    forecast: Forecast | None = None  # from the daemon's recent samples; null without history (the CLI)
    error: FetchError | None
    last_error: LastError | None = None
    stale: bool
    fetched_at: UtcDateTime | None
    next_refresh_at: UtcDateTime | None


def redact_email(email: str | None) -> str | None:
    """Hide the local part of an email address (`redact_identity = true`)."""
    if not email or "@" not in email:
        return email
    _, domain = email.rsplit("@", 1)
    return f"***@{domain}"
