"""Lenient pydantic models of every raw Claude payload: OAuth usage/profile, credentials, claude.ai, status line.

Leniency rules (one place, so every payload behaves the same):
- a field of the wrong JSON type reads as missing (None), it never fails the whole payload;
- numbers are JSON numbers only (a bool or a string is not a number), finite, via `coerce.number`;
- strings are trimmed; a blank string reads as missing;
- a nested object that is not a JSON object reads as missing; array elements that are not objects are dropped.
Which of those "missing" values make a payload unusable is decided in `parse.py`, not here.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from codexbard.providers.claude.const import (
    CREDENTIALS_ROOT_KEYS,
    FIVE_HOUR,
    MCP_ROOT_KEYS,
    ROUTINE_ALIASES,
    SEVEN_DAY,
    SEVEN_DAY_OAUTH_APPS,
    SEVEN_DAY_OPUS,
    SEVEN_DAY_SONNET,
)
from codexbard.providers.coerce import number


def _number(value: Any) -> float | None:
    return number(value, strings=False)


def _number_or_string(value: Any) -> float | None:
    return number(value, strings=True)


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text or None


def _boolean(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _object(value: Any) -> Any:
    return value if isinstance(value, dict) else None


def _objects(value: Any) -> list[Any]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def _strings(value: Any) -> list[str]:
    """A list of strings; a single string is split on commas and whitespace (hand-written scope lists)."""
    if isinstance(value, str):
        return [part for part in value.replace(",", " ").split() if part]
    if not isinstance(value, list):
        return []
    return [item.strip() for item in value if isinstance(item, str) and item.strip()]


def _string_list(value: Any) -> list[str] | None:
    return _strings(value) if isinstance(value, list) else None


Num = Annotated[float | None, BeforeValidator(_number)]
LooseNum = Annotated[float | None, BeforeValidator(_number_or_string)]
Text = Annotated[str | None, BeforeValidator(_text)]
Flag = Annotated[bool | None, BeforeValidator(_boolean)]
Strings = Annotated[list[str], BeforeValidator(_strings)]


class RawModel(BaseModel):
    """Base of the raw models: unknown keys ignored, immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


# --- OAuth /api/oauth/usage and claude.ai /api/organizations/{org}/usage -------------------------------------


class RawWindow(RawModel):
    """`{"utilization": number|null, "resets_at": ISO string|null}`."""

    utilization: Num = None
    resets_at: Text = None


Window = Annotated[RawWindow | None, BeforeValidator(_object)]


class RawExtraUsage(RawModel):
    """`extra_usage`: Extra usage spend in minor units (cents)."""

    is_enabled: Flag = None
    monthly_limit: Num = None
    monthly_credit_limit: Num = None
    used_credits: Num = None
    utilization: Num = None
    currency: Text = None


class RawScopeModel(RawModel):
    """`limits[].scope.model`."""

    id: Text = None
    display_name: Text = None


class RawScope(RawModel):
    """`limits[].scope`."""

    model: Annotated[RawScopeModel | None, BeforeValidator(_object)] = None


class RawLimit(RawModel):
    """One element of the newer `limits[]` array."""

    kind: Text = None
    group: Text = None
    percent: Num = None
    resets_at: Text = None
    scope: Annotated[RawScope | None, BeforeValidator(_object)] = None
    is_active: Flag = None


