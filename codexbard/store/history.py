"""The samples repository: window history appended on change (plus a heartbeat) and read back by range."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

from codexbard.models import UsageSnapshot
from codexbard.store.database import Connection, Database, rows_of
from codexbard.store.records import (
    RetentionPolicy,
    Sample,
    decode_account,
    encode_account,
    from_epoch,
    opt_datetime,
    to_epoch,
)
from codexbard.store.samples import Point, window_points, worth_storing

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

# Every series' samples since a time, for the in-memory ring the forecasts read (one query at start).
_RECENT: Final = """
SELECT s.provider, s.account, s.window_name, w.t, w.used_percent, w.resets_at
FROM window_samples AS w
JOIN window_series AS s ON s.id = w.series_id
WHERE w.t >= ?
ORDER BY s.id, w.t
"""


class SamplesRepository:
    """Reads and writes `window_series` and `window_samples`."""

    def __init__(self, db: Database, policy: RetentionPolicy) -> None:
        self._db = db
        self.policy = policy

    async def append(
        self, conn: Connection, provider: str, account: str | None, snapshot: UsageSnapshot, fetched_at: datetime
    ) -> int:
        """Append the snapshot's windows that changed (inside the caller's transaction); return how many."""
        points = window_points(snapshot, to_epoch(fetched_at))
        if not points:
            return 0
        return await self._append(conn, provider, encode_account(account), points)

    async def _append(self, conn: Connection, provider: str, account: str, points: Mapping[str, Point]) -> int:
        series: dict[str, tuple[int, Point | None]] = {}
        for name, series_id, t, used, resets in await rows_of(conn, _LAST_SAMPLES, (provider, account)):
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
        return len(inserts)

    async def recent(self, since: datetime) -> dict[tuple[str, str | None, str], list[Sample]]:
        """Every series' samples at or after `since`, oldest first, keyed by (provider, account, window)."""
        async with self._db.reading() as conn:
            rows = await rows_of(conn, _RECENT, (to_epoch(since),))
        out: dict[tuple[str, str | None, str], list[Sample]] = {}
        for provider, account, window, t, used, resets in rows:
            out.setdefault((provider, decode_account(account), window), []).append(
                Sample(t=from_epoch(t), used_percent=used, resets_at=opt_datetime(resets)))
        return out

    async def history(
        self,
        provider: str,
        account: str | None,
        window: str,
        since: datetime,
        until: datetime,
        step: int | None = None,
    ) -> list[Sample]:
        """One window's samples in [since, until] by time; with `step`, the last one per bucket."""
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
        async with self._db.reading() as conn:
            rows = await rows_of(conn, _HISTORY_RAW if step is None else _HISTORY_STEPPED, params)
        return [
            Sample(t=from_epoch(t), used_percent=used, resets_at=opt_datetime(resets))
            for t, used, resets in rows
        ]
