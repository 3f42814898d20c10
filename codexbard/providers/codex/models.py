"""Lenient pydantic models of every raw Codex payload: `wham/usage`, app-server RPC results, auth files.

The rule for all of them, after the reference's decoders: a malformed optional part becomes None
(or is dropped) and never discards its siblings. Only the three numbers of a rate window are strict
(JSON numbers, int or float; a string such as `"bad"` drops that one window and sets a `*_failed`
flag so the caller can tell a lower-confidence result). Numbers that the upstream sends either as
numbers or as numeric strings (credit balances, credit limits) go through `coerce.number`.
Build them with `read(...)` (never raises; None for a value that is not an object) or
`model_validate` on a dict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from codexbard.host.clock import parse_iso
from codexbard.providers.coerce import integral, number


class RawModel(BaseModel):
    """Base of the raw upstream models: unknown keys ignored, frozen."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @classmethod
    def read(cls, raw: object) -> Self | None:
        """Validate `raw`, or None when it is not an object or does not fit."""
        if not isinstance(raw, dict):
            return None
        try:
            return cls.model_validate(raw)
        except ValidationError:
            return None


# --- field readers -------------------------------------------------------------------------------------


def _strict_number(value: object) -> float:
    result = number(value, strings=False)
    if result is None:
        raise ValueError("not a finite JSON number")
    return result


def _loose_number(value: object) -> float | None:
    return number(value, strings=True)


def _loose_int(value: object) -> int | None:
    result = number(value, strings=True)
    if result is None or not -(2**53) <= result <= 2**53:
        return None
    return int(result)


def _optional_strict_number(value: object) -> float | None:
    if value is None:
        return None
    return _strict_number(value)


