"""Warp parsing: fixture payloads -> exact snapshot values, errors and error summaries (pure)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from codexbard.errors import AuthRequired, ParseError, ProviderError, RateLimited, Unavailable
from codexbard.models import Credits, RateWindow, UsageSnapshot
from codexbard.providers.coerce import flag, number
from codexbard.providers.warp.parse import (
    BonusSummary,
    Grant,
    aggregate_bonus,
    error_summary,
    format_count,
    format_expiry,
    graphql_messages,
    http_error,
    parse_usage,
)
from tests.helpers import fixture_bytes


def load(name: str) -> Any:
    return json.loads(fixture_bytes(__file__, name))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def primary(used: float, description: str, resets_at: datetime | None = None) -> RateWindow:
    return RateWindow(used_percent=used, resets_at=resets_at, reset_description=description, label="Credits")


def addon(used: float, description: str | None = None) -> RateWindow:
    return RateWindow(used_percent=used, reset_description=description, label="Add-on credits")


UNLIMITED = RateWindow(used_percent=0.0, reset_description="Unlimited", label="Credits")

CASES: list[tuple[str, UsageSnapshot]] = [
    # Sheet example plus edge case 1: user grant 100/40 + workspace grant "50"/"50".
    (
        "ok.json",
        UsageSnapshot(
            primary=primary(25.6, "640/2500 credits", utc(2026, 4, 2, 8, 30, 15, 123456)),
            secondary=addon(40.0, "40 credits expires on 2026-04-10 00:00 UTC"),
            credits=Credits(remaining=1860.0, total=2500.0, unit="credits"),
        ),
    ),
    # Edge case 2: isUnlimited null and numbers as strings; no grants -> no secondary.
    (
        "strings_and_nulls.json",
        UsageSnapshot(
            primary=primary(25.6, "640/2500 credits", utc(2026, 11, 30, 22, 0, 0)),
            credits=Credits(remaining=1860.0, total=2500.0, unit="credits"),
        ),
    ),
    # Edge case 3: unlimited -> 0 %, "Unlimited", no resetsAt although nextRefreshTime is set, no credits.
    ("unlimited.json", UsageSnapshot(primary=UNLIMITED)),
    ("unlimited_string_yes.json", UsageSnapshot(primary=UNLIMITED)),
    ("unlimited_string_one.json", UsageSnapshot(primary=UNLIMITED)),
    (
        "limited_string_false.json",
        UsageSnapshot(
            primary=primary(25.0, "50/200 credits"),
            credits=Credits(remaining=150.0, total=200.0, unit="credits"),
        ),
    ),
    # Junk numbers read as 0; an unreadable nextRefreshTime gives no resetsAt.
    (
        "bad_numbers.json",
        UsageSnapshot(primary=primary(0.0, "0/0 credits"), credits=Credits(remaining=0.0, total=0.0)),
    ),
    (
        "missing_numbers.json",
        UsageSnapshot(primary=primary(0.0, "0/0 credits"), credits=Credits(remaining=0.0, total=0.0)),
    ),
    (
        "over_limit.json",
        UsageSnapshot(
            primary=primary(100.0, "3000/2500 credits", utc(2026, 12, 1, 0, 0, 0, 500000)),
            credits=Credits(remaining=0.0, total=2500.0),
        ),
    ),
    (
        "fractional_numbers.json",
        UsageSnapshot(
            primary=primary(25.05, "250.5/1000 credits"),
            credits=Credits(remaining=749.5, total=1000.0),
        ),
    ),
    # Edge case 6b: grants total 20, remaining 0 -> secondary 100 %, no expiry text.
    (
        "exhausted_bonus.json",
        UsageSnapshot(
            primary=primary(10.0, "10/100 credits"),
            secondary=addon(100.0),
            credits=Credits(remaining=90.0, total=100.0),
        ),
    ),
    # Earliest expiry with credits left; grants in the same second are added up (10 + 15).
    (
        "same_second_expiry.json",
        UsageSnapshot(
            primary=primary(10.0, "10/100 credits"),
            secondary=addon(50.0, "25 credits expires on 2026-12-20 12:00 UTC"),
            credits=Credits(remaining=90.0, total=100.0),
        ),
    ),
    (
        "bonus_remaining_only.json",
        UsageSnapshot(
            primary=primary(10.0, "10/100 credits"),
            secondary=addon(0.0),
            credits=Credits(remaining=90.0, total=100.0),
        ),
    ),
    (
        "bonus_malformed.json",
        UsageSnapshot(
            primary=primary(10.0, "10/100 credits"),
            secondary=addon(0.0),
            credits=Credits(remaining=90.0, total=100.0),
        ),
    ),
    # The type name is not checked when requestLimitInfo is present.
    (
        "other_typename_with_info.json",
        UsageSnapshot(primary=primary(50.0, "5/10 credits"), credits=Credits(remaining=5.0, total=10.0)),
    ),
    (
        "graphql_errors_empty.json",
        UsageSnapshot(primary=primary(50.0, "5/10 credits"), credits=Credits(remaining=5.0, total=10.0)),
    ),
]


@pytest.mark.parametrize(("fixture", "expected"), CASES, ids=[c[0] for c in CASES])
def test_snapshot(fixture: str, expected: UsageSnapshot) -> None:
    snapshot = parse_usage(load(fixture))
    assert snapshot == expected
    assert snapshot.identity is None
    assert snapshot.tertiary is None
    assert snapshot.updated_at is None
    for window in (snapshot.primary, snapshot.secondary):
        if window is not None:
            assert window.window_minutes is None


def test_wire_shape() -> None:
    assert parse_usage(load("ok.json")).wire() == {
        "primary": {
            "usedPercent": 25.6,
            "windowMinutes": None,
            "resetsAt": "2026-04-02T08:30:15Z",
            "resetDescription": "640/2500 credits",
            "label": "Credits",
        },
        "secondary": {
            "usedPercent": 40.0,
            "windowMinutes": None,
            "resetsAt": None,
            "resetDescription": "40 credits expires on 2026-04-10 00:00 UTC",
            "label": "Add-on credits",
        },
        "tertiary": None,
        "extraRateWindows": [],
        "providerCost": None,
        "credits": {"remaining": 1860.0, "total": 2500.0, "unit": "credits", "updatedAt": None},
        "identity": None,
        "updatedAt": None,
        "version": None,
        "details": [],  # the Warp sheet lists no detail rows
        "openRouterUsage": None,
    }


ERROR_CASES: list[tuple[str, type[ProviderError], str]] = [
    # Edge case 4: GraphQL errors with HTTP 200 are errors, not a zero snapshot.
    ("graphql_unauthenticated.json", AuthRequired, "Warp API error (200): Unauthenticated"),
    ("graphql_unauthorized_string.json", AuthRequired, "Warp API error (200): Unauthorized: token expired"),
    (
        "graphql_errors_many.json",
        Unavailable,
        "Warp API error (200): Internal failure | Try again later | Third problem",
    ),
    ("graphql_errors_no_message.json", Unavailable, "Warp API error (200): GraphQL error without a message"),
    ("graphql_errors_object.json", Unavailable, "Warp API error (200): Service degraded"),
    # Edge case 5: another member of the union and no inner user.
    (
        "wrong_typename.json",
        AuthRequired,
        "Unexpected user type 'UserFacingError' from Warp; check that the API key is valid.",
    ),
    (
        "userfacing_error_with_null_user.json",
        AuthRequired,
        "Unexpected user type 'UserFacingError' from Warp; check that the API key is valid.",
    ),
    ("no_typename_no_info.json", ParseError, "Unable to extract requestLimitInfo from the Warp response"),
    ("useroutput_no_info.json", ParseError, "Unable to extract requestLimitInfo from the Warp response"),
    ("missing_user.json", ParseError, "Warp response has no `data.user` object"),
    ("data_null.json", ParseError, "Warp response has no `data.user` object"),
    ("user_string.json", ParseError, "Warp response has no `data.user` object"),
    ("root_array.json", ParseError, "Warp: Root JSON is not an object."),
    ("root_string.json", ParseError, "Warp: Root JSON is not an object."),
]


@pytest.mark.parametrize(("fixture", "error_type", "message"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_error_payloads(fixture: str, error_type: type[ProviderError], message: str) -> None:
    with pytest.raises(error_type) as caught:
        parse_usage(load(fixture))
    assert type(caught.value) is error_type
    assert caught.value.message == message


def test_graphql_error_message_is_scrubbed_and_cut() -> None:
    secret = "plainsecretvalue42"
    payload = {"errors": [{"message": f"token {secret} rejected " + "z" * 300}]}
    with pytest.raises(Unavailable) as caught:
        parse_usage(payload, secrets=(secret,))
    message = caught.value.message
    assert secret not in message
    assert message == "Warp API error (200): " + ("token *** rejected " + "z" * 300)[:200] + "..."


def test_typename_is_scrubbed() -> None:
    payload = {"data": {"user": {"__typename": "Bad wk-abcdef123456 type"}}}
    with pytest.raises(AuthRequired) as caught:
        parse_usage(payload)
    assert "wk-abcdef123456" not in caught.value.message
    assert "Unexpected user type 'Bad *** type'" in caught.value.message


# --- helpers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (2500, 2500.0),
        ("2500", 2500.0),
        (" 640 ", 640.0),
        ("250.5", 250.5),
        (1.5, 1.5),
        ("-3", -3.0),
        (None, 0.0),
        (True, 0.0),
        ("lots", 0.0),
        ("nan", 0.0),
        ("inf", 0.0),
        ([1], 0.0),
        ({"n": 1}, 0.0),
        (10**400, 0.0),
    ],
)
def test_lenient_number(value: object, expected: float) -> None:
    # Warp reads its counts with coerce.number, absent or unreadable values counting as 0.
    assert number(value, default=0.0) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (None, False),
        ("true", True),
        ("TRUE", True),
        ("1", True),
        (" yes ", True),
        ("false", False),
        ("no", False),
        ("0", False),
        (1, True),
        (0, False),
        ({}, False),
    ],
)
def test_lenient_bool(value: object, expected: bool) -> None:
    assert flag(value) is expected


def test_format_helpers() -> None:
    assert format_count(2500.0) == "2500"
    assert format_count(250.5) == "250.5"
    assert format_count(-3.0) == "-3"
    assert format_expiry(utc(2026, 4, 10, 0, 0, 0)) == "2026-04-10 00:00 UTC"
    assert format_expiry(utc(2026, 12, 20, 12, 5, 59)) == "2026-12-20 12:05 UTC"


def test_aggregate_bonus() -> None:
    grants = [
        Grant(granted=100.0, remaining=40.0, expiration=utc(2026, 4, 10, 0, 0, 0)),
        Grant(granted=50.0, remaining=50.0, expiration=utc(2026, 5, 1, 0, 0, 0)),
        Grant(granted=10.0, remaining=0.0, expiration=utc(2026, 3, 1, 0, 0, 0)),  # spent: no expiry detail
    ]
    assert aggregate_bonus(grants) == BonusSummary(
        total=160.0, remaining=90.0, next_expiration=utc(2026, 4, 10, 0, 0, 0), next_expiration_remaining=40.0
    )
    assert aggregate_bonus([]) == BonusSummary(
        total=0.0, remaining=0.0, next_expiration=None, next_expiration_remaining=0.0
    )


def test_graphql_messages() -> None:
    assert graphql_messages([{"message": " a "}, "b", {"message": 3}, None, "", {"x": 1}]) == ["a", "b"]
    assert graphql_messages({"message": "only"}) == ["only"]
    assert graphql_messages("plain") == ["plain"]


# --- error summaries (non-200 answers) --------------------------------------------------------------

KEY = "wk-TESTkey0123456789abcdef"


@pytest.mark.parametrize(
    ("status", "body", "summary"),
    [
        (401, b'{"error": "invalid api key"}', "invalid api key"),
        (401, b'{"message": "nope"}', "nope"),
        (401, b'{"error": {"code": 1}, "message": "fallback"}', "fallback"),
        (400, b'{"errors": [{"message": "a"}, {"message": "b"}, "c", "d"], "error": "x"}', "a | b | c"),
        (500, b'{"foo": 1}', "HTTP 500 (10 bytes)."),
        (500, b'{"error": "  "}', "HTTP 500 (15 bytes)."),
        (429, b"Rate exceeded.", "Rate exceeded."),
        (502, b"", "Unexpected response body (0 bytes)."),
        (502, b"  \n ", "Unexpected response body (4 bytes)."),
        (500, b"line1\nline2\r\n   line3", "line1 line2 line3"),
        (500, b"x" * 300, "x" * 200 + "..."),
        (401, b"[1, 2]", "[1, 2]"),
        (503, b"<html><body>Down</body></html>", "<html><body>Down</body></html>"),
        (401, b"Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
    ],
)
def test_error_summary(status: int, body: bytes, summary: str) -> None:
    assert error_summary(status, body) == summary


def test_error_summary_scrubs_the_key_before_cutting() -> None:
    assert error_summary(401, f'{{"error": "bad key {KEY}"}}'.encode(), (KEY,)) == "bad key ***"
    # A key straddling the 200-character cut must not survive in part.
    body = ("y" * 190 + "plainsecretvalue42" + "y" * 50).encode()
    summary = error_summary(500, body, ("plainsecretvalue42",))
    assert "plainsecret" not in summary
    assert summary == ("y" * 190 + "***" + "y" * 50)[:200] + "..."


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(401, AuthRequired), (403, AuthRequired), (429, RateLimited), (400, Unavailable), (404, Unavailable),
     (500, Unavailable), (503, Unavailable)],
)
def test_http_error_kinds(status: int, error_type: type[ProviderError]) -> None:
    error = http_error(status, b'{"error": "boom"}', retry_after=7.0)
    assert type(error) is error_type
    assert error.message == f"Warp API error ({status}): boom"
    assert error.retry_after == (7.0 if status == 429 else None)
