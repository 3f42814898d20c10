"""Pure mapping of Claude payloads to a `UsageSnapshot` (no I/O): OAuth usage, claude.ai web, status line.

Also here, because they are pure rules of the sheet: Claude Code credentials → `OAuthCredentials`, plan labels,
and the HTTP status → error-kind tables of the OAuth, web and token endpoints. The `/usage` panel text parser
lives in `panel.py` and the Retry-After/back-off rules in `backoff.py`; both are re-exported here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

from pydantic import ValidationError

from codexbard.errors import (
    AuthRequired,
    NotConfigured,
    ParseError,
    ProviderError,
    RateLimited,
    Unavailable,
    Unsupported,
)
from codexbard.host.clock import from_epoch_ms, from_epoch_seconds, parse_iso
from codexbard.host.credentials import Secret
from codexbard.host.redact import excerpt
from codexbard.models import Credits, Identity, NamedWindow, ProviderCost, RateWindow, UsageSnapshot, WindowValue
from codexbard.providers.claude.backoff import rate_limit_delay
from codexbard.providers.claude.const import (
    ALL_MODELS_SLUG,
    DEFAULT_CURRENCY,
    DEFAULT_ENV_TOKEN_SCOPES,
    ERROR_BODY_CHARS,
    INVALID_GRANT,
    MODEL_LABEL,
    PERIOD_EXTRA_USAGE,
    PERIOD_MONTHLY_CAP,
    PERIOD_SPEND_LIMIT,
    PLAN_LABELS,
    PLAN_WORDS,
    PRIMARY_FALLBACKS,
    PROFILE_SCOPE,
    ROUTINES_ID,
    ROUTINES_TITLE,
    SCOPED_KIND,
    SCOPED_WINDOW_PREFIX,
    SESSION_LABEL,
    SESSION_MINUTES,
    TEAM_SEAT_LABELS,
    TIER_PLANS,
    WEEKLY_GROUP,
    WEEKLY_LABEL,
    WEEKLY_MINUTES,
)
from codexbard.providers.claude.models import (
    RawAccount,
    RawCredentialsFile,
    RawExtraUsage,
    RawLimit,
    RawOrganization,
    RawOverage,
    RawPrepaid,
    RawProfile,
    RawStatusLine,
    RawStatusLineWindow,
    RawTokenResponse,
    RawUsage,
    RawWindow,
)
from codexbard.providers.claude.panel import parse_panel, parse_reset_text
from codexbard.providers.coerce import number, percent, slug

__all__ = [
    "OAuthCredentials",
    "WebExtraUsage",
    "choose_organization",
    "credentials_from_env",
    "format_money",
    "format_reset",
    "merge_statusline",
    "oauth_http_error",
    "oauth_login_method",
    "parse_account",
    "parse_credentials",
    "parse_oauth_usage",
    "parse_organizations",
    "parse_overage",
    "parse_panel",
    "parse_prepaid",
    "parse_profile",
    "parse_reset_text",
    "parse_statusline",
    "parse_token_response",
    "parse_web_usage",
    "plan_of",
    "rate_limit_delay",
    "refresh_http_error",
    "slug",
    "web_http_error",
    "web_login_method",
]

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WORDS = re.compile(r"[^\W_]+")


# --- Small shared rules ------------------------------------------------------------------------------------------




def format_reset(when: datetime, tz: tzinfo | None = None) -> str:
    """The reference's reset text `MMM d 'at' h:mma` in `tz` (default: the local zone), e.g. `Mar 6 at 3:00AM`."""
    local = when.astimezone(tz)
    hour = local.hour % 12 or 12
    return f"{_MONTHS[local.month - 1]} {local.day} at {hour}:{local.minute:02d}{'AM' if local.hour < 12 else 'PM'}"


_CURRENCY_SYMBOLS = {
    "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩",
    "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "CNY": "CN¥", "BRL": "R$", "MXN": "MX$", "HKD": "HK$",
}
_ZERO_DECIMAL = frozenset({"JPY", "KRW"})