def _text(value: object) -> str | None:
    """A string with surrounding whitespace removed; None for empty or non-string values."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    return None


def _flag(value: object) -> bool:
    return value if isinstance(value, bool) else False


def _iso(value: object) -> datetime | None:
    return parse_iso(value) if isinstance(value, str) else None


StrictNumber = Annotated[float, BeforeValidator(_strict_number)]
OptionalStrictNumber = Annotated[float | None, BeforeValidator(_optional_strict_number)]
LooseNumber = Annotated[float | None, BeforeValidator(_loose_number)]
LooseInt = Annotated[int | None, BeforeValidator(_loose_int)]
Text = Annotated[str | None, BeforeValidator(_text)]
Flag = Annotated[bool, BeforeValidator(_flag)]
IsoTime = Annotated[datetime | None, BeforeValidator(_iso)]


def _first_present(data: dict[str, Any], *keys: str) -> Any:
    """The value of the first key present with a non-null value (spelling variants)."""
    for key in keys:
        value = data.get(key)
        if value is not None:
            return value
    return None


def _first_text(data: dict[str, Any], *keys: str) -> str | None:
    """The first non-empty string among spelling variants (empty strings count as missing)."""
    for key in keys:
        value = _text(data.get(key))
        if value is not None:
            return value
    return None


# --- shared: the monthly credit limit object -------------------------------------------------------------


class LimitObject(RawModel):
    """A monthly credit limit (`individual_limit`, any spelling); every field number or numeric string."""

    limit: LooseNumber = None
    used: LooseNumber = None
    remaining_percent: LooseNumber = None
    resets_at: LooseInt = None

    @model_validator(mode="before")
    @classmethod
    def _spellings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            "limit": data.get("limit"),
            "used": data.get("used"),
            # Each spelling is tried in turn: a garbage value under the first falls through to the next.
            "remaining_percent": _first_number(data, "remainingPercent", "remaining_percent"),
            "resets_at": _first_number(data, "resetsAt", "resets_at", "reset_at"),
        }


def _first_number(data: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = _loose_number(data.get(key))
        if value is not None:
            return value
    return None


def _limit_of(data: dict[str, Any], *keys: str) -> LimitObject | None:
    for key in keys:
        limit = LimitObject.read(data.get(key))
        if limit is not None:
            return limit
    return None


# --- `GET …/wham/usage` ---------------------------------------------------------------------------------


class WhamWindow(RawModel):
    """One window of `rate_limit`: all three numbers required, JSON numbers only."""

    used_percent: StrictNumber
    limit_window_seconds: StrictNumber
    reset_at: StrictNumber


class WhamRateLimit(RawModel):
    """`rate_limit` (also the shape inside each `additional_rate_limits[]` entry)."""

    primary_window: WhamWindow | None = None
    secondary_window: WhamWindow | None = None
    individual_limit: LimitObject | None = None
    allowed: bool | None = None
    limit_reached: bool | None = None
    # True when the key held a non-null value that did not decode as a window (lower confidence).
    primary_failed: bool = False
    secondary_failed: bool = False

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {}
        for key, failed in (("primary_window", "primary_failed"), ("secondary_window", "secondary_failed")):
            raw = data.get(key)
            window = WhamWindow.read(raw)
            out[key] = window
            out[failed] = raw is not None and window is None
        out["individual_limit"] = _limit_of(data, "individual_limit", "individualLimit")
        out["allowed"] = data.get("allowed") if isinstance(data.get("allowed"), bool) else None
        out["limit_reached"] = data.get("limit_reached") if isinstance(data.get("limit_reached"), bool) else None
        return out

    @property
    def window_failed(self) -> bool:
        """Whether a window was present but could not be decoded."""
        return self.primary_failed or self.secondary_failed


class WhamCredits(RawModel):
    """`credits`: flags default to False; `balance` a number or numeric string, anything else None."""

    has_credits: Flag = False
    unlimited: Flag = False
    overage_limit_reached: Flag = False
    balance: LooseNumber = None


class SpendControl(RawModel):
    """`spend_control` (team workspaces): only its `individual_limit` is used."""

    individual_limit: LimitObject | None = None
    reached: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _spellings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        reached = data.get("reached")
        return {
            "individual_limit": _limit_of(data, "individual_limit", "individualLimit"),
            "reached": reached if isinstance(reached, bool) else None,
        }


class AdditionalRateLimit(RawModel):
    """One `additional_rate_limits[]` entry (model-specific limit such as Codex Spark)."""

    limit_name: Text = None
    metered_feature: Text = None
    rate_limit: WhamRateLimit | None = None

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            "limit_name": data.get("limit_name"),
            "metered_feature": data.get("metered_feature"),
            "rate_limit": WhamRateLimit.read(data.get("rate_limit")),
        }


class WhamUsage(RawModel):
    """The `wham/usage` response (OAuth, PAT and the web JSON call share it)."""

    plan_type: Text = None
    account_id: Text = None
    email: Text = None
    user_id: Text = None
    rate_limit: WhamRateLimit | None = None
    credits: WhamCredits | None = None
    individual_limit: LimitObject | None = None
    spend_control: SpendControl | None = None
    spend_control_present: bool = False
    additional_rate_limits: list[AdditionalRateLimit] = Field(default_factory=list)
    # True when an `additional_rate_limits` element (or one of its windows) did not decode.
    additional_failed: bool = False

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        extras: list[AdditionalRateLimit] = []
        failed = False
        raw_extras = data.get("additional_rate_limits")
        if isinstance(raw_extras, list):
            for raw in raw_extras:
                entry = AdditionalRateLimit.read(raw)
                if entry is None:
                    failed = True
                    continue
                if entry.rate_limit is not None and entry.rate_limit.window_failed:
                    failed = True
                extras.append(entry)
        elif raw_extras is not None:
            failed = True  # a non-array value is ignored
        return {
            "plan_type": data.get("plan_type"),
            "account_id": _first_text(data, "account_id", "accountId"),
            "email": data.get("email"),
            "user_id": data.get("user_id"),
            "rate_limit": WhamRateLimit.read(data.get("rate_limit")),
            "credits": WhamCredits.read(data.get("credits")),
            "individual_limit": _limit_of(data, "individual_limit", "individualLimit"),
            "spend_control": SpendControl.read(_first_present(data, "spend_control", "spendControl")),
            "spend_control_present": "spend_control" in data or "spendControl" in data,
            "additional_rate_limits": extras,
            "additional_failed": failed,
        }


class MonthlyLimitSetting(RawModel):
    """`effective_monthly_limit` of the spend-controls monthly-usage answer."""

    limit: LooseNumber = None
    enforcement_mode: Text = None
    limit_mode: Text = None


class MonthlyUsage(RawModel):
    """`GET …/spend-controls/current-user/monthly-usage` (team/enterprise monthly credit pool)."""

    current_month_usage: LooseNumber = None
    effective_monthly_limit: MonthlyLimitSetting | None = None

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            "current_month_usage": data.get("current_month_usage"),
            "effective_monthly_limit": MonthlyLimitSetting.read(data.get("effective_monthly_limit")),
        }


class Whoami(RawModel):
    """`GET …/user-auth-credential/whoami` (PAT strategy); all optional strings."""

    chatgpt_account_id: Text = None
    chatgpt_plan_type: Text = None
    email: Text = None


class ResetCredit(RawModel):
    """One manual rate-limit reset credit (extra; never redeemed)."""

    id: Text = None
    reset_type: Text = None
    status: Text = None
    granted_at: IsoTime = None
    expires_at: IsoTime = None
    redeem_started_at: IsoTime = None
    redeemed_at: IsoTime = None
    title: Text = None
    description: Text = None


class ResetCredits(RawModel):
    """`GET …/wham/rate-limit-reset-credits`; `available_count` < 0 is invalid (None)."""

    credits: list[ResetCredit] = Field(default_factory=list)
    available_count: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        raw = data.get("credits")
        items = [c for c in (ResetCredit.read(r) for r in raw) if c is not None] if isinstance(raw, list) else []
        count = integral(data.get("available_count"))
        return {"credits": items, "available_count": count if count is not None and count >= 0 else None}


class WebSubscription(RawModel):
    """`GET chatgpt.com/backend-api/subscriptions` (web extras): renews when `will_renew`, else expires."""

    active_until: IsoTime = None
    will_renew: bool | None = None


# --- app-server JSON-RPC results ---------------------------------------------------------------------------


class RpcWindow(RawModel):
    """`primary`/`secondary` of an RPC bucket: `usedPercent` required, the rest optional."""

    used_percent: StrictNumber = Field(alias="usedPercent")
    window_duration_mins: OptionalStrictNumber = Field(default=None, alias="windowDurationMins")
    resets_at: OptionalStrictNumber = Field(default=None, alias="resetsAt")


def _rpc_balance(value: object) -> float:
    """The RPC credit balance: a string (or number) parsed as float; unparseable or missing → 0."""
    return number(value, strings=True, default=0.0)


class RpcCredits(RawModel):
    """`credits` of an RPC bucket (`balance` is a string upstream)."""

    has_credits: Flag = Field(default=False, alias="hasCredits")
    unlimited: Flag = False
    balance: Annotated[float, BeforeValidator(_rpc_balance)] = 0.0


class RpcBucket(RawModel):
    """One rate-limit bucket (`rateLimits`, or a value of `rateLimitsByLimitId`)."""

    limit_id: Text = None
    limit_name: Text = None
    primary: RpcWindow | None = None
    secondary: RpcWindow | None = None
    credits: RpcCredits | None = None
    individual_limit: LimitObject | None = None
    plan_type: Text = None
    rate_limit_reached_type: Text = None
    primary_failed: bool = False
    secondary_failed: bool = False

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out: dict[str, Any] = {
            "limit_id": _first_text(data, "limitId", "limit_id"),
            "limit_name": _first_text(data, "limitName", "limit_name"),
            "credits": RpcCredits.read(data.get("credits")),
            "individual_limit": _limit_of(data, "individualLimit", "individual_limit"),
            "plan_type": _first_text(data, "planType", "plan_type"),
            "rate_limit_reached_type": _first_text(data, "rateLimitReachedType", "rate_limit_reached_type"),
        }
        for key, failed in (("primary", "primary_failed"), ("secondary", "secondary_failed")):
            raw = data.get(key)
            window = RpcWindow.read(raw)
            out[key] = window
            out[failed] = raw is not None and window is None
        return out


class RpcRateLimits(RawModel):
    """The `account/rateLimits/read` result: `rateLimits` required, other buckets optional."""

    rate_limits: RpcBucket = Field(alias="rateLimits")
    by_limit_id: dict[str, RpcBucket] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        buckets: dict[str, RpcBucket] = {}
        raw = _first_present(data, "rateLimitsByLimitId", "rate_limits_by_limit_id")
        if isinstance(raw, dict):
            for key, value in raw.items():
                bucket = RpcBucket.read(value)
                if bucket is not None:
                    buckets[str(key)] = bucket
        return {"rateLimits": data.get("rateLimits"), "by_limit_id": buckets}


class RpcAccount(RawModel):
    """`account` of the `account/read` result; `type` is `chatgpt` or `apikey` (any case)."""

    type: str
    email: Text = None
    plan_type: Text = Field(default=None, alias="planType")

    @property
    def kind(self) -> str:
        """The account type, lower-case."""
        return self.type.strip().lower()


class RpcAccountResult(RawModel):
    """The `account/read` result."""

    account: RpcAccount | None = None
    requires_openai_auth: bool | None = Field(default=None, alias="requiresOpenaiAuth")


class RpcInitializeResult(RawModel):
    """The `initialize` result; only `userAgent` is read (for the CLI version)."""

    user_agent: Text = Field(default=None, alias="userAgent")


class RpcErrorBody(RawModel):
    """The usage body embedded in an RPC error message (`… body={…}`), decoded with the `wham/usage` rules."""

    email: Text = None
    plan_type: Text = None
    rate_limit: WhamRateLimit | None = None
    credits: WhamCredits | None = None

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            "email": data.get("email"),
            "plan_type": data.get("plan_type"),
            "rate_limit": WhamRateLimit.read(data.get("rate_limit")),
            "credits": WhamCredits.read(data.get("credits")),
        }


# --- credential files ----------------------------------------------------------------------------------------


class AuthTokens(RawModel):
    """`tokens` of `auth.json`: snake_case wins over camelCase; empty strings count as missing."""

    access_token: str | None = None
    refresh_token: str | None = None
    id_token: str | None = None
    account_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _spellings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            "access_token": _first_text(data, "access_token", "accessToken"),
            "refresh_token": _first_text(data, "refresh_token", "refreshToken"),
            "id_token": _first_text(data, "id_token", "idToken"),
            "account_id": _first_text(data, "account_id", "accountId"),
        }

    @property
    def usable(self) -> bool:
        """Whether these tokens count as an OAuth login (access and refresh token both present)."""
        return self.access_token is not None and self.refresh_token is not None


class AuthFile(RawModel):
    """`$CODEX_HOME/auth.json` as written by the Codex CLI (unknown keys are kept by the writer, not here)."""

    api_key: str | None = None
    tokens: AuthTokens | None = None
    last_refresh: datetime | None = None
    last_refresh_present: bool = False
    personal_access_token: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _spellings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        raw_refresh = data.get("last_refresh")
        return {
            "api_key": _first_text(data, "OPENAI_API_KEY"),
            "tokens": AuthTokens.read(data.get("tokens")),
            "last_refresh": _iso(raw_refresh),
            "last_refresh_present": raw_refresh is not None,
            "personal_access_token": _first_text(data, "personal_access_token", "personalAccessToken"),
        }


class OpenCodeAuth(RawModel):
    """The `openai` entry of OpenCode's `auth.json` (external, read-only OAuth source)."""

    type: str
    access: str
    refresh: str | None = None
    expires: float | None = None
    account_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _spellings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        expires = data.get("expires")
        return {
            "type": data.get("type"),
            "access": _first_text(data, "access"),
            "refresh": _first_text(data, "refresh"),
            "expires": number(expires, strings=False) if expires is not None else None,
            "account_id": _first_text(data, "accountId", "account_id"),
        }


class RefreshResponse(RawModel):
    """A 200 answer of the token refresh; missing fields keep the old values."""

    access_token: Text = None
    refresh_token: Text = None
    id_token: Text = None
