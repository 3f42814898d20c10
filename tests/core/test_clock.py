"""Tests for codexbard.host.clock: every timestamp form upstreams send, parsed in one place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from codexbard.host.clock import (
    EPOCH_MS_THRESHOLD,
    Clock,
    FixedClock,
    from_epoch_auto,
    from_epoch_ms,
    from_epoch_seconds,
    parse_http_date,
    parse_iso,
    parse_relative,
    parse_retry_after,
    parse_timestamp,
    utcnow,
)
from tests.helpers import NOW

# 1_700_000_000 s after the epoch.
T_1700 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def test_epoch_seconds() -> None:
    assert from_epoch_seconds(1_700_000_000) == T_1700
    assert from_epoch_seconds(1_700_000_000.25) == T_1700 + timedelta(microseconds=250_000)


@pytest.mark.parametrize("value", [0, -5, float("nan"), float("inf"), 64_060_588_800, 1e15])
def test_epoch_seconds_out_of_range(value: float) -> None:
    assert from_epoch_seconds(value) is None


def test_epoch_ms() -> None:
    assert from_epoch_ms(1_700_000_000_000) == T_1700
    assert from_epoch_ms(1_700_000_000_123) == T_1700 + timedelta(milliseconds=123)
    assert from_epoch_ms(float("nan")) is None
    assert from_epoch_ms(0) is None


def test_epoch_auto_tells_seconds_from_ms() -> None:
    assert from_epoch_auto(1_700_000_000) == T_1700
    assert from_epoch_auto(1_700_000_000_000) == T_1700
    assert from_epoch_auto(float("-inf")) is None


def test_epoch_auto_boundary_1e12_counts_as_ms() -> None:
    assert EPOCH_MS_THRESHOLD == 1_000_000_000_000
    assert from_epoch_auto(1_000_000_000_000) == datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)
    # One below the boundary is read as seconds, which is past year 4000: rejected, not misread.
    assert from_epoch_auto(999_999_999_999) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T19:15:00Z", datetime(2026, 11, 25, 19, 15, tzinfo=UTC)),
        ("2026-11-25T19:15:00z", datetime(2026, 11, 25, 19, 15, tzinfo=UTC)),
        ("  2026-11-25T19:15:00Z  ", datetime(2026, 11, 25, 19, 15, tzinfo=UTC)),
        ("2026-11-25T14:15:00-05:00", datetime(2026, 11, 25, 19, 15, tzinfo=UTC)),
        ("2026-11-26T00:45:00+05:30", datetime(2026, 11, 25, 19, 15, tzinfo=UTC)),
        ("2026-11-25T19:15:00+00:00", datetime(2026, 11, 25, 19, 15, tzinfo=UTC)),
        ("2026-11-25 19:15:00Z", datetime(2026, 11, 25, 19, 15, tzinfo=UTC)),
        # Naive values are taken as UTC.
        ("2026-11-25T19:15:00", datetime(2026, 11, 25, 19, 15, tzinfo=UTC)),
        ("2026-11-25", datetime(2026, 11, 25, tzinfo=UTC)),
    ],
)
def test_parse_iso_forms(text: str, expected: datetime) -> None:
    parsed = parse_iso(text)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("fraction", "micros"),
    [
        ("5", 500_000),
        ("12", 120_000),
        ("123", 123_000),
        ("1234", 123_400),
        ("12345", 123_450),
        ("123456", 123_456),
        ("1234567", 123_456),
        ("12345678", 123_456),
        ("123456789", 123_456),
    ],
)
def test_parse_iso_fraction_digits(fraction: str, micros: int) -> None:
    expected = datetime(2026, 11, 25, 19, 15, tzinfo=UTC) + timedelta(microseconds=micros)
    assert parse_iso(f"2026-11-25T19:15:00.{fraction}Z") == expected
    assert parse_iso(f"2026-11-25T14:15:00.{fraction}-05:00") == expected


@pytest.mark.parametrize(
    "text", ["", "   ", "tomorrow", "2026-13-01T00:00:00Z", "2026-11-25T25:00:00Z", "Z", "1700000000", "null"]
)
def test_parse_iso_garbage_is_none(text: str) -> None:
    assert parse_iso(text) is None


def test_parse_http_date() -> None:
    assert parse_http_date("Wed, 25 Nov 2026 18:02:00 GMT") == datetime(2026, 11, 25, 18, 2, tzinfo=UTC)
    assert parse_http_date("not a date") is None
    assert parse_http_date("") is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Wed, 25 Nov 2026 18:02:00 GMT", 120.0),
        ("Wed, 25 Nov 2026 19:00:00 GMT", 3600.0),
        # A date in the past means "now", never a negative wait.
        ("Wed, 25 Nov 2026 17:00:00 GMT", 0.0),
        ("Tue, 01 Jan 2019 00:00:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(header: str, seconds: float) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize("header", [None, "", "   ", "soon", "-5", "1e3"])
def test_parse_retry_after_unreadable(header: str | None) -> None:
    assert parse_retry_after(header, NOW) is None


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("resets in 2h 13m", timedelta(hours=2, minutes=13)),
        ("Resets in 2H 13M", timedelta(hours=2, minutes=13)),
        ("3 days 4 hours", timedelta(days=3, hours=4)),
        ("in 1 day", timedelta(days=1)),
        ("45m", timedelta(minutes=45)),
        ("45 min", timedelta(minutes=45)),
        ("10 minutes 30 seconds", timedelta(minutes=10, seconds=30)),
        ("1.5h", timedelta(minutes=90)),
        ("2 hrs", timedelta(hours=2)),
        ("5d", timedelta(days=5)),
        ("30s", timedelta(seconds=30)),
    ],
)
def test_parse_relative(text: str, delta: timedelta) -> None:
    assert parse_relative(text, NOW) == NOW + delta


@pytest.mark.parametrize("text", ["", "soon", "resets tomorrow", "in 1 month", "12 apples"])
def test_parse_relative_without_usable_numbers(text: str) -> None:
    assert parse_relative(text, NOW) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000, T_1700),
        (1_700_000_000.0, T_1700),
        (1_700_000_000_000, T_1700),
        ("1700000000", T_1700),
        (" 1700000000 ", T_1700),
        ("1700000000000", T_1700),
        ("1700000000.5", T_1700 + timedelta(microseconds=500_000)),
        ("2023-11-14T22:13:20Z", T_1700),
        ("2023-11-14T17:13:20-05:00", T_1700),
    ],
)
def test_parse_timestamp(value: object, expected: datetime) -> None:
    assert parse_timestamp(value) == expected


@pytest.mark.parametrize(
    "value", [None, True, False, "", "garbage", "nan", "inf", 0, -1, [1_700_000_000], {"t": 1}, b"1700000000"]
)
def test_parse_timestamp_rejects(value: object) -> None:
    assert parse_timestamp(value) is None


def test_fixed_clock_moves_both_clocks() -> None:
    clock = FixedClock(NOW)
    mono = clock.monotonic()
    assert clock.now() == NOW
    clock.advance(90)
    assert clock.now() == NOW + timedelta(seconds=90)
    assert clock.monotonic() == mono + 90


def test_clock_defaults_and_injection() -> None:
    assert utcnow().tzinfo is UTC
    assert Clock().now().tzinfo is UTC
    custom = Clock(now=lambda: NOW, monotonic=lambda: 42.0)
    assert custom.now() == NOW
    assert custom.monotonic() == 42.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T10:00:00Z", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("2026-11-25T12:00:00+02:00", datetime(2026, 11, 25, 10, 0, tzinfo=UTC)),
        ("1764064800", datetime(2025, 11, 25, 10, 0, tzinfo=UTC)),
        (" 0 ", datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_query_time(text: str, expected: datetime) -> None:
    from codexbard.host.clock import parse_query_time

    assert parse_query_time("since", text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", "'since' must be ISO 8601 or epoch seconds"),
        ("-5", "'since' is out of range"),
        ("1e400", "'since' is out of range"),
        ("nan", "'since' is out of range"),
    ],
)
def test_parse_query_time_rejects(text: str, message: str) -> None:
    from codexbard.host.clock import parse_query_time

    with pytest.raises(ValueError) as info:
        parse_query_time("since", text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    "text",
    ["0001-01-01", "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59+00:00", "1969-12-31T23:59:59Z",
     "4000-01-01T00:00:00Z"],
)
def test_parse_query_time_refuses_instants_outside_1970_to_3999(text: str) -> None:
    from codexbard.host.clock import parse_query_time

    with pytest.raises(ValueError) as info:
        parse_query_time("until", text)
    assert str(info.value) == "'until' is out of range"


def test_parse_query_time_keeps_the_edges() -> None:
    from codexbard.host.clock import QUERY_TIME_MAX, QUERY_TIME_MIN, parse_query_time

    assert parse_query_time("since", "1970-01-01T00:00:00Z") == QUERY_TIME_MIN
    assert parse_query_time("since", "3999-12-31T23:59:59Z") == QUERY_TIME_MAX
    # The default `since` (24 h before `until`) stays computable at both edges.
    assert QUERY_TIME_MIN - timedelta(hours=24) == datetime(1969, 12, 31, tzinfo=UTC)


def test_parse_iso_past_the_datetime_range_is_none() -> None:
    assert parse_iso("9999-12-31T23:59:59-01:00") is None
    assert parse_iso("0001-01-01T00:00:00+01:00") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("300", 300), (" 1 ", 1), ("+60", 60), (31_536_000, 31_536_000)],
)
def test_parse_query_step(value: str | int, expected: int) -> None:
    from codexbard.host.clock import parse_query_step

    assert parse_query_step("--step", value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "--step must be at least 1 (seconds)"),
        ("-5", "--step must be at least 1 (seconds)"),
        ("31536001", "--step must be at most 31536000 (seconds, one year)"),
        ("99999999999999999999999999", "--step must be at most 31536000 (seconds, one year)"),
        ("9" * 5000, "--step must be a whole number of seconds"),
        ("1.5", "--step must be a whole number of seconds"),
        ("abc", "--step must be a whole number of seconds"),
    ],
)
def test_parse_query_step_rejects(value: str, message: str) -> None:
    from codexbard.host.clock import parse_query_step

    with pytest.raises(ValueError) as info:
        parse_query_step("--step", value)
    assert str(info.value) == message