def format_money(amount: float, currency: str) -> str:
    """Format an amount as en_US currency text: `$18.40`, `€1,234.50`, `CHF 5.00` for codes without a symbol."""
    code = currency.strip().upper() or DEFAULT_CURRENCY
    digits = 0 if code in _ZERO_DECIMAL else 2
    body = f"{abs(amount):,.{digits}f}"
    sign = "-" if amount < 0 else ""
    symbol = _CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{code}\u00a0{body}"


def _words(text: str | None) -> list[str]:
    return _WORDS.findall((text or "").strip().lower())


def _multiplier(rate_limit_tier: str | None) -> str | None:
    """The `<n>x` word right after `max` in a rate-limit tier (`default_claude_max_20x` → `20x`)."""
    words = _words(rate_limit_tier)
    if "max" not in words:
        return None
    index = words.index("max")
    if index + 1 >= len(words):
        return None
    word = words[index + 1]
    return word if len(word) > 1 and word.endswith("x") and word[:-1].isdigit() else None


def plan_of(text: str | None) -> str | None:
    """The plan key (`max`, `pro`, `team`, `enterprise`, `ultra`, in that order) whose word is in `text`."""
    words = _words(text)
    return next((plan for plan in PLAN_WORDS if plan in words), None)


def _plan_of_tier(rate_limit_tier: str | None) -> str | None:
    tier = (rate_limit_tier or "").strip().lower()
    return next((plan for plan in TIER_PLANS if plan in tier), None)


def _branded(plan: str, rate_limit_tier: str | None) -> str:
    label = PLAN_LABELS[plan]
    multiplier = _multiplier(rate_limit_tier) if plan == "max" else None
    return f"{label} {multiplier}" if multiplier else label


def oauth_login_method(subscription_type: str | None, rate_limit_tier: str | None) -> str | None:
    """Plan label from Claude Code credentials: `Claude Max 20x`, `Claude Pro`, … or None."""
    plan = plan_of(subscription_type) or _plan_of_tier(rate_limit_tier)
    return _branded(plan, rate_limit_tier) if plan else None


def web_login_method(rate_limit_tier: str | None, billing_type: str | None, seat_tier: str | None) -> str | None:
    """Plan label from a claude.ai membership (tier, billing type, Team seat tier)."""
    plan = _plan_of_tier(rate_limit_tier)
    tier = (rate_limit_tier or "").strip().lower()
    if plan is None and "stripe" in (billing_type or "").strip().lower() and "claude" in tier:
        plan = "pro"
    if plan is not None and plan != "team":
        return _branded(plan, rate_limit_tier)
    seat = TEAM_SEAT_LABELS.get((seat_tier or "").strip().lower())
    if seat is not None:
        return seat
    return _branded(plan, rate_limit_tier) if plan else None


def _identity(email: str | None, organization: str | None, login: str | None) -> Identity | None:
    if email is None and organization is None and login is None:
        return None
    return Identity(account_email=email, account_organization=organization, login_method=login)


