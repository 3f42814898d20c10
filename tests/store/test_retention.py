"""Retention: raw samples 48 h, one per 5 minutes to 30 days, one per hour to 400 days; poll log 30 days."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from codexbard.host.clock import FixedClock
from codexbard.models import NamedWindow, UsageSnapshot, WindowValue
from codexbard.store import RetentionPolicy, Store, retention
from tests.store.builders import NOW, minutes, primary_only

H48 = timedelta(hours=48)
D30 = timedelta(days=30)


def _primary_times() -> dict[str, list[datetime]]:
    """Sample times of the codex primary series, grouped by what retention at NOW should do with them."""
    ancient = [NOW - timedelta(days=401) + minutes(k) for k in range(5)]
    hourly = [NOW - timedelta(days=60) + minutes(k) for k in range(120)]  # two whole hours
    edge_30d = [NOW - D30 - timedelta(seconds=1), NOW - D30]
    five_minute = [NOW - timedelta(days=3) + minutes(k) for k in range(10)]  # two whole 5-minute buckets
    edge_48h = [NOW - H48 - minutes(2), NOW - H48 - timedelta(seconds=1), NOW - H48]
    raw = [NOW - timedelta(hours=1) + minutes(k) for k in range(60)]
    return {
        "ancient": ancient,
        "hourly": hourly,
        "edge_30d": edge_30d,
        "five_minute": five_minute,
        "edge_48h": edge_48h,
        "raw": raw,
    }


async def _seed(store: Store) -> None:
    times = sorted(t for group in _primary_times().values() for t in group)
    for i, t in enumerate(times):
        # Every sample differs from the one before, so each is stored.
        await store.save_success("codex", None, primary_only(float(i % 97)), "oauth", t)
    for k in range(3):
        extra = UsageSnapshot(
            extra_rate_windows=[NamedWindow(id="mcp", title="MCP", window=WindowValue(used_percent=float(k)))]
        )
        await store.save_success("zai", None, extra, "api", NOW - timedelta(days=500) + minutes(k))


async def _times(store: Store, provider: str = "codex", window: str = "primary") -> list[datetime]:
    points = await store.history(provider, None, window, NOW - timedelta(days=1000), NOW + timedelta(days=10))
    return [p.t for p in points]


def _count(path: Path, table: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


async def test_downsampling_keeps_exact_samples_per_age_band(store: Store, db_path: Path) -> None:
    await _seed(store)
    groups = _primary_times()
    assert len(await _times(store)) == 5 + 120 + 2 + 10 + 3 + 60
    assert len(await _times(store, "zai", "mcp")) == 3

    counts = await store.run_retention(NOW)

    # ancient 5 + hourly 118 + five-minute 8 + the sample 2 min before the 48 h edge + zai's 3 ancient ones
    assert counts == {"window_samples": 5 + 118 + 8 + 1 + 3, "window_series": 1, "poll_log": 0}
    hourly, five = groups["hourly"], groups["five_minute"]
    assert await _times(store) == [
        hourly[59],  # last of 60 days ago, first hour
        hourly[119],  # last of the second hour
        NOW - D30 - timedelta(seconds=1),  # alone in its hour, just past 30 days
        NOW - D30,  # exactly 30 days: still in the 5-minute band, alone in its bucket
        five[4],  # last of [3 d ago, +5 min)
        five[9],  # last of [+5 min, +10 min)
        NOW - H48 - timedelta(seconds=1),  # last of the bucket just before the 48 h edge
        NOW - H48,  # exactly 48 h old: still raw
        *groups["raw"],  # the last hour untouched
    ]
    assert await _times(store, "zai", "mcp") == []
    assert _count(db_path, "window_series") == 1
    assert await store.integrity_check() == "ok"


async def test_retention_is_idempotent(store: Store) -> None:
    await _seed(store)
    await store.run_retention(NOW)
    kept = await _times(store)
    assert await store.run_retention(NOW) == {"window_samples": 0, "window_series": 0, "poll_log": 0}
    assert await _times(store) == kept


async def test_samples_move_down_bands_as_they_age(store: Store) -> None:
    await _seed(store)
    await store.run_retention(NOW)
    later = NOW + timedelta(days=2)
    counts = await store.run_retention(later)
    # The last hour's 60 one-minute samples are now 48-49 h old: 12 five-minute buckets remain.
    assert counts["window_samples"] == 48
    raw = _primary_times()["raw"]
    kept = await _times(store)
    assert kept[-12:] == [raw[k] for k in range(4, 60, 5)]
    assert await store.run_retention(later) == {"window_samples": 0, "window_series": 0, "poll_log": 0}

    # 341 days on: the two hourly survivors of 60 days ago are past 400 days and go; everything else is in
    # the hourly band, where the two 3-day-old samples share an hour (1 goes) and so do the 12 of the last
    # hour (11 go).
    counts = await store.run_retention(NOW + timedelta(days=341))
    assert counts["window_samples"] == 2 + 1 + 11
    five = _primary_times()["five_minute"]
    assert await _times(store) == [
        NOW - D30 - timedelta(seconds=1),
        NOW - D30,
        five[9],
        NOW - H48 - timedelta(seconds=1),
        NOW - H48,
        raw[59],
    ]


async def test_retention_uses_the_clock_when_no_time_is_given(db_path: Path) -> None:
    clock = FixedClock(NOW)
    store = await Store.open(db_path, clock=clock)
    try:
        await _seed(store)
        counts = await store.run_retention()
    finally:
        await store.close()
    assert counts["window_samples"] == 135


async def _log(store: Store, provider: str, at: datetime) -> None:
    await store.log_poll(provider, None, at, 12.5, True, None, [])


async def test_poll_log_older_than_30_days_is_deleted(store: Store, db_path: Path) -> None:
    for days in (45, 31, 30.5):
        await _log(store, "codex", NOW - timedelta(days=days))
    for days in (29, 1, 0):
        await _log(store, "codex", NOW - timedelta(days=days))
    counts = await store.run_retention(NOW)
    assert counts == {"window_samples": 0, "window_series": 0, "poll_log": 3}
    assert [e["started_at"] for e in await store.poll_log()] == [
        NOW,
        NOW - timedelta(days=1),
        NOW - timedelta(days=29),
    ]
    assert (await store.run_retention(NOW))["poll_log"] == 0


async def test_poll_log_is_capped_to_the_newest_rows(db_path: Path) -> None:
    policy = RetentionPolicy(poll_log_max_rows=4)
    store = await Store.open(db_path, retention_policy=policy)
    try:
        for i in range(10):
            await _log(store, "codex" if i % 2 else "claude", NOW - minutes(10 - i))
        counts = await store.run_retention(NOW)
        entries = await store.poll_log(limit=100)
        again = await store.run_retention(NOW)
    finally:
        await store.close()
    assert counts["poll_log"] == 6
    assert [e["started_at"] for e in entries] == [NOW - minutes(m) for m in (1, 2, 3, 4)]
    assert again["poll_log"] == 0


async def test_a_custom_policy_changes_the_bands(db_path: Path) -> None:
    policy = RetentionPolicy(raw_for=timedelta(hours=1), five_minute_until=timedelta(hours=2))
    store = await Store.open(db_path, retention_policy=policy)
    try:
        # One sample a minute from 3 h ago to now.
        for k in range(181):
            await store.save_success("codex", None, primary_only(float(k)), "oauth", NOW - minutes(180 - k))
        counts = await store.run_retention(NOW)
        kept = await _times(store)
    finally:
        await store.close()
    # 3 h..2 h ago: hourly, one kept of [15:00, 16:00); 2 h..1 h ago: 12 five-minute buckets;
    # the last hour raw (61 samples).
    assert kept[0] == NOW - minutes(121)
    assert kept[1:13] == [NOW - minutes(120 - k) for k in range(4, 60, 5)]
    assert kept[13:] == [NOW - minutes(60 - k) for k in range(61)]
    assert counts["window_samples"] == 181 - len(kept)
    assert len(kept) == 1 + 12 + 61


def test_slices_split_at_epoch_aligned_edges_newest_first() -> None:
    day = 86400
    lo, hi = 10 * day + 500.5, 13 * day + 7.25
    assert retention.slices(lo, hi, day) == [
        (13 * day, hi),
        (12 * day, 13 * day),
        (11 * day, 12 * day),
        (lo, 11 * day),
    ]
    assert retention.slices(lo, lo + 10, day) == [(lo, lo + 10)]
    assert retention.slices(float(day), float(2 * day), day) == [(float(day), float(2 * day))]
    assert retention.slices(hi, lo, day) == []


async def test_retention_interleaves_with_writes(store: Store) -> None:
    await _seed(store)

    async def writes() -> None:
        for k in range(50):
            await store.save_success("claude", None, primary_only(float(k)), "oauth", NOW + minutes(k))
            await asyncio.sleep(0)

    counts, _ = await asyncio.gather(store.run_retention(NOW), writes())
    assert counts["window_samples"] == 135
    points = await store.history("claude", None, "primary", NOW, NOW + timedelta(hours=1))
    assert len(points) == 50
    assert await store.integrity_check() == "ok"
