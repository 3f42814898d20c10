"""The normalized data codexbard passes around and serves, with its camelCase wire form (API.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer
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
    error: FetchError | None
    stale: bool
    fetched_at: UtcDateTime | None
    next_refresh_at: UtcDateTime | None


def redact_email(email: str | None) -> str | None:
    """Hide the local part of an email address (`redact_identity = true`)."""
    if not email or "@" not in email:
        return email
    _, domain = email.rsplit("@", 1)
    return f"***@{domain}"
