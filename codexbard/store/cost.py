"""The cost scan state repository: the local cost scanner's state and aggregate, one row per scope.

The scan itself is blocking work (a worker process in the daemon, the main thread in `codexbard cost`), so the
reads and the save are plain `sqlite3` functions on a connection of their own (`connect`); the daemon's event loop
only reads the small aggregate, through `CostStateRepository`. Every save is one `BEGIN IMMEDIATE` transaction and
checks the row's `generation` first (compare and swap): a scan started from an older state than the stored one is
refused with `CostConflict` instead of overwriting a newer scan by the daemon or the CLI.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from codexbard.errors import StoreError
from codexbard.store.database import DEFAULT_BUSY_TIMEOUT_MS, Database, rows_of

COST_TABLE: Final = "cost_scan_state"


class CostConflict(StoreError):
    """Another process saved a newer cost scan since this one loaded its state."""


@dataclass(frozen=True, slots=True)
class StoredCostState:
    """One scope's row: the scan state JSON, the aggregate JSON, and when it was scanned and saved."""

    scope: str
    generation: int
    state: bytes
    aggregate: bytes
    scanned_at: float | None
    saved_at: float


@dataclass(frozen=True, slots=True)
class StoredAggregate:
    """Just the aggregate of one scope (what the reports need) and its generation."""

    generation: int
    aggregate: bytes
    scanned_at: float | None


def connect(path: Path, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """Open a blocking connection to an existing, migrated codexbard database; raise StoreError if unusable."""
    if not path.exists():
        raise StoreError(f"database {path} does not exist")
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"SELECT 1 FROM {COST_TABLE} LIMIT 0")
    except sqlite3.Error as exc:
        raise StoreError(f"database {path}: {_first_line(exc)}") from exc
    return conn


def generation(conn: sqlite3.Connection, scope: str) -> int:
    """The stored generation of a scope (0 when nothing was saved yet)."""
    try:
        row = conn.execute(f"SELECT generation FROM {COST_TABLE} WHERE scope = ?", (scope,)).fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"reading the cost scan state: {_first_line(exc)}") from exc
    return int(row[0]) if row else 0


def load(conn: sqlite3.Connection, scope: str) -> StoredCostState | None:
    """The stored row of a scope, or None."""
    try:
        row = conn.execute(
            f"SELECT generation, state, aggregate, scanned_at, saved_at FROM {COST_TABLE} WHERE scope = ?", (scope,)
        ).fetchone()
    except sqlite3.Error as exc:
        raise StoreError(f"reading the cost scan state: {_first_line(exc)}") from exc
    if row is None:
        return None
    return StoredCostState(scope, int(row[0]), _bytes(row[1]), _bytes(row[2]), row[3], float(row[4]))


def save(
    conn: sqlite3.Connection,
    scope: str,
    roots: str,
    expected: int,
    state: bytes | None,
    aggregate: bytes | None,
    scanned_at: float | None,
    saved_at: float,
) -> int:
    """Write a scan in one transaction if the stored generation is still `expected`; return the new generation.

    `state=None` keeps the stored state and the generation (nothing but the time changed) and writes the
    aggregate unless it is None too (then only the scan time: the stored aggregate is still right, and its
    own scan time is superseded by the `scanned_at` column). Raises CostConflict when another writer got
    there first, StoreError when the database fails.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = generation(conn, scope)
            if current != expected:
                raise CostConflict(
                    f"the cost scan state changed while scanning (generation {current}, expected {expected})"
                )
            if state is None and aggregate is None:
                conn.execute(
                    f"UPDATE {COST_TABLE} SET scanned_at = ?, saved_at = ? WHERE scope = ?",
                    (scanned_at, saved_at, scope),
                )
                new = current
            elif state is None:
                conn.execute(
                    f"UPDATE {COST_TABLE} SET aggregate = ?, scanned_at = ?, saved_at = ? WHERE scope = ?",
                    (aggregate, scanned_at, saved_at, scope),
                )
                new = current
            else:
                new = current + 1
                conn.execute(
                    f"INSERT INTO {COST_TABLE} (scope, roots, generation, state, aggregate, scanned_at, saved_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope) DO UPDATE SET roots = excluded.roots, "
                    "generation = excluded.generation, state = excluded.state, aggregate = excluded.aggregate, "
                    "scanned_at = excluded.scanned_at, saved_at = excluded.saved_at",
                    (scope, roots, new, state, aggregate, scanned_at, saved_at),
                )
            conn.execute("COMMIT")
            return new
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        raise StoreError(f"saving the cost scan state: {_first_line(exc)}") from exc


class CostStateRepository:
    """The daemon's async view of `cost_scan_state`: reading a scope's aggregate."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def load_aggregate(self, scope: str) -> StoredAggregate | None:
        """The stored aggregate of a scope, or None."""
        async with self._db.reading() as conn:
            rows = await rows_of(
                conn, f"SELECT generation, aggregate, scanned_at FROM {COST_TABLE} WHERE scope = ?", (scope,)
            )
        if not rows:
            return None
        gen, aggregate, scanned_at = rows[0]
        return StoredAggregate(int(gen), _bytes(aggregate), scanned_at)


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise StoreError("the cost scan state row holds an unexpected value type")


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__
