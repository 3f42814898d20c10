"""OpenRouter parsing: fixture payloads -> exact snapshot values (pure, no I/O)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codexbard.errors import ParseError
from codexbard.models import Credits, Identity, ProviderCost, RateWindow
from codexbard.providers.coerce import number
from codexbard.providers.openrouter.parse import (
    KEY_INVALID,
    KEY_UNAVAILABLE,
    CreditsInfo,
    KeyInfo,
    RateLimitInfo,
    build_snapshot,
    key_used,
    parse_credits,
    parse_key,
    primary_window,
)
from tests.helpers import fixture_bytes


def load(name: str) -> Any:
    return json.loads(fixture_bytes(__file__, name))


# --- /credits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "total", "balance", "login"),
    [
        ("credits_ok.json", 250.0, 250.0 - 87.35, "Balance: $162.65"),
        ("credits_ints.json", 100.0, 75.0, "Balance: $75.00"),
        ("credits_overdrawn.json", 10.0, 0.0, "Balance: $0.00"),
        ("credits_zero.json", 0.0, 0.0, "Balance: $0.00"),
    ],
)
def test_credits_mapping(fixture: str, total: float, balance: float, login: str) -> None:
    snapshot = build_snapshot(parse_credits(load(fixture)), None)
    assert snapshot.credits == Credits(remaining=balance, total=total, unit="USD")
    assert snapshot.identity == Identity(login_method=login)
    assert snapshot.primary is None
    assert snapshot.secondary is None
    assert snapshot.tertiary is None
    assert snapshot.provider_cost is None
    assert snapshot.updated_at is None


@pytest.mark.parametrize(
    ("fixture", "field"),
    [
        ("credits_string_number.json", "data.total_credits"),
        ("credits_numeric_string.json", "data.total_credits"),
        ("credits_bool.json", "data.total_credits"),
        ("credits_nan.json", "data.total_credits"),
        ("credits_huge_int.json", "data.total_credits"),
        ("credits_null_usage.json", "data.total_usage"),
        ("credits_missing_usage.json", "data.total_usage"),
        ("credits_infinity.json", "data.total_usage"),
    ],
)
def test_credits_bad_fields_are_parse_errors(fixture: str, field: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_credits(load(fixture))
    assert caught.value.kind == "parse_error"
    assert f"`{field}` is not a finite number" in caught.value.message


@pytest.mark.parametrize(
    "fixture", ["credits_data_list.json", "credits_data_null.json", "credits_empty_object.json"]
)
def test_credits_without_data_object(fixture: str) -> None:
    with pytest.raises(ParseError, match="no `data` object"):
        parse_credits(load(fixture))


def test_balance_never_negative() -> None:
    assert CreditsInfo(total_credits=1.0, total_usage=3.0).balance == 0.0
    assert CreditsInfo(total_credits=5.0, total_usage=1.5).balance == 3.5


def test_balance_rounds_to_cents_in_login_method() -> None:
    snapshot = build_snapshot(CreditsInfo(total_credits=10.0, total_usage=0.0049), None)
    assert snapshot.identity == Identity(login_method="Balance: $10.00")
    assert snapshot.credits == Credits(remaining=10.0 - 0.0049, total=10.0, unit="USD")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1, 1.0), (2.5, 2.5), (True, None), ("3", None), (None, None), (float("inf"), None), (10**400, None)],
)
def test_finite_number(value: object, expected: float | None) -> None:
    # OpenRouter's numbers are JSON numbers only: coerce.number without strings.
    assert number(value, strings=False) == expected


# --- /key -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "used_percent"),
    [
        ("key_capped.json", 25.0),  # sheet edge case 1: 10 of 40
        ("key_full.json", 37.5),  # server remaining 62.5 of 100
        ("key_remaining_wins.json", 20.0),  # sheet edge case 2: remaining wins over usage 45
        ("key_remaining_negative.json", 100.0),  # remaining -3 -> cap exhausted
        ("key_remaining_above_limit.json", 0.0),  # remaining above the cap -> nothing used
        ("key_weekly.json", 25.0),  # sheet edge case 3: usage_weekly 20 of 80, not cumulative 500
        ("key_daily_missing_usage.json", 40.0),  # daily reset without usage_daily -> cumulative 4 of 10
        ("key_unknown_reset.json", 25.0),  # unknown cadence -> cumulative 2.5 of 10
        ("key_over_cap_usage.json", 100.0),  # 15 of 10 is clamped
    ],
)
def test_primary_from_key(fixture: str, used_percent: float) -> None:
    result = parse_key(load(fixture))
    assert result.reason is None
    assert result.info is not None
    snapshot = build_snapshot(CreditsInfo(total_credits=100.0, total_usage=40.0), result.info)
    assert snapshot.primary == RateWindow(used_percent=used_percent, label="Credits")
    # No window length, reset time or description, even when limit_reset is set.
    assert snapshot.primary.window_minutes is None
    assert snapshot.primary.resets_at is None
    assert snapshot.primary.reset_description is None
    assert snapshot.credits == Credits(remaining=60.0, total=100.0, unit="USD")
    assert snapshot.identity == Identity(login_method="Balance: $60.00")


@pytest.mark.parametrize(
    "fixture",
    [
        "key_no_cap.json",  # sheet edge case 4
        "key_limit_null.json",
        "key_limit_zero.json",
        "key_cap_no_usage.json",
        "key_negative_usage.json",
    ],
)
def test_no_primary_without_usable_cap(fixture: str) -> None:
    result = parse_key(load(fixture))
    assert result.info is not None
    snapshot = build_snapshot(CreditsInfo(total_credits=20.0, total_usage=5.0), result.info)
    assert snapshot.primary is None
    assert snapshot.credits == Credits(remaining=15.0, total=20.0, unit="USD")
    assert snapshot.identity == Identity(login_method="Balance: $15.00")


def test_full_key_payload_is_read() -> None:
    result = parse_key(load("key_full.json"))
    assert result.info == KeyInfo(
        limit=100.0,
        limit_remaining=62.5,
        limit_reset="monthly",
        usage=310.2,
        usage_daily=1.75,
        usage_weekly=9.9,
        usage_monthly=37.5,
        rate_limit=RateLimitInfo(requests=60, interval="10s"),
    )


@pytest.mark.parametrize(
    "fixture",
    [
        "key_limit_string.json",
        "key_usage_bool.json",
        "key_limit_reset_number.json",
        "key_rate_limit_string_requests.json",
        "key_rate_limit_float_requests.json",
        "key_rate_limit_no_interval.json",
        "key_rate_limit_list.json",
        "key_nan.json",
        "key_data_string.json",
        "key_root_array.json",
    ],
)
def test_invalid_key_payload_makes_section_unavailable(fixture: str) -> None:
    assert parse_key(load(fixture)).info is None
    assert parse_key(load(fixture)).reason == KEY_INVALID


@pytest.mark.parametrize("fixture", ["key_data_null.json", "key_data_missing.json"])
def test_key_payload_without_data(fixture: str) -> None:
    result = parse_key(load(fixture))
    assert result.info is None
    assert result.reason == KEY_UNAVAILABLE


def test_key_used_steps() -> None:
    assert key_used(KeyInfo(limit=40.0, usage=10.0)) == 10.0
    assert key_used(KeyInfo(limit=40.0, limit_remaining=-3.0, usage=1.0)) == 40.0
    assert key_used(KeyInfo(limit=40.0, limit_reset="monthly", usage_monthly=7.0, usage=30.0)) == 7.0
    assert key_used(KeyInfo(limit=40.0, limit_reset="monthly", usage=30.0)) == 30.0
    assert key_used(KeyInfo(limit=None, usage=30.0)) is None
    assert primary_window(KeyInfo(limit=-5.0, usage=1.0)) is None


# --- providerCost -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "cost"),
    [
        # A monthly cap pairs with the monthly spend.
        ("key_full.json", ProviderCost(used=37.5, limit=100.0, currency_code="USD", period="monthly",
                                       balance=60.0)),
        # A weekly cap is not a monthly limit: limit 0 (= none for this period).
        ("key_weekly.json", ProviderCost(used=60.0, limit=0.0, currency_code="USD", period="monthly",
                                         balance=60.0)),
        ("key_unknown_reset.json", ProviderCost(used=1.0, limit=0.0, period="monthly", balance=60.0)),
        ("key_limit_null.json", ProviderCost(used=3.25, limit=0.0, period="monthly", balance=60.0)),
        ("key_capped.json", None),  # no usage_monthly
        ("key_no_cap.json", None),
    ],
)
def test_provider_cost(fixture: str, cost: ProviderCost | None) -> None:
    info = parse_key(load(fixture)).info
    assert info is not None
    snapshot = build_snapshot(CreditsInfo(total_credits=100.0, total_usage=40.0), info)
    assert snapshot.provider_cost == cost


def test_wire_shape_of_full_snapshot() -> None:
    info = parse_key(load("key_full.json")).info
    snapshot = build_snapshot(parse_credits(load("credits_ints.json")), info)
    wire = snapshot.wire()
    # Details and openRouterUsage: their exact values are in test_api.py.
    assert [section["title"] for section in wire.pop("details")] == ["Credits", "API key"]
    assert wire.pop("openRouterUsage")["keyLimit"] == 100.0
    assert wire == {
        "primary": {
            "usedPercent": 37.5,
            "windowMinutes": None,
            "resetsAt": None,
            "resetDescription": None,
            "label": "Credits",
        },
        "secondary": None,
        "tertiary": None,
        "extraRateWindows": [],
        "providerCost": {
            "used": 37.5,
            "limit": 100.0,
            "currencyCode": "USD",
            "period": "monthly",
            "resetsAt": None,
            "balance": 75.0,
            "updatedAt": None,
        },
        "credits": {"remaining": 75.0, "total": 100.0, "unit": "USD", "updatedAt": None},
        "identity": {"accountEmail": None, "accountOrganization": None, "loginMethod": "Balance: $75.00"},
        "updatedAt": None,
        "version": None,
    }
