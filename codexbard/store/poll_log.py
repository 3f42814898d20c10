"""The poll log repository: one row per poll with its strategy attempts as JSON."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel

from codexbard.models import iso_z
from codexbard.store.database import Connection, Database, rows_of
from codexbard.store.records import decode_account, encode_account, from_epoch, to_epoch

log = logging.getLogger(__name__)


def plain(value: object) -> object:
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
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(item) for item in value]
    return str(value)


class PollLogRepository:
    """Reads and writes `poll_log`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(
        self,
        conn: Connection,
        provider: str,
        account: str | None,
        started_at: datetime,
        duration_ms: float,
        ok: bool,
        error_kind: str | None,
        attempts: list[dict[str, object]],
    ) -> None:
        """Append one poll (inside the caller's transaction)."""
        encoded = json.dumps(plain(attempts), separators=(",", ":"), allow_nan=False)
        await conn.execute(
            "INSERT INTO poll_log (provider, account, started_at, duration_ms, ok, error_kind, attempts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                provider,
                encode_account(account),
                to_epoch(started_at),
                float(duration_ms) if math.isfinite(duration_ms) else 0.0,
                int(ok),
                error_kind,
                encoded,
            ),
        )

    async def newest(self, provider: str | None = None, limit: int = 100) -> list[dict[str, object]]:
        """The newest polls first, as dicts of id, provider, account, started_at, duration_ms, ok,
        error_kind and attempts."""
        if limit <= 0:
            return []
        columns = "id, provider, account, started_at, duration_ms, ok, error_kind, attempts"
        async with self._db.reading() as conn:
            if provider is None:
                rows = await rows_of(conn, f"SELECT {columns} FROM poll_log ORDER BY id DESC LIMIT ?", (limit,))
            else:
                rows = await rows_of(
                    conn,
                    f"SELECT {columns} FROM poll_log WHERE provider = ? ORDER BY id DESC LIMIT ?",
                    (provider, limit),
                )
        entries: list[dict[str, object]] = []
        for row_id, prov, account, started, duration, ok, kind, attempts in rows:
            try:
                decoded = json.loads(attempts)
            except ValueError:
                log.warning("database %s: poll log row %s has unreadable attempts", self._db.path, row_id)
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
