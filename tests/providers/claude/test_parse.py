"""Claude parsing: OAuth usage/profile, credentials, claude.ai web, status line, HTTP errors — exact values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from codexbard.errors import (
    AuthRequired,
    NotConfigured,
    ParseError,
    ProviderError,
    RateLimited,
    Unavailable,
    Unsupported,
)
from codexbard.models import Credits, Identity, NamedWindow, ProviderCost, RateWindow, UsageSnapshot, WindowValue
from codexbard.providers.claude.parse import (
    choose_organization,
    credentials_from_env,
    format_money,
    format_reset,
    is_terminal_refresh_error,
    is_transient_refresh_error,
    merge_statusline,
    oauth_http_error,
    oauth_login_method,
    parse_account,
    parse_credentials,
    parse_oauth_usage,
    parse_organizations,
    parse_overage,
    parse_prepaid,
    parse_profile,
    parse_statusline,
    parse_token_response,
    parse_web_usage,
    refresh_http_error,
    slug,
    web_http_error,
    web_login_method,
)
from tests.helpers import fixture_bytes

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
R5 = datetime(2026, 3, 2, 14, 0, 0, 512304, tzinfo=UTC)
R7 = datetime(2026, 3, 6, 9, 0, 0, 512331, tzinfo=UTC)
R7_SONNET = datetime(2026, 3, 6, 9, 0, 0, 512340, tzinfo=UTC)
R7_ROUTINES = datetime(2026, 3, 6, 9, 0, 0, 512349, tzinfo=UTC)
R7_FABLE = datetime(2026, 3, 6, 9, 0, 0, 512360, tzinfo=UTC)
R5_PLAIN = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
R7_PLAIN = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
ACCESS = "sk-ant-oat01-SYNTHETIC-access-token"
REFRESH = "sk-ant-ort01-SYNTHETIC-refresh-token"
ORIGIN = "~/.claude/.credentials.json"


def load(name: str) -> Any:
    return json.loads(fixture_bytes(__file__, name))


def session(
    used: float, resets: datetime | None = R5, minutes: int = 300, desc: str | None = "Mar 2 at 2:00PM"
) -> RateWindow:
    return RateWindow(used_percent=used, window_minutes=minutes, resets_at=resets,
                      reset_description=desc if resets else None, label="Session")


def weekly(
    used: float, resets: datetime | None = R7, label: str = "Weekly", desc: str = "Mar 6 at 9:00AM"
) -> RateWindow:
    return RateWindow(used_percent=used, window_minutes=10080, resets_at=resets,
                      reset_description=desc if resets else None, label=label)


def extra(window_id: str, title: str, used: float, resets: datetime | None, desc: str | None) -> NamedWindow:
    return NamedWindow(id=window_id, title=title, window=WindowValue(
        used_percent=used, window_minutes=10080, resets_at=resets, reset_description=desc))


MAX20 = Identity(login_method="Claude Max 20x")


def oauth(name: str, **kwargs: Any) -> UsageSnapshot:
    kwargs.setdefault("subscription_type", "max")
    kwargs.setdefault("rate_limit_tier", "default_claude_max_20x")
    return parse_oauth_usage(load(name), tz=UTC, **kwargs)


# --- OAuth usage ------------------------------------------------------------------------------------------------------

OAUTH_CASES: list[tuple[str, UsageSnapshot]] = [
    # The sheet's example: all three windows, the Fable scoped window before Daily Routines, Extra usage in cents.
    ("usage_full.json", UsageSnapshot(
        primary=session(23.0), secondary=weekly(41.0), tertiary=weekly(9.0, R7_SONNET, "Sonnet"),
        extra_rate_windows=[
            extra("claude-weekly-scoped-fable", "Fable only", 17.0, R7_FABLE, "Mar 6 at 9:00AM"),
            extra("claude-routines", "Daily Routines", 0.0, R7_ROUTINES, "Mar 6 at 9:00AM"),
        ],
        provider_cost=ProviderCost(used=12.75, limit=50.0, currency_code="USD", period="Monthly cap"),
        identity=MAX20)),
    ("usage_only_five_hour.json", UsageSnapshot(primary=session(12.0, R5_PLAIN), identity=MAX20)),
    # Sheet edge case 1: five_hour missing -> primary falls back to seven_day (10080 min), duplicating weekly.
    ("usage_no_five_hour.json", UsageSnapshot(
        primary=session(41.0, R7_PLAIN, 10080, "Mar 6 at 9:00AM"), secondary=weekly(41.0, R7_PLAIN),
        tertiary=weekly(9.0, R7_PLAIN, "Sonnet"), identity=MAX20)),
    # five_hour with a null utilization; seven_day null -> the next usable fallback is seven_day_oauth_apps.
    ("usage_five_hour_null_utilization.json", UsageSnapshot(
        primary=session(5.5, R7_PLAIN, 10080, "Mar 6 at 9:00AM"), identity=MAX20)),
    # Sheet edge case 1: only extra_usage -> derived spend-limit primary, cents converted 1840/5000 -> 18.40/50.00.
    ("usage_enterprise_spend.json", UsageSnapshot(
        primary=RateWindow(used_percent=36.8, window_minutes=None, resets_at=None,
                           reset_description="Spend limit: $18.40 / $50.00", label="Session"),
        provider_cost=ProviderCost(used=18.4, limit=50.0, currency_code="USD", period="Spend limit"),
        identity=MAX20)),
    # The spend-limit window prefers extra_usage.utilization, clamped to 100; extra windows still come along.
    ("usage_enterprise_spend_utilization.json", UsageSnapshot(
        primary=RateWindow(used_percent=100.0, window_minutes=None, resets_at=None,
                           reset_description="Spend limit: $18.40 / $50.00", label="Session"),
        extra_rate_windows=[extra("claude-routines", "Daily Routines", 3.0, R7_PLAIN, "Mar 6 at 9:00AM")],
        provider_cost=ProviderCost(used=18.4, limit=50.0, currency_code="USD", period="Spend limit"),
        identity=MAX20)),
    # seven_day_sonnet/opus null while the model limit is only in limits[]: an extra window, tertiary null.
    ("usage_model_only_in_limits.json", UsageSnapshot(
        primary=session(50.0), secondary=weekly(60.0),
        extra_rate_windows=[extra("claude-weekly-scoped-claude-sonnet-4", "Sonnet only", 31.5, R7_PLAIN,
                                  "Mar 6 at 9:00AM")],
        identity=MAX20)),
    # Sheet edge case 2: the all-models scoped entry is skipped; seven_day_cowork used when routines aliases are null.
    ("usage_scoped_and_routines_alias.json", UsageSnapshot(
        primary=session(10.0), secondary=weekly(20.0),
        extra_rate_windows=[
            extra("claude-weekly-scoped-fable", "Fable only", 17.0, R7_PLAIN, "Mar 6 at 9:00AM"),
            extra("claude-routines", "Daily Routines", 6.0, R7_PLAIN, "Mar 6 at 9:00AM"),
        ],
        identity=MAX20)),
    # limits[] rules: id slug from model.id, first id wins, all-models ids skipped, string/blank/wrong entries dropped,
    # is_active not a filter, percent not clamped.
    ("usage_limits_edge.json", UsageSnapshot(
        primary=session(10.0),
        extra_rate_windows=[
            extra("claude-weekly-scoped-claude-opus-4-1", "Opus 4.1 only", 7.0, None, None),
            extra("claude-weekly-scoped-haiku-max", "Haiku Max only", 150.0, R7_PLAIN, "Mar 6 at 9:00AM"),
        ],
        identity=MAX20)),
    # Windows without resets_at; usedPercent is not clamped (100.5); seven_day_opus is the model window.
    ("usage_no_resets.json", UsageSnapshot(
        primary=session(0.0, None), secondary=weekly(100.5, None), tertiary=weekly(2.0, None, "Sonnet"),
        identity=MAX20)),
    ("usage_extra_eur.json", UsageSnapshot(
        primary=session(1.0),
        provider_cost=ProviderCost(used=1.5, limit=20.0, currency_code="EUR", period="Monthly cap"), identity=MAX20)),
    ("usage_extra_no_currency.json", UsageSnapshot(
        primary=session(1.0),
        provider_cost=ProviderCost(used=0.0, limit=20.0, currency_code="USD", period="Monthly cap"), identity=MAX20)),
    ("usage_extra_large_cents.json", UsageSnapshot(
        primary=session(1.0),
        provider_cost=ProviderCost(used=9999.99, limit=10000.0, currency_code="USD", period="Monthly cap"),
        identity=MAX20)),
    ("usage_extra_disabled.json", UsageSnapshot(primary=session(1.0), identity=MAX20)),
    ("usage_opus_legacy.json", UsageSnapshot(
        primary=session(30.0), secondary=weekly(40.0), tertiary=weekly(12.0, R7, "Sonnet"), identity=MAX20)),
    # A seven_day_sonnet object with null utilization wins over seven_day_opus and leaves tertiary null.
    ("usage_sonnet_null_utilization.json", UsageSnapshot(primary=session(30.0), identity=MAX20)),
    # Wrong JSON types read as missing: string/bool utilization, a string window, unparsable reset, limits object.
    ("usage_bad_types.json", UsageSnapshot(
        primary=session(9.0, None, 10080), tertiary=weekly(9.0, None, "Sonnet"), identity=MAX20)),
]


@pytest.mark.parametrize(("fixture", "expected"), OAUTH_CASES, ids=[c[0] for c in OAUTH_CASES])
def test_oauth_usage(fixture: str, expected: UsageSnapshot) -> None:
    assert oauth(fixture) == expected


def test_oauth_full_wire_form() -> None:
    wire = oauth("usage_full.json").wire()
    assert wire["primary"] == {"usedPercent": 23.0, "windowMinutes": 300, "resetsAt": "2026-03-02T14:00:00Z",
                               "resetDescription": "Mar 2 at 2:00PM", "label": "Session"}
    assert wire["tertiary"]["label"] == "Sonnet"
    assert [w["id"] for w in wire["extraRateWindows"]] == ["claude-weekly-scoped-fable", "claude-routines"]
    assert wire["providerCost"] == {"used": 12.75, "limit": 50.0, "currencyCode": "USD", "period": "Monthly cap",
                                    "resetsAt": None, "balance": None, "updatedAt": None}


def test_reset_description_is_local_time() -> None:
    chicago = timezone(timedelta(hours=-6))
    snapshot = parse_oauth_usage(load("usage_full.json"), tz=chicago)
    assert snapshot.primary is not None and snapshot.primary.reset_description == "Mar 2 at 8:00AM"
    assert snapshot.secondary is not None and snapshot.secondary.reset_description == "Mar 6 at 3:00AM"


def test_enterprise_plan_uses_spend_limit_period() -> None:
    snapshot = oauth("usage_extra_eur.json", subscription_type="enterprise", rate_limit_tier=None)
    assert snapshot.provider_cost == ProviderCost(used=1.5, limit=20.0, currency_code="EUR", period="Spend limit")
    assert snapshot.identity == Identity(login_method="Claude Enterprise")


def test_profile_fills_identity() -> None:
    profile = parse_profile(load("profile_email_address.json"))
    snapshot = oauth("usage_only_five_hour.json", profile=profile)
    assert snapshot.identity == Identity(account_email="sam@example.org", account_organization="Sam's Org",
                                         login_method="Claude Max 20x")


def test_no_plan_no_identity() -> None:
    snapshot = parse_oauth_usage(load("usage_only_five_hour.json"), tz=UTC)
    assert snapshot.identity is None


@pytest.mark.parametrize("fixture", [
    "usage_empty.json", "usage_all_null.json", "usage_extra_disabled_only.json", "usage_enterprise_zero_limit.json",
])
def test_oauth_missing_session_data(fixture: str) -> None:
    with pytest.raises(ParseError, match="missing session data"):
        oauth(fixture)


def test_oauth_not_an_object() -> None:
    with pytest.raises(ParseError, match="not a JSON object"):
        oauth("usage_not_object.json")


@pytest.mark.parametrize(("fixture", "email", "org_uuid", "org_name"), [
    ("profile.json", "jordan.lee@example.net", "org-synthetic-9c", None),
    ("profile_email_address.json", "sam@example.org", "org-1", "Sam's Org"),
    ("profile_root_keys.json", "root@example.com", "org-root", None),
])
def test_profile(fixture: str, email: str, org_uuid: str, org_name: str | None) -> None:
    profile = parse_profile(load(fixture))
    assert (profile.email, profile.organization_uuid, profile.organization_name) == (email, org_uuid, org_name)


def test_profile_not_object() -> None:
    with pytest.raises(ParseError):
        parse_profile(["x"])


# --- Plans, slugs, formatting ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("subscription", "tier", "label"), [
    ("max", "default_claude_max_5x", "Claude Max 5x"),
    ("max", "default_claude_max_20x", "Claude Max 20x"),
    ("max", None, "Claude Max"),
    ("max", "default_claude_max_x", "Claude Max"),
    ("pro", "default_claude_max_20x", "Claude Pro"),
    (None, "default_claude_max_20x", "Claude Max 20x"),
    (None, "default_claude_pro", "Claude Pro"),
    ("team", None, "Claude Team"),
    ("enterprise", None, "Claude Enterprise"),
    ("ultra", None, "Claude Ultra"),
    ("Claude_Max", None, "Claude Max"),
    ("free", "default_raven", None),
    (None, None, None),
])
def test_oauth_login_method(subscription: str | None, tier: str | None, label: str | None) -> None:
    assert oauth_login_method(subscription, tier) == label


@pytest.mark.parametrize(("tier", "billing", "seat", "label"), [
    ("default_claude_max_20x", "stripe_subscription", None, "Claude Max 20x"),
    ("default_claude_ai", "stripe_subscription", None, "Claude Pro"),
    ("default_claude_ai", "apple", None, None),
    ("default_claude_team", "stripe", "team_standard", "Claude Team Standard"),
    ("default_claude_team", "stripe", "team_tier_1", "Claude Team Premium"),
    ("default_claude_team", "stripe", None, "Claude Team"),
    ("default_claude_enterprise", None, None, "Claude Enterprise"),
])
def test_web_login_method(tier: str, billing: str | None, seat: str | None, label: str | None) -> None:
    assert web_login_method(tier, billing, seat) == label


@pytest.mark.parametrize(("text", "expected"), [
    ("Fable", "fable"), ("Claude Opus 4.1", "claude-opus-4-1"), ("  --All  Models--", "all-models"), ("!!!", ""),
])
def test_slug(text: str, expected: str) -> None:
    assert slug(text) == expected


@pytest.mark.parametrize(("amount", "code", "text"), [
    (18.4, "USD", "$18.40"), (1234.5, "eur", "€1,234.50"), (5.0, "CHF", "CHF\u00a05.00"), (1500.0, "JPY", "¥1,500"),
    (-2.0, "USD", "-$2.00"),
])
def test_format_money(amount: float, code: str, text: str) -> None:
    assert format_money(amount, code) == text


def test_format_reset() -> None:
    assert format_reset(datetime(2026, 3, 6, 0, 5, tzinfo=UTC), UTC) == "Mar 6 at 12:05AM"
    assert format_reset(datetime(2026, 12, 31, 12, 0, tzinfo=UTC), UTC) == "Dec 31 at 12:00PM"


# --- Credentials ----------------------------------------------------------------------------------------------------

EXPIRES = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)


def creds(name: str) -> Any:
    return parse_credentials(fixture_bytes(__file__, name), origin=ORIGIN)


def test_credentials_camel_case() -> None:
    c = creds("credentials_full.json")
    assert c.access_token.reveal() == ACCESS
    assert c.refresh_token is not None and c.refresh_token.reveal() == REFRESH
    assert (c.expires_at, c.scopes) == (EXPIRES, ("user:inference", "user:profile"))
    assert (c.subscription_type, c.rate_limit_tier, c.login_method) == ("max", "default_claude_max_5x", "Claude Max 5x")
    assert c.can_read_usage
    assert c.is_expired(EXPIRES) and not c.is_expired(EXPIRES - timedelta(milliseconds=1))
    assert ACCESS not in repr(c) and REFRESH not in repr(c)


def test_credentials_snake_case_and_string_scopes() -> None:
    c = creds("credentials_snake.json")
    assert c.access_token.reveal() == ACCESS  # trimmed
    assert (c.expires_at, c.scopes, c.login_method) == (EXPIRES, ("user:inference", "user:profile"), "Claude Pro")


def test_credentials_missing_refresh_token() -> None:
    c = creds("credentials_no_refresh.json")
    assert c.refresh_token is None and c.login_method == "Claude Team"


def test_credentials_missing_expiry_is_expired() -> None:
    c = creds("credentials_no_expiry.json")
    assert c.expires_at is None and c.is_expired(datetime(2000, 1, 1, tzinfo=UTC))
    assert c.login_method == "Claude Max 20x"


def test_credentials_without_profile_scope() -> None:
    assert not creds("credentials_inference_only.json").can_read_usage


@pytest.mark.parametrize(("fixture", "error", "message"), [
    ("credentials_invalid.json", AuthRequired, "not valid JSON"),
    ("credentials_array.json", AuthRequired, "not a JSON object"),
    ("credentials_no_oauth.json", AuthRequired, "no claudeAiOauth"),
    ("credentials_oauth_not_object.json", AuthRequired, "no claudeAiOauth"),
    ("credentials_empty_token.json", AuthRequired, "empty Claude access token"),
    ("credentials_mcp_only.json", NotConfigured, "only MCP server tokens"),
])
def test_credentials_errors(fixture: str, error: type[ProviderError], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        creds(fixture)
    assert "SYNTHETIC" not in str(info.value) and ORIGIN in str(info.value)


def test_credentials_not_utf8() -> None:
    with pytest.raises(AuthRequired):
        parse_credentials(b"\xff\xfe{", origin=ORIGIN)


def test_env_credentials() -> None:
    c = credentials_from_env(f" {ACCESS} ", None, origin="CODEXBARD_CLAUDE_OAUTH_TOKEN")
    assert c is not None and c.access_token.reveal() == ACCESS
    assert c.scopes == ("user:profile",) and not c.is_expired(NOW) and c.refresh_token is None
    scoped = credentials_from_env(ACCESS, "user:inference, ", origin="env")
    assert scoped is not None and scoped.scopes == ("user:inference",) and not scoped.can_read_usage
    assert credentials_from_env("  ", None, origin="env") is None


def test_token_response() -> None:
    tokens = parse_token_response(load("token_refresh.json"), now=NOW, origin="refresh")
    assert tokens.access_token.reveal() == "sk-ant-oat01-SYNTHETIC-new"
    assert tokens.refresh_token is not None and tokens.refresh_token.reveal() == "sk-ant-ort01-SYNTHETIC-new"
    assert tokens.expires_at == NOW + timedelta(hours=8)
    kept = parse_token_response(load("token_refresh_no_refresh.json"), now=NOW, origin="refresh")
    assert kept.refresh_token is None and kept.expires_at == NOW + timedelta(hours=1)
    with pytest.raises(ParseError):
        parse_token_response(load("token_invalid_grant.json"), now=NOW, origin="refresh")
    with pytest.raises(ParseError):
        parse_token_response("x", now=NOW, origin="refresh")


def test_refresh_errors() -> None:
    grant = fixture_bytes(__file__, "token_invalid_grant.json")
    other = fixture_bytes(__file__, "token_other_error.json")
    assert isinstance(refresh_http_error(400, grant), AuthRequired)
    assert isinstance(refresh_http_error(401, grant), AuthRequired)
    assert is_terminal_refresh_error(400, grant) and not is_transient_refresh_error(400, grant)
    assert isinstance(refresh_http_error(400, other), Unavailable)
    assert is_transient_refresh_error(401, other) and is_transient_refresh_error(400, b"not json")
    assert not is_transient_refresh_error(500, other) and not is_terminal_refresh_error(500, grant)


# --- HTTP errors of the usage endpoint -------------------------------------------------------------------------------


def test_usage_http_errors() -> None:
    assert isinstance(oauth_http_error(401, b""), AuthRequired)
    scope = oauth_http_error(403, b'{"error":{"message":"OAuth token does not meet scope requirement user:profile"}}')
    assert isinstance(scope, AuthRequired) and "user:profile" in scope.message
    forbidden = oauth_http_error(403, b"forbidden for org")
    assert isinstance(forbidden, Unavailable)
    assert forbidden.message == "Claude OAuth error: HTTP 403 - forbidden for org"
    server = oauth_http_error(503, "x" * 1000)
    assert isinstance(server, Unavailable) and server.message.startswith("Claude OAuth error: HTTP 503 - ")
    assert len(server.message) <= len("Claude OAuth error: HTTP 503 - ") + 403
    assert oauth_http_error(502, None).message == "Claude OAuth error: HTTP 502"


def test_usage_http_error_scrubs_the_token() -> None:
    error = oauth_http_error(500, f"bad token {ACCESS}".encode(), secrets=[ACCESS])
    assert ACCESS not in error.message


@pytest.mark.parametrize(("header", "count", "seconds"), [
    ("0", 1, 300.0), (None, 1, 300.0), ("120", 1, 300.0), ("7200", 1, 7200.0), ("garbage", 2, 600.0),
    ("0", 3, 1200.0), ("0", 4, 2400.0), ("0", 5, 3600.0), ("0", 9, 3600.0),
])
def test_usage_429(header: str | None, count: int, seconds: float) -> None:
    error = oauth_http_error(429, b"", retry_after=header, consecutive_429=count, now=NOW)
    assert isinstance(error, RateLimited) and error.retry_after == seconds


def test_web_http_errors() -> None:
    assert isinstance(web_http_error(401), AuthRequired) and isinstance(web_http_error(403), AuthRequired)
    assert web_http_error(500).message == "claude.ai error: HTTP 500" and isinstance(web_http_error(500), Unavailable)


# --- claude.ai web ----------------------------------------------------------------------------------------------------

WEB_SESSION = RateWindow(used_percent=8.0, window_minutes=300, resets_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC),
                         reset_description="Mar 2 at 3:00PM", label="Session")
WEB_WEEKLY = weekly(33.0, R7_PLAIN)
JORDAN = Identity(account_email="jordan.lee@example.net", account_organization="Jordan's Workspace",
                  login_method="Claude Max 20x")


def web(name: str, **kwargs: Any) -> UsageSnapshot:
    org = choose_organization(parse_organizations(load("web_orgs.json")))
    return parse_web_usage(load(name), organization=org, account=parse_account(load("web_account.json")), tz=UTC,
                           **kwargs)


def test_organization_choice() -> None:
    assert choose_organization(parse_organizations(load("web_orgs.json"))).uuid == "org-synthetic-chat"
    assert choose_organization(parse_organizations(load("web_orgs_no_chat.json"))).uuid == "org-other"
    assert choose_organization(parse_organizations(load("web_orgs_api_only.json"))).uuid == "org-api-1"
    orgs = parse_organizations(load("web_orgs.json"))
    assert choose_organization(orgs, " org-synthetic-api ").name == "Build Tools API"
    with pytest.raises(NotConfigured, match="organization_id"):
        choose_organization(orgs, "org-missing")
    with pytest.raises(Unsupported):
        choose_organization([])
    with pytest.raises(ParseError):
        parse_organizations({"uuid": "x"})


def test_web_usage_sheet_example() -> None:
    assert web("web_usage.json") == UsageSnapshot(
        primary=WEB_SESSION, secondary=WEB_WEEKLY,
        # The model window shows the weekly reset (reference behaviour on the web path).
        tertiary=weekly(4.0, R7_PLAIN, "Sonnet"),
        provider_cost=ProviderCost(used=1.5, limit=20.0, currency_code="USD", period="Monthly cap"),
        identity=JORDAN)


def test_web_usage_scoped_routines_and_prepaid() -> None:
    snapshot = web("web_usage_scoped.json", prepaid=parse_prepaid(load("web_prepaid.json")))
    assert snapshot == UsageSnapshot(
        primary=WEB_SESSION, secondary=WEB_WEEKLY,
        # seven_day_sonnet is an object whose utilization is a string (ignored): tertiary stays null, no Opus.
        extra_rate_windows=[
            extra("claude-weekly-scoped-fable", "Fable only", 17.0, R7_PLAIN, None),
            extra("claude-routines", "Daily Routines", 2.0, R7_PLAIN, None),
        ],
        # extra_usage accepted without is_enabled, monthly_limit as a numeric string.
        provider_cost=ProviderCost(used=15.0, limit=30.0, currency_code="USD", period="Monthly cap", balance=75.0),
        credits=Credits(remaining=75.0, unit="USD"),
        identity=JORDAN)


def test_web_five_hour_null_gives_no_session() -> None:
    snapshot = web("web_usage_five_hour_null.json", overage=parse_overage(load("web_overage.json")))
    assert snapshot == UsageSnapshot(
        primary=None, secondary=WEB_WEEKLY,
        provider_cost=ProviderCost(used=24.5, limit=100.0, currency_code="USD", period="Monthly cap"),
        identity=JORDAN)


def test_web_prepaid_in_other_currency_is_not_attached() -> None:
    snapshot = web("web_usage.json", prepaid=parse_prepaid(load("web_prepaid_eur.json")))
    assert snapshot.provider_cost == ProviderCost(used=1.5, limit=20.0, currency_code="USD", period="Monthly cap")
    assert snapshot.credits is None


def test_web_prepaid_without_cost() -> None:
    snapshot = web("web_usage_enterprise.json", prepaid=parse_prepaid(load("web_prepaid_eur.json")))
    assert snapshot.provider_cost == ProviderCost(used=0.0, limit=0.0, currency_code="EUR", period="Extra usage",
                                                  balance=12.34)
    assert snapshot.credits == Credits(remaining=12.34, unit="EUR")
    assert snapshot.primary is None and snapshot.secondary is None


def test_web_nothing_usable() -> None:
    with pytest.raises(ParseError, match="missing session data"):
        web("web_usage_nothing.json")
    with pytest.raises(ParseError):
        web("usage_not_object.json")


def test_web_side_calls() -> None:
    assert parse_overage(load("web_overage.json")) == ProviderCost(
        used=24.5, limit=100.0, currency_code="USD", period="Monthly cap")
    assert parse_overage(load("web_overage_disabled.json")) is None
    assert parse_overage(load("web_overage_no_currency.json")) is None
    assert parse_overage([]) is None
    prepaid = parse_prepaid(load("web_prepaid.json"))
    assert prepaid is not None and (prepaid.amount, prepaid.currency) == (75.0, "USD")
    assert parse_prepaid(load("web_prepaid_negative.json")) is None and parse_prepaid("x") is None
    assert parse_account("x") is None


@pytest.mark.parametrize(("fixture", "identity"), [
    ("web_account_team.json", Identity(account_email="sam@example.org", login_method="Claude Team Premium")),
    ("web_account_stripe_pro.json", Identity(account_email="pat@example.com", login_method="Claude Pro")),
])
def test_web_identity(fixture: str, identity: Identity) -> None:
    snapshot = parse_web_usage(load("web_usage.json"), account=parse_account(load(fixture)), tz=UTC)
    assert snapshot.identity == identity


def test_web_identity_first_membership_when_org_not_member() -> None:
    org = parse_organizations(load("web_orgs_no_chat.json"))[1]
    account = parse_account(load("web_account.json"))
    snapshot = parse_web_usage(load("web_usage.json"), organization=org, account=account, tz=UTC)
    assert snapshot.identity == Identity(account_email="jordan.lee@example.net", account_organization="Other",
                                         login_method=None)


# --- Status line ----------------------------------------------------------------------------------------------------

SL_FIVE = datetime.fromtimestamp(1786099200, tz=UTC)
SL_SEVEN = datetime.fromtimestamp(1786608000, tz=UTC)


def test_statusline_full() -> None:
    snapshot = parse_statusline(load("statusline_full.json"), now=NOW, tz=UTC)
    assert snapshot == UsageSnapshot(
        primary=RateWindow(used_percent=23.5, window_minutes=300, resets_at=SL_FIVE,
                           reset_description="Aug 7 at 10:40AM", label="Session"),
        secondary=RateWindow(used_percent=41.0, window_minutes=10080, resets_at=SL_SEVEN,
                             reset_description="Aug 13 at 8:00AM", label="Weekly"))


@pytest.mark.parametrize("fixture", ["statusline_old.json", "statusline_garbage.json", "statusline_bad_values.json"])
def test_statusline_nothing_usable(fixture: str) -> None:
    assert parse_statusline(load(fixture), now=NOW) is None


@pytest.mark.parametrize("payload", [None, [], "text", 3, {"rate_limits": None}, {"rate_limits": {}}])
def test_statusline_garbage_is_never_an_error(payload: object) -> None:
    assert parse_statusline(payload) is None


def test_statusline_partial_and_past() -> None:
    only = parse_statusline(load("statusline_only_seven_day.json"), now=NOW, tz=UTC)
    assert only is not None and only.primary is None and only.secondary is not None
    assert only.secondary.used_percent == 64.0
    # A window whose reset is already past is left alone.
    assert parse_statusline(load("statusline_full.json"), now=SL_SEVEN) is None
    later = parse_statusline(load("statusline_full.json"), now=SL_FIVE, tz=UTC)
    assert later is not None and later.primary is None and later.secondary is not None
    no_reset = parse_statusline(load("statusline_no_reset.json"), now=NOW)
    assert no_reset == UsageSnapshot(primary=RateWindow(used_percent=105.0, window_minutes=300, label="Session"))


def test_merge_statusline_keeps_polled_values() -> None:
    polled = oauth("usage_full.json")
    update = parse_statusline(load("statusline_only_seven_day.json"), tz=UTC)
    assert update is not None
    merged = merge_statusline(polled, update)
    assert merged.primary == polled.primary and merged.tertiary == polled.tertiary
    assert merged.secondary == update.secondary
    assert merged.extra_rate_windows == polled.extra_rate_windows and merged.identity == polled.identity
    assert merged.provider_cost == polled.provider_cost
    assert merge_statusline(None, update) == update
