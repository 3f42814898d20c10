"""Pure Codex parsing: raw payloads, auth files, JWT claims and `/status` text → snapshot and identity (no I/O).

Windows are classified by their length, never by their position: a 300-minute window is the
session, a 10080-minute window the week, and `normalize_lanes` applies the sheet's lane table (the
upstream sends the weekly window in `primary_window` with `secondary_window: null` for free plans).
Errors raised here: `ParseError` (a body that cannot be read or has no rate limits), `Unsupported`
(API-key login), `AuthRequired` (no tokens, a rejected refresh), `Unavailable`/`Timeout` (RPC and
PTY failures that are not about the data's shape).
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final, Literal
from urllib.parse import quote

from codexbard.errors import AuthRequired, ParseError, ProviderError, Timeout, Unavailable, Unsupported
from codexbard.host.clock import from_epoch_auto
from codexbard.host.redact import excerpt
from codexbard.models import Credits, Identity, NamedWindow, RateWindow, UsageSnapshot, WindowValue
from codexbard.providers.codex.const import (
    BACKEND_API_SEGMENT,
    BACKEND_USAGE_PATH,
    BEDROCK_PROVIDER_IDS,
    CHATGPT_ORIGINS,
    CLI_INSTALL_HINT,
    CODEX_API_USAGE_PATH,
    CONFIG_BASE_URL_KEY,
    CREDIT_LIMIT_ID,
    CREDIT_LIMIT_TITLE,
    CREDITS_UNIT,
    DEFAULT_BASE_URL,
    EXPIRY_MARGIN_SECONDS,
    EXTRA_DEFAULT_TITLE,
    EXTRA_ID_PREFIX,
    LOGIN_HINT,
    MONTHLY_LABEL,
    MONTHLY_MINUTES,
    MONTHLY_USAGE_PATH,
    NO_LIMIT_ENFORCEMENT,
    NO_MONTHLY_POOL_PLANS,
    OPENAI_PROVIDER_IDS,
    OPENCODE_AUTH_KEY,
    PLAN_EXACT_NAMES,
    PLAN_UPPERCASE_WORDS,
    REFRESH_CLIENT_ID,
    REFRESH_SCOPE,
    RESET_CREDITS_PATH,
    RPC_AUTH_REQUIRED_MARKERS,
    RPC_UNKNOWN,
    SESSION_LABEL,
    SESSION_MINUTES,
    SPARK_ID,
    SPARK_MARKER,
    SPARK_SESSION_MAX,
    SPARK_TITLE,
    SPARK_WEEKLY_ID,
    SPARK_WEEKLY_MIN,
    SPARK_WEEKLY_TITLE,
    STALE_AFTER_SECONDS,
    WEB_ACCOUNT_COOKIE,
    WEB_EMAIL_SEARCH_NODES,
    WEB_SESSION_COOKIE_MARKERS,
    WEEKLY_LABEL,
    WEEKLY_MINUTES,
)
from codexbard.providers.codex.models import (
    AdditionalRateLimit,
    AuthFile,
    LimitObject,
    MonthlyUsage,
    OpenCodeAuth,
    RefreshResponse,
    RpcAccount,
    RpcAccountResult,
    RpcBucket,
    RpcErrorBody,
    RpcInitializeResult,
    RpcRateLimits,
    RpcWindow,
    WhamUsage,
    WhamWindow,
)
from codexbard.providers.coerce import number, percent, slug

LaneRole = Literal["session", "weekly", "unknown"]
RefreshFailure = Literal["expired", "reused", "revoked", "invalid"]

_AUTH_CLAIM: Final = "https://api.openai.com/auth"
_PROFILE_CLAIM: Final = "https://api.openai.com/profile"
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_NUMBER: Final = {name.lower(): index + 1 for index, name in enumerate(_MONTHS)}


# --- results -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditLimit:
    """A monthly credit limit (workspace spend control), already normalised."""

    used: float
    limit: float
    remaining_percent: float
    resets_at: datetime | None = None
    title: str = CREDIT_LIMIT_TITLE

    @property
    def remaining(self) -> float:
        """Credits left under the limit, never negative."""
        return max(0.0, self.limit - self.used)

    @property
    def used_percent(self) -> float:
        """Share of the limit used, 0–100."""
        return 100.0 - self.remaining_percent


@dataclass(frozen=True)
class CodexUsage:
    """A parsed usage answer: the snapshot plus the facts the strategies act on."""

    snapshot: UsageSnapshot
    plan_type: str | None = None
    account_id: str | None = None
    email: str | None = None
    spend_control_present: bool = False
    credit_limit: CreditLimit | None = None
    # A window was present but did not decode (the reference marks such data as lower confidence).
    degraded: bool = False
    # RPC only: identity known but no windows (a plan without Codex quota), not an error.
    limits_unavailable: bool = False

    @property
    def wants_monthly_usage(self) -> bool:
        """Whether the spend-controls monthly-usage follow-up should be requested (team/enterprise pools)."""
        plan = (self.plan_type or "").lower()
        return self.spend_control_present and self.credit_limit is None and plan not in NO_MONTHLY_POOL_PLANS


@dataclass(frozen=True)
class CodexCredentials:
    """OAuth credentials from `auth.json` (or an external source), ready for a request."""

    access_token: str
    refresh_token: str | None = None
    id_token: str | None = None
    account_id: str | None = None
    last_refresh: datetime | None = None
    expires_at: datetime | None = None
    external: bool = False

    def __repr__(self) -> str:
        # Never show a token, not even in a traceback.
        return f"CodexCredentials(account_id={self.account_id!r}, external={self.external})"


# --- plan names, reset descriptions ------------------------------------------------------------------------


def plan_display_name(raw: str | None) -> str | None:
    """The plan as shown: `pro` → `Pro 20x`, `prolite` → `Pro 5x`, `free_workspace` → `Free Workspace`."""
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        return None
    exact = PLAN_EXACT_NAMES.get(text.lower())
    if exact is not None:
        return exact
    words = [w for w in re.split(r"[_\-\s]+", text) if w]
    if not words:
        return text
    return " ".join(_plan_word(w) for w in words)


def _plan_word(word: str) -> str:
    if word.lower() in PLAN_UPPERCASE_WORDS:
        return word.upper()
    if word == word.upper() and any(c.isalpha() for c in word):
        return word
    if word[0].islower():
        return word[0].upper() + word[1:]
    return word


def _zone(now: datetime, tz: tzinfo | None) -> tzinfo:
    return tz if tz is not None else (now.astimezone().tzinfo or UTC)


def reset_description(at: datetime | None, now: datetime | None, tz: tzinfo | None = None) -> str | None:
    """`HH:MM` when the reset is today (local time), `tomorrow, HH:MM`, else `Mon D, HH:MM`; None without a time."""
    if at is None or now is None:
        return None
    zone = _zone(now, tz)
    local = at.astimezone(zone)
    today = now.astimezone(zone).date()
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if local.date() == today:
        return clock
    if local.date() == today + timedelta(days=1):
        return f"tomorrow, {clock}"
    return f"{_MONTHS[local.month - 1]} {local.day}, {clock}"


# --- windows and lanes -------------------------------------------------------------------------------------


def lane_role(minutes: int | None) -> LaneRole:
    """Classify a window by its length: 300 min session, 10080 min weekly, anything else unknown."""
    if minutes == SESSION_MINUTES:
        return "session"
    if minutes == WEEKLY_MINUTES:
        return "weekly"
    return "unknown"


def normalize_lanes(
    primary: WindowValue | None, secondary: WindowValue | None
) -> tuple[WindowValue | None, WindowValue | None]:
    """Put the API's two windows into the Session and Weekly lanes by their length (the sheet's table)."""
    if primary is not None and secondary is not None:
        roles = (lane_role(primary.window_minutes), lane_role(secondary.window_minutes))
        if roles in (("weekly", "session"), ("weekly", "unknown")):
            return secondary, primary
        return primary, secondary
    if primary is not None:
        return (None, primary) if lane_role(primary.window_minutes) == "weekly" else (primary, None)
    if secondary is not None:
        return (None, secondary) if lane_role(secondary.window_minutes) == "weekly" else (secondary, None)
    return None, None


def window_label(minutes: int | None, lane: Literal["primary", "secondary"]) -> str:
    """A window's label from its length (Session, Weekly, Monthly), else from its lane."""
    if minutes == SESSION_MINUTES:
        return SESSION_LABEL
    if minutes == WEEKLY_MINUTES:
        return WEEKLY_LABEL
    if minutes == MONTHLY_MINUTES:
        return MONTHLY_LABEL
    return SESSION_LABEL if lane == "primary" else WEEKLY_LABEL