class RawUsage(RawModel):
    """The usage payload (OAuth and web share the window keys)."""

    five_hour: Window = None
    seven_day: Window = None
    seven_day_oauth_apps: Window = None
    seven_day_sonnet: Window = None
    seven_day_opus: Window = None
    # The first routine alias whose value is an object (filled by `_pick_routines`); `routines_key` names it.
    routines: Window = None
    routines_key: str | None = None
    extra_usage: Annotated[RawExtraUsage | None, BeforeValidator(_object)] = None
    # The raw `extra_usage` value, for the web path's looser reading (`doubleValue` accepts numeric strings).
    extra_usage_raw: dict[str, Any] | None = None
    limits: Annotated[list[RawLimit], BeforeValidator(_objects)] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _pick_routines(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        picked: dict[str, Any] = {
            key: data[key]
            for key in (FIVE_HOUR, SEVEN_DAY, SEVEN_DAY_OAUTH_APPS, SEVEN_DAY_SONNET, SEVEN_DAY_OPUS)
            if key in data
        }
        for alias in ROUTINE_ALIASES:
            # A null alias is skipped; the first that is an object wins even if its utilization is null.
            if isinstance(data.get(alias), dict):
                picked["routines"] = data[alias]
                picked["routines_key"] = alias
                break
        if "extra_usage" in data:
            picked["extra_usage"] = data["extra_usage"]
            if isinstance(data["extra_usage"], dict):
                picked["extra_usage_raw"] = data["extra_usage"]
        if "limits" in data:
            picked["limits"] = data["limits"]
        return picked


# --- OAuth /api/oauth/profile ---------------------------------------------------------------------------------

_EMAIL_KEYS = ("emailAddress", "email_address", "email")


class RawProfile(RawModel):
    """`/api/oauth/profile`, flattened: email, organization uuid and name."""

    email: Text = None
    account_uuid: Text = None
    organization_uuid: Text = None
    organization_name: Text = None

    @model_validator(mode="before")
    @classmethod
    def _flatten(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        account: dict[str, Any] = data["account"] if isinstance(data.get("account"), dict) else {}
        organization: dict[str, Any] = data["organization"] if isinstance(data.get("organization"), dict) else {}

        def first(source: dict[str, Any], keys: tuple[str, ...]) -> str | None:
            for key in keys:
                value = _text(source.get(key))
                if value is not None:
                    return value
            return None

        return {
            "email": first(account, _EMAIL_KEYS) or first(data, _EMAIL_KEYS),
            "account_uuid": first(account, ("uuid",)),
            "organization_uuid": first(organization, ("uuid",))
            or first(data, ("organizationUuid", "organization_uuid")),
            "organization_name": first(organization, ("name",)),
        }


# --- Claude Code credentials (file or macOS Keychain payload) ---------------------------------------------------


class RawOAuthCredentials(RawModel):
    """`claudeAiOauth` (camelCase as Claude Code writes it; snake_case accepted)."""

    access_token: Annotated[SecretStr | None, BeforeValidator(_text)] = Field(
        default=None, validation_alias=AliasChoices("accessToken", "access_token")
    )
    refresh_token: Annotated[SecretStr | None, BeforeValidator(_text)] = Field(
        default=None, validation_alias=AliasChoices("refreshToken", "refresh_token")
    )
    # Epoch milliseconds (a numeric string is tolerated; hand-edited files exist).
    expires_at: LooseNum = Field(default=None, validation_alias=AliasChoices("expiresAt", "expires_at"))
    scopes: Strings = Field(default_factory=list)
    subscription_type: Text = Field(
        default=None, validation_alias=AliasChoices("subscriptionType", "subscription_type")
    )
    rate_limit_tier: Text = Field(default=None, validation_alias=AliasChoices("rateLimitTier", "rate_limit_tier"))


class RawCredentialsFile(RawModel):
    """The whole credentials JSON: the subscription OAuth block and whether MCP tokens are present."""

    oauth: Annotated[RawOAuthCredentials | None, BeforeValidator(_object)] = None
    has_oauth_key: bool = False
    has_mcp: bool = False

    @model_validator(mode="before")
    @classmethod
    def _roots(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        oauth = next((data[key] for key in CREDENTIALS_ROOT_KEYS if key in data), None)
        return {
            "oauth": oauth,
            "has_oauth_key": any(key in data and data[key] is not None for key in CREDENTIALS_ROOT_KEYS),
            "has_mcp": any(key in data and data[key] is not None for key in MCP_ROOT_KEYS),
        }


class RawTokenResponse(RawModel):
    """`POST /v1/oauth/token` answer (direct refresh)."""

    access_token: Annotated[SecretStr | None, BeforeValidator(_text)] = None
    refresh_token: Annotated[SecretStr | None, BeforeValidator(_text)] = None
    expires_in: Num = None
    token_type: Text = None
    error: Text = None
    error_description: Text = None


# --- claude.ai web ----------------------------------------------------------------------------------------------


class RawOrganization(RawModel):
    """One element of `GET /api/organizations`."""

    uuid: Text = None
    name: Text = None
    capabilities: Annotated[list[str] | None, BeforeValidator(_string_list)] = None


class RawMembershipOrganization(RawModel):
    """`memberships[].organization` of `GET /api/account`."""

    uuid: Text = None
    name: Text = None
    rate_limit_tier: Text = None
    billing_type: Text = None


class RawMembership(RawModel):
    """One element of `memberships`."""

    organization: Annotated[RawMembershipOrganization | None, BeforeValidator(_object)] = None
    seat_tier: Text = None


class RawAccount(RawModel):
    """`GET /api/account`."""

    email_address: Text = None
    memberships: Annotated[list[RawMembership], BeforeValidator(_objects)] = Field(default_factory=list)


class RawOverage(RawModel):
    """`GET /api/organizations/{org}/overage_spend_limit` (cents)."""

    is_enabled: Flag = None
    monthly_credit_limit: Num = None
    used_credits: Num = None
    currency: Text = None


class RawPrepaid(RawModel):
    """`GET /api/organizations/{org}/prepaid/credits` (cents)."""

    amount: Num = None
    currency: Text = None


# --- Claude Code status-line JSON -------------------------------------------------------------------------------


class RawStatusLineWindow(RawModel):
    """`rate_limits.five_hour` / `rate_limits.seven_day`: percent used and reset in epoch seconds."""

    used_percentage: Num = None
    resets_at: Num = None


class RawRateLimits(RawModel):
    """`rate_limits` of the status-line JSON."""

    five_hour: Annotated[RawStatusLineWindow | None, BeforeValidator(_object)] = None
    seven_day: Annotated[RawStatusLineWindow | None, BeforeValidator(_object)] = None


class RawStatusLine(RawModel):
    """The JSON object Claude Code writes to its status-line command (only the parts codexbard reads)."""

    rate_limits: Annotated[RawRateLimits | None, BeforeValidator(_object)] = None
    version: Text = None
