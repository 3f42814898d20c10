"""codexbard's storage: one SQLite file with latest snapshots, window history, statuses and the poll log."""

from codexbard.store.database import DEFAULT_BUSY_TIMEOUT_MS, Store
from codexbard.store.migrations import MIGRATIONS
from codexbard.store.records import LatestRecord, RetentionPolicy, Sample

__all__ = ["DEFAULT_BUSY_TIMEOUT_MS", "MIGRATIONS", "LatestRecord", "RetentionPolicy", "Sample", "Store"]
