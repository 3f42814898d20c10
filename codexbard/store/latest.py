"""The latest repository: one row per provider account with its last good snapshot and its last error."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Final

from pydantic import ValidationError

from codexbard.models import FetchError, UsageSnapshot
from codexbard.store.database import Connection, Database, first_line, rows_of
from codexbard.store.records import LatestRecord, decode_account, encode_account, opt_datetime, to_epoch

log = logging.getLogger(__name__)

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

# `:failures` NULL: one more than stored (a caller that does not track the count); else the caller's count,
# so the stored count always equals the one the scheduler backs off by.
_UPSERT_FAILURE: Final = """
INSERT INTO latest (provider, account, error, last_attempt_at, consecutive_failures)
VALUES (:provider, :account, :error, :t, COALESCE(:failures, 1))
ON CONFLICT (provider, account) DO UPDATE SET
    error = excluded.error,
    last_attempt_at = excluded.last_attempt_at,
    consecutive_failures = COALESCE(:failures, latest.consecutive_failures + 1)
RETURNING consecutive_failures
"""

_SELECT_LATEST: Final = """
SELECT provider, account, snapshot, source, fetched_at, error, last_attempt_at, last_success_at,
       consecutive_failures
FROM latest
ORDER BY provider, account
"""


class LatestRepository:
    """Reads and writes the `latest` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def write_success(
        self, conn: Connection, provider: str, account: str | None, snapshot: UsageSnapshot, source: str,
        fetched_at: datetime,
    ) -> None:
        """Replace the account's row with a fresh snapshot (inside the caller's transaction)."""
        await conn.execute(
            _UPSERT_SUCCESS,
            {
                "provider": provider,
                "account": encode_account(account),
                "snapshot": snapshot.model_dump_json(by_alias=True),
                "source": source,
                "t": to_epoch(fetched_at),
            },
        )

    async def write_failure(
        self, conn: Connection, provider: str, account: str | None, error: FetchError, at: datetime,
        consecutive_failures: int | None = None,
    ) -> int:
        """Record an error beside the last good snapshot; return the stored consecutive failure count."""
        params = {
            "provider": provider,
            "account": encode_account(account),
            "error": error.model_dump_json(by_alias=True),
            "t": to_epoch(at),
            "failures": None if consecutive_failures is None else max(0, int(consecutive_failures)),
        }
        rows = await rows_of(conn, _UPSERT_FAILURE, params)
        return int(rows[0][0])

    async def load(self) -> list[LatestRecord]:
        """Every provider account's latest state; rows that cannot be read are skipped (and kept)."""
        async with self._db.reading() as conn:
            rows = await rows_of(conn, _SELECT_LATEST)
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
                    self._db.path,
                    provider,
                    f"@{account}" if account else "",
                    first_line(exc),
                )
                continue
            records.append(record)
        return records
