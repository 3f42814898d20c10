"""The Store: codexbard's one SQLite database, written through a single aiosqlite connection.

aiosqlite runs every statement of a connection on one thread, in order; an asyncio lock on top makes each
multi-statement operation one transaction that no other task can interleave with. The connection runs in
autocommit mode and every write is an explicit `BEGIN IMMEDIATE ... COMMIT`, so a crash leaves either the
whole operation or none of it (WAL, synchronous=NORMAL: a committed transaction survives a process crash;
only a power loss may take the last few back).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import aiosqlite
from pydantic import BaseModel, ValidationError

from codexbard.errors import StoreError
from codexbard.host.clock import Clock
from codexbard.models import FetchError, ProviderStatus, UsageSnapshot, iso_z
from codexbard.store import retention
from codexbard.store.migrations import MIGRATIONS, SCHEMA_MIGRATIONS_TABLE
from codexbard.store.opening import fail, prepare_path, translate
from codexbard.store.records import (
    LatestRecord,
    RetentionPolicy,
    Sample,
    decode_account,
    encode_account,
    from_epoch,
    opt_datetime,
    to_epoch,
)
from codexbard.store.samples import Point, window_points, worth_storing

log = logging.getLogger(__name__)

DEFAULT_BUSY_TIMEOUT_MS: Final = 5000

Row = tuple[Any, ...]

_UPSERT_SUCCESS: Final = """
INSERT INTO latest (provider, account, snapshot, source, fetched_at, error, last_attempt_at,
                    last_success_at, consecutive_failures)
VALUES (:provider, :account, :snapshot, :source, :t, NULL, :t, :t, 0)
ON CONFLICT (provider, account) DO UPDATE SET
    snapshot = excluded.snapshot,
    source = excluded.source,
    fetched_at = excluded.fetched_at,
    error = NULL,
    last_attempt_at = excluded.last_attempt_at,
    last_success_at = excluded.last_success_at,
    consecutive_failures = 0
"""

_UPSERT_FAILURE: Final = """
INSERT INTO latest (provider, account, error, last_attempt_at, consecutive_failures)
VALUES (:provider, :account, :error, :t, 1)
ON CONFLICT (provider, account) DO UPDATE SET
    error = excluded.error,
    last_attempt_at = excluded.last_attempt_at,
    consecutive_failures = latest.consecutive_failures + 1
RETURNING consecutive_failures
"""

_SELECT_LATEST: Final = """
SELECT provider, account, snapshot, source, fetched_at, error, last_attempt_at, last_success_at,
       consecutive_failures
FROM latest
ORDER BY provider, account
"""

# Every series of one provider account with its newest sample (NULLs for a series left empty).
_LAST_SAMPLES: Final = """
SELECT s.window_name, s.id, w.t, w.used_percent, w.resets_at
FROM window_series AS s
LEFT JOIN window_samples AS w
  ON w.series_id = s.id
 AND w.t = (SELECT MAX(m.t) FROM window_samples AS m WHERE m.series_id = s.id)
WHERE s.provider = ? AND s.account = ?
"""

_HISTORY_WHERE: Final = """
FROM window_samples AS w
JOIN window_series AS s ON s.id = w.series_id
WHERE s.provider = :provider AND s.account = :account AND s.window_name = :window
  AND w.t >= :since AND w.t <= :until
"""

# SQLite takes the bare columns of a single-max() aggregate from the row holding the max: the last sample.
_HISTORY_STEPPED: Final = (
    "SELECT MAX(w.t), w.used_percent, w.resets_at"
    + _HISTORY_WHERE
    + "GROUP BY CAST(w.t / :step AS INTEGER) ORDER BY 1"
)
_HISTORY_RAW: Final = "SELECT w.t, w.used_percent, w.resets_at" + _HISTORY_WHERE + "ORDER BY w.t"


def _plain(value: object) -> object:
    """Make attempt records JSON-safe: models and datetimes in their wire form, NaN/inf as null."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item) for item in value]
    return str(value)


