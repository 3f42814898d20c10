"""Claude usage-endpoint rate-limit rules: 5-minute floor, Retry-After (0 = floor), 429 ladder, refresh back-off."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from codexbard.providers.claude.backoff import (
    blocked_until,
    floor_remaining,
    ladder_seconds,
    next_poll_delay,
    rate_limit_delay,
    refresh_backoff_seconds,
    retry_after_seconds,
    token_key,
)

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(("count", "seconds"), [(0, 300.0), (1, 300.0), (2, 600.0), (3, 1200.0), (4, 2400.0),
                                                (5, 3600.0), (6, 3600.0), (100, 3600.0)])
def test_ladder(count: int, seconds: float) -> None:
    assert ladder_seconds(count) == seconds


@pytest.mark.parametrize(("header", "seconds"), [
    (None, 300.0), ("", 300.0), ("0", 300.0), ("  0 ", 300.0), ("abc", 300.0), ("-5", 300.0),
    ("120", 120.0), ("7200", 7200.0), ("999999999", 86400.0),
    ("Mon, 02 Mar 2026 18:00:00 GMT", 3600.0), ("Mon, 02 Mar 2026 16:00:00 GMT", 300.0),
])
def test_retry_after_seconds(header: str | None, seconds: float) -> None:
    assert retry_after_seconds(header, NOW) == seconds


@pytest.mark.parametrize(("header", "count", "seconds"), [
    ("0", 1, 300.0), (None, 2, 600.0), ("120", 1, 300.0), ("120", 3, 1200.0), ("5400", 2, 5400.0),
    ("5400", 5, 5400.0), ("0", 5, 3600.0),
])
def test_rate_limit_delay(header: str | None, count: int, seconds: float) -> None:
    assert rate_limit_delay(header, count, NOW) == seconds
    assert blocked_until(header, count, NOW) == NOW + timedelta(seconds=seconds)


def test_floor() -> None:
    assert floor_remaining(None, NOW) == 0.0
    assert floor_remaining(NOW - timedelta(seconds=60), NOW) == 240.0
    assert floor_remaining(NOW - timedelta(minutes=10), NOW) == 0.0
    assert next_poll_delay(60) == 300.0 and next_poll_delay(900) == 900.0


@pytest.mark.parametrize(("failures", "seconds"), [(1, 300.0), (2, 600.0), (3, 1200.0), (7, 19200.0), (8, 21600.0),
                                                   (10_000, 21600.0)])
def test_refresh_backoff(failures: int, seconds: float) -> None:
    assert refresh_backoff_seconds(failures) == seconds


def test_token_key() -> None:
    key = token_key("sk-ant-oat01-SYNTHETIC")
    assert key == hashlib.sha256(b"sk-ant-oat01-SYNTHETIC").hexdigest() and "SYNTHETIC" not in key
