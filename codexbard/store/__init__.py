"""codexbard's storage: one SQLite file with latest snapshots, window history, statuses and the poll log.

`Database` (database.py) owns the connection, the migrations and the single writer; the repositories
(latest.py, history.py, statuses.py, poll_log.py, retention.py) hold the SQL; `Store` (store.py) puts them
together and records one poll in one transaction.
"""

from codexbard.store.database import DEFAULT_BUSY_TIMEOUT_MS, Database
from codexbard.store.migrations import MIGRATIONS
from codexbard.store.records import LatestRecord, RetentionPolicy, Sample
from codexbard.store.store import PollRecord, Store

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_MS",
    "MIGRATIONS",
    "Database",
    "LatestRecord",
    "PollRecord",
    "RetentionPolicy",
    "Sample",
    "Store",
]
