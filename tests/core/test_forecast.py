"""Forecasts on synthetic histories with known answers, the ring they read, and the payload field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from codexbard.daemon import Daemon, preload_recent
from codexbard.forecast import (
    Point,
    burn_rate,
    current_period,
    is_reset,
    lookback,
    snapshot_forecast,
    window_forecast,
)
from codexbard.host.clock import FixedClock
from codexbard.models import ForecastValue, RateWindow, UsageSnapshot, WindowValue
from codexbard.recent import HEARTBEAT, RecentSamples
from codexbard.state import AccountState, State
from codexbard.store import Store
from tests.fakes import ScriptedStrategy, fake_spec, make_runtime

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def series(points: list[tuple[float, float]], resets: datetime | None) -> list[Point]:
    """(minutes after T0, used percent) pairs sharing one reset time."""
    return [Point(at(m), used, resets) for m, used in points]


def window(used: float, resets: datetime | None, minutes: int | None = 300) -> WindowValue:
    return WindowValue(used_percent=used, window_minutes=minutes, resets_at=resets)


# -- the pieces -------------------------------------------------------------------------------------

def test_lookback_is_a_fifth_of_the_window_between_one_hour_and_a_day() -> None:
    assert lookback(300) == timedelta(hours=1)
    assert lookback(600) == timedelta(hours=2)
    assert lookback(10080) == timedelta(hours=24)
    assert lookback(None) == timedelta(hours=6)
    assert lookback(0) == timedelta(hours=6)


def test_reset_by_passed_reset_time_or_a_large_fall() -> None:
    old = Point(at(0), 80.0, at(30))
    assert is_reset(old, Point(at(31), 80.0, at(330))) is True  # the older window ended
    assert is_reset(old, Point(at(29.5), 80.0, at(30))) is True  # within the 60 s tolerance
    assert is_reset(old, Point(at(28), 80.0, at(30))) is False
    assert is_reset(Point(at(0), 80.0, at(300)), Point(at(5), 74.0, at(300))) is True  # fell 6 points
    assert is_reset(Point(at(0), 80.0, at(300)), Point(at(5), 76.0, at(300))) is False  # rolling expiry
    assert is_reset(Point(at(0), 80.0, None), Point(at(5), 81.0, None)) is False


def test_current_period_stops_at_the_last_reset() -> None:
    before = series([(0, 70), (30, 85), (60, 95)], at(90))
    after = series([(100, 0), (130, 6), (160, 12)], at(390))
    assert current_period(before + after) == after
    assert current_period([]) == []


def test_burn_rate_leaves_out_holes_and_counts_watched_idle_time() -> None:
    # 10 points in the first 30 min, a 3 h hole (+25 points, unknown when), then 30 min idle.
    points = series([(0, 10), (30, 20), (210, 45), (240, 45)], None)
    rate, covered = burn_rate(points)
    assert covered == timedelta(hours=1)
    assert rate == 10.0


# -- whole forecasts with known answers --------------------------------------------------------------

def test_steady_use_projects_linearly_and_lasts() -> None:
    # 10 %/h over the last hour (samples every 10 min), reset 2 h after the newest sample.
    resets = at(180)
    points = series([(0, 20), (10, 21 + 2 / 3), (20, 23 + 1 / 3), (30, 25), (40, 26 + 2 / 3),
                     (50, 28 + 1 / 3), (60, 30)], resets)
    forecast = window_forecast(points, window(30.0, resets), at(61))
    assert forecast == ForecastValue(burn_rate_percent_per_hour=10.0, projected_used_percent_at_reset=50.0,
                                     exhausts_at=None, samples=7)


def test_fast_use_runs_out_before_the_reset() -> None:
    # 20 %/h, at 60 % with 4 h to go: runs out in 2 h, would need 140 %.
    resets = at(300)
    points = series([(0, 40), (30, 50), (60, 60)], resets)
    forecast = window_forecast(points, window(60.0, resets), at(60))
    assert forecast is not None
    assert forecast.wire() == {"burnRatePercentPerHour": 20.0, "projectedUsedPercentAtReset": 140.0,
                               "exhaustsAt": "2026-11-25T15:00:00Z", "samples": 3}


def test_a_reset_in_the_history_does_not_count() -> None:
    # The previous window climbed to 95 % and reset at 13:00; since then 5 %/h over 60 min.
    old = series([(0, 80), (20, 90), (40, 95)], at(60))
    new_reset = at(60 + 300)
    new = series([(60, 0), (80, 5 / 3), (100, 10 / 3), (120, 5)], new_reset)
    forecast = window_forecast(old + new, window(5.0, new_reset), at(120))
    assert forecast == ForecastValue(burn_rate_percent_per_hour=5.0, projected_used_percent_at_reset=25.0,
                                     exhausts_at=None, samples=4)


def test_an_idle_gap_while_the_daemon_was_off_does_not_dilute_the_rate() -> None:
    # Weekly window: 12 %/h for an hour, the machine asleep 8 h (used +4 meanwhile), then 12 %/h for 30 min.
    resets = at(7 * 24 * 60)
    points = series([(0, 10), (30, 16), (60, 22), (540, 26), (570, 32)], resets)
    forecast = window_forecast(points, window(32.0, resets, minutes=10080), at(570))
    assert forecast is not None
    assert forecast.burn_rate_percent_per_hour == 12.0
    assert forecast.samples == 5
    # (100 − 32) ÷ 12 h after 21:30.
    assert forecast.exhausts_at == at(570) + timedelta(hours=68 / 12)


def test_watched_idle_time_lowers_the_rate() -> None:
    # One hour of history: +6 points in the first 10 min, then 50 min unchanged (heartbeat samples).
    resets = at(300)
    points = series([(0, 10), (10, 16), (20, 16), (30, 16), (40, 16), (50, 16), (60, 16)], resets)
    forecast = window_forecast(points, window(16.0, resets), at(60))
    assert forecast is not None
    assert forecast.burn_rate_percent_per_hour == 6.0
    assert forecast.projected_used_percent_at_reset == 40.0  # 16 + 6 × 4 h


def test_only_the_lookback_counts() -> None:
    # 5 h window → 1 h lookback: the fast first hour (30 %/h) is older than that; the last hour is 6 %/h.
    resets = at(300)
    points = series([(0, 0), (30, 15), (60, 30), (90, 33), (120, 36)], resets)
    forecast = window_forecast(points, window(36.0, resets), at(120))
    assert forecast is not None
    assert (forecast.burn_rate_percent_per_hour, forecast.samples) == (6.0, 3)
    assert forecast.projected_used_percent_at_reset == 54.0


def test_already_used_up_reports_when_it_happened() -> None:
    resets = at(300)
    points = series([(0, 70), (15, 85), (30, 100), (45, 100)], resets)
    forecast = window_forecast(points, window(100.0, resets), at(45))
    assert forecast is not None
    assert forecast.exhausts_at == at(30)
    assert forecast.burn_rate_percent_per_hour == 40.0  # +30 over 45 min
    assert forecast.projected_used_percent_at_reset == 270.0  # not capped: 100 + 40 × 4.25 h


def test_small_falls_count_as_no_use() -> None:
    resets = at(300)
    points = series([(0, 50), (10, 48), (20, 51), (30, 49)], resets)
    forecast = window_forecast(points, window(49.0, resets), at(30))
    assert forecast is not None
    assert forecast.burn_rate_percent_per_hour == 6.0  # +3 over 30 min


@pytest.mark.parametrize(
    ("points", "win"),
    [
        ([], window(10.0, at(300))),  # no samples
        (series([(0, 10), (30, 12)], at(300)), window(12.0, at(300))),  # two samples
        (series([(0, 10), (5, 11), (10, 12)], at(300)), window(12.0, at(300))),  # 10 min watched
        (series([(0, 10), (90, 11), (180, 12)], at(300)), window(12.0, at(300))),  # only holes
        (series([(0, 10), (30, 11), (60, 12)], None), window(12.0, None)),  # no reset time
        (series([(0, 10), (30, 11), (60, 12)], at(50)), window(12.0, at(50))),  # reset already passed
        (series([(0, 10), (30, 11), (60, 12)], at(300)), None),  # no such window
    ],
)
def test_too_little_history_gives_null(points: list[Point], win: WindowValue | None) -> None:
    assert window_forecast(points, win, at(60)) is None


def test_snapshot_forecast_keys_like_pace() -> None:
    resets = at(300)
    held = {"primary": series([(0, 40), (30, 50), (60, 60)], resets)}
    snap = UsageSnapshot(primary=RateWindow(used_percent=60.0, window_minutes=300, resets_at=resets),
                         secondary=RateWindow(used_percent=5.0, window_minutes=10080, resets_at=at(9000)))
    forecast = snapshot_forecast(snap, lambda name: held.get(name, []), at(60))
    assert forecast.primary is not None and forecast.primary.burn_rate_percent_per_hour == 20.0
    assert forecast.secondary is None and forecast.tertiary is None


# -- the ring ----------------------------------------------------------------------------------------

def test_ring_keeps_changes_and_a_heartbeat_and_trims_by_age_and_count() -> None:
    ring = RecentSamples(keep=timedelta(hours=2), max_points=4)
    resets = at(300)
    for minute, used in [(0, 10), (1, 10), (2, 11), (3, 11), (2 + HEARTBEAT.total_seconds() / 60, 11)]:
        ring.add("zai", UsageSnapshot(primary=RateWindow(used_percent=used, resets_at=resets)), at(minute))
    assert [(p.t, p.used_percent) for p in ring.series("zai", "primary")] == [
        (at(0), 10.0), (at(2), 11.0), (at(12), 11.0)]
    ring.add_point("zai", "primary", Point(at(1), 50.0, resets))  # out of order: ignored
    assert len(ring.series("zai", "primary")) == 3
    ring.add_point("zai", "primary", Point(at(13), 12.0, resets))
    ring.add_point("zai", "primary", Point(at(14), 13.0, resets))
    assert [p.used_percent for p in ring.series("zai", "primary")] == [11.0, 11.0, 12.0, 13.0]
    ring.add_point("zai", "primary", Point(at(200), 14.0, resets))
    assert [p.t for p in ring.series("zai", "primary")] == [at(200)]
    assert ring.series("zai", "secondary") == ()
    ring.forget("zai")
    assert len(ring) == 0


def test_ring_preload_puts_older_samples_first_and_respects_the_cap() -> None:
    ring = RecentSamples(max_points=4)
    ring.add_point("k", "primary", Point(at(60), 30.0, None))
    taken = ring.preload("k", "primary", [Point(at(m), float(m), None) for m in (0, 10, 20, 30, 60, 70)])
    assert taken == 3
    assert [p.t for p in ring.series("k", "primary")] == [at(10), at(20), at(30), at(60)]
    with pytest.raises(ValueError, match="at least two"):
        RecentSamples(max_points=1)


# -- in the daemon -----------------------------------------------------------------------------------

async def test_state_feeds_the_ring_and_payload_carries_the_forecast(tmp_path: Path) -> None:
    spec = fake_spec("alpha", ScriptedStrategy([]))
    runtime = make_runtime(tmp_path, [spec], clock=FixedClock(at(60)))
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    daemon = Daemon(runtime, None, state)
    resets = T0 + timedelta(hours=5)
    for minute, used in [(0, 40.0), (30, 50.0), (60, 60.0)]:
        snap = UsageSnapshot(primary=RateWindow(used_percent=used, window_minutes=300, resets_at=resets))
        state.succeed("alpha", snap, "api", at(minute))
    payload = daemon.payloads([state.require("alpha")])[0].wire()
    assert payload["forecast"] == {
        "primary": {"burnRatePercentPerHour": 20.0, "projectedUsedPercentAtReset": 140.0,
                    "exhaustsAt": "2026-11-25T15:00:00Z", "samples": 3},
        "secondary": None, "tertiary": None}
    await daemon.stop(timeout=1)


async def test_daemon_preloads_the_ring_from_the_database(tmp_path: Path) -> None:
    spec = fake_spec("alpha", ScriptedStrategy([]))
    runtime = make_runtime(tmp_path, [spec])
    store = await Store.open(tmp_path / "db.sqlite")
    resets = T0 + timedelta(hours=5)
    for minute, used in [(0, 40.0), (30, 50.0), (60, 60.0)]:
        snap = UsageSnapshot(primary=RateWindow(used_percent=used, window_minutes=300, resets_at=resets))
        await store.save_success("alpha", None, snap, "api", at(minute))
    old = UsageSnapshot(primary=RateWindow(used_percent=1.0))
    await store.save_success("alpha", None, old.model_copy(), "api", at(-26 * 60))  # older than a day
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    assert await preload_recent(store, state, at(61)) == 3
    assert [p.used_percent for p in state.recent.series("alpha", "primary")] == [40.0, 50.0, 60.0]
    await store.close()
    assert await preload_recent(store, state, at(61)) == 0  # a closed database: logged, no forecast
