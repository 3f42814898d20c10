"""Tests for codexbard.pace: the API.md pace rules with a fixed now."""

from __future__ import annotations

from datetime import timedelta

import pytest

from codexbard.models import PaceStage, RateWindow, UsageSnapshot, WindowValue
from codexbard.pace import format_duration, snapshot_pace, window_pace
from tests.helpers import NOW


def halfway(used: float) -> WindowValue:
    """A 100-minute window, half elapsed at NOW: the expected usage is exactly 50%."""
    return WindowValue(used_percent=used, window_minutes=100, resets_at=NOW + timedelta(minutes=50))


def test_expected_and_delta() -> None:
    window = WindowValue(used_percent=28, window_minutes=300, resets_at=NOW + timedelta(hours=4))
    pace = window_pace(window, NOW)
    assert pace is not None
    # 1 h of 5 h elapsed: 20% expected; 28% used is 8 points ahead of a linear spend.
    assert pace.expected_used_percent == 20.0
    assert pace.delta_percent == 8.0
    assert pace.stage == "ahead"
    # 28% in 3600 s: the remaining 72% lasts 9257 s, before the reset in 14400 s.
    assert pace.eta_seconds == 9257
    assert pace.will_last_to_reset is False
    assert pace.summary == "8% in deficit | Expected 20% used | Runs out in 2h 34m"


@pytest.mark.parametrize(
    ("used", "stage"),
    [
        (50.0, "onTrack"),
        (52.0, "onTrack"),
        (48.0, "onTrack"),
        (52.5, "slightlyAhead"),
        (56.0, "slightlyAhead"),
        (47.5, "slightlyBehind"),
        (44.0, "slightlyBehind"),
        (56.5, "ahead"),
        (62.0, "ahead"),
        (43.5, "behind"),
        (38.0, "behind"),
        (62.5, "farAhead"),
        (37.5, "farBehind"),
        (0.0, "farBehind"),
        (100.0, "farAhead"),
    ],
)
def test_stage_thresholds(used: float, stage: PaceStage) -> None:
    pace = window_pace(halfway(used), NOW)
    assert pace is not None
    assert pace.expected_used_percent == 50.0
    assert pace.delta_percent == round(used - 50.0, 1)
    assert pace.stage == stage


def test_runs_out_before_reset() -> None:
    pace = window_pace(halfway(60), NOW)
    assert pace is not None
    # 60% in 3000 s is 0.02%/s; the remaining 40% lasts 2000 s, before the reset in 3000 s.
    assert pace.eta_seconds == 2000
    assert pace.will_last_to_reset is False
    assert pace.stage == "ahead"
    assert pace.delta_percent == 10.0
    assert pace.summary == "10% in deficit | Expected 50% used | Runs out in 33m"


def test_eta_exactly_at_reset_lasts() -> None:
    # 50% in 3000 s: the rest lasts exactly 3000 s, which is not before the reset.
    pace = window_pace(halfway(50), NOW)
    assert pace is not None
    assert pace.eta_seconds is None
    assert pace.will_last_to_reset is True
    assert pace.summary == "On pace | Expected 50% used | Lasts until reset"


def test_reserve_summary() -> None:
    pace = window_pace(halfway(30), NOW)
    assert pace is not None
    assert pace.stage == "farBehind"
    assert pace.delta_percent == -20.0
    assert pace.summary == "20% in reserve | Expected 50% used | Lasts until reset"


@pytest.mark.parametrize("used", [100.0, 100.1, 250.0])
def test_used_up(used: float) -> None:
    pace = window_pace(halfway(used), NOW)
    assert pace is not None
    assert pace.eta_seconds == 0
    assert pace.will_last_to_reset is False
    # The delta uses usedPercent clamped to 100.
    assert pace.delta_percent == 50.0
    assert pace.stage == "farAhead"
    assert pace.summary == "50% in deficit | Expected 50% used | Used up"


@pytest.mark.parametrize("used", [0.0, -5.0])
def test_nothing_used_lasts(used: float) -> None:
    pace = window_pace(halfway(used), NOW)
    assert pace is not None
    assert pace.eta_seconds is None
    assert pace.will_last_to_reset is True
    assert pace.delta_percent == -50.0


def test_long_eta_formats_days() -> None:
    # A week window, one day elapsed, 50% used: the rest lasts one more day, before the reset in six.
    window = WindowValue(used_percent=50, window_minutes=10080, resets_at=NOW + timedelta(days=6))
    pace = window_pace(window, NOW)
    assert pace is not None
    assert pace.eta_seconds == 86400
    assert pace.expected_used_percent == 14.3
    assert pace.delta_percent == 35.7
    assert pace.summary == "36% in deficit | Expected 14% used | Runs out in 1d 0h"


def test_reset_exactly_one_window_away() -> None:
    window = WindowValue(used_percent=10, window_minutes=300, resets_at=NOW + timedelta(minutes=300))
    pace = window_pace(window, NOW)
    assert pace is not None
    assert pace.expected_used_percent == 0.0
    assert pace.delta_percent == 10.0
    assert pace.eta_seconds is None
    assert pace.stage == "ahead"


@pytest.mark.parametrize(
    "window",
    [
        None,
        WindowValue(used_percent=10, window_minutes=300, resets_at=NOW - timedelta(minutes=1)),
        WindowValue(used_percent=10, window_minutes=300, resets_at=NOW),
        WindowValue(used_percent=10, window_minutes=300, resets_at=NOW + timedelta(minutes=300, seconds=1)),
        WindowValue(used_percent=10, window_minutes=300, resets_at=NOW + timedelta(days=3)),
        WindowValue(used_percent=10, window_minutes=None, resets_at=NOW + timedelta(minutes=10)),
        WindowValue(used_percent=10, window_minutes=0, resets_at=NOW + timedelta(minutes=10)),
        WindowValue(used_percent=10, window_minutes=300, resets_at=None),
    ],
)
def test_no_pace(window: WindowValue | None) -> None:
    assert window_pace(window, NOW) is None


def test_snapshot_pace() -> None:
    snap = UsageSnapshot(
        primary=RateWindow(used_percent=60, window_minutes=100, resets_at=NOW + timedelta(minutes=50)),
        secondary=RateWindow(used_percent=10, window_minutes=None),
    )
    pace = snapshot_pace(snap, NOW)
    assert pace.primary is not None and pace.primary.eta_seconds == 2000
    assert pace.secondary is None
    assert pace.tertiary is None
    assert pace.wire()["primary"] == {
        "stage": "ahead",
        "deltaPercent": 10.0,
        "expectedUsedPercent": 50.0,
        "willLastToReset": False,
        "etaSeconds": 2000,
        "summary": "10% in deficit | Expected 50% used | Runs out in 33m",
    }


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0m"),
        (59, "0m"),
        (60, "1m"),
        (2700, "45m"),
        (9000, "2h 30m"),
        (3600, "1h 0m"),
        (86400, "1d 0h"),
        (3 * 86400 + 4 * 3600 + 59, "3d 4h"),
        (-30, "0m"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
