"""Retention and downsampling: statements as pure functions of the cut-off instants, and the job that runs them.

Bands by age (DESIGN.md): younger than `raw_for` every sample stays; up to `five_minute_until` one sample
per 5-minute bucket; up to `hourly_until` one per hour; older ones go. Buckets are aligned to the epoch
and the sample kept is the last one of its bucket inside the band, so running the job twice with the same
`now` deletes nothing the second time.

The downsampling walks each band in slices (a UTC day of the 5-minute band, ten days of the hourly band,
about the same number of samples each), one transaction per slice, so a year of history never holds the
write lock for long: polls keep being recorded while the job runs. Slice edges are multiples of the
bucket size, so no bucket is split between two transactions.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from codexbard.store.database import Database
from codexbard.store.records import RetentionPolicy, to_epoch

log = logging.getLogger(__name__)

FIVE_MINUTES: Final = 300
ONE_HOUR: Final = 3600
FIVE_MINUTE_SLICE: Final = 86400
HOURLY_SLICE: Final = 10 * 86400

# Delete every sample in [lo, hi) that has a later sample of the same series in the same bucket, also
# inside [lo, hi). The range on the inner t lets SQLite walk the (series_id, t) primary key.
DOWNSAMPLE_SQL: Final = """
DELETE FROM window_samples
WHERE t >= :lo AND t < :hi
  AND EXISTS (
    SELECT 1 FROM window_samples AS later
    WHERE later.series_id = window_samples.series_id
      AND later.t > window_samples.t
      AND later.t < MIN(:hi, (CAST(window_samples.t / :bucket AS INTEGER) + 1) * :bucket)
  )
"""

EXPIRE_SAMPLES_SQL: Final = "DELETE FROM window_samples WHERE t < :cut"

EMPTY_SERIES_SQL: Final = """
DELETE FROM window_series
WHERE NOT EXISTS (SELECT 1 FROM window_samples WHERE window_samples.series_id = window_series.id)
"""

EXPIRE_POLL_LOG_SQL: Final = "DELETE FROM poll_log WHERE started_at < :cut"

# Keep the newest `keep` rows: delete everything at or below the id of the (keep + 1)-th newest row.
CAP_POLL_LOG_SQL: Final = """
DELETE FROM poll_log
WHERE id <= (SELECT id FROM poll_log ORDER BY id DESC LIMIT 1 OFFSET :keep)
"""


@dataclass(frozen=True)
class Cuts:
    """The band edges for one retention run, as epoch seconds."""

    raw: float
    five_minute: float
    hourly: float
    poll_log: float


def slices(lo: float, hi: float, width: int) -> list[tuple[float, float]]:
    """Split [lo, hi) at the multiples of `width` (epoch-aligned), newest slice first."""
    if hi <= lo:
        return []
    edges = [lo]
    edge = (math.floor(lo / width) + 1) * width
    while edge < hi:
        edges.append(float(edge))
        edge += width
    edges.append(hi)
    pairs = list(itertools.pairwise(edges))
    pairs.reverse()
    return pairs


def cuts_for(now: datetime, policy: RetentionPolicy) -> Cuts:
    """Compute the band edges for `now`."""
    return Cuts(
        raw=to_epoch(now - policy.raw_for),
        five_minute=to_epoch(now - policy.five_minute_until),
        hourly=to_epoch(now - policy.hourly_until),
        poll_log=to_epoch(now - policy.poll_log_for),
    )


async def run_retention(db: Database, policy: RetentionPolicy, now: datetime) -> dict[str, int]:
    """Downsample and expire history and the poll log; return how many rows each table lost."""
    cuts = cuts_for(now, policy)
    counts = {"window_samples": 0, "window_series": 0, "poll_log": 0}
    async with db.transaction() as conn:
        cursor = await conn.execute(EXPIRE_SAMPLES_SQL, {"cut": cuts.hourly})
        counts["window_samples"] += max(cursor.rowcount, 0)
    for band_lo, band_hi, bucket, width in (
        (cuts.five_minute, cuts.raw, FIVE_MINUTES, FIVE_MINUTE_SLICE),
        (cuts.hourly, cuts.five_minute, ONE_HOUR, HOURLY_SLICE),
    ):
        for lo, hi in slices(band_lo, band_hi, width):
            async with db.transaction() as conn:
                cursor = await conn.execute(DOWNSAMPLE_SQL, {"lo": lo, "hi": hi, "bucket": bucket})
                counts["window_samples"] += max(cursor.rowcount, 0)
    async with db.transaction() as conn:
        cursor = await conn.execute(EMPTY_SERIES_SQL)
        counts["window_series"] += max(cursor.rowcount, 0)
    async with db.transaction() as conn:
        cursor = await conn.execute(EXPIRE_POLL_LOG_SQL, {"cut": cuts.poll_log})
        counts["poll_log"] += max(cursor.rowcount, 0)
        cursor = await conn.execute(CAP_POLL_LOG_SQL, {"keep": max(policy.poll_log_max_rows, 0)})
        counts["poll_log"] += max(cursor.rowcount, 0)
    if any(counts.values()):
        log.info("database %s: retention deleted %s", db.path, counts)
    return counts
