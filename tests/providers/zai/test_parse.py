"""z.ai parsing: fixture payload -> exact snapshot values, and every strictness rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from codexbard.errors import AuthRequired, ParseError, ProviderError, Unavailable
from codexbard.models import Credits, Identity, NamedWindow, RateWindow, UsageSnapshot, WindowValue
from codexbard.providers.zai.parse import parse_balance, parse_quota
from tests.helpers import fixture_bytes

SESSION_RESET = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
WEEKLY_RESET = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
MONTH_RESET = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
CREDIT_RESET = datetime(2026, 12, 25, 0, 0, tzinfo=UTC)


def load(name: str) -> Any:
    return json.loads(fixture_bytes(__file__, name))


def session(used: float, resets_at: datetime | None = SESSION_RESET) -> RateWindow:
    return RateWindow(used_percent=used, window_minutes=300, resets_at=resets_at,
                      reset_description="5-hour", label="5-hour")


def weekly(
    used: float, resets_at: datetime | None = WEEKLY_RESET, description: str = "1 week window"
) -> RateWindow:
    return RateWindow(used_percent=used, window_minutes=10080, resets_at=resets_at,
                      reset_description=description, label="Weekly")


MCP_MONTHLY = WindowValue(
    used_percent=12.0, window_minutes=43200, resets_at=MONTH_RESET, reset_description="MCP"
)


def plan(name: str) -> Identity:
    return Identity(login_method=name)


SUCCESS_CASES: list[tuple[str, UsageSnapshot]] = [
    # Sheet edge case 1: 5 h + weekly tokens (listed weekly first) and the monthly MCP marker.
    ("quota_full.json", UsageSnapshot(
        primary=session(40.0), secondary=weekly(12.0),
        extra_rate_windows=[NamedWindow(id="zai-mcp", title="MCP", window=MCP_MONTHLY)],
        identity=plan("Lite"))),
    # Sheet edge case 2: usage 1000, remaining 700, currentValue 250 -> max(300, 250) -> 30 %, not 90.
    ("quota_computed_used.json", UsageSnapshot(primary=session(30.0), identity=plan("Pro"))),
    # Only currentValue with a quota size: 200 / 800; unit 5 x 300 is also a 5-hour window.
    ("quota_current_only.json", UsageSnapshot(primary=session(25.0, None))),
    # Computed over 100 % and a server percentage over 100 are both clamped.
    ("quota_over_100.json", UsageSnapshot(primary=session(100.0, None), secondary=weekly(100.0, None))),
    # A zero quota size falls back to the server percentage.
    ("quota_usage_zero.json", UsageSnapshot(primary=weekly(33.0, None))),
    # JSON numbers such as 25.0 are integers.
    ("quota_integral_floats.json", UsageSnapshot(primary=session(25.0))),
    # Unknown or missing types are skipped once the entry is valid.
    ("quota_unknown_type_skipped.json", UsageSnapshot(primary=session(40.0), identity=plan("Max"))),
    # Sheet edge case 6: one 30-day credit limit, no secondary and no MCP window.
    ("quota_single_credit_30d.json", UsageSnapshot(
        primary=RateWindow(used_percent=7.0, window_minutes=43200, resets_at=CREDIT_RESET,
                           reset_description="30 days window", label="30-day"),
        identity=plan("Credit Plan"))),
    # An empty limits array is not an error: primary is {usedPercent: 0} and nothing else.
    ("quota_empty_limits.json", UsageSnapshot(primary=RateWindow(used_percent=0.0), identity=plan("Lite"))),
    # Only a TIME_LIMIT: it becomes primary, and there is no extra window.
    ("quota_only_time_limit.json", UsageSnapshot(
        primary=RateWindow(**MCP_MONTHLY.model_dump(), label="MCP"))),
    # The last TIME_LIMIT wins, even one of unknown unit (no length, description still MCP).
    ("quota_time_explicit_unknown_unit.json", UsageSnapshot(
        primary=session(40.0), secondary=weekly(12.0),
        extra_rate_windows=[NamedWindow(id="zai-mcp", title="MCP", window=WindowValue(
            used_percent=64.0, window_minutes=None, resets_at=None, reset_description="MCP"))])),
    # Four token limits: the shortest is the session, the unknown-length one sorts last and is the long one.
    ("quota_three_token_limits.json", UsageSnapshot(
        primary=session(40.0),
        secondary=RateWindow(used_percent=3.0, window_minutes=None, resets_at=None, reset_description=None,
                             label="Credits"))),
    # Credit plans: CREDIT_LIMIT in place of TOKENS_LIMIT; 7 days is a weekly window too.
    ("quota_credit_plan.json", UsageSnapshot(
        primary=session(25.0), secondary=weekly(2.0, description="7 days window"),
        identity=plan("GLM Coding Pro"))),
    # Plan name: blank, null and non-string values are passed over; the winner is trimmed.
    ("quota_plan_fallback.json", UsageSnapshot(primary=session(40.0), identity=plan("Pro"))),
    # Null optional fields and a null plan name.
    ("quota_nulls.json", UsageSnapshot(primary=session(40.0, None))),
]


@pytest.mark.parametrize(("fixture", "expected"), SUCCESS_CASES, ids=[c[0] for c in SUCCESS_CASES])
def test_parse_quota(fixture: str, expected: UsageSnapshot) -> None:
    # The "Quota details" section is checked on its own (test_details.py).
    assert parse_quota(load(fixture)).model_copy(update={"details": []}) == expected


def test_full_wire_form() -> None:
    wire = parse_quota(load("quota_full.json")).wire()
    assert wire["primary"] == {"usedPercent": 40.0, "windowMinutes": 300, "resetsAt": "2026-11-25T20:00:00Z",
                               "resetDescription": "5-hour", "label": "5-hour"}
    assert wire["secondary"]["resetsAt"] == "2026-11-30T00:00:00Z"
    assert wire["extraRateWindows"] == [{"id": "zai-mcp", "title": "MCP", "window": {
        "usedPercent": 12.0, "windowMinutes": 43200, "resetsAt": "2026-12-01T00:00:00Z",
        "resetDescription": "MCP"}}]
    assert wire["identity"] == {"accountEmail": None, "accountOrganization": None, "loginMethod": "Lite"}
    assert wire["credits"] is None
    assert wire["updatedAt"] is None


ENTRY0 = "Failed to parse z.ai limit entry 0: "
ENTRY1 = "Failed to parse z.ai limit entry 1: "

ERROR_CASES: list[tuple[str, type[ProviderError], str]] = [
    # Sheet edge case 3: a float percentage fails the whole fetch.
    ("quota_float_percentage.json", ParseError, ENTRY0 + "'percentage' is not an integer"),
    ("quota_string_unit.json", ParseError, ENTRY0 + "'unit' is not an integer"),
    ("quota_bool_percentage.json", ParseError, ENTRY0 + "'percentage' is not an integer"),
    ("quota_missing_number.json", ParseError, ENTRY0 + "'number' is missing"),
    ("quota_float_usage.json", ParseError, ENTRY0 + "'usage' is not an integer or null"),
    ("quota_string_reset.json", ParseError, ENTRY0 + "'nextResetTime' is not an integer or null"),
    ("quota_usage_details_string.json", ParseError, ENTRY0 + "'usageDetails' is not an array or null"),
    ("quota_entry_not_object.json", ParseError, ENTRY1 + "not an object"),
    # An entry of an unknown type is validated too.
    ("quota_unknown_type_bad.json", ParseError, ENTRY1 + "'unit' is not an integer"),
    # Sheet edge case 5.
    ("quota_data_empty.json", ParseError, "Failed to parse z.ai quota data: 'data.limits' is missing"),
    ("quota_data_missing.json", ParseError, "Failed to parse z.ai quota data: 'data' is missing"),
    ("quota_limits_object.json", ParseError, "'data.limits' is missing or not an array"),
    ("quota_envelope_error.json", Unavailable, "z.ai quota API error: bad key"),
    ("quota_envelope_auth.json", AuthRequired,
     "z.ai rejected the API key (code 401: token expired or incorrect)"),
    ("quota_success_false.json", Unavailable, "z.ai quota API error: invalid response"),
    ("quota_no_envelope.json", ParseError, "z.ai answered without the code/success envelope"),
]


@pytest.mark.parametrize(("fixture", "error", "message"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_parse_quota_errors(fixture: str, error: type[ProviderError], message: str) -> None:
    with pytest.raises(error) as info:
        parse_quota(load(fixture))
    assert type(info.value) is error
    assert message in info.value.message


def test_envelope_403_is_auth_required_without_msg() -> None:
    with pytest.raises(AuthRequired) as info:
        parse_quota({"code": 403, "success": False}, service="z.ai (BigModel CN)")
    assert info.value.message == "z.ai (BigModel CN) rejected the API key (code 403)"


def test_envelope_msg_is_scrubbed_and_shortened() -> None:
    key = "zai-secret-key-0123456789"
    payload = {"code": 1002, "success": False, "msg": f"invalid key {key} " + "x" * 400}
    with pytest.raises(Unavailable) as info:
        parse_quota(payload, secrets=(key,))
    assert key not in info.value.message
    assert info.value.message.startswith("z.ai quota API error: invalid key *** xxx")
    assert info.value.message.endswith("...")
    assert len(info.value.message) < 260


def test_string_code_is_not_ok() -> None:
    with pytest.raises(Unavailable, match="invalid response"):
        parse_quota({"code": "200", "success": True, "data": {"limits": []}})


BALANCE_CASES: list[tuple[str, Credits | None]] = [
    ("balance_full.json", Credits(remaining=17.9, unit="CNY")),
    # A null availableBalance is absent, not 0: the balance is used.
    ("balance_available_null.json", Credits(remaining=18.4, unit="CNY")),
    ("balance_strings.json", Credits(remaining=17.9, unit="CNY")),
    ("balance_all_null.json", None),
    ("balance_bad_values.json", None),
    # A real 0 is a value.
    ("balance_zero.json", Credits(remaining=0.0, unit="CNY")),
    ("balance_error.json", None),
]


@pytest.mark.parametrize(("fixture", "expected"), BALANCE_CASES, ids=[c[0] for c in BALANCE_CASES])
def test_parse_balance(fixture: str, expected: Credits | None) -> None:
    assert parse_balance(load(fixture)) == expected


def test_balance_wire_form() -> None:
    credits = parse_balance(load("balance_full.json"))
    assert credits is not None
    assert credits.wire() == {"remaining": 17.9, "total": None, "unit": "CNY", "updatedAt": None}


def test_balance_without_data() -> None:
    assert parse_balance({"code": 200, "success": True, "data": None}) is None
    assert parse_balance({"code": 200, "success": True, "data": {"balance": "NaN"}}) is None
