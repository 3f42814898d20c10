"""The database schema as named, ordered migrations.

Each entry is `(name, sql)`. A migration runs once, inside one transaction, and its name is then recorded
in `schema_migrations`. Never edit or reorder a migration that has shipped: append a new one. A database
holding a name this tuple does not know was written by a newer codexbard and is refused.

Conventions: timestamps are REAL epoch seconds (UTC); the default account is stored as '' (never NULL,
which would make every NULL account distinct in a primary key); models are stored as their camelCase JSON.
"""

from __future__ import annotations

from typing import Final

SCHEMA_MIGRATIONS_TABLE: Final = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT PRIMARY KEY,
    applied_at TEXT NOT NULL
)
"""

_INITIAL: Final = """
CREATE TABLE latest (
    provider TEXT NOT NULL,
    account TEXT NOT NULL DEFAULT '',
    snapshot TEXT,
    source TEXT,
    fetched_at REAL,
    error TEXT,
    last_attempt_at REAL,
    last_success_at REAL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (provider, account)
);

CREATE TABLE window_series (
    id INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    account TEXT NOT NULL DEFAULT '',
    window_name TEXT NOT NULL,
    UNIQUE (provider, account, window_name)
);

CREATE TABLE window_samples (
    series_id INTEGER NOT NULL REFERENCES window_series (id) ON DELETE CASCADE,
    t REAL NOT NULL,
    used_percent REAL NOT NULL,
    resets_at REAL,
    PRIMARY KEY (series_id, t)
) WITHOUT ROWID;

CREATE INDEX window_samples_by_time ON window_samples (t);

CREATE TABLE provider_status (
    provider TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    fetched_at REAL NOT NULL
);

CREATE TABLE poll_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    provider TEXT NOT NULL,
    account TEXT NOT NULL DEFAULT '',
    started_at REAL NOT NULL,
    duration_ms REAL NOT NULL,
    ok INTEGER NOT NULL,
    error_kind TEXT,
    attempts TEXT NOT NULL DEFAULT '[]'
);

CREATE INDEX poll_log_by_provider ON poll_log (provider, id);
CREATE INDEX poll_log_by_time ON poll_log (started_at);
"""

# The local cost job's incremental scan state (codexbard.cost.ScanState as JSON: per file its identity, offsets and
# parser resume state, plus the aggregate) and, beside it, just the aggregate the reports need, so the daemon can
# serve `/cost` at start without loading the whole state. One row per scope (a digest of the scanned roots);
# `generation` grows with every save, so the daemon and `codexbard cost` never overwrite each other's newer scan.
_COST_SCAN_STATE: Final = """
CREATE TABLE cost_scan_state (
    scope TEXT PRIMARY KEY,
    roots TEXT NOT NULL,
    generation INTEGER NOT NULL,
    state BLOB NOT NULL,      -- UTF-8 JSON
    aggregate BLOB NOT NULL,  -- UTF-8 JSON
    scanned_at REAL,
    saved_at REAL NOT NULL
);
"""

MIGRATIONS: Final[tuple[tuple[str, str], ...]] = (
    ("0001_initial", _INITIAL),
    ("0002_cost_scan_state", _COST_SCAN_STATE),
)
