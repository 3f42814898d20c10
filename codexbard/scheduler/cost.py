"""The cost job: scan the Codex and Claude logs at start and every `[cost] interval_seconds`, and serve `/cost`.

The scan runs elsewhere (a `ScanRunner`: the worker process in the daemon), so polls and the API never wait for
it; one scan at a time (a second trigger joins the one in flight). A failed scan is logged and kept
(`last_error`); the last good aggregate stays served. After each scan the job keeps the aggregate alone (a
`ScanState` without files, a few thousand buckets), publishes each provider's `/usage` summary into the State,
and answers `GET /cost` from rendered bytes cached per query, aggregate and local day. The summaries and the
standard queries' bodies are computed by the worker that scanned (pricing a year of buckets takes tens of
milliseconds, which the event loop should spend answering requests); other queries are rendered on first use.
With `[cost] pricing_refresh = true` a scan first refreshes the downloaded prices when they are due (at most once a
day, `codexbard.cost.refresh`); a failed refresh keeps the previous prices and never fails the scan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

from codexbard.config import CostConfig
from codexbard.cost.pricing import Pricing
from codexbard.cost.refresh import PRICES_FILE, PriceRefresher
from codexbard.cost.roots import CostRoots
from codexbard.cost.service import (
    STANDARD_QUERIES,
    CostQuery,
    cost_reports,
    cost_summaries,
    render_query,
    scope_of,
    snapshot_from_bytes,
)
from codexbard.cost.state import ScanState
from codexbard.cost.timeutil import zone
from codexbard.cost.worker import ScanReply, ScanRequest, ScanRunner
from codexbard.host.clock import Clock
from codexbard.host.http import HttpClient
from codexbard.models import CostSummary
from codexbard.state import State
from codexbard.store.cost import StoredAggregate

log = logging.getLogger(__name__)

CACHE_ENTRIES: Final = 128
JSON_TYPE: Final = "application/json"


class AggregateStore(Protocol):
    """What the cost job reads of the store at start."""

    async def load_cost_aggregate(self, scope: str) -> StoredAggregate | None: ...


@dataclass(frozen=True, slots=True)
class CostFailure:
    """The last failed scan: why and when."""

    message: str
    at: datetime


class CostJob:
    """Runs cost scans one at a time, keeps the aggregate, and answers `GET /cost` and the `/usage` summaries."""

    def __init__(
        self,
        config: CostConfig,
        state: State,
        clock: Clock,
        *,
        db_path: Path,
        roots: CostRoots,
        tz: str,
        runner: ScanRunner,
        refresher: PriceRefresher | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.clock = clock
        self.db_path = db_path
        self.roots = roots
        self.tz = tz
        self.zone = zone(tz)
        self.refresher = refresher if config.pricing_refresh else None
        self.pricing = Pricing(config.pricing, self._downloaded())
        self.scope, _ = scope_of(roots)
        self.runner = runner
        self.snapshot: ScanState | None = None
        self.generation = 0
        self.scans = 0
        self.last_error: CostFailure | None = None
        self.last_reply: ScanReply | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._cache: dict[bytes, tuple[int, str, int, bytes]] = {}
        self._epoch = 0  # bumped whenever the snapshot changes

    # -- lifecycle -------------------------------------------------------------------------------

    async def restore(self, store: AggregateStore) -> None:
        """Serve the stored aggregate until the first scan finishes (a bad row is logged and ignored)."""
        try:
            stored = await store.load_cost_aggregate(self.scope)
            if stored is None:
                return
            snapshot = snapshot_from_bytes(stored.aggregate)
            if stored.scanned_at is not None:  # a scan that found nothing new updates only this column
                snapshot.last_scan_epoch = float(stored.scanned_at)
        except Exception as exc:  # a damaged row must not stop the daemon
            log.warning("the stored cost aggregate cannot be read (%s); waiting for the first scan", exc)
            return
        self.generation = stored.generation
        now = self.clock.now()
        summaries = cost_summaries(snapshot, pricing=self.pricing, tz=self.zone, now=now,
                                   days=self.config.history_days)
        self._publish(snapshot, summaries, {}, "")

    async def stop(self) -> None:
        """Stop: no new scans; the runner (and a scan in progress) is stopped."""
        self._closing = True
        task = self._task
        await self.runner.close()
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- scanning --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Scan now, or wait for the scan already in flight (never two at once); never raises for a bad scan."""
        if self._closing:
            return
        task = self._task
        if task is None or task.done():
            task = asyncio.create_task(self._scan_once(), name="cost-scan")
            self._task = task
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if self._closing:  # `stop()` abandoned the scan: shutting down is not an error of the job
                return
            raise

    def _any_root(self) -> bool:
        """Whether any log root exists (blocking: run in a thread)."""
        return any(Path(root).is_dir() for root in (*self.roots.codex, *self.roots.claude))

    def _downloaded(self) -> dict[str, dict[str, dict[str, Any]]]:
        return self.refresher.prices if self.refresher is not None else {}

    async def refresh_prices(self) -> bool:
        """Refresh the downloaded prices when due (never raises); True when the prices in use changed."""
        if self.refresher is None or not self.refresher.due():
            return False
        if not await self.refresher.refresh():
            return False
        self.pricing = Pricing(self.config.pricing, self._downloaded())
        self._epoch += 1  # cached bodies were priced with the old prices
        return True

    async def _scan_once(self) -> None:
        await self.refresh_prices()
        if not await asyncio.to_thread(self._any_root):
            # No Codex or Claude logs on this machine: no worker process (about 50 MB), no database write.
            # Stored days (from logs deleted since) stay served; the next run looks again.
            log.debug("cost: no Codex or Claude log directory; nothing to scan")
            return
        request = ScanRequest(str(self.db_path), self.roots, self.tz, self.clock.now().timestamp(),
                              dict(self.config.pricing), self.config.history_days, STANDARD_QUERIES,
                              self._downloaded())
        try:
            reply = await self.runner(request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a runner bug must not take the job down
            reply = ScanReply(None, error=f"{type(exc).__name__}: {exc}")
        if self._closing:
            return  # stopped while scanning: the worker was ended on purpose
        self.last_reply = reply
        if reply.error is not None or reply.snapshot is None:
            self._fail(reply.error or "the scan returned no aggregate")
            return
        self.scans += 1
        self.generation = reply.generation
        if self.last_error is not None:
            log.info("cost scan works again")
        self.last_error = None
        log.debug("cost scan: %d files, %d changed days, %.3f s", reply.files, reply.changed_days, reply.seconds)
        self._publish(reply.snapshot, reply.summaries, reply.rendered, reply.day)

    def _fail(self, message: str) -> None:
        if self.last_error is None or self.last_error.message != message:
            log.error("cost scan failed: %s", message)
        self.last_error = CostFailure(message, self.clock.now())

    def _publish(self, snapshot: ScanState, summaries: dict[str, dict[str, Any]], rendered: dict[str, bytes],
                 day: str) -> None:
        self.snapshot = snapshot
        self._epoch += 1
        self._cache = {q.encode("latin-1"): (self._epoch, day, 200, body) for q, body in rendered.items()}
        self.state.set_costs({p: CostSummary.model_validate(v) for p, v in summaries.items()})

    # -- answers ---------------------------------------------------------------------------------

    def reports(self, query: CostQuery, now: datetime | None = None) -> list[dict[str, Any]]:
        """The `GET /cost` array for a query."""
        return cost_reports(self.snapshot, query, pricing=self.pricing, tz=self.zone, now=now or self.clock.now())

    def response(self, raw_query: bytes) -> tuple[int, bytes, str]:
        """(status, body, content type) of `GET /cost?<raw_query>`, from the cache when nothing changed."""
        now = self.clock.now()
        today = now.astimezone(self.zone).date().isoformat()
        hit = self._cache.get(raw_query)
        if hit is not None and hit[0] == self._epoch and hit[1] == today:
            return hit[2], hit[3], JSON_TYPE
        status, body = render_query(self.snapshot, raw_query.decode("latin-1"), pricing=self.pricing, tz=self.zone,
                                    now=now)
        if status != 200:
            return status, body, JSON_TYPE
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.clear()
        self._cache[raw_query] = (self._epoch, today, 200, body)
        return 200, body, JSON_TYPE


def cost_job_for(
    config: CostConfig, state: State, clock: Clock, *, db_path: Path, env: Mapping[str, str], home: Path,
    runner: ScanRunner, http: HttpClient | None = None, data_dir: Path | None = None,
) -> CostJob:
    """The daemon's cost job: roots from `CODEX_HOME` / `CLAUDE_CONFIG_DIR` or the home defaults.

    With `[cost] pricing_refresh` and the shared `http` client, prices are refreshed into
    `<data_dir>/pricing-refresh.json` (`data_dir` defaults to the database's directory).
    """
    from codexbard.cost.roots import discover_roots
    from codexbard.cost.service import local_zone_name

    tz = config.timezone or local_zone_name(env)
    refresher = None
    if config.pricing_refresh and http is not None:
        refresher = PriceRefresher(http, (data_dir or db_path.parent) / PRICES_FILE, clock)
    return CostJob(config, state, clock, db_path=db_path, roots=discover_roots(env, home), tz=tz, runner=runner,
                   refresher=refresher)
