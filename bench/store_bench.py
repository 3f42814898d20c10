"""Store benchmark: poll writes, history reads and a retention run over a year-sized history.

    .venv/bin/python bench/store_bench.py [--series 100] [--polls 2000] [--db PATH]

The history is seeded with direct inserts at the density retention leaves behind (raw every 5 minutes for
48 h and to 30 days before its first run, then hourly to 400 days) plus one extra raw day, so the retention
run has real work: the first run downsamples, the second shows the steady-state cost of an idempotent run.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from codexbard.models import RateWindow, UsageSnapshot
from codexbard.store import Store

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def seed(path: Path, series: int) -> int:
    """Insert synthetic samples directly; return how many."""
    now = NOW.timestamp()
    conn = sqlite3.connect(path)
    rows = 0
    with conn:
        for i in range(series):
            cur = conn.execute(
                "INSERT INTO window_series (provider, account, window_name) VALUES (?, '', ?)",
                (f"p{i // 5}", ("primary", "secondary", "tertiary", "x1", "x2")[i % 5]),
            )
            sid = cur.lastrowid
            times: list[float] = []
            times += [now - k * 60 for k in range(1, 3 * 24 * 60)]  # one a minute for 3 days (1 day past raw)
            times += [now - 3 * 86400 - k * 300 for k in range(0, 27 * 288)]  # 5-minute to 30 days
            times += [now - 30 * 86400 - k * 3600 for k in range(0, 370 * 24)]  # hourly to 400 days
            conn.executemany(
                "INSERT OR IGNORE INTO window_samples (series_id, t, used_percent, resets_at) VALUES (?, ?, ?, NULL)",
                [(sid, t, float(k % 100)) for k, t in enumerate(times)],
            )
            rows += len(times)
    conn.close()
    return rows


async def run(path: Path, series: int, polls: int) -> None:
    """Run the benchmark against a fresh database at `path`."""
    store = await Store.open(path)
    await store.close()
    started = time.perf_counter()
    rows = seed(path, series)
    print(f"seeded {rows} samples in {series} series in {time.perf_counter() - started:.1f} s")

    store = await Store.open(path)
    try:
        providers = max(series // 5, 1)
        started = time.perf_counter()
        for k in range(polls):
            snapshot = UsageSnapshot(
                primary=RateWindow(used_percent=float(k % 100), resets_at=NOW + timedelta(hours=5)),
                secondary=RateWindow(used_percent=float(k % 7)),
            )
            await store.save_success(f"p{k % providers}", None, snapshot, "api", NOW + timedelta(seconds=k))
        elapsed = time.perf_counter() - started
        print(f"save_success: {polls} in {elapsed:.2f} s ({elapsed / polls * 1000:.2f} ms each)")

        started = time.perf_counter()
        points = await store.history("p0", None, "primary", NOW - timedelta(days=1), NOW + timedelta(days=1))
        print(f"history 24 h raw: {len(points)} points in {(time.perf_counter() - started) * 1000:.1f} ms")
        started = time.perf_counter()
        points = await store.history("p0", None, "primary", NOW - timedelta(days=400), NOW, step=86400)
        print(f"history 400 d, daily step: {len(points)} points in {(time.perf_counter() - started) * 1000:.1f} ms")

        for label in ("first", "second"):
            started = time.perf_counter()
            counts = await store.run_retention(NOW + timedelta(hours=1))
            print(f"retention ({label} run): {counts} in {time.perf_counter() - started:.2f} s")
        print(f"integrity: {await store.integrity_check()}")
    finally:
        await store.close()
    size = path.stat().st_size  # noqa: ASYNC240 - after the store is closed, in a benchmark
    print(f"database size: {size / 1e6:.1f} MB")


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--series", type=int, default=100)
    parser.add_argument("--polls", type=int, default=2000)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    if args.db is not None:
        asyncio.run(run(args.db, args.series, args.polls))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(Path(tmp) / "bench.db", args.series, args.polls))


if __name__ == "__main__":
    main()
