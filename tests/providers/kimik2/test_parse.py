"""Kimi K2 parsing: fixture payloads -> exact snapshot values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from codexbard.errors import ParseError
from codexbard.providers.coerce import number
from codexbard.providers.kimik2.parse import format_credits, header_value, parse_credits
from tests.helpers import fixture_bytes


def load(name: str) -> Any:
    return json.loads(fixture_bytes(__file__, name))


# (fixture, headers, remaining, total, login_method, updated_at)
CASES: list[tuple[str, dict[str, str], float, float, str, datetime | None]] = [
    (
        "nested_data_usage.json", {}, 160.0, 500.0, "Credits: 160 left",
        datetime(2026, 3, 4, 9, 15, tzinfo=UTC),
    ),
    ("consumed_only.json", {"X-Credits-Remaining": "425"}, 425.0, 500.0, "Credits: 425 left", None),
    ("consumed_only.json", {"x-credits-remaining": "25"}, 25.0, 100.0, "Credits: 25 left", None),
    ("consumed_only.json", {"X-CREDITS-REMAINING": " 2.5 "}, 2.5, 77.5, "Credits: 2.5 left", None),
    ("consumed_only.json", {}, 0.0, 75.0, "Credits: 0 left", None),
    ("consumed_only.json", {"X-Credits-Remaining": "-10"}, 0.0, 75.0, "Credits: 0 left", None),
    ("consumed_only.json", {"X-Credits-Remaining": "lots"}, 0.0, 75.0, "Credits: 0 left", None),
    (
        "result_credits_strings.json", {}, 12.5, 100.0, "Credits: 12.5 left",
        datetime(2030, 1, 1, tzinfo=UTC),
    ),
    ("remaining_infinity.json", {"X-Credits-Remaining": "-Infinity"}, 0.0, 10.0, "Credits: 0 left", None),
    ("remaining_infinity.json", {"X-Credits-Remaining": "7"}, 7.0, 17.0, "Credits: 7 left", None),
    # "1e309" overflows to infinity -> next path; consumed "NaN" -> next path (usedCredits).
    ("remaining_1e309.json", {}, 42.0, 50.0, "Credits: 42 left", None),
    # A null in the root is "present": the same path is not looked up in data; the next path is.
    ("null_in_first_context.json", {}, 7.0, 7.0, "Credits: 7 left", None),
    # "abc" in data stops credits_remaining (99 in credits is never read); total: null stops total (500).
    ("unusable_not_retried_later.json", {"X-Credits-Remaining": "1"}, 3.0, 3.0, "Credits: 3 left", None),
    ("usage_paths.json", {}, 8.0, 10.25, "Credits: 8 left", None),
    ("negative_remaining.json", {}, 0.0, 10.0, "Credits: 0 left", None),
    ("all_null.json", {}, 0.0, 0.0, "Credits: 0 left", None),
    ("all_null.json", {"X-Credits-Remaining": "3"}, 3.0, 3.0, "Credits: 3 left", None),
    ("empty_object.json", {}, 0.0, 0.0, "Credits: 0 left", None),
    ("booleans_and_grouping.json", {}, 1234567.891, 1234567.891, "Credits: 1234567.89 left", None),
    (
        "timestamp_ms_threshold.json", {}, 1.0, 1.0, "Credits: 1 left",
        datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC),
    ),
    ("timestamp_zero_string.json", {}, 1.0, 1.0, "Credits: 1 left", None),
    ("timestamp_nan.json", {}, 1.0, 1.0, "Credits: 1 left", None),
    ("timestamp_negative.json", {}, 1.0, 1.0, "Credits: 1 left", None),
    (
        "updated_at_far_future_then_next.json", {}, 1.0, 1.0, "Credits: 1 left",
        datetime(2026, 3, 4, 7, 15, 0, 123456, tzinfo=UTC),
    ),
    (
        "updated_at_seconds_string.json", {}, 1.0, 1.0, "Credits: 1 left",
        datetime(2026, 3, 4, 9, 15, tzinfo=UTC),
    ),
    (
        "updated_at_garbage.json", {}, 1.0, 1.0, "Credits: 1 left",
        datetime(2026, 3, 4, 9, 15, tzinfo=UTC),
    ),
]


@pytest.mark.parametrize(
    ("fixture", "headers", "remaining", "total", "login", "updated"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_fixture(
    fixture: str,
    headers: dict[str, str],
    remaining: float,
    total: float,
    login: str,
    updated: datetime | None,
) -> None:
    snap = parse_credits(load(fixture), headers)
    assert snap.primary is None
    assert snap.secondary is None
    assert snap.tertiary is None
    assert snap.extra_rate_windows == []
    assert snap.provider_cost is None
    assert snap.credits is not None
    assert snap.credits.remaining == pytest.approx(remaining)
    assert snap.credits.total == pytest.approx(total)
    assert snap.credits.unit == "credits"
    assert snap.credits.updated_at == updated
    assert snap.identity is not None
    assert snap.identity.login_method == login
    assert snap.identity.account_email is None
    assert snap.identity.account_organization is None
    assert snap.updated_at == updated


def test_httpx_headers_are_matched_case_insensitively() -> None:
    snap = parse_credits(load("consumed_only.json"), httpx.Headers({"X-Credits-Remaining": "25"}))
    assert snap.credits is not None
    assert snap.credits.remaining == 25.0
    assert snap.credits.total == 100.0


@pytest.mark.parametrize("fixture", ["root_array.json", "root_string.json"])
def test_root_not_object_is_parse_error(fixture: str) -> None:
    with pytest.raises(ParseError, match="root JSON is not an object"):
        parse_credits(load(fixture), {})


@pytest.mark.parametrize("value", [None, 3, 1.5, [], "{}", True])
def test_non_object_roots_of_every_kind(value: object) -> None:
    with pytest.raises(ParseError):
        parse_credits(value, {})


def test_wire_form() -> None:
    snap = parse_credits(load("nested_data_usage.json"), {})
    wire = snap.wire()
    assert wire["credits"] == {
        "remaining": 160.0,
        "total": 500.0,
        "unit": "credits",
        "updatedAt": "2026-03-04T09:15:00Z",
    }
    assert wire["identity"] == {
        "accountEmail": None,
        "accountOrganization": None,
        "loginMethod": "Credits: 160 left",
    }
    assert wire["updatedAt"] == "2026-03-04T09:15:00Z"


@pytest.mark.parametrize(
    ("value", "text"),
    [(160.0, "160"), (12.5, "12.5"), (0.0, "0"), (0.001, "0"), (0.25, "0.25"), (1.005, "1"),
     (99.999, "100"), (1234567.0, "1234567"), (10.1, "10.1"), (2.345678, "2.35")],
)
def test_format_credits(value: float, text: str) -> None:
    assert format_credits(value) == text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(5, 5.0), (2.5, 2.5), ("3", 3.0), (" 4.5 ", 4.5), ("-2", -2.0), ("1e3", 1000.0), (".5", 0.5),
     ("NaN", None), ("Infinity", None), ("-Infinity", None), ("1e309", None), ("inf", None), ("", None),
     ("1_000", None), ("0x10", None), (True, None), (None, None), ([1], None), ({"a": 1}, None),
     (10**400, None), (float("nan"), None)],
)
def test_to_finite(raw: object, expected: float | None) -> None:
    assert number(raw) == expected


def test_header_value_missing() -> None:
    assert header_value({"Content-Type": "application/json"}, "x-credits-remaining") is None
