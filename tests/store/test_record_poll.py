"""One poll, one transaction: latest row, samples and poll log commit together or not at all."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from codexbard.errors import StoreError
from codexbard.models import FetchError, ProviderStatus
from codexbard.store import Database, PollRecord, Store
from codexbard.store.poll_log import PollLogRepository
from tests.store.builders import NOW, RESET, minutes, primary_only

DOWN = FetchError.of("unavailable", "Codex is down (HTTP 503)")
ATTEMPTS: list[dict[str, object]] = [{"strategy": "oauth", "ok": True, "durationMs": 12.5}]


def success(used: float, at_minutes: float = 0) -> PollRecord:
    at = NOW + minutes(at_minutes)
    return PollRecord(provider="codex", account=None, started_at=at, finished_at=at, duration_ms=12.5,
                      attempts=ATTEMPTS, snapshot=primary_only(used), source="oauth")


def failure(at_minutes: float, failures: int | None) -> PollRecord:
    at = NOW + minutes(at_minutes)
    return PollRecord(provider="codex", account=None, started_at=at, finished_at=at, duration_ms=3.0,
                      attempts=[], error=DOWN, consecutive_failures=failures)


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(sql))


async def test_a_successful_poll_writes_latest_samples_and_log(store: Store, db_path: Path) -> None:
    assert await store.record_poll(success(10.0)) == 0
    latest = await store.load_latest()
    assert [(r.provider, r.snapshot, r.source, r.fetched_at, r.error) for r in latest] == [
        ("codex", primary_only(10.0), "oauth", NOW, None)
    ]
    samples = await store.history("codex", None, "primary", NOW, NOW + minutes(1))
    assert [(s.t, s.used_percent, s.resets_at) for s in samples] == [(NOW, 10.0, RESET)]
    log = await store.poll_log()
    assert [(e["ok"], e["error_kind"], e["duration_ms"], e["attempts"]) for e in log] == [
        (True, None, 12.5, ATTEMPTS)
    ]


async def test_failures_store_the_count_the_scheduler_backs_off_by(store: Store) -> None:
    await store.record_poll(success(10.0))
    assert await store.record_poll(failure(5, 1)) == 1
    assert await store.record_poll(failure(6, 1)) == 1  # a manual refresh: the count stays
    assert await store.record_poll(failure(7, None)) == 2  # a caller that does not count: stored + 1
    [record] = await store.load_latest()
    assert (record.snapshot, record.error, record.consecutive_failures) == (primary_only(10.0), DOWN, 2)
    assert (record.last_attempt_at, record.last_success_at) == (NOW + minutes(7), NOW)
    assert [e["ok"] for e in await store.poll_log()] == [False, False, False, True]


async def test_a_failing_write_leaves_nothing_of_the_poll(store: Store, db_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    await store.record_poll(success(10.0))

    async def broken(self: PollLogRepository, conn: object, *args: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(PollLogRepository, "append", broken)
    with pytest.raises(StoreError) as info:
        await store.record_poll(success(55.0, at_minutes=5))
    assert str(info.value) == f"database {db_path}: disk I/O error"
    assert query(db_path, "SELECT snapshot IS NOT NULL, fetched_at FROM latest") == [(1, NOW.timestamp())]
    assert query(db_path, "SELECT used_percent FROM window_samples") == [(10.0,)]
    assert query(db_path, "SELECT COUNT(*) FROM poll_log") == [(1,)]


async def test_the_store_is_a_database_plus_repositories(store: Store, db_path: Path) -> None:
    assert isinstance(store.db, Database)
    assert store.db.path == db_path == store.path
    async with store.db.transaction() as conn:
        await store.statuses.write(conn, "codex", _status(), NOW)
        await store.latest.write_failure(conn, "codex", "work", DOWN, NOW, 4)
    assert (await store.statuses.load())["codex"] == _status()
    assert [(r.account, r.consecutive_failures) for r in await store.latest.load()] == [("work", 4)]



def _status() -> ProviderStatus:
    return ProviderStatus(kind="statuspage", indicator="minor", url="https://status.example")
