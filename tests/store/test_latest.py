"""Latest snapshots, failures beside them, and service statuses."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from codexbard.host.clock import FixedClock
from codexbard.models import FetchError, ProviderStatus
from codexbard.store import LatestRecord, Store
from tests.store.builders import NOW, full_snapshot, minutes, primary_only


async def test_full_snapshot_round_trips_through_a_reopen(db_path: Path, clock: FixedClock) -> None:
    snapshot = full_snapshot()
    fetched = datetime(2026, 11, 25, 18, 10, 22, 123456, tzinfo=UTC)
    store = await Store.open(db_path, clock=clock)
    await store.save_success("claude", None, snapshot, "oauth", fetched)
    await store.close()

    store = await Store.open(db_path, clock=clock)
    try:
        records = await store.load_latest()
    finally:
        await store.close()

    assert records == [
        LatestRecord(
            provider="claude",
            account=None,
            snapshot=snapshot,
            source="oauth",
            fetched_at=fetched,
            error=None,
            last_attempt_at=fetched,
            last_success_at=fetched,
            consecutive_failures=0,
        )
    ]
    loaded = records[0].snapshot
    assert loaded is not None
    assert loaded.wire() == snapshot.wire()
    assert loaded.extra_rate_windows[1].window.reset_description == "405/1500 credits"
    assert loaded.credits is not None and loaded.credits.total == 1500.0
    assert loaded.identity is not None and loaded.identity.login_method == "Claude Max"
    assert loaded.provider_cost is not None and loaded.provider_cost.currency_code == "EUR"
    assert records[0].fetched_at is not None and records[0].fetched_at.tzinfo is not None


async def test_snapshot_is_stored_as_camel_case_json(store: Store, db_path: Path) -> None:
    await store.save_success("claude", None, full_snapshot(), "oauth", NOW)
    conn = sqlite3.connect(db_path)
    (text,) = conn.execute("SELECT snapshot FROM latest").fetchone()
    conn.close()
    assert '"usedPercent":28.5' in text
    assert '"extraRateWindows"' in text
    assert '"accountEmail":"user@example.com"' in text


async def test_accounts_are_separate_rows_and_none_is_the_default(store: Store, db_path: Path) -> None:
    await store.save_success("codex", None, primary_only(10.0), "oauth", NOW)
    await store.save_success("codex", "work", primary_only(20.0), "codex-cli", NOW)
    await store.save_success("claude", None, primary_only(30.0), "oauth", NOW)
    records = await store.load_latest()
    assert [(r.provider, r.account, r.source) for r in records] == [
        ("claude", None, "oauth"),
        ("codex", None, "oauth"),
        ("codex", "work", "codex-cli"),
    ]
    conn = sqlite3.connect(db_path)
    accounts = conn.execute("SELECT account FROM latest WHERE provider = 'codex' ORDER BY account").fetchall()
    conn.close()
    assert accounts == [("",), ("work",)]


async def test_success_replaces_the_previous_snapshot(store: Store) -> None:
    await store.save_success("codex", None, primary_only(10.0), "oauth", NOW)
    await store.save_success("codex", None, primary_only(15.0), "codex-cli", NOW + minutes(5))
    (record,) = await store.load_latest()
    assert record.snapshot == primary_only(15.0)
    assert record.source == "codex-cli"
    assert record.fetched_at == NOW + minutes(5)


async def test_failure_before_any_success(store: Store) -> None:
    error = FetchError.of("not_configured", "No Codex credentials found; run `codex login`")
    assert await store.save_failure("codex", None, error, NOW) == 1
    assert await store.save_failure("codex", None, error, NOW + minutes(5)) == 2
    assert await store.load_latest() == [
        LatestRecord(
            provider="codex",
            account=None,
            snapshot=None,
            source=None,
            fetched_at=None,
            error=error,
            last_attempt_at=NOW + minutes(5),
            last_success_at=None,
            consecutive_failures=2,
        )
    ]


async def test_failure_keeps_last_good_snapshot_and_counts(store: Store) -> None:
    good = full_snapshot()
    await store.save_success("claude", "personal", good, "oauth", NOW)
    timeout = FetchError.of("timeout", "Claude usage endpoint did not answer in 30 s")
    limited = FetchError.of("rate_limited", "Claude usage endpoint rate-limited; retry in 300 s")
    assert await store.save_failure("claude", "personal", timeout, NOW + minutes(5)) == 1
    assert await store.save_failure("claude", "personal", timeout, NOW + minutes(10)) == 2
    assert await store.save_failure("claude", "personal", limited, NOW + minutes(20)) == 3

    (record,) = await store.load_latest()
    assert record.snapshot == good
    assert record.source == "oauth"
    assert record.fetched_at == NOW
    assert record.last_success_at == NOW
    assert record.last_attempt_at == NOW + minutes(20)
    assert record.error == limited
    assert record.error is not None and record.error.code == 1
    assert record.consecutive_failures == 3

    # Other accounts count on their own.
    assert await store.save_failure("claude", None, timeout, NOW + minutes(20)) == 1

    await store.save_success("claude", "personal", primary_only(5.0), "oauth", NOW + minutes(30))
    record = next(r for r in await store.load_latest() if r.account == "personal")
    assert record.error is None
    assert record.consecutive_failures == 0
    assert record.last_success_at == record.last_attempt_at == NOW + minutes(30)
    assert await store.save_failure("claude", "personal", timeout, NOW + minutes(35)) == 1


async def test_error_code_round_trips(store: Store) -> None:
    error = FetchError.of("cli_missing", "codex is not installed")
    await store.save_failure("codex", None, error, NOW)
    (record,) = await store.load_latest()
    assert record.error == FetchError(kind="cli_missing", message="codex is not installed", code=2)


async def test_unreadable_row_is_skipped_with_a_warning_and_kept(
    store: Store, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await store.save_success("codex", None, primary_only(10.0), "oauth", NOW)
    await store.save_success("claude", None, primary_only(20.0), "oauth", NOW)
    await store.save_failure("zai", None, FetchError.of("timeout", "slow"), NOW)
    conn = sqlite3.connect(db_path)
    conn.execute(
        "UPDATE latest SET snapshot = ? WHERE provider = 'codex'", ('{"primary": {"usedPercent": "lots"',)
    )
    conn.execute("UPDATE latest SET error = ? WHERE provider = 'zai'", ('{"kind": "boom", "message": 1}',))
    conn.commit()
    conn.close()

    with caplog.at_level(logging.WARNING, logger="codexbard.store"):
        records = await store.load_latest()

    assert [r.provider for r in records] == ["claude"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "unreadable latest row of codex" in warnings[0]
    assert "unreadable latest row of zai" in warnings[1]
    conn = sqlite3.connect(db_path)
    kept = conn.execute("SELECT provider FROM latest ORDER BY provider").fetchall()
    conn.close()
    assert kept == [("claude",), ("codex",), ("zai",)]


async def test_statuses_round_trip_and_replace(store: Store, db_path: Path, clock: FixedClock) -> None:
    claude = ProviderStatus(
        kind="statuspage",
        indicator="minor",
        description="Elevated errors on Claude Opus",
        updated_at=datetime(2026, 11, 25, 17, 55, tzinfo=UTC),
        url="https://status.claude.com",
    )
    gemini = ProviderStatus(kind="google-workspace", indicator="none", description=None, url="https://x.test")
    cursor = ProviderStatus(kind="link", url="https://status.cursor.com")
    await store.save_status("claude", claude, NOW)
    await store.save_status("gemini", gemini, NOW)
    await store.save_status("cursor", cursor, NOW)
    assert await store.load_statuses() == {"claude": claude, "cursor": cursor, "gemini": gemini}

    recovered = claude.model_copy(update={"indicator": "none", "description": "All Systems Operational"})
    await store.save_status("claude", recovered, NOW + minutes(5))
    await store.close()
    reopened = await Store.open(db_path, clock=clock)
    try:
        statuses = await reopened.load_statuses()
    finally:
        await reopened.close()
    assert statuses == {"claude": recovered, "cursor": cursor, "gemini": gemini}
    assert statuses["cursor"].indicator is None


async def test_unreadable_status_is_skipped(
    store: Store, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await store.save_status("claude", ProviderStatus(kind="link", url="https://status.claude.com"), NOW)
    await store.save_status("zai", ProviderStatus(kind="link", url="https://status.z.ai"), NOW)
    conn = sqlite3.connect(db_path)
    conn.execute("UPDATE provider_status SET status = 'not json' WHERE provider = 'zai'")
    conn.commit()
    conn.close()
    with caplog.at_level(logging.WARNING, logger="codexbard.store"):
        statuses = await store.load_statuses()
    assert list(statuses) == ["claude"]
    assert any("unreadable status of zai" in r.getMessage() for r in caplog.records)


async def test_concurrent_writers_do_not_interleave_transactions(store: Store) -> None:
    error = FetchError.of("unavailable", "HTTP 503")
    tasks: list[Coroutine[Any, Any, object]] = []
    for i in range(40):
        tasks.append(store.save_success(f"p{i % 5}", None, primary_only(float(i)), "api", NOW + minutes(i)))
        tasks.append(store.save_failure("flaky", None, error, NOW + minutes(i)))
        tasks.append(store.load_latest())
    await asyncio.gather(*tasks)
    flaky = next(r for r in await store.load_latest() if r.provider == "flaky")
    assert flaky.consecutive_failures == 40
    assert await store.integrity_check() == "ok"


async def test_a_cancelled_write_leaves_the_store_usable_and_consistent(store: Store) -> None:
    # Cancel later and later, so the cancellation lands on each await of save_success in turn, until a
    # save finishes before its cancel arrives.
    outcomes: list[str] = []
    turns = 0
    while "done" not in outcomes and turns < 112:
        turns += 1
        provider = f"p{turns}"
        task = asyncio.create_task(store.save_success(provider, None, full_snapshot(), "oauth", NOW))
        for _ in range(turns % 4):
            await asyncio.sleep(0)
        # 20 µs steps up to 2 ms, then doubling, so even a slow machine reaches a finished save.
        await asyncio.sleep(turns * 0.00002 if turns <= 100 else 0.002 * 2 ** (turns - 100))
        task.cancel()
        try:
            await task
            outcomes.append("done")
        except asyncio.CancelledError:
            outcomes.append("cancelled")
        # The next transaction starts cleanly...
        error = FetchError.of("timeout", "slow")
        count = await store.save_failure(provider, None, error, NOW + minutes(1))
        record = next(r for r in await store.load_latest() if r.provider == provider)
        points = await store.history(provider, None, "primary", NOW, NOW)
        # ... and the cancelled save is all or nothing: latest row and samples together.
        assert count == 1
        if record.snapshot is None:
            assert points == []
        else:
            assert record.snapshot == full_snapshot()
            assert [p.used_percent for p in points] == [28.5]
    assert outcomes.count("cancelled") >= 3
    assert outcomes[-1] == "done"
    assert await store.integrity_check() == "ok"