def _epoch(value: float | None) -> datetime | None:
    if value is None or value <= 0:
        return None
    return from_epoch_auto(value)


def wham_window(raw: WhamWindow, now: datetime | None = None, tz: tzinfo | None = None) -> WindowValue:
    """A `wham/usage` window: seconds → minutes (integer division; ≤ 0 → unknown), epoch reset → UTC."""
    minutes = int(raw.limit_window_seconds // 60) if raw.limit_window_seconds > 0 else None
    resets_at = _epoch(raw.reset_at)
    return WindowValue(
        used_percent=raw.used_percent,
        window_minutes=minutes,
        resets_at=resets_at,
        reset_description=reset_description(resets_at, now, tz),
    )


def rpc_window(raw: RpcWindow, now: datetime | None = None, tz: tzinfo | None = None) -> WindowValue:
    """An app-server window: `usedPercent`, `windowDurationMins`, `resetsAt` (epoch seconds)."""
    mins = raw.window_duration_mins
    resets_at = _epoch(raw.resets_at)
    return WindowValue(
        used_percent=raw.used_percent,
        window_minutes=int(mins) if mins is not None and mins > 0 else None,
        resets_at=resets_at,
        reset_description=reset_description(resets_at, now, tz),
    )


def _rate_window(value: WindowValue | None, lane: Literal["primary", "secondary"]) -> RateWindow | None:
    if value is None:
        return None
    return RateWindow(**value.model_dump(), label=window_label(value.window_minutes, lane))


def _is_spark(entry: AdditionalRateLimit) -> bool:
    return any(SPARK_MARKER in (name or "").lower() for name in (entry.limit_name, entry.metered_feature))


def _spark_slot(window: WhamWindow, fallback_weekly: bool) -> tuple[str, str]:
    minutes = int(window.limit_window_seconds // 60) if window.limit_window_seconds > 0 else 0
    if 0 < minutes <= SPARK_SESSION_MAX:
        return SPARK_ID, SPARK_TITLE
    if minutes >= SPARK_WEEKLY_MIN:
        return SPARK_WEEKLY_ID, SPARK_WEEKLY_TITLE
    return (SPARK_WEEKLY_ID, SPARK_WEEKLY_TITLE) if fallback_weekly else (SPARK_ID, SPARK_TITLE)


def extra_windows(
    entries: Iterable[AdditionalRateLimit], now: datetime | None = None, tz: tzinfo | None = None
) -> list[NamedWindow]:
    """Named windows from `additional_rate_limits`: Spark 5-hour/weekly with stable ids, others by slug."""
    used: set[str] = set()
    out: list[NamedWindow] = []

    def emit(ident: str, title: str, window: WhamWindow) -> None:
        if ident in used:
            return
        used.add(ident)
        out.append(NamedWindow(id=ident, title=title, window=wham_window(window, now, tz)))

    for entry in entries:
        limits = entry.rate_limit
        if limits is None:
            continue
        if _is_spark(entry):
            for window, weekly in ((limits.primary_window, False), (limits.secondary_window, True)):
                if window is not None:
                    emit(*_spark_slot(window, weekly), window)
            continue
        window = limits.primary_window or limits.secondary_window
        source = entry.metered_feature or entry.limit_name
        if window is None or source is None:
            continue
        ident = slug(source)
        if ident:
            emit(EXTRA_ID_PREFIX + ident, entry.limit_name or entry.metered_feature or EXTRA_DEFAULT_TITLE, window)
    return out


# --- credits and the monthly credit limit ----------------------------------------------------------------


def credit_limit(raw: LimitObject | None, title: str | None = None) -> CreditLimit | None:
    """Normalise a limit object (the sheet's rules); None unless `limit > 0`."""
    if raw is None or raw.limit is None or raw.limit <= 0:
        return None
    limit = raw.limit
    if raw.used is not None:
        used = raw.used
    elif raw.remaining_percent is not None:
        used = limit * percent(100.0 - raw.remaining_percent) / 100.0
    else:
        used = 0.0
    used = max(0.0, used)
    remaining_pct = raw.remaining_percent if raw.remaining_percent is not None else 100.0 - used / limit * 100.0
    return CreditLimit(
        used=used,
        limit=limit,
        remaining_percent=percent(remaining_pct),
        resets_at=_epoch(float(raw.resets_at)) if raw.resets_at is not None else None,
        title=title or CREDIT_LIMIT_TITLE,
    )


def monthly_usage_limit(payload: object) -> CreditLimit | None:
    """The team monthly pool from the spend-controls monthly-usage answer; None when there is no enforced limit."""
    model = MonthlyUsage.read(payload)
    if model is None or model.effective_monthly_limit is None:
        return None
    setting = model.effective_monthly_limit
    if setting.limit is None or setting.limit <= 0:
        return None
    if (setting.enforcement_mode or "").lower() in NO_LIMIT_ENFORCEMENT:
        return None
    used = max(0.0, model.current_month_usage or 0.0)
    return CreditLimit(
        used=used, limit=setting.limit, remaining_percent=percent(100.0 - used / setting.limit * 100.0)
    )


def credit_limit_window(limit: CreditLimit) -> NamedWindow:
    """The monthly credit limit as an extra window (`codex-monthly-credit-limit`)."""
    return NamedWindow(
        id=CREDIT_LIMIT_ID,
        title=limit.title,
        window=WindowValue(used_percent=limit.used_percent, resets_at=limit.resets_at),
    )


def credits_of(balance: float | None, limit: CreditLimit | None) -> Credits | None:
    """Credits: the limit's remaining amount when a limit exists (as the reference shows it), else the balance."""
    if limit is not None:
        return Credits(remaining=limit.remaining, total=limit.limit, unit=CREDITS_UNIT)
    if balance is not None:
        return Credits(remaining=balance, unit=CREDITS_UNIT)
    return None


def _identity(email: str | None, plan: str | None) -> Identity | None:
    email = email.strip() if email and email.strip() else None
    login = plan_display_name(plan)
    if email is None and login is None:
        return None
    return Identity(account_email=email, login_method=login)


def _assemble(
    primary: WindowValue | None,
    secondary: WindowValue | None,
    extras: list[NamedWindow],
    credits: Credits | None,
    limit: CreditLimit | None,
    identity: Identity | None,
) -> UsageSnapshot:
    lanes = primary is not None or secondary is not None
    named = (extras if lanes else []) + ([credit_limit_window(limit)] if limit is not None else [])
    return UsageSnapshot(
        primary=_rate_window(primary, "primary"),
        secondary=_rate_window(secondary, "secondary"),
        extra_rate_windows=named,
        credits=credits,
        identity=identity,
    )


def with_credit_limit(usage: CodexUsage, limit: CreditLimit) -> CodexUsage:
    """Add a credit limit learnt later (the monthly-usage follow-up) to a parsed usage answer."""
    snapshot = usage.snapshot
    extras = [w for w in snapshot.extra_rate_windows if w.id != CREDIT_LIMIT_ID] + [credit_limit_window(limit)]
    balance = snapshot.credits.remaining if snapshot.credits is not None and usage.credit_limit is None else None
    updated = snapshot.model_copy(update={"extra_rate_windows": extras, "credits": credits_of(balance, limit)})
    return replace(usage, snapshot=updated, credit_limit=limit)


# --- `wham/usage` (OAuth, PAT, web) ------------------------------------------------------------------------


def parse_usage(
    payload: object,
    *,
    email: str | None = None,
    fallback_plan: str | None = None,
    now: datetime | None = None,
    tz: tzinfo | None = None,
    has_reset_credits: bool = False,
) -> CodexUsage:
    """Map a `wham/usage` body to a snapshot; `email`/`fallback_plan` come from the id token (or whoami).

    Raises ParseError when the body is not an object or holds neither a window nor credits.
    """
    if not isinstance(payload, dict):
        raise ParseError("Codex usage response is not a JSON object")
    body = WhamUsage.model_validate(payload)
    limits = body.rate_limit
    raw_primary = limits.primary_window if limits else None
    raw_secondary = limits.secondary_window if limits else None
    primary, secondary = normalize_lanes(
        wham_window(raw_primary, now, tz) if raw_primary else None,
        wham_window(raw_secondary, now, tz) if raw_secondary else None,
    )
    limit = (
        credit_limit(body.individual_limit)
        or credit_limit(limits.individual_limit if limits else None)
        or credit_limit(body.spend_control.individual_limit if body.spend_control else None)
    )
    balance = body.credits.balance if body.credits else None
    credits = credits_of(balance, limit)
    if primary is None and secondary is None and credits is None and not has_reset_credits:
        raise ParseError("Codex usage response has no rate limits")
    plan = body.plan_type or (fallback_plan.strip() if fallback_plan and fallback_plan.strip() else None)
    snapshot = _assemble(
        primary,
        secondary,
        extra_windows(body.additional_rate_limits, now, tz),
        credits,
        limit,
        _identity(email, plan),
    )
    return CodexUsage(
        snapshot=snapshot,
        plan_type=plan,
        account_id=body.account_id,
        email=body.email,
        spend_control_present=body.spend_control_present,
        credit_limit=limit,
        degraded=bool(limits and limits.window_failed) or body.additional_failed,
    )


# --- app-server JSON-RPC ---------------------------------------------------------------------------------


def rpc_account(result: object) -> RpcAccount | None:
    """The ChatGPT account from an `account/read` result; None for `apikey`, null, unknown types or garbage."""
    parsed = RpcAccountResult.read(result)
    if parsed is None or parsed.account is None or parsed.account.kind != "chatgpt":
        return None
    return parsed.account


def rpc_cli_version(result: object) -> str | None:
    """The Codex CLI version from the `initialize` result's `userAgent` (`codex_cli_rs/0.41.0 (…)` → `0.41.0`)."""
    parsed = RpcInitializeResult.read(result)
    if parsed is None or parsed.user_agent is None:
        return None
    match = re.match(r"[^/\s]+/([^\s(]+)", parsed.user_agent)
    return match.group(1) if match else None


def _rpc_credit_limit(model: RpcRateLimits) -> CreditLimit | None:
    others = sorted(model.by_limit_id.values(), key=lambda b: b.limit_name or b.limit_id or "")
    buckets = [model.rate_limits, *others]
    for bucket in buckets:
        limit = credit_limit(bucket.individual_limit, title=bucket.limit_name)
        if limit is not None:
            return limit
    return None


def parse_rpc_rate_limits(
    result: object,
    account: object = None,
    *,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> CodexUsage:
    """Map `account/rateLimits/read` (and the optional `account/read` result) to a snapshot.

    No windows but a known identity gives an identity-only snapshot with `limits_unavailable`
    (unless credits exist and the bucket names no plan: then it is a credits-only snapshot).
    """
    model = RpcRateLimits.read(result)
    if model is None:
        raise ParseError("Codex app-server answered account/rateLimits/read without a rateLimits object")
    bucket: RpcBucket = model.rate_limits
    chatgpt = rpc_account(account)
    email = (chatgpt.email or RPC_UNKNOWN) if chatgpt else None
    plan = (chatgpt.plan_type or RPC_UNKNOWN) if chatgpt else bucket.plan_type
    identity = _identity(email, plan)
    primary, secondary = normalize_lanes(
        rpc_window(bucket.primary, now, tz) if bucket.primary else None,
        rpc_window(bucket.secondary, now, tz) if bucket.secondary else None,
    )
    limit = _rpc_credit_limit(model)
    balance = bucket.credits.balance if bucket.credits else None
    credits = credits_of(balance, limit)
    unavailable = False
    if primary is None and secondary is None:
        if credits is None and identity is None:
            raise ParseError("Codex app-server returned no rate limits")
        unavailable = identity is not None and (credits is None or bucket.plan_type is not None)
    return CodexUsage(
        snapshot=_assemble(primary, secondary, [], credits, limit, identity),
        plan_type=plan,
        email=email,
        credit_limit=limit,
        degraded=bucket.primary_failed or bucket.secondary_failed,
        limits_unavailable=unavailable,
    )


def extract_json_object(text: str, marker: str = "body=") -> str | None:
    """The first balanced `{…}` after `marker` (strings and escapes tracked), or None."""
    at = text.find(marker)
    if at < 0:
        return None
    start = text.find("{", at + len(marker))
    if start < 0:
        return None
    depth = 0
    in_string = False
    escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if char == '"':
            in_string = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[start : index + 1]
    return None


def recover_rpc_error_body(
    message: str, *, now: datetime | None = None, tz: tzinfo | None = None
) -> CodexUsage | None:
    """Recover windows, credits, email and plan from an RPC error that embeds the usage body (`body={…}`)."""
    text = extract_json_object(message)
    if text is None:
        return None
    try:
        data: Any = json.loads(text)
    except ValueError:
        return None
    body = RpcErrorBody.read(data)
    if body is None:
        return None
    limits = body.rate_limit
    raw_primary = limits.primary_window if limits else None
    raw_secondary = limits.secondary_window if limits else None
    primary, secondary = normalize_lanes(
        wham_window(raw_primary, now, tz) if raw_primary else None,
        wham_window(raw_secondary, now, tz) if raw_secondary else None,
    )
    degraded = bool(limits and limits.window_failed)
    if degraded and primary is None:
        # A window failed to decode and no session lane results: do not trust the windows.
        primary = secondary = None
    balance = body.credits.balance if body.credits else None
    credits = credits_of(balance, None)
    if primary is None and secondary is None and credits is None:
        return None
    identity = _identity(body.email, body.plan_type) if primary is not None or secondary is not None else None
    return CodexUsage(
        snapshot=_assemble(primary, secondary, [], credits, None, identity),
        plan_type=body.plan_type,
        email=body.email,
        degraded=degraded,
    )


def rpc_error_message(response: Mapping[str, Any]) -> str | None:
    """The `error.message` of a JSON-RPC response, or None when the response is not an error."""
    error = response.get("error")
    if not isinstance(error, dict):
        return None
    message = error.get("message")
    return message if isinstance(message, str) else ""


def explain_rpc_auth_error(message: str, config: Mapping[str, Any] | None) -> Unavailable | None:
    """Explain an "authentication required" RPC error caused by a non-OpenAI `model_provider` in config.toml."""
    lowered = message.lower()
    if not any(marker in lowered for marker in RPC_AUTH_REQUIRED_MARKERS) or not config:
        return None
    provider = config.get("model_provider")
    if not isinstance(provider, str) or not provider.strip():
        return None
    provider_id = provider.strip()
    if provider_id.lower() in OPENAI_PROVIDER_IDS:
        return None
    tables = config.get("model_providers")
    table = tables.get(provider_id) if isinstance(tables, dict) else None
    table = table if isinstance(table, dict) else {}
    if table.get("requires_openai_auth") is True:
        return None
    raw_name = table.get("name")
    name = raw_name if isinstance(raw_name, str) else ""
    if provider_id.lower() in BEDROCK_PROVIDER_IDS or "bedrock" in name.lower():
        return Unavailable(
            f"Codex is configured for Amazon Bedrock (model_provider = {provider_id!r}); "
            "ChatGPT rate limits don't apply"
        )
    return Unavailable(
        f"Codex is configured for a custom provider (model_provider = {provider_id!r}); "
        "ChatGPT rate limits don't apply"
    )


def rpc_failure(
    method: str,
    message: str,
    *,
    config: Mapping[str, Any] | None = None,
    secrets: Iterable[str | None] = (),
) -> ProviderError:
    """The typed error for an RPC error response that carried no recoverable usage body."""
    explained = explain_rpc_auth_error(message, config)
    if explained is not None:
        return explained
    detail = excerpt(message, secrets)
    return Unavailable(f"Codex app-server {method} failed: {detail or 'no message'}")


# --- credentials: auth.json, id-token claims, staleness, refresh -------------------------------------------


def read_auth_file(data: object) -> AuthFile:
    """Interpret a decoded `auth.json`; ParseError when it is not a JSON object."""
    if not isinstance(data, dict):
        raise ParseError("Codex auth.json is not a JSON object")
    return AuthFile.model_validate(data)


def _claim_text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def claims_email(claims: Mapping[str, Any] | None) -> str | None:
    """Email from id-token claims: `email`, else `https://api.openai.com/profile` → `email`."""
    if not claims:
        return None
    profile = claims.get(_PROFILE_CLAIM)
    return _claim_text(claims.get("email")) or (
        _claim_text(profile.get("email")) if isinstance(profile, dict) else None
    )


def claims_plan(claims: Mapping[str, Any] | None) -> str | None:
    """Plan from id-token claims: `https://api.openai.com/auth` → `chatgpt_plan_type`, else top-level."""
    if not claims:
        return None
    auth = claims.get(_AUTH_CLAIM)
    nested = _claim_text(auth.get("chatgpt_plan_type")) if isinstance(auth, dict) else None
    return nested or _claim_text(claims.get("chatgpt_plan_type"))


def claims_account_id(claims: Mapping[str, Any] | None) -> str | None:
    """Account id from JWT claims: `chatgpt_account_id`, the auth claim's, else the first `organizations[].id`."""
    if not claims:
        return None
    direct = _claim_text(claims.get("chatgpt_account_id"))
    if direct:
        return direct
    auth = claims.get(_AUTH_CLAIM)
    nested = _claim_text(auth.get("chatgpt_account_id")) if isinstance(auth, dict) else None
    if nested:
        return nested
    orgs = claims.get("organizations")
    if isinstance(orgs, list):
        for org in orgs:
            if isinstance(org, dict):
                ident = _claim_text(org.get("id"))
                if ident:
                    return ident
    return None


def identity_from_claims(claims: Mapping[str, Any] | None) -> Identity | None:
    """Email and plan (display name) from decoded id-token claims."""
    return _identity(claims_email(claims), claims_plan(claims))


def oauth_credentials(
    auth: AuthFile,
    *,
    id_claims: Mapping[str, Any] | None = None,
    access_claims: Mapping[str, Any] | None = None,
) -> CodexCredentials:
    """The OAuth credentials of an `auth.json` (tokens win over an API key).

    Raises Unsupported for an API-key-only login and AuthRequired when there are no usable tokens.
    """
    tokens = auth.tokens
    if tokens is not None and tokens.usable and tokens.access_token is not None:
        account = tokens.account_id or claims_account_id(id_claims) or claims_account_id(access_claims)
        return CodexCredentials(
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            id_token=tokens.id_token,
            account_id=account,
            last_refresh=auth.last_refresh,
        )
    if auth.api_key is not None:
        raise Unsupported(
            "Codex is logged in with an OpenAI API key, which has no ChatGPT plan quota to show; "
            "run `codex login` with a ChatGPT account to see Codex limits"
        )
    raise AuthRequired(f"Codex auth.json has no ChatGPT tokens; {LOGIN_HINT}")


def opencode_credentials(data: object) -> CodexCredentials | None:
    """OpenCode's `openai` OAuth entry (external, read-only) or None when absent or not OAuth."""
    if not isinstance(data, dict):
        return None
    entry = OpenCodeAuth.read(data.get(OPENCODE_AUTH_KEY))
    if entry is None or entry.type.strip().lower() != "oauth":
        return None
    expires = from_epoch_auto(entry.expires) if entry.expires is not None else None
    return CodexCredentials(
        access_token=entry.access,
        refresh_token=entry.refresh,
        account_id=entry.account_id,
        expires_at=expires,
        external=True,
    )


def needs_refresh(credentials: CodexCredentials, now: datetime) -> bool:
    """Stale: an explicit expiry at most 60 s away, else `last_refresh` missing or older than 8 days."""
    if credentials.expires_at is not None:
        return (credentials.expires_at - now).total_seconds() <= EXPIRY_MARGIN_SECONDS
    if credentials.last_refresh is None:
        return True
    return (now - credentials.last_refresh).total_seconds() > STALE_AFTER_SECONDS


def refresh_request_body(refresh_token: str) -> dict[str, str]:
    """The JSON body of the token refresh request."""
    return {
        "client_id": REFRESH_CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "scope": REFRESH_SCOPE,
    }


def refreshed_credentials(old: CodexCredentials, payload: object, now: datetime) -> CodexCredentials:
    """Merge a 200 refresh answer into the credentials (missing fields keep old values; `last_refresh` = now)."""
    body = RefreshResponse.read(payload)
    if body is None:
        raise ParseError("Codex token refresh answered with something that is not a JSON object")
    return replace(
        old,
        access_token=body.access_token or old.access_token,
        refresh_token=body.refresh_token or old.refresh_token,
        id_token=body.id_token or old.id_token,
        last_refresh=now,
    )


def refresh_failure_kind(status: int, payload: object) -> RefreshFailure:
    """Classify a non-200 refresh answer: expired, reused, revoked, or an invalid response."""
    code: object = None
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            code = error.get("code")
        elif isinstance(error, str):
            code = error
        if not isinstance(code, str):
            code = payload.get("code")
    text = code.strip().lower() if isinstance(code, str) else ""
    if text == "refresh_token_expired":
        return "expired"
    if text == "refresh_token_reused":
        return "reused"
    if text in ("invalid_grant", "refresh_token_invalidated"):
        return "revoked"
    if status == 401:
        return "expired"
    return "invalid"


def refresh_failure(status: int, payload: object) -> ProviderError:
    """The typed error for a failed refresh: AuthRequired ("run `codex login`") or Unavailable."""
    kind = refresh_failure_kind(status, payload)
    if kind == "invalid":
        return Unavailable(f"Codex token refresh failed (HTTP {status})")
    reason = {"expired": "has expired", "reused": "was already used", "revoked": "was revoked"}[kind]
    return AuthRequired(f"The Codex refresh token {reason}; {LOGIN_HINT}")


# --- config.toml and URLs -------------------------------------------------------------------------------------

_BASE_URL_LINE: Final = re.compile(r"^\s*" + CONFIG_BASE_URL_KEY + r"\s*=\s*([\"'])(.*?)\1")


def config_base_url(text: str) -> str | None:
    """The first `chatgpt_base_url = "…"` setting in config.toml text (any table; commented-out lines skipped)."""
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue  # codexbard choice: the reference would still read `#chatgpt_base_url = …`
        match = _BASE_URL_LINE.match(line.split("#", 1)[0])
        if match and match.group(2).strip():
            return match.group(2).strip()
    return None


def normalize_base_url(base: str | None) -> str:
    """Trim, drop trailing `/`, and add `/backend-api` to a bare chatgpt.com / chat.openai.com base."""
    value = (base or "").strip() or DEFAULT_BASE_URL
    value = value.rstrip("/")
    if value.startswith(CHATGPT_ORIGINS) and BACKEND_API_SEGMENT not in value:
        value += BACKEND_API_SEGMENT
    return value


def usage_url(base: str | None = None) -> str:
    """The usage URL: `{base}/wham/usage` for a `/backend-api` base, else `{base}/api/codex/usage`."""
    value = normalize_base_url(base)
    return value + (BACKEND_USAGE_PATH if BACKEND_API_SEGMENT in value else CODEX_API_USAGE_PATH)


def reset_credits_url(base: str | None = None) -> str:
    """The reset-credit inventory URL (extra)."""
    return normalize_base_url(base) + RESET_CREDITS_PATH


def monthly_usage_url(base: str | None, account_id: str) -> str | None:
    """The spend-controls monthly-usage URL, or None when the base is not a `/backend-api` base."""
    value = normalize_base_url(base)
    if BACKEND_API_SEGMENT not in value:
        return None
    return value + MONTHLY_USAGE_PATH.format(account_id=quote(account_id, safe=""))


# --- web dashboard helpers -------------------------------------------------------------------------------------


def find_email(data: object, max_nodes: int = WEB_EMAIL_SEARCH_NODES) -> str | None:
    """Breadth-first: the first `email` key whose value contains `@`, else the first string containing `@`."""
    queue: deque[object] = deque([data])
    seen = 0
    fallback: str | None = None
    while queue and seen < max_nodes:
        node = queue.popleft()
        seen += 1
        if isinstance(node, dict):
            value = node.get("email")
            if isinstance(value, str) and "@" in value:
                return value.strip()
            queue.extend(node.values())
        elif isinstance(node, list):
            queue.extend(node)
        elif isinstance(node, str) and "@" in node and fallback is None:
            fallback = node.strip()
    return fallback


def looks_signed_in(cookie_names: Iterable[str]) -> bool:
    """Whether a chatgpt.com cookie jar holds a session cookie."""
    for name in cookie_names:
        lowered = name.lower()
        if name == WEB_ACCOUNT_COOKIE or any(marker in lowered for marker in WEB_SESSION_COOKIE_MARKERS):
            return True
    return False


def same_account(known: str | None, seen: str | None) -> bool:
    """The web account guard: True when no email is known yet, or both match case-insensitively."""
    if not known:
        return True
    return seen is not None and known.strip().lower() == seen.strip().lower()


# --- `/status` PTY text -----------------------------------------------------------------------------------------

_ANSI_CSI: Final = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_CREDITS: Final = re.compile(r"Credits:\s*([0-9][0-9.,]*)", re.IGNORECASE)
_PERCENT_LEFT: Final = re.compile(r"([0-9]{1,3})%\s+left", re.IGNORECASE)
_RESET_TAIL: Final = re.compile(r"resets?\s+(.+)", re.IGNORECASE)
_LIMIT_OF: Final = re.compile(r"of\s+([0-9][0-9., ]*)\s+credits used", re.IGNORECASE)
_USED_OF: Final = re.compile(r"([0-9][0-9., ]*)\s+of\s+[0-9][0-9., ]*\s+credits used", re.IGNORECASE)
_AT_DAY_MONTH: Final = re.compile(r"^([0-9]{1,2}):([0-9]{2}) on ([0-9]{1,2}) ([A-Za-z]{3})$")
_AT_MONTH_DAY: Final = re.compile(r"^([0-9]{1,2}):([0-9]{2}) on ([A-Za-z]{3}) ([0-9]{1,2})$")
_AT_TIME: Final = re.compile(r"^([0-9]{1,2}):([0-9]{2})$")


def strip_ansi(text: str) -> str:
    """Remove ANSI CSI sequences (`ESC [ … final byte`)."""
    return _ANSI_CSI.sub("", text)


def text_number(raw: str) -> float | None:
    """A number as a terminal prints it: `1,204`, `1.204,5`, `14.5`, `50 000`."""
    text = raw.strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    if "," in text and "." in text:
        # The separator that comes last is the decimal one.
        decimal_comma = text.rfind(",") > text.rfind(".")
        text = text.replace(".", "").replace(",", ".") if decimal_comma else text.replace(",", "")
    elif "," in text:
        text = text.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", text) else text.replace(",", ".")
    elif "." in text and re.fullmatch(r"\d{1,3}(\.\d{3})+", text):
        text = text.replace(".", "")
    return number(text, strings=True)


def _first_line(text: str, needle: str) -> str | None:
    for line in text.splitlines():
        if needle in line.lower():
            return line
    return None


def _reset_text(line: str) -> str | None:
    match = _RESET_TAIL.search(line)
    if not match:
        return None
    cleaned = " ".join(match.group(1).strip().strip("()").split())
    return cleaned or None


def _percent_left(line: str | None) -> int | None:
    if line is None:
        return None
    match = _PERCENT_LEFT.search(line)
    return int(match.group(1)) if match else None


def parse_reset_text(text: str | None, now: datetime, tz: tzinfo | None = None) -> datetime | None:
    """`HH:MM on D Mon` / `HH:MM on Mon D` (this year, or next if past) or `HH:MM` (today, or tomorrow) → UTC."""
    if not text:
        return None
    raw = " ".join(text.strip().strip("()").split())
    zone = _zone(now, tz)
    local_now = now.astimezone(zone)
    day_month = _AT_DAY_MONTH.match(raw)
    month_day = _AT_MONTH_DAY.match(raw)
    try:
        if day_month or month_day:
            if day_month:
                hour, minute, day, month_name = day_month.groups()
            elif month_day:
                hour, minute, month_name, day = month_day.groups()
            month = _MONTH_NUMBER.get(month_name.lower())
            if month is None:
                return None
            when = datetime(local_now.year, month, int(day), int(hour), int(minute), tzinfo=zone)
            if when < local_now:
                when = when.replace(year=when.year + 1)
            return when.astimezone(UTC)
        bare = _AT_TIME.match(raw)
        if bare:
            anchored = datetime.combine(
                local_now.date(), datetime.min.time().replace(hour=int(bare.group(1)), minute=int(bare.group(2))),
                tzinfo=zone,
            )
            if anchored < local_now:
                anchored = datetime.combine(anchored.date() + timedelta(days=1), anchored.timetz())
            return anchored.astimezone(UTC)
    except ValueError:  # 31 Feb, 25:00, 29 Feb next year
        return None
    return None


def _status_window(
    pct_left: int | None, minutes: int, reset: str | None, now: datetime, tz: tzinfo | None
) -> WindowValue | None:
    if pct_left is None:
        return None
    return WindowValue(
        used_percent=float(100 - pct_left),
        window_minutes=minutes,
        resets_at=parse_reset_text(reset, now, tz),
        reset_description=reset,
    )


def _status_credit_limit(text: str, now: datetime, tz: tzinfo | None) -> CreditLimit | None:
    line = _first_line(text, "monthly credit limit")
    if line is None:
        return None
    limit_match = _LIMIT_OF.search(text)
    limit = text_number(limit_match.group(1)) if limit_match else None
    if limit is None or limit <= 0:
        return None
    used_match = _USED_OF.search(text)
    used = (text_number(used_match.group(1)) if used_match else None) or 0.0
    pct = _percent_left(line)
    remaining = float(pct) if pct is not None else percent(100.0 - used / limit * 100.0)
    return CreditLimit(
        used=max(0.0, used),
        limit=limit,
        remaining_percent=percent(remaining),
        resets_at=parse_reset_text(_reset_text(line), now, tz),
    )


def parse_status_text(text: str, *, now: datetime, tz: tzinfo | None = None) -> UsageSnapshot:
    """Parse the rendered `/status` screen of the Codex TUI into a snapshot (resetDescription = raw reset text)."""
    clean = strip_ansi(text)
    if not clean.strip():
        raise Timeout("Codex /status printed nothing before the timeout")
    lowered = clean.lower()
    if "data not available yet" in lowered:
        raise ParseError("Codex /status says: data not available yet")
    if "update available" in lowered and "codex" in lowered:
        raise Unavailable(f"Codex CLI update needed (an update prompt blocks /status); run `{CLI_INSTALL_HINT}`")
    credits_match = _CREDITS.search(clean)
    balance = text_number(credits_match.group(1)) if credits_match else None
    five = _first_line(clean, "5h limit")
    week = _first_line(clean, "weekly limit")
    five_pct = _percent_left(five)
    week_pct = _percent_left(week)
    limit = _status_credit_limit(clean, now, tz)
    if balance is None and five_pct is None and week_pct is None and limit is None:
        raise ParseError("Codex /status output has no credits or limits")
    primary, secondary = normalize_lanes(
        _status_window(five_pct, SESSION_MINUTES, _reset_text(five) if five else None, now, tz),
        _status_window(week_pct, WEEKLY_MINUTES, _reset_text(week) if week else None, now, tz),
    )
    return _assemble(primary, secondary, [], credits_of(balance, limit), limit, None)

