"""The Database: codexbard's one SQLite file, its migrations, and the single writer over one connection.

aiosqlite runs every statement of a connection on one thread, in order; an asyncio lock on top makes each
multi-statement operation one transaction that no other task can interleave with. The connection runs in
autocommit mode and every write is an explicit `BEGIN IMMEDIATE ... COMMIT` (`Database.transaction()`), so a
crash leaves either the whole operation or none of it (WAL, synchronous=NORMAL: a committed transaction
survives a process crash; only a power loss may take the last few back). The repositories (latest, samples,
statuses, poll log, retention) hold the SQL; they write inside a transaction handed to them, so one poll
can be recorded in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import aiosqlite

from codexbard.errors import StoreError
from codexbard.host.clock import Clock
from codexbard.models import iso_z
from codexbard.store.migrations import MIGRATIONS, SCHEMA_MIGRATIONS_TABLE
from codexbard.store.opening import fail, prepare_path, translate

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_MS: Final = 5000

Row = tuple[Any, ...]
Connection = aiosqlite.Connection


class Database:
    """One open SQLite connection: opening, migrations, the write lock, transactions, close."""

    def __init__(self, path: Path, connection: aiosqlite.Connection, clock: Clock) -> None:
        """Wrap an open connection; use `Database.open()`."""
        self._path = path
        self._conn = connection
        self._clock = clock
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def connection(self) -> aiosqlite.Connection:
        """The raw connection (tests and diagnostics only; writes go through `transaction()`)."""
        return self._conn

    @property
    def closed(self) -> bool:
        """Whether `close()` has run."""
        return self._closed

    # ----------------------------------------------------------------------------------------- lifecycle

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        clock: Clock | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> Database:
        """Open (creating and migrating when needed) the database at `path`; raise StoreError if unusable."""
        path = await asyncio.to_thread(_prepare, path)
        try:
            connection = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        except (sqlite3.Error, OSError) as exc:
            raise translate(path, exc) from exc
        store = cls(path, connection, clock or Clock())
        try:
            await store._setup(busy_timeout_ms)
        except BaseException as exc:
            store._closed = True
            try:
                await connection.close()
            except Exception as close_exc:
                log.debug("closing %s after a failed open: %s", path, close_exc)
            if isinstance(exc, sqlite3.Error | OSError):
                raise translate(path, exc) from exc
            raise
        return store

    async def _setup(self, busy_timeout_ms: int) -> None:
        conn = self._conn
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # Look before touching: nothing below this block writes to a database we would refuse.
        listing = await rows_of(conn, "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        objects = {row[0] for row in listing}
        applied: set[str] = set()
        if "schema_migrations" in objects:
            applied = {row[0] for row in await rows_of(conn, "SELECT name FROM schema_migrations")}
            unknown = sorted(applied - {name for name, _ in MIGRATIONS})
            if unknown:
                raise fail(
                    self._path,
                    f"it was written by a newer codexbard (unknown migrations: {', '.join(unknown)}); "
                    "upgrade codexbard or set another data_dir",
                )
        elif objects:
            raise fail(self._path, "it is a SQLite database that codexbard did not create (left untouched)")
        mode = (await rows_of(conn, "PRAGMA journal_mode = WAL"))[0][0]
        if str(mode).lower() != "wal":
            log.warning("database %s: journal mode is %s, not wal", self._path, mode)
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute("PRAGMA foreign_keys = ON")
        await self._migrate(applied, have_table="schema_migrations" in objects)

    async def _migrate(self, applied: set[str], *, have_table: bool) -> None:
        conn = self._conn
        if not have_table:
            try:
                await conn.execute("BEGIN IMMEDIATE")
                await conn.execute(SCHEMA_MIGRATIONS_TABLE)
                await conn.execute("COMMIT")
            except BaseException:
                await _rollback_quietly(conn)
                raise
        for name, sql in MIGRATIONS:
            if name in applied:
                continue
            try:
                # BEGIN inside the script: executescript() would commit an open transaction first.
                await conn.executescript("BEGIN IMMEDIATE;\n" + sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, iso_z(self._clock.now())),
                )
                await conn.execute("COMMIT")
            except sqlite3.Error:
                await _rollback_quietly(conn)
                # Another process may have applied it between our look and our write.
                done = {row[0] for row in await rows_of(conn, "SELECT name FROM schema_migrations")}
                if name in done:
                    continue
                raise
            except BaseException:
                await _rollback_quietly(conn)
                raise
            log.info("database %s: applied migration %s", self._path, name)

    async def close(self) -> None:
        """Checkpoint the WAL and close the connection; calling it again does nothing."""
        if self._closed:
            return
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                await self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.debug("database %s: checkpoint on close failed: %s", self._path, exc)
            try:
                await self._conn.close()
            except sqlite3.Error as exc:
                log.warning("database %s: close failed: %s", self._path, exc)

    # ------------------------------------------------------------------------------------- transactions

    def error(self, exc: BaseException) -> StoreError:
        """The one-line StoreError for a failed statement."""
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StoreError(f"database {self._path}: {text}")

    def _require_open(self) -> aiosqlite.Connection:
        if self._closed:
            raise StoreError(f"database {self._path} is closed")
        return self._conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the body as one `BEGIN IMMEDIATE` transaction, alone on the connection."""
        async with self._lock:
            conn = self._require_open()
            try:
                await conn.execute("BEGIN IMMEDIATE")
                yield conn
                await conn.execute("COMMIT")
            except BaseException as exc:
                # Also on cancellation: a statement whose await was cancelled still runs on aiosqlite's
                # thread, and the ROLLBACK queued behind it closes whatever it opened.
                await _rollback_quietly(conn)
                if isinstance(exc, sqlite3.Error):
                    raise self.error(exc) from exc
                raise

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the body alone on the connection (no transaction of ours is open while it runs)."""
        async with self._lock:
            conn = self._require_open()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise self.error(exc) from exc

    async def integrity_check(self) -> str:
        """Run SQLite's integrity check; return "ok" or the first problem it reports."""
        async with self.reading() as conn:
            rows = await rows_of(conn, "PRAGMA integrity_check")
        return str(rows[0][0]) if rows else "ok"


def _prepare(path: Path) -> Path:
    resolved = Path(path).expanduser()
    prepare_path(resolved)
    return resolved


async def rows_of(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any] | Mapping[str, Any] | None = None
) -> list[Row]:
    """Run a query and return its rows as tuples."""
    result = await conn.execute_fetchall(sql, params if params is not None else ())
    return [tuple(row) for row in result]


async def _rollback_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        # Nothing was open: the failure came before BEGIN took effect, or COMMIT had already run.
        log.debug("rollback skipped: %s", exc)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (its type name when it has none)."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
