"""Backoff after failures (DESIGN.md, "Backoff and retention")."""

from __future__ import annotations

import pytest

from codexbard.scheduler.backoff import failure_delay


@pytest.mark.parametrize(
    ("kind", "interval", "failures", "retry_after", "floor", "expected"),
    [
        ("rate_limited", 300, 1, 900.0, 0, 900.0),
        ("rate_limited", 300, 1, 10.0, 0, 300.0),
        ("rate_limited", 120, 1, None, 300, 300.0),
        ("unavailable", 300, 1, None, 0, 600.0),
        ("timeout", 300, 2, None, 0, 1200.0),
        ("parse_error", 300, 3, None, 0, 2400.0),
        ("internal", 300, 9, None, 0, 2400.0),  # x8 cap
        ("unavailable", 600, 3, None, 0, 3600.0),  # 1 h cap
        ("unavailable", 7200, 1, None, 0, 7200.0),  # never below the interval
        ("auth_required", 300, 1, None, 0, 3600.0),
        ("not_configured", 60, 5, None, 0, 3600.0),
        ("cli_missing", 60, 1, None, 0, 3600.0),
        ("unsupported", 60, 1, None, 0, 3600.0),
    ],
)
def test_failure_delay(kind: str, interval: int, failures: int, retry_after: float | None, floor: int,
                       expected: float) -> None:
    assert failure_delay(kind, interval, failures, retry_after, floor) == expected