class Store:
    """codexbard's database: latest snapshots, window history, statuses, the poll log, retention."""

    def __init__(
        self,
        path: Path,
        connection: aiosqlite.Connection,
        clock: Clock,
        policy: RetentionPolicy,
    ) -> None:
        """Wrap an open connection; use `Store.open()`."""
        self._path = path
        self._conn = connection
        self._clock = clock
        self.policy = policy
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    # ----------------------------------------------------------------------------------------- lifecycle

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        clock: Clock | None = None,
        retention_policy: RetentionPolicy | None = None,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> Store:
        """Open (creating and migrating when needed) the database at `path`; raise StoreError if unusable."""
        path = await asyncio.to_thread(_prepare, path)
        try:
            connection = await aiosqlite.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
        except (sqlite3.Error, OSError) as exc:
            raise translate(path, exc) from exc
        store = cls(path, connection, clock or Clock(), retention_policy or RetentionPolicy())
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
        listing = await _rows(conn, "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        objects = {row[0] for row in listing}
        applied: set[str] = set()
        if "schema_migrations" in objects:
            applied = {row[0] for row in await _rows(conn, "SELECT name FROM schema_migrations")}
            unknown = sorted(applied - {name for name, _ in MIGRATIONS})
            if unknown:
                raise fail(
                    self._path,
                    f"it was written by a newer codexbard (unknown migrations: {', '.join(unknown)}); "
                    "upgrade codexbard or set another data_dir",
                )
        elif objects:
            raise fail(self._path, "it is a SQLite database that codexbard did not create (left untouched)")
        mode = (await _rows(conn, "PRAGMA journal_mode = WAL"))[0][0]
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
                done = {row[0] for row in await _rows(conn, "SELECT name FROM schema_migrations")}
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

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # ------------------------------------------------------------------------------------- transactions

    def _error(self, exc: BaseException) -> StoreError:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return StoreError(f"database {self._path}: {text}")

    def _require_open(self) -> aiosqlite.Connection:
        if self._closed:
            raise StoreError(f"database {self._path} is closed")
        return self._conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
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
                    raise self._error(exc) from exc
                raise

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run the body alone on the connection (no transaction of ours is open while it runs)."""
        async with self._lock:
            conn = self._require_open()
            try:
                yield conn
            except sqlite3.Error as exc:
                raise self._error(exc) from exc

    # ------------------------------------------------------------------------------------------ latest

    async def save_success(
        self, provider: str, account: str | None, snapshot: UsageSnapshot, source: str, fetched_at: datetime
    ) -> None:
        """Record a successful fetch: replace the latest row and append the window samples that changed."""
        t = to_epoch(fetched_at)
        acct = encode_account(account)
        payload = snapshot.model_dump_json(by_alias=True)
        points = window_points(snapshot, t)
        async with self._write() as conn:
            await conn.execute(
                _UPSERT_SUCCESS,
                {"provider": provider, "account": acct, "snapshot": payload, "source": source, "t": t},
            )
            if points:
                await self._append_samples(conn, provider, acct, points)

    async def _append_samples(
        self, conn: aiosqlite.Connection, provider: str, account: str, points: Mapping[str, Point]
    ) -> None:
        series: dict[str, tuple[int, Point | None]] = {}
        for name, series_id, t, used, resets in await _rows(conn, _LAST_SAMPLES, (provider, account)):
            series[name] = (series_id, None if t is None else Point(t, used, resets))
        heartbeat = self.policy.heartbeat.total_seconds()
        tolerance = self.policy.resets_at_tolerance.total_seconds()
        inserts: list[tuple[int, float, float, float | None]] = []
        for name, point in points.items():
            if name in series:
                series_id, last = series[name]
            else:
                row = await conn.execute_insert(
                    "INSERT INTO window_series (provider, account, window_name) VALUES (?, ?, ?)",
                    (provider, account, name),
                )
                assert row is not None
                series_id, last = int(row[0]), None
            if worth_storing(last, point, heartbeat=heartbeat, resets_tolerance=tolerance):
                inserts.append((series_id, point.t, point.used_percent, point.resets_at))
        if inserts:
            await conn.executemany(
                "INSERT OR REPLACE INTO window_samples (series_id, t, used_percent, resets_at) "
                "VALUES (?, ?, ?, ?)",
                inserts,
            )

    async def save_failure(self, provider: str, account: str | None, error: FetchError, at: datetime) -> int:
        """Record a failed fetch beside the last good snapshot; return the consecutive failure count."""
        params = {
            "provider": provider,
            "account": encode_account(account),
            "error": error.model_dump_json(by_alias=True),
            "t": to_epoch(at),
        }
        async with self._write() as conn:
            rows = await _rows(conn, _UPSERT_FAILURE, params)
        return int(rows[0][0])

    async def load_latest(self) -> list[LatestRecord]:
        """Return every provider account's latest state; rows that cannot be read are skipped (and kept)."""
        async with self._read() as conn:
            rows = await _rows(conn, _SELECT_LATEST)
        records: list[LatestRecord] = []
        for provider, account, snapshot, source, fetched, error, attempt, success, failures in rows:
            try:
                record = LatestRecord(
                    provider=provider,
                    account=decode_account(account),
                    snapshot=None if snapshot is None else UsageSnapshot.model_validate_json(snapshot),
                    source=source,
                    fetched_at=opt_datetime(fetched),
                    error=None if error is None else FetchError.model_validate_json(error),
                    last_attempt_at=opt_datetime(attempt),
                    last_success_at=opt_datetime(success),
                    consecutive_failures=int(failures),
                )
            except (ValidationError, ValueError, TypeError) as exc:
                log.warning(
                    "database %s: skipping the unreadable latest row of %s%s (%s)",
                    self._path,
                    provider,
                    f"@{account}" if account else "",
                    _first_line(exc),
                )
                continue
            records.append(record)
        return records

    # ----------------------------------------------------------------------------------------- history

    async def history(
        self,
        provider: str,
        account: str | None,
        window: str,
        since: datetime,
        until: datetime,
        step: int | None = None,
    ) -> list[Sample]:
        """Return one window's samples in [since, until] by time; with `step`, the last one per bucket."""
        if step is not None and step < 1:
            raise ValueError("step must be at least 1 second")
        params: dict[str, object] = {
            "provider": provider,
            "account": encode_account(account),
            "window": window,
            "since": to_epoch(since),
            "until": to_epoch(until),
        }
        if step is not None:
            params["step"] = int(step)
        async with self._read() as conn:
            rows = await _rows(conn, _HISTORY_RAW if step is None else _HISTORY_STEPPED, params)
        return [
            Sample(t=from_epoch(t), used_percent=used, resets_at=opt_datetime(resets))
            for t, used, resets in rows
        ]

    # ---------------------------------------------------------------------------------------- statuses

    async def save_status(self, provider: str, status: ProviderStatus, fetched_at: datetime) -> None:
        """Replace the stored service status of a provider."""
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO provider_status (provider, status, fetched_at) VALUES (?, ?, ?) "
                "ON CONFLICT (provider) DO UPDATE SET "
                "status = excluded.status, fetched_at = excluded.fetched_at",
                (provider, status.model_dump_json(by_alias=True), to_epoch(fetched_at)),
            )

    async def load_statuses(self) -> dict[str, ProviderStatus]:
        """Return the stored service status of each provider; unreadable rows are skipped."""
        async with self._read() as conn:
            rows = await _rows(conn, "SELECT provider, status FROM provider_status ORDER BY provider")
        statuses: dict[str, ProviderStatus] = {}
        for provider, status in rows:
            try:
                statuses[provider] = ProviderStatus.model_validate_json(status)
            except (ValidationError, ValueError) as exc:
                log.warning(
                    "database %s: skipping the unreadable status of %s (%s)",
                    self._path,
                    provider,
                    _first_line(exc),
                )
        return statuses

    # ---------------------------------------------------------------------------------------- poll log

    async def log_poll(
        self,
        provider: str,
        account: str | None,
        started_at: datetime,
        duration_ms: float,
        ok: bool,
        error_kind: str | None,
        attempts: list[dict[str, object]],
    ) -> None:
        """Append one poll to the log (its strategy attempts as JSON)."""
        encoded = json.dumps(_plain(attempts), separators=(",", ":"), allow_nan=False)
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO poll_log (provider, account, started_at, duration_ms, ok, error_kind, attempts) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    provider,
                    encode_account(account),
                    to_epoch(started_at),
                    float(duration_ms),
                    int(ok),
                    error_kind,
                    encoded,
                ),
            )

    async def poll_log(self, provider: str | None = None, limit: int = 100) -> list[dict[str, object]]:
        """Return the newest polls first, as dicts of id, provider, account, started_at, duration_ms, ok,
        error_kind and attempts."""
        if limit <= 0:
            return []
        columns = "id, provider, account, started_at, duration_ms, ok, error_kind, attempts"
        async with self._read() as conn:
            if provider is None:
                rows = await _rows(conn, f"SELECT {columns} FROM poll_log ORDER BY id DESC LIMIT ?", (limit,))
            else:
                rows = await _rows(
                    conn,
                    f"SELECT {columns} FROM poll_log WHERE provider = ? ORDER BY id DESC LIMIT ?",
                    (provider, limit),
                )
        entries: list[dict[str, object]] = []
        for row_id, prov, account, started, duration, ok, kind, attempts in rows:
            try:
                decoded = json.loads(attempts)
            except ValueError:
                log.warning("database %s: poll log row %s has unreadable attempts", self._path, row_id)
                decoded = []
            entries.append(
                {
                    "id": row_id,
                    "provider": prov,
                    "account": decode_account(account),
                    "started_at": from_epoch(started),
                    "duration_ms": duration,
                    "ok": bool(ok),
                    "error_kind": kind,
                    "attempts": decoded,
                }
            )
        return entries

    # --------------------------------------------------------------------------------------- retention

    async def run_retention(self, now: datetime | None = None) -> dict[str, int]:
        """Downsample and expire history and the poll log; return how many rows each table lost."""
        now = now or self._clock.now()
        cuts = retention.cuts_for(now, self.policy)
        counts = {"window_samples": 0, "window_series": 0, "poll_log": 0}
        async with self._write() as conn:
            cursor = await conn.execute(retention.EXPIRE_SAMPLES_SQL, {"cut": cuts.hourly})
            counts["window_samples"] += max(cursor.rowcount, 0)
        for band_lo, band_hi, bucket, width in (
            (cuts.five_minute, cuts.raw, retention.FIVE_MINUTES, retention.FIVE_MINUTE_SLICE),
            (cuts.hourly, cuts.five_minute, retention.ONE_HOUR, retention.HOURLY_SLICE),
        ):
            for lo, hi in retention.slices(band_lo, band_hi, width):
                async with self._write() as conn:
                    cursor = await conn.execute(retention.DOWNSAMPLE_SQL, {"lo": lo, "hi": hi, "bucket": bucket})
                    counts["window_samples"] += max(cursor.rowcount, 0)
        async with self._write() as conn:
            cursor = await conn.execute(retention.EMPTY_SERIES_SQL)
            counts["window_series"] += max(cursor.rowcount, 0)
        async with self._write() as conn:
            cursor = await conn.execute(retention.EXPIRE_POLL_LOG_SQL, {"cut": cuts.poll_log})
            counts["poll_log"] += max(cursor.rowcount, 0)
            keep = max(self.policy.poll_log_max_rows, 0)
            cursor = await conn.execute(retention.CAP_POLL_LOG_SQL, {"keep": keep})
            counts["poll_log"] += max(cursor.rowcount, 0)
        if any(counts.values()):
            log.info("database %s: retention deleted %s", self._path, counts)
        return counts

    async def integrity_check(self) -> str:
        """Run SQLite's integrity check; return "ok" or the first problem it reports."""
        async with self._read() as conn:
            rows = await _rows(conn, "PRAGMA integrity_check")
        return str(rows[0][0]) if rows else "ok"


def _prepare(path: Path) -> Path:
    resolved = Path(path).expanduser()
    prepare_path(resolved)
    return resolved


async def _rows(
    conn: aiosqlite.Connection, sql: str, params: Iterable[Any] | Mapping[str, Any] | None = None
) -> list[Row]:
    result = await conn.execute_fetchall(sql, params if params is not None else ())
    return [tuple(row) for row in result]


async def _rollback_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        # Nothing was open: the failure came before BEGIN took effect, or COMMIT had already run.
        log.debug("rollback skipped: %s", exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__

