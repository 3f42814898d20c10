"""The cost scan state in the store: round trip, resume without rescanning, deleted logs, compare and swap."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson
import pytest

from codexbard.cost import CostScanner, Pricing, ScanState, discover_roots
from codexbard.cost.service import (
    CostQuery,
    PersistentScan,
    cost_reports,
    scope_of,
    snapshot_from_bytes,
)
from codexbard.errors import StoreError
from codexbard.store import Store
from codexbard.store import cost as cost_store
from tests.cost.corpus import NOW, TZ, cost_env, expected_blocks, write_corpus
from tests.cost.helpers import append, claude


def _db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "codexbard.db"

    async def create() -> None:
        store = await Store.open(path)
        await store.close()

    asyncio.run(create())
    return path


def _reports(snapshot: ScanState) -> list[dict[str, object]]:
    return cost_reports(snapshot, CostQuery(), pricing=Pricing(), tz=TZ, now=NOW)


def _clean(blocks: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{**b, "updatedAt": None} for b in blocks]


def test_a_scan_is_saved_and_a_new_process_resumes_without_reading_again(tmp_path: Path) -> None:
    write_corpus(tmp_path / "logs")
    roots = discover_roots(cost_env(tmp_path / "logs"), tmp_path)
    db = _db(tmp_path)
    first = PersistentScan(db, roots, TZ, clock=lambda: 1_800_000_000.0).run()
    assert (first.generation, first.saved_state, first.files) == (1, True, 2)
    assert first.changed_days == 3  # codex 12-06; claude 12-04 and 12-06
    assert _reports(first.snapshot) == expected_blocks("2027-01-15T08:00:00Z")

    # The row holds the whole state (files with offsets) and the aggregate alone.
    conn = cost_store.connect(db)
    stored = cost_store.load(conn, scope_of(roots)[0])
    conn.close()
    assert stored is not None and stored.generation == 1 and stored.scanned_at == 1_800_000_000.0
    state = ScanState.from_json(orjson.loads(stored.state))
    assert sorted((f.provider, f.offset == Path(f.path).stat().st_size) for f in state.files.values()) == [
        ("claude", True), ("codex", True)
    ]
    assert _reports(snapshot_from_bytes(stored.aggregate)) == expected_blocks("2027-01-15T08:00:00Z")

    # A new PersistentScan (a restart) loads it: nothing is read again, the state row is not rewritten.
    again = PersistentScan(db, roots, TZ, clock=lambda: 1_800_000_300.0).run()
    assert (again.generation, again.saved_state, again.changed_days) == (1, False, 0)
    assert _reports(again.snapshot) == expected_blocks("2027-01-15T08:05:00Z")

    # Nothing new: only the scan time is written; the stored state and aggregate blobs are untouched.
    conn = cost_store.connect(db)
    after = cost_store.load(conn, scope_of(roots)[0])
    conn.close()
    assert after is not None and after.scanned_at == 1_800_000_300.0 and after.generation == 1
    assert (after.state, after.aggregate) == (stored.state, stored.aggregate)


def test_appended_lines_are_read_and_deleted_logs_keep_their_days(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_corpus(logs)
    roots = discover_roots(cost_env(logs), tmp_path)
    db = _db(tmp_path)
    PersistentScan(db, roots, TZ).run()
    append(logs / "claude" / "projects" / "p1" / "s1.jsonl",
           [claude("2026-12-06T10:00:00.000Z", "claude-haiku-4-5-20251001", (1000, 0, 0, 100), "m3", "r3")])
    grown = PersistentScan(db, roots, TZ).run()
    assert (grown.generation, grown.changed_days) == (2, 1)
    claude_block = _reports(grown.snapshot)[1]
    assert claude_block["sessionTokens"] == 3800 + 1100
    assert claude_block["last30DaysCostUSD"] == pytest.approx(0.010325 + 0.001 + 0.0005, abs=1e-12)

    (logs / "claude" / "projects" / "p1" / "s1.jsonl").unlink()
    (logs / "codex" / "sessions" / "2026" / "12" / "06" / "rollout-a.jsonl").unlink()
    gone = PersistentScan(db, roots, TZ).run()  # a fresh process: loads the state from the database
    assert _clean(_reports(gone.snapshot)) == _clean(_reports(grown.snapshot))


def test_a_stale_writer_is_refused_then_rescans_from_the_newer_state(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_corpus(logs)
    roots = discover_roots(cost_env(logs), tmp_path)
    db = _db(tmp_path)
    daemon, cli = PersistentScan(db, roots, TZ), PersistentScan(db, roots, TZ)
    assert daemon.run().generation == 1
    assert cli.run().generation == 1  # loaded generation 1 and had nothing to add
    append(logs / "claude" / "projects" / "p1" / "s1.jsonl",
           [claude("2026-12-06T10:00:00.000Z", "claude-haiku-4-5-20251001", (1000, 0, 0, 100), "m3", "r3")])
    assert cli.run().generation == 2
    # The daemon's state in memory is from generation 1: it reloads before scanning, never overwriting.
    outcome = daemon.run()
    assert (outcome.generation, outcome.changed_days) == (2, 0)
    assert _clean(_reports(outcome.snapshot)) == _clean(_reports(cli.run().snapshot))

    conn = cost_store.connect(db)
    with pytest.raises(cost_store.CostConflict, match="generation 2, expected 1"):
        cost_store.save(conn, scope_of(roots)[0], "{}", 1, b"{}", b"{}", None, 0.0)
    assert cost_store.generation(conn, scope_of(roots)[0]) == 2
    conn.close()


def test_a_fresh_scan_equals_the_resumed_one(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_corpus(logs)
    roots = discover_roots(cost_env(logs), tmp_path)
    db = _db(tmp_path)
    PersistentScan(db, roots, TZ).run()
    append(logs / "codex" / "sessions" / "2026" / "12" / "06" / "rollout-a.jsonl", [], tail='{"timestamp":"2026')
    resumed = PersistentScan(db, roots, TZ).run()
    clean, _ = CostScanner(roots, TZ).scan(None)
    assert _clean(_reports(resumed.snapshot)) == _clean(_reports(clean))


def test_an_unreadable_state_row_is_rescanned_from_the_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    logs = tmp_path / "logs"
    write_corpus(logs)
    roots = discover_roots(cost_env(logs), tmp_path)
    db = _db(tmp_path)
    PersistentScan(db, roots, TZ).run()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE cost_scan_state SET state = ?", (b'{"version": 999}',))
    outcome = PersistentScan(db, roots, TZ).run()
    assert outcome.generation == 2 and outcome.saved_state
    assert _clean(_reports(outcome.snapshot)) == _clean(expected_blocks(None))
    assert "cannot be used" in caplog.text


def test_the_store_reads_the_aggregate_alone(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_corpus(logs)
    roots = discover_roots(cost_env(logs), tmp_path)
    db = _db(tmp_path)
    PersistentScan(db, roots, TZ, clock=lambda: 1_800_000_000.0).run()

    async def read() -> tuple[object, object]:
        store = await Store.open(db)
        try:
            return await store.load_cost_aggregate(scope_of(roots)[0]), await store.load_cost_aggregate("nope")
        finally:
            await store.close()

    found, missing = asyncio.run(read())
    assert missing is None
    assert found is not None and found.generation == 1 and found.scanned_at == 1_800_000_000.0  # type: ignore[attr-defined]
    assert _reports(snapshot_from_bytes(found.aggregate)) == expected_blocks("2027-01-15T08:00:00Z")  # type: ignore[attr-defined]


def test_a_missing_database_is_a_store_error(tmp_path: Path) -> None:
    roots = discover_roots({}, tmp_path)
    with pytest.raises(StoreError, match="does not exist"):
        PersistentScan(tmp_path / "none.db", roots, TZ).run()
