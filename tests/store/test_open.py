"""Opening the database: migrations, pragmas, file modes, and every file we must refuse without touching."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from codexbard.errors import StoreError
from codexbard.host.clock import FixedClock
from codexbard.store import MIGRATIONS, Store, opening
from tests.store.builders import NOW, primary_only


def _query(path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _bytes(path: Path) -> bytes:
    return path.read_bytes()


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


async def test_migrations_apply_once_and_are_recorded(db_path: Path, clock: FixedClock) -> None:
    store = await Store.open(db_path, clock=clock)
    await store.close()
    rows = _query(db_path, "SELECT name, applied_at FROM schema_migrations ORDER BY name")
    assert rows == [(name, "2026-11-25T18:00:00Z") for name, _ in MIGRATIONS]
    assert [name for name, _ in MIGRATIONS] == ["0001_initial", "0002_cost_scan_state"]
    tables = {r[0] for r in _query(db_path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    expected = {"schema_migrations", "latest", "window_series", "window_samples", "provider_status"}
    expected.update({"poll_log", "cost_scan_state"})
    assert expected <= tables


async def test_reopening_is_a_no_op(db_path: Path, clock: FixedClock) -> None:
    first = await Store.open(db_path, clock=clock)
    await first.save_success("codex", None, primary_only(10.0), "oauth", NOW)
    await first.close()
    clock.advance(3600)
    second = await Store.open(db_path, clock=clock)
    try:
        records = await second.load_latest()
    finally:
        await second.close()
    assert _query(db_path, "SELECT name, applied_at FROM schema_migrations ORDER BY name") == [
        ("0001_initial", "2026-11-25T18:00:00Z"), ("0002_cost_scan_state", "2026-11-25T18:00:00Z")
    ]
    assert [(r.provider, r.snapshot) for r in records] == [("codex", primary_only(10.0))]


async def test_wal_mode_and_pragmas(store: Store, db_path: Path) -> None:
    assert _query(db_path, "PRAGMA journal_mode") == [("wal",)]
    conn = store._conn
    assert list(await conn.execute_fetchall("PRAGMA foreign_keys")) == [(1,)]
    assert list(await conn.execute_fetchall("PRAGMA synchronous")) == [(1,)]  # NORMAL
    assert list(await conn.execute_fetchall("PRAGMA busy_timeout")) == [(5000,)]


async def test_integrity_check_ok(store: Store) -> None:
    await store.save_success("codex", None, primary_only(10.0), "oauth", NOW)
    assert await store.integrity_check() == "ok"


async def test_creates_parent_directory_0700_and_file_0600(db_path: Path) -> None:
    assert not db_path.parent.exists()
    store = await Store.open(db_path)
    await store.close()
    assert _mode(db_path.parent) == 0o700
    assert _mode(db_path) == 0o600


async def test_existing_parent_mode_is_left_alone(tmp_path: Path) -> None:
    parent = tmp_path / "shared"
    parent.mkdir(mode=0o755)
    os.chmod(parent, 0o755)
    store = await Store.open(parent / "codexbard.db")
    await store.close()
    assert _mode(parent) == 0o755


async def test_unknown_newer_migration_is_refused_and_file_is_byte_identical(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.save_success("codex", None, primary_only(10.0), "oauth", NOW)
    await store.close()
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO schema_migrations VALUES ('0099_from_the_future', '2027-01-01T00:00:00Z')")
    conn.commit()
    conn.close()
    before = _bytes(db_path)
    files_before = _siblings(db_path)

    with pytest.raises(StoreError) as info:
        await Store.open(db_path)

    message = str(info.value)
    assert "newer codexbard" in message
    assert "0099_from_the_future" in message
    assert str(db_path) in message
    assert "\n" not in message
    assert _bytes(db_path) == before
    assert _siblings(db_path) == files_before


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a database, just some notes\n" * 20,
        b"{\"json\": true}",
        b"SQLite",  # shorter than the header
        b"SQLite format 2\x00" + b"\x00" * 200,
    ],
    ids=["text", "json", "short", "wrong-header"],
)
async def test_garbage_file_is_refused_and_untouched(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "codexbard.db"
    path.write_bytes(content)
    with pytest.raises(StoreError) as info:
        await Store.open(path)
    assert str(info.value) == (
        f"cannot use database {path}: it is not a SQLite database "
        "(left untouched; move it away or set another data_dir)"
    )
    assert _bytes(path) == content
    assert _siblings(path) == ["codexbard.db"]


async def test_directory_at_the_path_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "codexbard.db"
    path.mkdir()
    (path / "keep.txt").write_text("mine")
    with pytest.raises(StoreError) as info:
        await Store.open(path)
    assert str(info.value) == f"cannot use database {path}: it is a directory, not a database file"
    assert sorted(p.name for p in path.iterdir()) == ["keep.txt"]
    assert (path / "keep.txt").read_text() == "mine"


async def test_parent_that_is_a_file_is_refused(tmp_path: Path) -> None:
    parent = tmp_path / "data"
    parent.write_text("not a dir")
    with pytest.raises(StoreError) as info:
        await Store.open(parent / "codexbard.db")
    assert f"its parent {parent} is not a directory" in str(info.value)
    assert parent.read_text() == "not a dir"


async def test_foreign_sqlite_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.commit()
    conn.close()
    before = _bytes(path)
    with pytest.raises(StoreError) as info:
        await Store.open(path)
    assert "codexbard did not create" in str(info.value)
    assert _bytes(path) == before
    assert _query(path, "PRAGMA journal_mode") == [("delete",)]


async def test_unreadable_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "codexbard.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84)
    if os.geteuid() == 0:
        # root reads through any mode bits, so make the read itself fail the way EACCES does.
        def denied(_: Path) -> bytes:
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(opening, "read_header", denied)
    else:
        path.chmod(0)
    with pytest.raises(StoreError) as info:
        await Store.open(path)
    assert str(info.value) == f"cannot use database {path}: permission denied (cannot read the file)"
    path.chmod(0o600)
    assert _bytes(path) == b"SQLite format 3\x00" + b"\x00" * 84


async def test_locked_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "codexbard.db"
    store = await Store.open(path)
    await store.save_success("codex", None, primary_only(10.0), "oauth", NOW)
    await store.close()
    # A rollback-journal database under an exclusive lock cannot even be read by another connection.
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError) as info:
            await Store.open(path, busy_timeout_ms=50)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert str(info.value) == (
        f"cannot use database {path}: it is locked by another process (is another codexbard running?)"
    )
    # Untouched: still in the journal mode the other process chose, data intact.
    assert _query(path, "PRAGMA journal_mode") == [("delete",)]
    assert _query(path, "SELECT provider FROM latest") == [("codex",)]


async def test_empty_existing_file_becomes_a_database(tmp_path: Path) -> None:
    path = tmp_path / "codexbard.db"
    path.touch()
    store = await Store.open(path)
    await store.close()
    assert _query(path, "SELECT name FROM schema_migrations ORDER BY name") == [
        ("0001_initial",), ("0002_cost_scan_state",)
    ]


async def test_close_is_idempotent_and_later_calls_fail_clearly(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.close()
    await store.close()
    with pytest.raises(StoreError) as info:
        await store.load_latest()
    assert str(info.value) == f"database {db_path} is closed"
    with pytest.raises(StoreError):
        await store.save_success("codex", None, primary_only(1.0), "oauth", NOW)


async def test_close_checkpoints_the_wal(db_path: Path) -> None:
    store = await Store.open(db_path)
    await store.save_success("codex", None, primary_only(10.0), "oauth", NOW)
    wal = db_path.with_name(db_path.name + "-wal")
    assert wal.exists() and wal.stat().st_size > 0
    await store.close()
    assert not wal.exists() or wal.stat().st_size == 0
    assert _query(db_path, "SELECT provider FROM latest") == [("codex",)]


async def test_context_manager_closes(db_path: Path) -> None:
    async with await Store.open(db_path) as store:
        await store.save_success("codex", None, primary_only(10.0), "oauth", NOW)
    with pytest.raises(StoreError):
        await store.load_latest()


# ------------------------------------------------------------------- serve's preflight (issue 6, item 12)


async def _seeded(db_path: Path, clock: FixedClock) -> None:
    store = await Store.open(db_path, clock=clock)
    try:
        for used in range(20):
            await store.save_success("zai", None, primary_only(float(used)), "api", NOW)
    finally:
        await store.close()


def _exists(path: Path) -> bool:
    return path.exists()


def _damage_last_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[-page_size:] = b"\xa5" * page_size
    path.write_bytes(bytes(data))


async def test_preflight_accepts_a_healthy_database_and_a_missing_one(db_path: Path, clock: FixedClock) -> None:
    opening.preflight(db_path)  # nothing there yet: Store.open creates it
    assert not _exists(db_path)
    await _seeded(db_path, clock)
    opening.preflight(db_path)


async def test_preflight_refuses_a_damaged_page_behind_a_valid_header(db_path: Path, clock: FixedClock) -> None:
    await _seeded(db_path, clock)
    _damage_last_page(db_path)
    before = _bytes(db_path)
    with pytest.raises(StoreError) as info:
        opening.preflight(db_path)
    message = str(info.value)
    assert message.startswith(f"cannot use database {db_path}: the database is damaged (")
    assert message.endswith("); move it away or set another data_dir")
    assert "\n" not in message
    assert _bytes(db_path) == before


async def test_preflight_refuses_a_read_only_database(db_path: Path, clock: FixedClock,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    await _seeded(db_path, clock)
    os.chmod(db_path, 0o400)
    # root may write anything; look at the file as its owner would.
    monkeypatch.setattr(opening, "writable", lambda path: path != db_path)
    with pytest.raises(StoreError) as info:
        opening.preflight(db_path)
    assert str(info.value) == (
        f"cannot use database {db_path}: the database file is read-only "
        "(codexbard needs to write it; check the permissions)"
    )
    assert opening.write_problem(db_path) == "the database file is read-only"


async def test_preflight_refuses_an_unwritable_data_dir(db_path: Path, clock: FixedClock,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    await _seeded(db_path, clock)
    monkeypatch.setattr(opening, "writable", lambda path: path != db_path.parent)
    with pytest.raises(StoreError) as info:
        opening.preflight(db_path)
    assert str(info.value) == (
        f"cannot use database {db_path}: the data directory is not writable "
        "(codexbard needs to write it; check the permissions)"
    )


def test_write_problem_is_cached_for_a_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cached.db"
    path.write_bytes(b"")
    answers = iter([True, True, True, False])  # directory, file; directory, file
    monkeypatch.setattr(opening, "writable", lambda p: next(answers))
    now = [100.0]
    monkeypatch.setattr(opening.time, "monotonic", lambda: now[0])
    assert opening.cached_write_problem(path) is None
    now[0] += 0.5
    assert opening.cached_write_problem(path) is None  # not looked at again
    now[0] += 0.6
    assert opening.cached_write_problem(path) == "the database file is read-only"
