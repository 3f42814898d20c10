"""Codex parsing: fixture payloads → exact snapshot values (pure, no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from codexbard.errors import AuthRequired, ParseError, Timeout, Unavailable, Unsupported
from codexbard.models import Credits, Identity, NamedWindow, RateWindow, WindowValue
from codexbard.providers.codex import parse as P
from tests.helpers import fixture_bytes

NOW = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
T5H = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)  # 1772445600
T7D = datetime(2026, 3, 6, 23, 23, 10, tzinfo=UTC)  # 1772839390
TMONTH = datetime(2026, 3, 31, 21, 0, 0, tzinfo=UTC)  # 1774990800


def load(name: str) -> Any:
    return json.loads(fixture_bytes(__file__, name))


def text(name: str) -> str:
    return fixture_bytes(__file__, name).decode()


def usage(name: str, **kwargs: Any) -> P.CodexUsage:
    return P.parse_usage(load(name), now=NOW, tz=UTC, **kwargs)


def session(used: float, resets: datetime | None = T5H, desc: str | None = "10:00") -> RateWindow:
    return RateWindow(used_percent=used, window_minutes=300, resets_at=resets, reset_description=desc,
                      label="Session")


def weekly(used: float, resets: datetime | None = T7D, desc: str | None = "Mar 6, 23:23") -> RateWindow:
    return RateWindow(used_percent=used, window_minutes=10080, resets_at=resets, reset_description=desc,
                      label="Weekly")


# --- wham/usage --------------------------------------------------------------------------------------------


def test_full_payload() -> None:
    result = usage("usage_full.json", email="sam.rivera@example.org")
    snap = result.snapshot
    assert snap.primary == session(37.0)
    assert snap.secondary == weekly(12.0)
    assert snap.tertiary is None
    assert snap.extra_rate_windows == [
        NamedWindow(id="codex-spark", title="Codex Spark 5-hour", window=WindowValue(
            used_percent=3.0, window_minutes=300, resets_at=T5H, reset_description="10:00")),
        NamedWindow(id="codex-spark-weekly", title="Codex Spark Weekly", window=WindowValue(
            used_percent=1.0, window_minutes=10080, resets_at=T7D, reset_description="Mar 6, 23:23")),
    ]
    assert snap.credits == Credits(remaining=42.75, total=None, unit="credits")
    assert snap.identity == Identity(account_email="sam.rivera@example.org", login_method="Plus")
    assert result.plan_type == "plus"
    assert result.account_id == "acct-synthetic-7f3a"
    assert result.email == "sam.rivera@example.org"
    assert result.degraded is False
    assert result.credit_limit is None


def test_wire_shape_of_a_window() -> None:
    wire = usage("usage_full.json").snapshot.wire()
    assert wire["primary"] == {"usedPercent": 37.0, "windowMinutes": 300, "resetsAt": "2026-03-02T10:00:00Z",
                               "resetDescription": "10:00", "label": "Session"}
    assert wire["identity"] == {"accountEmail": None, "accountOrganization": None, "loginMethod": "Plus"}


def test_team_weekly_only_with_spend_control() -> None:
    result = usage("usage_team_spend_control.json")
    snap = result.snapshot
    assert snap.primary is None
    assert snap.secondary == weekly(100.0)
    assert result.credit_limit == P.CreditLimit(used=61.5, limit=2500.0, remaining_percent=97.54, resets_at=TMONTH)
    assert snap.credits == Credits(remaining=2438.5, total=2500.0, unit="credits")
    assert snap.extra_rate_windows == [NamedWindow(
        id="codex-monthly-credit-limit", title="Monthly credit limit",
        window=WindowValue(used_percent=100.0 - 97.54, resets_at=TMONTH))]
    assert snap.identity == Identity(login_method="Team")
    assert result.spend_control_present is True
    assert result.wants_monthly_usage is False


@pytest.mark.parametrize(
    ("fixture", "primary", "secondary"),
    [
        # Free plan: the weekly window arrives in primary_window with secondary_window null.
        ("usage_free_weekly_in_primary.json", None, weekly(64.0)),
        ("usage_reversed.json", session(55.0), weekly(20.0)),
        ("usage_secondary_only_session.json", session(44.0), None),
        ("usage_secondary_only_weekly.json", None, weekly(71.0)),
        ("usage_weekly_weekly.json", weekly(5.0), weekly(6.0)),
    ],
)
def test_windows_are_classified_by_length(fixture: str, primary: RateWindow | None,
                                          secondary: RateWindow | None) -> None:
    snap = usage(fixture).snapshot
    assert snap.primary == primary
    assert snap.secondary == secondary


def test_unknown_length_stays_primary() -> None:
    nine_hours = RateWindow(used_percent=9.0, window_minutes=540, resets_at=T5H, reset_description="10:00",
                            label="Session")
    assert usage("usage_unknown_primary.json").snapshot.primary == nine_hours
    assert usage("usage_unknown_primary.json").snapshot.secondary is None
    both = usage("usage_unknown_and_weekly.json").snapshot
    assert (both.primary, both.secondary) == (nine_hours, weekly(30.0))
    swapped = usage("usage_weekly_and_unknown.json").snapshot
    assert (swapped.primary, swapped.secondary) == (nine_hours, weekly(30.0))


def test_thirty_day_window_is_labelled_monthly() -> None:
    snap = usage("usage_monthly_30d.json").snapshot
    assert snap.primary == RateWindow(used_percent=18.0, window_minutes=43200, resets_at=TMONTH,
                                      reset_description="Mar 31, 21:00", label="Monthly")
    assert snap.secondary is None


def test_bad_used_percent_drops_only_that_window() -> None:
    result = usage("usage_bad_used_percent.json")
    assert result.snapshot.primary is None
    assert result.snapshot.secondary == weekly(12.0)
    assert result.degraded is True
    assert result.snapshot.credits == Credits(remaining=0.0, unit="credits")  # "0E-10"


def test_window_missing_reset_is_dropped() -> None:
    result = usage("usage_missing_reset.json")
    assert result.snapshot.primary is None
    assert result.snapshot.secondary == weekly(12.0)
    assert result.degraded is True


def test_floats_over_100_percent_and_epoch_ms() -> None:
    snap = usage("usage_float_numbers.json").snapshot
    assert snap.primary == session(37.5)
    assert snap.secondary == weekly(112.0)  # never clamped; epoch ms read as ms


@pytest.mark.parametrize(
    ("fixture", "credits"),
    [
        ("usage_balance_list.json", None),
        ("usage_balance_number.json", Credits(remaining=14.5, unit="credits")),
        ("usage_free_weekly_in_primary.json", Credits(remaining=0.0, unit="credits")),
    ],
)
def test_balance_variants(fixture: str, credits: Credits | None) -> None:
    assert usage(fixture).snapshot.credits == credits


def test_credits_only_is_a_partial_result() -> None:
    snap = usage("usage_credits_only.json").snapshot
    assert (snap.primary, snap.secondary) == (None, None)
    assert snap.credits == Credits(remaining=21.0, unit="credits")


@pytest.mark.parametrize("fixture", ["usage_empty.json", "usage_both_windows_bad.json"])
def test_no_rate_limits_is_a_parse_error(fixture: str) -> None:
    with pytest.raises(ParseError, match="no rate limits"):
        usage(fixture)


def test_reset_credits_keep_an_empty_result() -> None:
    snap = usage("usage_empty.json", has_reset_credits=True).snapshot
    assert (snap.primary, snap.secondary, snap.credits) == (None, None, None)


def test_root_must_be_an_object() -> None:
    with pytest.raises(ParseError, match="not a JSON object"):
        usage("usage_root_array.json")


def test_unknown_plan_is_kept() -> None:
    result = usage("usage_prolite.json", fallback_plan="plus")
    assert result.plan_type == "prolite"
    assert result.snapshot.identity == Identity(login_method="Pro 5x")


def test_fallback_plan_from_the_token() -> None:
    payload = load("usage_full.json") | {"plan_type": None}
    result = P.parse_usage(payload, email=" sam@example.org ", fallback_plan="pro", now=NOW, tz=UTC)
    assert result.snapshot.identity == Identity(account_email="sam@example.org", login_method="Pro 20x")


def test_extra_windows_mixed() -> None:
    result = usage("usage_extras_mixed.json")
    assert result.degraded is True
    assert result.snapshot.extra_rate_windows == [
        # A 7-day window in Spark's primary slot is re-classified by length.
        NamedWindow(id="codex-spark-weekly", title="Codex Spark Weekly", window=WindowValue(
            used_percent=70.0, window_minutes=10080, resets_at=T7D, reset_description="Mar 6, 23:23")),
        NamedWindow(id="codex-spark", title="Codex Spark 5-hour", window=WindowValue(
            used_percent=20.0, window_minutes=300, resets_at=None)),
        NamedWindow(id="codex-code-review", title="GPT-5 Reviews", window=WindowValue(
            used_percent=15.5, window_minutes=None, resets_at=None)),
    ]


def test_extra_windows_not_an_array() -> None:
    result = usage("usage_extras_not_array.json")
    assert result.snapshot.extra_rate_windows == []
    assert result.snapshot.primary == session(10.0)


def test_credit_limit_precedence_and_strings() -> None:
    result = usage("usage_limit_precedence.json")
    # Root `individualLimit` wins over rate_limit.individual_limit and spend_control.
    assert result.credit_limit == P.CreditLimit(used=250.0, limit=1000.0, remaining_percent=75.0, resets_at=TMONTH)
    assert result.snapshot.credits == Credits(remaining=750.0, total=1000.0, unit="credits")
    assert result.snapshot.extra_rate_windows[0].window.used_percent == 25.0


def test_credit_limit_overspent_is_clamped() -> None:
    limit = usage("usage_limit_overspent.json").credit_limit
    assert limit == P.CreditLimit(used=130.0, limit=100.0, remaining_percent=0.0, resets_at=None)
    assert limit.remaining == 0.0
    assert limit.used_percent == 100.0


def test_unusable_limits_are_ignored() -> None:
    result = usage("usage_limit_zero.json")
    assert result.credit_limit is None
    assert result.snapshot.credits is None
    assert result.spend_control_present is True
    assert result.wants_monthly_usage is True  # a team plan with spend_control and no usable limit


def test_monthly_usage_follow_up() -> None:
    limit = P.monthly_usage_limit(load("monthly_usage.json"))
    assert limit == P.CreditLimit(used=812.4, limit=5000.0, remaining_percent=100.0 - 812.4 / 5000.0 * 100.0)
    assert P.monthly_usage_limit(load("monthly_usage_off.json")) is None
    assert P.monthly_usage_limit([]) is None
    merged = P.with_credit_limit(usage("usage_limit_zero.json"), limit)
    assert merged.snapshot.credits == Credits(remaining=5000.0 - 812.4, total=5000.0, unit="credits")
    assert [w.id for w in merged.snapshot.extra_rate_windows] == ["codex-monthly-credit-limit"]


@pytest.mark.parametrize(
    ("raw", "remaining_pct", "used"),
    [
        ({"limit": 200, "remaining_percent": 150}, 100.0, 0.0),
        ({"limit": 200, "remainingPercent": 40}, 40.0, 120.0),
        ({"limit": 200}, 100.0, 0.0),
        ({"limit": 200, "used": -5}, 100.0, 0.0),
    ],
)
def test_credit_limit_rules(raw: dict[str, Any], remaining_pct: float, used: float) -> None:
    limit = P.credit_limit(P.LimitObject.model_validate(raw))
    assert limit is not None
    assert (limit.remaining_percent, limit.used) == (remaining_pct, used)


# --- plan names, descriptions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [("pro", "Pro 20x"), ("PRO", "Pro 20x"), ("prolite", "Pro 5x"), ("pro_lite", "Pro 5x"), ("Pro Lite", "Pro 5x"),
     ("free_workspace", "Free Workspace"), ("k12", "K12"), ("cbp", "CBP"), ("plus", "Plus"),
     ("enterprise-edu", "Enterprise Edu"), ("  ", None), (None, None)],
)
def test_plan_display_name(raw: str | None, shown: str | None) -> None:
    assert P.plan_display_name(raw) == shown


def test_reset_description_in_the_local_zone() -> None:
    berlin = timezone(timedelta(hours=1))
    assert P.reset_description(T5H, NOW, berlin) == "11:00"
    assert P.reset_description(NOW + timedelta(hours=20), NOW, berlin) == "tomorrow, 05:00"
    assert P.reset_description(T7D, NOW, berlin) == "Mar 7, 00:23"
    assert P.reset_description(None, NOW, berlin) is None
    assert P.reset_description(T5H, None) is None


# --- RPC --------------------------------------------------------------------------------------------------


def test_rpc_rate_limits_and_account() -> None:
    result = P.parse_rpc_rate_limits(load("rpc_rate_limits.json"), load("rpc_account_chatgpt.json"), now=NOW, tz=UTC)
    snap = result.snapshot
    assert snap.primary == session(37.5)
    assert snap.secondary == weekly(12.0)
    assert snap.credits == Credits(remaining=42.75, unit="credits")
    assert snap.identity == Identity(account_email="sam.rivera@example.org", login_method="Plus")
    assert result.limits_unavailable is False


@pytest.mark.parametrize("account", ["rpc_account_apikey.json", "rpc_account_other.json", None])
def test_rpc_identity_falls_back_to_the_bucket_plan(account: str | None) -> None:
    raw = load(account) if account else None
    result = P.parse_rpc_rate_limits(load("rpc_rate_limits.json"), raw, now=NOW, tz=UTC)
    assert result.snapshot.identity == Identity(login_method="Plus")


def test_rpc_chatgpt_account_without_fields_is_unknown() -> None:
    result = P.parse_rpc_rate_limits(load("rpc_rate_limits.json"), load("rpc_account_chatgpt_bare.json"))
    assert result.snapshot.identity == Identity(account_email="unknown", login_method="Unknown")


def test_rpc_weekly_in_primary_without_reset() -> None:
    snap = P.parse_rpc_rate_limits(load("rpc_rate_limits_weekly_only.json"), now=NOW, tz=UTC).snapshot
    assert snap.primary is None
    assert snap.secondary == weekly(81.0, resets=None, desc=None)


def test_rpc_plan_only_is_identity_only_and_unavailable() -> None:
    result = P.parse_rpc_rate_limits(load("rpc_rate_limits_plan_only.json"))
    assert result.limits_unavailable is True
    assert result.snapshot.identity == Identity(login_method="Free")
    assert (result.snapshot.primary, result.snapshot.secondary, result.snapshot.credits) == (None, None, None)


def test_rpc_credits_only_unparseable_balance_is_zero() -> None:
    result = P.parse_rpc_rate_limits(load("rpc_rate_limits_credits_only.json"))
    assert result.snapshot.credits == Credits(remaining=0.0, unit="credits")
    assert result.limits_unavailable is False


def test_rpc_nothing_at_all_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="no rate limits"):
        P.parse_rpc_rate_limits({"rateLimits": {}})
    with pytest.raises(ParseError, match="without a rateLimits object"):
        P.parse_rpc_rate_limits(load("rpc_rate_limits_missing.json"))
    with pytest.raises(ParseError):
        P.parse_rpc_rate_limits("garbage")


def test_rpc_credit_limit_from_sorted_buckets() -> None:
    result = P.parse_rpc_rate_limits(load("rpc_rate_limits_buckets.json"), now=NOW, tz=UTC)
    assert result.credit_limit == P.CreditLimit(used=250.0, limit=1000.0, remaining_percent=75.0, resets_at=TMONTH,
                                                title="Alpha monthly credits")
    assert result.snapshot.extra_rate_windows == [NamedWindow(
        id="codex-monthly-credit-limit", title="Alpha monthly credits",
        window=WindowValue(used_percent=25.0, resets_at=TMONTH))]
    assert result.snapshot.credits == Credits(remaining=750.0, total=1000.0, unit="credits")


def test_rpc_cli_version() -> None:
    assert P.rpc_cli_version({"userAgent": "codex_cli_rs/0.41.0 (Linux 6.8; x86_64) xterm"}) == "0.41.0"
    assert P.rpc_cli_version({"userAgent": "codex_cli_rs/0.0.0-synthetic"}) == "0.0.0-synthetic"
    assert P.rpc_cli_version({}) is None
    assert P.rpc_cli_version(None) is None


def test_rpc_error_body_recovery() -> None:
    message = text("rpc_error_body.txt")
    result = P.recover_rpc_error_body(message, now=NOW, tz=UTC)
    assert result is not None
    assert result.snapshot.primary == session(23.0)
    assert result.snapshot.secondary == weekly(48.0)
    assert result.snapshot.credits == Credits(remaining=0.0, unit="credits")
    assert result.snapshot.identity == Identity(account_email="sam.rivera@example.org", login_method="Pro 5x")
    assert P.rpc_error_message({"id": 2, "error": {"message": message}}) == message
    assert P.rpc_error_message({"id": 2, "result": {}}) is None


def test_rpc_error_body_with_broken_session_keeps_only_credits() -> None:
    result = P.recover_rpc_error_body(text("rpc_error_body_bad_session.txt"))
    assert result is not None
    assert (result.snapshot.primary, result.snapshot.secondary) == (None, None)
    assert result.snapshot.credits == Credits(remaining=7.5, unit="credits")


@pytest.mark.parametrize("message", ["plain failure", "body=", "body={not json}", 'body={"a": "unterminated'])
def test_rpc_error_without_a_body(message: str) -> None:
    assert P.recover_rpc_error_body(message) is None


def test_extract_json_object_tracks_strings() -> None:
    assert P.extract_json_object('x body={"a": "}{\\"", "b": {"c": 1}} tail') == '{"a": "}{\\"", "b": {"c": 1}}'


def test_rpc_auth_errors_explained_by_config() -> None:
    msg = "codex account authentication required to read rate limits"
    bedrock = P.explain_rpc_auth_error(msg, {"model_provider": "amazon-bedrock"})
    assert isinstance(bedrock, Unavailable) and "Amazon Bedrock" in bedrock.message
    named = P.explain_rpc_auth_error(msg, {"model_provider": "corp",
                                           "model_providers": {"corp": {"name": "Corp Bedrock proxy"}}})
    assert named is not None and "Amazon Bedrock" in named.message
    custom = P.explain_rpc_auth_error(msg, {"model_provider": "ollama"})
    assert custom is not None and "custom provider" in custom.message
    assert P.explain_rpc_auth_error(msg, {"model_provider": "openai"}) is None
    assert P.explain_rpc_auth_error(msg, {"model_provider": "proxy",
                                          "model_providers": {"proxy": {"requires_openai_auth": True}}}) is None
    assert P.explain_rpc_auth_error("other failure", {"model_provider": "ollama"}) is None
    plain = P.rpc_failure("account/rateLimits/read", "boom with Bearer abcdefghijkl", config=None)
    assert isinstance(plain, Unavailable)
    assert plain.message == "Codex app-server account/rateLimits/read failed: boom with Bearer ***"


# --- /status text -----------------------------------------------------------------------------------------


def test_status_screen() -> None:
    snap = P.parse_status_text(text("status_screen.txt"), now=NOW, tz=UTC)
    assert snap.primary == RateWindow(used_percent=42.0, window_minutes=300,
                                      resets_at=datetime(2026, 3, 2, 14, 5, tzinfo=UTC),
                                      reset_description="14:05", label="Session")
    assert snap.secondary == RateWindow(used_percent=19.0, window_minutes=10080,
                                        resets_at=datetime(2026, 3, 7, 9, 30, tzinfo=UTC),
                                        reset_description="09:30 on 7 Mar", label="Weekly")
    assert snap.extra_rate_windows == [NamedWindow(
        id="codex-monthly-credit-limit", title="Monthly credit limit",
        window=WindowValue(used_percent=8.0, resets_at=datetime(2026, 4, 1, 8, 0, tzinfo=UTC)))]
    assert snap.credits == Credits(remaining=50000.0 - 3880.0, total=50000.0, unit="credits")


def test_status_weekly_only_and_european_number() -> None:
    snap = P.parse_status_text(text("status_weekly_only.txt"), now=NOW, tz=UTC)
    assert snap.primary is None
    assert snap.secondary == RateWindow(used_percent=60.0, window_minutes=10080,
                                        resets_at=datetime(2026, 3, 7, 9, 30, tzinfo=UTC),
                                        reset_description="09:30 on Mar 7", label="Weekly")
    assert snap.credits == Credits(remaining=1204.5, unit="credits")


@pytest.mark.parametrize(
    ("fixture", "error", "match"),
    [
        ("status_update.txt", Unavailable, "update needed"),
        ("status_not_ready.txt", ParseError, "not available yet"),
        ("status_empty.txt", Timeout, "printed nothing"),
        ("status_nothing.txt", ParseError, "no credits or limits"),
    ],
)
def test_status_failures(fixture: str, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        P.parse_status_text(text(fixture), now=NOW, tz=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("14:05", datetime(2026, 3, 2, 14, 5, tzinfo=UTC)),
        ("7:59", datetime(2026, 3, 3, 7, 59, tzinfo=UTC)),  # already past today → tomorrow
        ("(09:30 on 7 Mar)", datetime(2026, 3, 7, 9, 30, tzinfo=UTC)),
        ("09:30 on  Mar 7", datetime(2026, 3, 7, 9, 30, tzinfo=UTC)),
        ("09:30 on 1 Feb", datetime(2027, 2, 1, 9, 30, tzinfo=UTC)),  # past → next year
        ("09:30 on 31 Feb", None),
        ("25:00", None),
        ("soon", None),
        (None, None),
    ],
)
def test_reset_text(raw: str | None, expected: datetime | None) -> None:
    assert P.parse_reset_text(raw, NOW, UTC) == expected


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1,204", 1204.0), ("1.204,5", 1204.5), ("14.5", 14.5), ("1.204", 1204.0), ("3,5", 3.5),
     ("50 000", 50000.0), ("1,204.75", 1204.75), ("", None)],
)
def test_text_number(raw: str, value: float | None) -> None:
    assert P.text_number(raw) == value


# --- credentials ----------------------------------------------------------------------------------------

ID_CLAIMS: dict[str, Any] = {
    "email": "sam.rivera@example.org",
    "https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": "acct-synthetic-7f3a"},
    "https://api.openai.com/profile": {"email": "sam.rivera@example.org"},
}


def test_oauth_credentials_from_auth_file() -> None:
    creds = P.oauth_credentials(P.read_auth_file(load("auth_oauth.json")))
    assert creds.access_token == "eyJhbGciOiJSUzI1NiJ9.SYNTHETIC-ACCESS-PAYLOAD.sig"
    assert creds.refresh_token == "rt_synthetic_0123456789"
    assert creds.id_token == "eyJhbGciOiJSUzI1NiJ9.SYNTHETIC-ID-PAYLOAD.sig"
    assert creds.account_id == "acct-synthetic-7f3a"
    assert creds.last_refresh == datetime(2026, 3, 2, 8, 15, 42, 123000, tzinfo=UTC)
    assert "rt_synthetic" not in repr(creds)


def test_camel_case_tokens_and_account_from_claims() -> None:
    auth = P.read_auth_file(load("auth_camel.json"))
    assert auth.personal_access_token == "pat-synthetic"
    creds = P.oauth_credentials(auth, id_claims={"chatgpt_account_id": ""},
                                access_claims={"organizations": [{"id": ""}, {"id": "org-2"}]})
    assert (creds.access_token, creds.refresh_token, creds.account_id) == ("access-camel", "refresh-camel", "org-2")


def test_snake_case_wins() -> None:
    creds = P.oauth_credentials(P.read_auth_file(load("auth_both_spellings.json")), id_claims=ID_CLAIMS)
    assert (creds.access_token, creds.refresh_token, creds.account_id) == (
        "access-snake", "refresh-snake", "acct-synthetic-7f3a")


def test_api_key_mode_is_unsupported() -> None:
    with pytest.raises(Unsupported, match="API key") as caught:
        P.oauth_credentials(P.read_auth_file(load("auth_api_key.json")))
    assert "sk-synthetic" not in caught.value.message


def test_tokens_win_over_an_api_key() -> None:
    creds = P.oauth_credentials(P.read_auth_file(load("auth_api_key_and_tokens.json")))
    assert creds.access_token == "access-synthetic"


@pytest.mark.parametrize("fixture", ["auth_no_refresh_token.json", "auth_empty.json"])
def test_no_usable_tokens(fixture: str) -> None:
    with pytest.raises(AuthRequired, match="codex login"):
        P.oauth_credentials(P.read_auth_file(load(fixture)))


def test_auth_file_must_be_an_object() -> None:
    with pytest.raises(ParseError, match="not a JSON object"):
        P.read_auth_file(load("auth_list.json"))


def test_identity_from_claims() -> None:
    assert P.identity_from_claims(ID_CLAIMS) == Identity(account_email="sam.rivera@example.org", login_method="Plus")
    fallback = {"https://api.openai.com/profile": {"email": "p@example.org"}, "chatgpt_plan_type": "pro"}
    assert P.identity_from_claims(fallback) == Identity(account_email="p@example.org", login_method="Pro 20x")
    assert P.identity_from_claims({}) is None
    assert P.identity_from_claims(None) is None


def test_staleness() -> None:
    creds = P.oauth_credentials(P.read_auth_file(load("auth_oauth.json")))
    refreshed = datetime(2026, 3, 2, 8, 15, 42, 123000, tzinfo=UTC)
    assert P.needs_refresh(creds, refreshed + timedelta(days=8)) is False
    assert P.needs_refresh(creds, refreshed + timedelta(days=8, seconds=1)) is True
    no_date = P.oauth_credentials(P.read_auth_file(load("auth_both_spellings.json")))
    assert P.needs_refresh(no_date, NOW) is True


def test_opencode_credentials_and_expiry() -> None:
    creds = P.opencode_credentials(load("opencode_auth.json"))
    assert creds is not None
    assert (creds.access_token, creds.refresh_token, creds.account_id, creds.external) == (
        "oc-access", "oc-refresh", "acct-oc", True)
    assert creds.expires_at == T5H
    assert P.needs_refresh(creds, T5H - timedelta(seconds=61)) is False
    assert P.needs_refresh(creds, T5H - timedelta(seconds=60)) is True
    assert P.opencode_credentials({"openai": {"type": "api", "access": "x"}}) is None
    assert P.opencode_credentials({"openai": {"type": "oauth"}}) is None


def test_refresh_helpers() -> None:
    body = P.refresh_request_body("rt")
    assert body == {"client_id": "app_EMoamEEZ73f0CkXaXp7hrann", "grant_type": "refresh_token",
                    "refresh_token": "rt", "scope": "openid profile email"}
    old = P.CodexCredentials(access_token="a", refresh_token="r", id_token="i", account_id="acct")
    new = P.refreshed_credentials(old, {"access_token": "a2", "refresh_token": ""}, NOW)
    assert (new.access_token, new.refresh_token, new.id_token, new.account_id, new.last_refresh) == (
        "a2", "r", "i", "acct", NOW)


@pytest.mark.parametrize(
    ("status", "payload", "kind"),
    [
        (400, {"error": {"code": "refresh_token_expired"}}, "expired"),
        (400, {"error": "refresh_token_reused"}, "reused"),
        (400, {"error": "invalid_grant"}, "revoked"),
        (400, {"code": "refresh_token_invalidated"}, "revoked"),
        (401, {"error": {"message": "nope"}}, "expired"),
        (500, "<html>", "invalid"),
    ],
)
def test_refresh_failures(status: int, payload: object, kind: str) -> None:
    assert P.refresh_failure_kind(status, payload) == kind
    error = P.refresh_failure(status, payload)
    assert isinstance(error, Unavailable if kind == "invalid" else AuthRequired)


# --- URLs and config ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "url"),
    [
        ("", "https://chatgpt.com/backend-api/wham/usage"),
        ('chatgpt_base_url = "https://chatgpt.com/"\n', "https://chatgpt.com/backend-api/wham/usage"),
        ("[x]\nchatgpt_base_url='https://chat.openai.com' # comment\n",
         "https://chat.openai.com/backend-api/wham/usage"),
        ('chatgpt_base_url = "http://127.0.0.1:9000/api/"\n', "http://127.0.0.1:9000/api/api/codex/usage"),
        ('#chatgpt_base_url = "http://skipped"\nchatgpt_base_url = "http://127.0.0.1:9/backend-api"\n',
         "http://127.0.0.1:9/backend-api/wham/usage"),
    ],
)
def test_usage_url_from_config(config: str, url: str) -> None:
    assert P.usage_url(P.config_base_url(config)) == url


def test_follow_up_urls() -> None:
    assert P.reset_credits_url() == "https://chatgpt.com/backend-api/wham/rate-limit-reset-credits"
    assert P.monthly_usage_url(None, "acct/7 f") == (
        "https://chatgpt.com/backend-api/accounts/acct%2F7%20f/spend-controls/current-user/monthly-usage")
    assert P.monthly_usage_url("http://127.0.0.1:9/api", "acct") is None


def test_web_helpers() -> None:
    session_json = {"user": {"id": "u1", "name": "Sam", "meta": {"contact": "x@example.org"}},
                    "accounts": [{"email": "sam@example.org"}]}
    assert P.find_email(session_json) == "sam@example.org"
    assert P.find_email({"a": ["no", {"b": "mail me at y@example.org"}]}) == "mail me at y@example.org"
    assert P.find_email({"a": 1}) is None
    assert P.looks_signed_in(["oai-did", "__Secure-next-auth.session-token.0"]) is True
    assert P.looks_signed_in(["_account"]) is True
    assert P.looks_signed_in(["cf_clearance"]) is False
    assert P.same_account(None, "a@example.org") is True
    assert P.same_account("A@Example.org", "a@example.org") is True
    assert P.same_account("a@example.org", "b@example.org") is False
