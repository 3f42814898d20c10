"""Window samples: written on change plus a 30-minute heartbeat; read back with since/until/step."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from codexbard.models import NamedWindow, RateWindow, UsageSnapshot, WindowValue
from codexbard.store import Sample, Store
from tests.store.builders import NOW, RESET, full_snapshot, minutes, primary_only

DAY_AGO = NOW - timedelta(days=1)


async def _primary(store: Store, account: str | None = None) -> list[tuple[datetime, float, datetime | None]]:
    samples = await store.history("codex", account, "primary", DAY_AGO, NOW + timedelta(days=1))
    return [(s.t, s.used_percent, s.resets_at) for s in samples]


async def test_samples_on_change_and_heartbeat(store: Store) -> None:
    async def poll(offset_minutes: float, used: float, resets: datetime | None = RESET) -> None:
        at = NOW + minutes(offset_minutes)
        await store.save_success("codex", None, primary_only(used, resets), "oauth", at)

    await poll(0, 10.0)  # first sample of the series
    await poll(5, 10.0)  # unchanged, 5 min old: skipped
    await poll(10, 12.0)  # used changed
    await poll(20, 12.0)  # unchanged, last sample 10 min old: skipped
    await poll(39, 12.0)  # 29 min: skipped
    await poll(40, 12.0)  # 30 min since the last stored sample: heartbeat
    await poll(45, 12.0, RESET + timedelta(seconds=30))  # reset moved by less than a minute: jitter
    await poll(50, 12.0, RESET + timedelta(hours=5))  # reset moved: change
    await poll(55, 12.0, None)  # reset disappeared: change
    await poll(60, 12.0, None)  # unchanged
    await poll(65, 12.0, RESET)  # reset appeared: change
    await poll(70, 11.999)  # any change of usedPercent counts

    assert await _primary(store) == [
        (NOW, 10.0, RESET),
        (NOW + minutes(10), 12.0, RESET),
        (NOW + minutes(40), 12.0, RESET),
        (NOW + minutes(50), 12.0, RESET + timedelta(hours=5)),
        (NOW + minutes(55), 12.0, None),
        (NOW + minutes(65), 12.0, RESET),
        (NOW + minutes(70), 11.999, RESET),
    ]


async def test_heartbeat_counts_from_the_last_stored_sample_not_the_last_poll(store: Store) -> None:
    for offset in range(0, 91, 5):
        await store.save_success("codex", None, primary_only(50.0), "oauth", NOW + minutes(offset))
    stored = [t for t, _, _ in await _primary(store)]
    assert stored == [NOW, NOW + minutes(30), NOW + minutes(60), NOW + minutes(90)]


async def test_every_window_kind_is_its_own_series(store: Store) -> None:
    await store.save_success("claude", "personal", full_snapshot(), "oauth", NOW)
    changed = full_snapshot().model_copy(
        update={
            "secondary": RateWindow(used_percent=60.0, window_minutes=10080, label="Weekly"),
            "extra_rate_windows": [
                NamedWindow(
                    id="claude-weekly-scoped-opus", title="Opus only", window=WindowValue(used_percent=4.0)
                ),
                NamedWindow(id="zai-mcp", title="MCP calls", window=WindowValue(used_percent=40.0)),
            ],
        }
    )
    await store.save_success("claude", "personal", changed, "oauth", NOW + minutes(5))

    async def series(window: str) -> list[tuple[datetime, float, datetime | None]]:
        points = await store.history("claude", "personal", window, DAY_AGO, NOW + timedelta(days=1))
        return [(p.t, p.used_percent, p.resets_at) for p in points]

    assert await series("primary") == [(NOW, 28.5, RESET)]
    assert await series("secondary") == [
        (NOW, 59.0, datetime(2026, 11, 28, 17, 0, tzinfo=UTC)),
        (NOW + minutes(5), 60.0, None),
    ]
    assert await series("tertiary") == [(NOW, 101.25, None)]
    assert await series("claude-weekly-scoped-opus") == [(NOW, 3.0, RESET), (NOW + minutes(5), 4.0, None)]
    assert await series("zai-mcp") == [(NOW, 40.0, None)]
    # The same windows of another account or provider are other series.
    assert await store.history("claude", None, "primary", DAY_AGO, NOW + timedelta(days=1)) == []
    assert await store.history("codex", "personal", "primary", DAY_AGO, NOW + timedelta(days=1)) == []
    assert await store.history("claude", "personal", "nope", DAY_AGO, NOW + timedelta(days=1)) == []


async def test_missing_window_writes_no_sample(store: Store, db_path: Path) -> None:
    await store.save_success("codex", None, UsageSnapshot(), "oauth", NOW)
    await store.save_success("codex", None, primary_only(1.0), "oauth", NOW + minutes(1))
    conn = sqlite3.connect(db_path)
    names = conn.execute("SELECT window_name FROM window_series").fetchall()
    conn.close()
    assert names == [("primary",)]


def test_non_finite_used_percent_cannot_reach_the_store() -> None:
    with pytest.raises(ValidationError):
        RateWindow(used_percent=math.nan)
    with pytest.raises(ValidationError):
        RateWindow(used_percent=math.inf)


async def test_an_unreadable_latest_row_is_skipped_and_kept(
    store: Store, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await store.save_success("codex", None, primary_only(3.0), "oauth", NOW)
    await store.save_success("claude", None, primary_only(1.0), "oauth", NOW)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE latest SET snapshot = '{\"primary\": {\"usedPercent\": null}}' WHERE provider = 'codex'")
    conn.commit()
    conn.close()
    assert [r.provider for r in await store.load_latest()] == ["claude"]
    assert "unreadable latest row of codex" in caplog.text
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM latest").fetchone() == (2,)  # kept, not deleted
    conn.close()


async def test_duplicate_extra_ids_keep_the_first(store: Store) -> None:
    snapshot = UsageSnapshot(
        extra_rate_windows=[
            NamedWindow(id="x", title="first", window=WindowValue(used_percent=1.0)),
            NamedWindow(id="x", title="second", window=WindowValue(used_percent=2.0)),
        ]
    )
    await store.save_success("zai", None, snapshot, "api", NOW)
    assert [s.used_percent for s in await store.history("zai", None, "x", DAY_AGO, NOW)] == [1.0]


async def _seed(store: Store) -> None:
    # Samples at 18:00:00, 18:03:20, 18:06:40, ... (every 200 s), used = minute index, all distinct.
    for i in range(12):
        at = NOW + timedelta(seconds=200 * i)
        await store.save_success("codex", None, primary_only(float(i)), "oauth", at)


async def test_history_since_until_are_inclusive(store: Store) -> None:
    await _seed(store)
    points = await store.history(
        "codex", None, "primary", NOW + timedelta(seconds=400), NOW + timedelta(seconds=1000)
    )
    assert points == [
        Sample(t=NOW + timedelta(seconds=400), used_percent=2.0, resets_at=RESET),
        Sample(t=NOW + timedelta(seconds=600), used_percent=3.0, resets_at=RESET),
        Sample(t=NOW + timedelta(seconds=800), used_percent=4.0, resets_at=RESET),
        Sample(t=NOW + timedelta(seconds=1000), used_percent=5.0, resets_at=RESET),
    ]
    since = NOW + timedelta(seconds=399, microseconds=999999)
    just_inside = await store.history("codex", None, "primary", since, NOW + timedelta(seconds=401))
    assert [p.used_percent for p in just_inside] == [2.0]
    since, until = NOW + timedelta(seconds=401), NOW + timedelta(seconds=599)
    gap = await store.history("codex", None, "primary", since, until)
    assert gap == []
    assert await store.history("codex", None, "primary", NOW + timedelta(hours=1), NOW) == []


async def test_history_step_keeps_the_last_sample_of_each_epoch_aligned_bucket(store: Store) -> None:
    await _seed(store)
    # 600 s buckets aligned to the epoch start at 18:00, 18:10, 18:20, 18:30. Samples (s after 18:00):
    # 0 200 400 | 600 800 1000 | 1200 1400 1600 | 1800 2000 2200
    points = await store.history("codex", None, "primary", DAY_AGO, NOW + timedelta(days=1), step=600)
    assert [(p.t - NOW).total_seconds() for p in points] == [400, 1000, 1600, 2200]
    assert [p.used_percent for p in points] == [2.0, 5.0, 8.0, 11.0]
    assert all(p.resets_at == RESET for p in points)

    # 900 s buckets: 18:00-18:15 holds 0..800, 18:15-18:30 holds 1000..1600, 18:30- holds 1800..2200.
    points = await store.history("codex", None, "primary", DAY_AGO, NOW + timedelta(days=1), step=900)
    assert [(p.t - NOW).total_seconds() for p in points] == [800, 1600, 2200]

    # since/until cut before bucketing: the last bucket only holds 1800 and 2000.
    points = await store.history(
        "codex", None, "primary", NOW + timedelta(seconds=500), NOW + timedelta(seconds=2000), step=600
    )
    assert [(p.t - NOW).total_seconds() for p in points] == [1000, 1600, 2000]

    # A step larger than the range: one point, the newest.
    points = await store.history("codex", None, "primary", DAY_AGO, NOW + timedelta(days=1), step=86400)
    assert [(p.t - NOW).total_seconds() for p in points] == [2200]

    # A step of one second returns every sample.
    points = await store.history("codex", None, "primary", DAY_AGO, NOW + timedelta(days=1), step=1)
    assert len(points) == 12


async def test_history_rejects_a_step_below_one_second(store: Store) -> None:
    with pytest.raises(ValueError, match="step must be at least 1 second"):
        await store.history("codex", None, "primary", DAY_AGO, NOW, step=0)


async def test_microseconds_survive(store: Store) -> None:
    t = datetime(2026, 11, 25, 18, 0, 0, 999999, tzinfo=UTC)
    await store.save_success("codex", None, primary_only(3.0), "oauth", t)
    (sample,) = await store.history("codex", None, "primary", DAY_AGO, NOW + timedelta(days=1))
    assert sample.t == t
    (record,) = await store.load_latest()
    assert record.fetched_at == t


async def test_naive_datetimes_are_taken_as_utc(store: Store) -> None:
    await store.save_success("codex", None, primary_only(3.0), "oauth", NOW.replace(tzinfo=None))
    (sample,) = await store.history("codex", None, "primary", DAY_AGO, NOW + timedelta(days=1))
    assert sample.t == NOW
    assert sample.t.tzinfo is UTC or sample.t.utcoffset() == timedelta(0)