def _reset_of(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


# --- OAuth /api/oauth/usage ---------------------------------------------------------------------------------------


def _main_window(
    raw: RawWindow | None, minutes: int, label: str, tz: tzinfo | None, *, reset: datetime | None = None,
    reset_override: bool = False,
) -> RateWindow | None:
    if raw is None or raw.utilization is None:
        return None
    resets_at = reset if reset_override else _reset_of(raw.resets_at)
    return RateWindow(
        used_percent=raw.utilization,
        window_minutes=minutes,
        resets_at=resets_at,
        reset_description=format_reset(resets_at, tz) if resets_at else None,
        label=label,
    )


def _scoped_windows(limits: Iterable[RawLimit], tz: tzinfo | None, *, describe: bool) -> list[NamedWindow]:
    """Model-scoped weekly limits of `limits[]` as extra windows (first occurrence of an id wins)."""
    windows: list[NamedWindow] = []
    seen: set[str] = set()
    for entry in limits:
        if entry.group != WEEKLY_GROUP or entry.kind != SCOPED_KIND or entry.percent is None:
            continue
        model = entry.scope.model if entry.scope else None
        name = model.display_name if model else None
        if model is None or name is None:
            continue
        id_slug = slug(model.id) if model.id else None
        if slug(name) == ALL_MODELS_SLUG or (
            id_slug is not None and (id_slug == ALL_MODELS_SLUG or id_slug.endswith("-" + ALL_MODELS_SLUG))
        ):
            continue
        key = slug(model.id or name)
        window_id = SCOPED_WINDOW_PREFIX + key
        if not key or window_id in seen:
            continue
        seen.add(window_id)
        resets_at = _reset_of(entry.resets_at)
        windows.append(NamedWindow(
            id=window_id,
            title=f"{name} only",
            window=WindowValue(
                used_percent=entry.percent,
                window_minutes=WEEKLY_MINUTES,
                resets_at=resets_at,
                reset_description=format_reset(resets_at, tz) if resets_at and describe else None,
            ),
        ))
    return windows


def _routines_window(raw: RawWindow | None, tz: tzinfo | None, *, describe: bool) -> list[NamedWindow]:
    if raw is None or raw.utilization is None:
        return []
    resets_at = _reset_of(raw.resets_at)
    return [NamedWindow(
        id=ROUTINES_ID,
        title=ROUTINES_TITLE,
        window=WindowValue(
            used_percent=raw.utilization,
            window_minutes=WEEKLY_MINUTES,
            resets_at=resets_at,
            reset_description=format_reset(resets_at, tz) if resets_at and describe else None,
        ),
    )]


def _usage_model(payload: object, service: str) -> RawUsage:
    if not isinstance(payload, dict):
        raise ParseError(f"{service} usage answer is not a JSON object")
    try:
        return RawUsage.model_validate(payload)
    except ValidationError as exc:  # lenient fields cannot fail; this is a guard against a bug, not a path
        raise ParseError(f"{service} usage answer could not be read ({exc.error_count()} problems)") from None


def _oauth_cost(extra: RawExtraUsage | None, *, spend_limit: bool) -> ProviderCost | None:
    if extra is None or extra.is_enabled is not True or extra.used_credits is None or extra.monthly_limit is None:
        return None
    return ProviderCost(
        used=extra.used_credits / 100.0,
        limit=extra.monthly_limit / 100.0,
        currency_code=extra.currency or DEFAULT_CURRENCY,
        period=PERIOD_SPEND_LIMIT if spend_limit else PERIOD_MONTHLY_CAP,
    )


def parse_oauth_usage(
    payload: object,
    *,
    subscription_type: str | None = None,
    rate_limit_tier: str | None = None,
    profile: RawProfile | None = None,
    tz: tzinfo | None = None,
) -> UsageSnapshot:
    """Map `/api/oauth/usage` (plus the credentials' plan fields and an optional profile) to a snapshot.

    `tz` is the zone of the `resetDescription` texts (default: the local zone, as the reference does).
    """
    usage = _usage_model(payload, "Claude OAuth")
    login = oauth_login_method(subscription_type, rate_limit_tier)
    primary = _main_window(usage.five_hour, SESSION_MINUTES, SESSION_LABEL, tz)
    if primary is None:
        for key in PRIMARY_FALLBACKS:
            primary = _main_window(getattr(usage, key), WEEKLY_MINUTES, SESSION_LABEL, tz)
            if primary is not None:
                break
    spend_limit = primary is None and usage.extra_usage is not None and usage.extra_usage.is_enabled is True
    cost = _oauth_cost(usage.extra_usage, spend_limit=spend_limit or plan_of(login) == "enterprise")
    extra = _scoped_windows(usage.limits, tz, describe=True) + _routines_window(usage.routines, tz, describe=True)
    identity = _identity(
        profile.email if profile else None, profile.organization_name if profile else None, login
    )
    if primary is None:
        if cost is None or cost.limit <= 0 or usage.extra_usage is None:
            raise ParseError("Claude OAuth usage has no session data (missing session data)")
        share = usage.extra_usage.utilization
        used = share if share is not None else cost.used / cost.limit * 100.0
        period = cost.period or PERIOD_SPEND_LIMIT
        spend_window = RateWindow(
            used_percent=percent(used),
            window_minutes=None,
            resets_at=None,
            reset_description=(
                f"{period}: {format_money(cost.used, cost.currency_code)} / "
                f"{format_money(cost.limit, cost.currency_code)}"
            ),
            label=SESSION_LABEL,
        )
        return UsageSnapshot(primary=spend_window, extra_rate_windows=extra, provider_cost=cost, identity=identity)
    # `seven_day_sonnet` wins whenever it is an object, even with a null utilization (then tertiary is null).
    model_raw = usage.seven_day_sonnet if usage.seven_day_sonnet is not None else usage.seven_day_opus
    return UsageSnapshot(
        primary=primary,
        secondary=_main_window(usage.seven_day, WEEKLY_MINUTES, WEEKLY_LABEL, tz),
        tertiary=_main_window(model_raw, WEEKLY_MINUTES, MODEL_LABEL, tz),
        extra_rate_windows=extra,
        provider_cost=cost,
        identity=identity,
    )


def parse_profile(payload: object) -> RawProfile:
    """Read `/api/oauth/profile` (email, organization uuid/name); a non-object is a ParseError."""
    if not isinstance(payload, dict):
        raise ParseError("Claude OAuth profile answer is not a JSON object")
    return RawProfile.model_validate(payload)


# --- claude.ai web ------------------------------------------------------------------------------------------------


def parse_organizations(payload: object) -> list[RawOrganization]:
    """Read `GET /api/organizations` (an array; elements without a uuid are dropped)."""
    if not isinstance(payload, list):
        raise ParseError("claude.ai organizations answer is not a JSON array")
    orgs = [RawOrganization.model_validate(item) for item in payload if isinstance(item, dict)]
    return [org for org in orgs if org.uuid]


def choose_organization(orgs: list[RawOrganization], configured: str | None = None) -> RawOrganization:
    """Pick the organization: the configured uuid, else the first with `chat`, else the first not API-only."""
    wanted = (configured or "").strip()
    if wanted:
        for org in orgs:
            if org.uuid == wanted:
                return org
        raise NotConfigured(
            "claude.ai has no organization with the configured id; fix providers.claude.web.organization_id"
        )
    if not orgs:
        raise Unsupported("claude.ai lists no organization for this session")
    for org in orgs:
        if any(cap.lower() == "chat" for cap in org.capabilities or []):
            return org
    for org in orgs:
        if [cap.lower() for cap in org.capabilities or []] != ["api"]:
            return org
    return orgs[0]


def parse_account(payload: object) -> RawAccount | None:
    """Read `GET /api/account` best-effort: None when it is not an object."""
    return RawAccount.model_validate(payload) if isinstance(payload, dict) else None


def parse_overage(payload: object) -> ProviderCost | None:
    """`overage_spend_limit` → cost (cents ÷ 100, `Monthly cap`) when enabled with a currency; else None."""
    if not isinstance(payload, dict):
        return None
    raw = RawOverage.model_validate(payload)
    if raw.is_enabled is not True or raw.used_credits is None or raw.monthly_credit_limit is None or not raw.currency:
        return None
    return ProviderCost(
        used=raw.used_credits / 100.0,
        limit=raw.monthly_credit_limit / 100.0,
        currency_code=raw.currency,
        period=PERIOD_MONTHLY_CAP,
    )


@dataclass(frozen=True)
class WebExtraUsage:
    """A prepaid Extra usage balance in major units, currency upper-cased."""

    amount: float
    currency: str


def parse_prepaid(payload: object) -> WebExtraUsage | None:
    """`prepaid/credits` → balance (cents ÷ 100, finite, >= 0, non-empty currency), else None."""
    if not isinstance(payload, dict):
        return None
    raw = RawPrepaid.model_validate(payload)
    if raw.amount is None or raw.amount < 0 or not raw.currency:
        return None
    return WebExtraUsage(amount=raw.amount / 100.0, currency=raw.currency.upper())


def _web_cost(raw: dict[str, Any] | None) -> ProviderCost | None:
    """Usage-response `extra_usage` on the web path: no `is_enabled` check, limit > 0, numeric strings allowed."""
    if raw is None:
        return None
    used = number(raw.get("used_credits"))
    limit = number(raw.get("monthly_limit"))
    if limit is None:
        limit = number(raw.get("monthly_credit_limit"))
    if used is None or limit is None or limit <= 0:
        return None
    currency = raw.get("currency")
    code = currency.strip() if isinstance(currency, str) and currency.strip() else DEFAULT_CURRENCY
    return ProviderCost(used=used / 100.0, limit=limit / 100.0, currency_code=code, period=PERIOD_MONTHLY_CAP)


def parse_web_usage(
    payload: object,
    *,
    organization: RawOrganization | None = None,
    account: RawAccount | None = None,
    overage: ProviderCost | None = None,
    prepaid: WebExtraUsage | None = None,
    tz: tzinfo | None = None,
) -> UsageSnapshot:
    """Map claude.ai `/api/organizations/{org}/usage` plus the optional side calls to a snapshot.

    `five_hour: null` gives `primary = null` (codexbard choice: no phantom 0 % session).
    """
    usage = _usage_model(payload, "claude.ai")
    weekly_reset = _reset_of(usage.seven_day.resets_at) if usage.seven_day else None
    primary = _main_window(usage.five_hour, SESSION_MINUTES, SESSION_LABEL, tz)
    secondary = _main_window(usage.seven_day, WEEKLY_MINUTES, WEEKLY_LABEL, tz)
    model_raw = usage.seven_day_sonnet if usage.seven_day_sonnet is not None else usage.seven_day_opus
    # The reference shows the weekly reset on the model window (web path only).
    tertiary = _main_window(model_raw, WEEKLY_MINUTES, MODEL_LABEL, tz, reset=weekly_reset, reset_override=True)
    extra = _scoped_windows(usage.limits, tz, describe=False) + _routines_window(usage.routines, tz, describe=False)
    cost = _web_cost(usage.extra_usage_raw) or overage
    credits: Credits | None = None
    if prepaid is not None:
        credits = Credits(remaining=prepaid.amount, unit=prepaid.currency)
        if cost is None:
            cost = ProviderCost(used=0.0, limit=0.0, currency_code=prepaid.currency, period=PERIOD_EXTRA_USAGE,
                                balance=prepaid.amount)
        elif cost.currency_code.upper() == prepaid.currency:
            cost = cost.model_copy(update={"balance": prepaid.amount})
        else:
            credits = None  # a balance in another currency than the spend limit is not attached
    email = account.email_address if account else None
    login: str | None = None
    if account is not None and account.memberships:
        chosen = organization.uuid if organization else None
        membership = next(
            (m for m in account.memberships if m.organization and chosen and m.organization.uuid == chosen),
            account.memberships[0],
        )
        org = membership.organization
        login = web_login_method(
            org.rate_limit_tier if org else None, org.billing_type if org else None, membership.seat_tier
        )
    identity = _identity(email, organization.name if organization else None, login)
    if primary is None and secondary is None and tertiary is None and not extra and cost is None:
        raise ParseError("claude.ai usage has no session, weekly or Extra usage data (missing session data)")
    return UsageSnapshot(
        primary=primary, secondary=secondary, tertiary=tertiary, extra_rate_windows=extra,
        provider_cost=cost, credits=credits, identity=identity,
    )


# --- Claude Code status line ---------------------------------------------------------------------------------------


def _statusline_window(
    raw: RawStatusLineWindow | None, minutes: int, label: str, now: datetime | None, tz: tzinfo | None
) -> RateWindow | None:
    if raw is None or raw.used_percentage is None:
        return None
    resets_at = from_epoch_seconds(raw.resets_at) if raw.resets_at is not None else None
    if resets_at is not None and now is not None and resets_at <= now:
        return None  # an already-past window is left alone (the sheet's ingest rule)
    return RateWindow(
        used_percent=raw.used_percentage,
        window_minutes=minutes,
        resets_at=resets_at,
        reset_description=format_reset(resets_at, tz) if resets_at else None,
        label=label,
    )


def parse_statusline(
    payload: object, *, now: datetime | None = None, tz: tzinfo | None = None
) -> UsageSnapshot | None:
    """`rate_limits.five_hour/seven_day` of a status-line JSON → a partial snapshot; None = nothing usable.

    Claude Code owns this schema: anything unreadable (older versions, API-key sessions, garbage) is None,
    never an error. With `now`, a window whose `resets_at` is not in the future is dropped.
    """
    if not isinstance(payload, dict):
        return None
    try:
        raw = RawStatusLine.model_validate(payload)
    except ValidationError:
        return None
    limits = raw.rate_limits
    if limits is None:
        return None
    primary = _statusline_window(limits.five_hour, SESSION_MINUTES, SESSION_LABEL, now, tz)
    secondary = _statusline_window(limits.seven_day, WEEKLY_MINUTES, WEEKLY_LABEL, now, tz)
    if primary is None and secondary is None:
        return None
    return UsageSnapshot(primary=primary, secondary=secondary)


def merge_statusline(base: UsageSnapshot | None, update: UsageSnapshot) -> UsageSnapshot:
    """Overlay the status line's windows on the last polled snapshot: only primary/secondary change."""
    if base is None:
        return update
    changes: dict[str, Any] = {}
    if update.primary is not None:
        changes["primary"] = update.primary
    if update.secondary is not None:
        changes["secondary"] = update.secondary
    return base.model_copy(update=changes)


# --- Claude Code credentials ---------------------------------------------------------------------------------------

CredentialSource = Literal["file", "keychain", "env"]


@dataclass(frozen=True)
class OAuthCredentials:
    """Claude Code's subscription OAuth credentials (tokens are `Secret`s and never print)."""

    access_token: Secret
    refresh_token: Secret | None
    expires_at: datetime | None
    scopes: tuple[str, ...]
    subscription_type: str | None
    rate_limit_tier: str | None
    source: CredentialSource = "file"

    def is_expired(self, now: datetime) -> bool:
        """Expired when `now >= expiresAt` (no skew allowance); no expiry = expired; env tokens never expire."""
        if self.source == "env":
            return False
        return self.expires_at is None or now >= self.expires_at

    @property
    def can_read_usage(self) -> bool:
        """Whether the scopes include `user:profile`, which the usage endpoint requires."""
        return PROFILE_SCOPE in self.scopes

    @property
    def login_method(self) -> str | None:
        """The plan label these credentials imply."""
        return oauth_login_method(self.subscription_type, self.rate_limit_tier)


def parse_credentials(text: str | bytes, *, origin: str, source: CredentialSource = "file") -> OAuthCredentials:
    """Read Claude Code's credentials JSON (file or Keychain payload); typed errors name `origin`, never a token."""
    relogin = "run `claude` and log in again"
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise AuthRequired(f"Claude Code credentials in {origin} are not valid JSON; {relogin}") from None
    if not isinstance(data, dict):
        raise AuthRequired(f"Claude Code credentials in {origin} are not a JSON object; {relogin}")
    raw = RawCredentialsFile.model_validate(data)
    if raw.oauth is None:
        if raw.has_mcp and not raw.has_oauth_key:
            raise NotConfigured(
                f"{origin} holds only MCP server tokens (mcpOAuth), no Claude subscription login; "
                f"Claude Code keeps that login elsewhere: {relogin}"
            )
        raise AuthRequired(f"{origin} has no claudeAiOauth login; {relogin}")
    oauth = raw.oauth
    if oauth.access_token is None:
        raise AuthRequired(f"{origin} has an empty Claude access token; {relogin}")
    expires = from_epoch_ms(oauth.expires_at) if oauth.expires_at is not None else None
    return OAuthCredentials(
        access_token=Secret(oauth.access_token.get_secret_value(), origin),
        refresh_token=Secret(oauth.refresh_token.get_secret_value(), origin) if oauth.refresh_token else None,
        expires_at=expires,
        scopes=tuple(oauth.scopes),
        subscription_type=oauth.subscription_type,
        rate_limit_tier=oauth.rate_limit_tier,
        source=source,
    )


def credentials_from_env(token: str, scopes: str | None, *, origin: str) -> OAuthCredentials | None:
    """An access-token override from the environment (never expires, never refreshed); None when blank."""
    value = token.strip()
    if not value:
        return None
    parsed = tuple(part.strip() for part in (scopes or "").split(",") if part.strip())
    return OAuthCredentials(
        access_token=Secret(value, origin),
        refresh_token=None,
        expires_at=None,
        scopes=parsed or DEFAULT_ENV_TOKEN_SCOPES,
        subscription_type=None,
        rate_limit_tier=None,
        source="env",
    )


@dataclass(frozen=True)
class RefreshedTokens:
    """The result of a direct token refresh (the caller carries scopes and plan fields over)."""

    access_token: Secret
    refresh_token: Secret | None
    expires_at: datetime


def parse_token_response(payload: object, *, now: datetime, origin: str) -> RefreshedTokens:
    """Read a 200 answer of `POST /v1/oauth/token`; `refresh_token` may be absent (keep the old one)."""
    if not isinstance(payload, dict):
        raise ParseError("Claude token refresh answer is not a JSON object")
    raw = RawTokenResponse.model_validate(payload)
    if raw.access_token is None or raw.expires_in is None:
        raise ParseError("Claude token refresh answer lacks access_token or expires_in")
    return RefreshedTokens(
        access_token=Secret(raw.access_token.get_secret_value(), origin),
        refresh_token=Secret(raw.refresh_token.get_secret_value(), origin) if raw.refresh_token else None,
        expires_at=now + timedelta(seconds=raw.expires_in),
    )


# --- HTTP status → typed error -------------------------------------------------------------------------------------


def _body_text(body: bytes | str | None) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    return body


def oauth_http_error(
    status: int,
    body: bytes | str | None,
    *,
    retry_after: str | None = None,
    consecutive_429: int = 1,
    now: datetime | None = None,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """The error for a non-200 answer of `/api/oauth/usage` (sheet's table; the body is scrubbed and cut)."""
    text = _body_text(body)
    if status == 401:
        return AuthRequired("Claude OAuth token was rejected (HTTP 401); run `claude` to log in again")
    if status == 403 and PROFILE_SCOPE in text:
        return AuthRequired(
            "Claude OAuth token lacks the user:profile scope (HTTP 403); re-generate the credentials by "
            "logging in with `claude` (tokens from `claude setup-token` cannot read usage)"
        )
    if status == 429:
        delay = rate_limit_delay(retry_after, consecutive_429, now)
        return RateLimited(
            f"Claude usage endpoint is rate limited (HTTP 429); next attempt in {int(delay // 60)} min",
            retry_after=delay,
        )
    detail = excerpt(text, secrets, limit=ERROR_BODY_CHARS) if text.strip() else ""
    return Unavailable(f"Claude OAuth error: HTTP {status}{' - ' + detail if detail else ''}")


def web_http_error(status: int) -> ProviderError:
    """The error for a non-200 answer of a claude.ai endpoint."""
    if status in (401, 403):
        return AuthRequired(f"claude.ai rejected the session cookie (HTTP {status}); log in to claude.ai again")
    return Unavailable(f"claude.ai error: HTTP {status}")


def refresh_http_error(status: int, body: bytes | str | None) -> ProviderError:
    """The error for a failed direct refresh: `invalid_grant` is terminal (AuthRequired), other 400/401 transient."""
    error_code: str | None = None
    try:
        data = json.loads(_body_text(body))
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        error_code = data["error"]
    if status in (400, 401) and error_code == INVALID_GRANT:
        return AuthRequired("Claude refresh token was revoked or already used (invalid_grant); run `claude` to log in")
    return Unavailable(f"Claude token refresh failed (HTTP {status})")


def is_terminal_refresh_error(status: int, body: bytes | str | None) -> bool:
    """Whether a refresh failure stops refreshing until the credentials change (`invalid_grant` on 400/401)."""
    return isinstance(refresh_http_error(status, body), AuthRequired)


def is_transient_refresh_error(status: int, body: bytes | str | None) -> bool:
    """Whether a refresh failure starts the 5 min → 6 h back-off (other 400/401)."""
    return status in (400, 401) and not is_terminal_refresh_error(status, body)
