"""Glue between the cost scanner and the rest of codexbard: scan scopes, persisted scans, `/cost` queries and reports.

Used by the daemon's cost job (through `codexbard.cost.worker`) and by `codexbard cost`; both read and write the same
row of the `cost_scan_state` table (codexbard.store.cost), keyed by the scope of the scanned roots:

- `PersistentScan(db_path, roots, tz).run()` (blocking) loads the stored state unless the one in memory is current,
  scans, and saves state and aggregate in one transaction (compare and swap on the row's generation);
- `snapshot_of(state)` is the aggregate alone (a `ScanState` without files), all that `cost_report` reads;
- `parse_cost_query` checks `?provider=&days=&period=` (or the CLI's options), `cost_reports` renders the array.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl

import orjson

from codexbard.cost.pricing import Pricing, Provider
from codexbard.cost.report import MAX_DAYS, Period, cost_report
from codexbard.cost.roots import CostRoots
from codexbard.cost.state import CostStateError, ScanState
from codexbard.cost.timeutil import TimeZoneError, zone
from codexbard.errors import ConfigError, StoreError
from codexbard.store import cost as cost_store

log = logging.getLogger(__name__)

COST_PROVIDERS: Final[tuple[Provider, ...]] = ("codex", "claude")
PERIODS: Final[tuple[str, ...]] = ("days", "month", "all")
DEFAULT_DAYS: Final = 30
# The queries rendered ahead after every scan (by the worker that scanned), so they are served from the cache.
STANDARD_QUERIES: Final[tuple[str, ...]] = ("", "period=all", "period=month", "provider=codex", "provider=claude")
_CAS_ATTEMPTS: Final = 3


class CostQueryError(ConfigError):
    """A `/cost` query (or `codexbard cost` option) that is out of range or names an unknown provider."""

    def __init__(self, message: str, known: list[str] | None = None) -> None:
        super().__init__(message)
        self.known = known

    def body(self) -> dict[str, Any]:
        """The JSON error body of the API."""
        body: dict[str, Any] = {"error": str(self)}
        if self.known is not None:
            body["known"] = self.known
        return body


@dataclass(frozen=True, slots=True)
class CostQuery:
    """Which providers and which window a cost report covers."""

    providers: tuple[Provider, ...] = COST_PROVIDERS
    days: int = DEFAULT_DAYS
    period: Period = "days"


def parse_cost_query(providers: Iterable[str] = (), days: str | None = None, period: str | None = None) -> CostQuery:
    """Check `provider` (repeatable, or `all`), `days` (1..365) and `period` (month|all); raise CostQueryError."""
    wanted = [p for p in providers if p]
    chosen: list[Provider] = []
    for name in wanted:
        if name == "all":
            chosen = list(COST_PROVIDERS)
            break
        provider = next((p for p in COST_PROVIDERS if p == name), None)
        if provider is None:
            raise CostQueryError(f"unknown provider '{name}'", [*COST_PROVIDERS, "all"])
        if provider not in chosen:
            chosen.append(provider)
    ordered = tuple(p for p in COST_PROVIDERS if p in chosen) if chosen else COST_PROVIDERS
    if days is not None and period not in (None, "days"):
        raise CostQueryError("use either 'days' or 'period', not both")
    count = DEFAULT_DAYS
    if days is not None:
        text = days.strip()
        if not text.isdigit() or not 1 <= int(text) <= MAX_DAYS:
            raise CostQueryError(f"'days' must be a whole number from 1 to {MAX_DAYS}")
        count = int(text)
    chosen_period: Period = "days"
    if period is not None:
        if period == "month":
            chosen_period = "month"
        elif period == "all":
            chosen_period = "all"
        elif period != "days":
            raise CostQueryError(f"unknown period '{period}'", ["month", "all"])
    return CostQuery(ordered, count, chosen_period)


def query_from_string(raw_query: str) -> CostQuery:
    """Parse a `GET /cost` query string (the last `days` / `period` wins, `provider` repeats)."""
    pairs = parse_qsl(raw_query, keep_blank_values=True)

    def last(name: str) -> str | None:
        values = [v for k, v in pairs if k == name]
        return values[-1] if values else None

    return parse_cost_query([v for k, v in pairs if k == "provider"], last("days"), last("period"))


def render_query(
    snapshot: ScanState | None, raw_query: str, *, pricing: Pricing, tz: Any, now: datetime
) -> tuple[int, bytes]:
    """(status, JSON body) of `GET /cost?<raw_query>`: 200 with the array, or 400 with the error."""
    try:
        query = query_from_string(raw_query)
    except CostQueryError as exc:
        return 400, cost_json(exc.body())
    return 200, cost_json(cost_reports(snapshot, query, pricing=pricing, tz=tz, now=now))


def cost_summaries(
    snapshot: ScanState | None, *, pricing: Pricing, tz: Any, now: datetime, days: int
) -> dict[str, dict[str, Any]]:
    """Each cost provider's `/usage` summary (see `cost_summary`)."""
    return {p: cost_summary(snapshot, p, pricing=pricing, tz=tz, now=now, days=days) for p in COST_PROVIDERS}


def cost_json(data: Any) -> bytes:
    """Compact UTF-8 JSON, exactly as `GET /cost` and `codexbard cost --format json` write it."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def cost_reports(
    snapshot: ScanState | None, query: CostQuery, *, pricing: Pricing, tz: Any, now: datetime
) -> list[dict[str, Any]]:
    """The `GET /cost` array: one block per provider of the query."""
    return [
        cost_report(snapshot, p, pricing=pricing, tz=tz, now=now, days=query.days, period=query.period)
        for p in query.providers
    ]


def cost_summary(
    snapshot: ScanState | None, provider: Provider, *, pricing: Pricing, tz: Any, now: datetime, days: int
) -> dict[str, Any]:
    """The six headline numbers of one provider's block (the `cost` of a `/usage` payload), camelCase keys."""
    block = cost_report(snapshot, provider, pricing=pricing, tz=tz, now=now, days=days)
    keys = ("source", "sessionTokens", "sessionCostUSD", "last30DaysTokens", "last30DaysCostUSD", "updatedAt")
    return {k: block[k] for k in keys}


def snapshot_of(state: ScanState) -> ScanState:
    """The aggregate of a state alone (no files): what the reports read, safe to share while the state moves on."""
    snap = ScanState()
    snap.totals = {p: {k: list(v) for k, v in t.items()} for p, t in state.totals.items()}
    snap.last_scan_epoch = state.last_scan_epoch
    return snap


def aggregate_bytes(snapshot: ScanState) -> bytes:
    """Serialise a snapshot (its JSON is small: no files)."""
    return orjson.dumps(snapshot.to_json())


def snapshot_from_bytes(raw: bytes) -> ScanState:
    """Read a snapshot written by `aggregate_bytes`; raise CostStateError when it cannot be read."""
    try:
        return ScanState.from_json(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise CostStateError("the stored cost aggregate is not JSON") from exc


def scope_of(roots: CostRoots) -> tuple[str, str]:
    """(scope, roots JSON): the row key of a set of scanned roots (a digest) and the roots it stands for."""
    text = json.dumps({"codex": [str(p) for p in roots.codex], "claude": [str(p) for p in roots.claude]},
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24], text


def local_zone_name(env: Mapping[str, str]) -> str:
    """The IANA name of the local time zone: `TZ`, else /etc/timezone, else the /etc/localtime link, else UTC."""
    candidates: list[str] = []
    tz = env.get("TZ", "").lstrip(":").strip()
    if tz:
        candidates.append(tz)
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    candidates.append(os.path.realpath("/etc/localtime"))
    for name in candidates:
        marker = name.find("zoneinfo/")
        if marker >= 0:
            name = name[marker + len("zoneinfo/"):]
        if not name or name.startswith("/"):
            continue
        try:
            zone(name)
        except TimeZoneError:
            continue
        return name
    return "UTC"


def _signature(state: ScanState) -> tuple[int, int, int]:
    """What identifies the files part of a state cheaply (a change here means the state must be saved)."""
    digest = 0
    for st in state.files.values():
        digest ^= hash((st.fid, st.path, st.dev, st.ino, st.size, st.mtime_ns, st.offset, st.gone))
    return len(state.files), state.next_fid, digest


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What one persisted scan did."""

    snapshot: ScanState
    generation: int
    saved_state: bool
    changed_days: int
    files: int
    seconds: float


class PersistentScan:
    """Scan one scope with the state stored in the database, keeping it in memory between runs (blocking)."""

    def __init__(self, db_path: Path, roots: CostRoots, tz: Any = "UTC", *,
                 clock: Callable[[], float] = time.time) -> None:
        self.db_path = Path(db_path)
        self.roots = roots
        self.scope, self.roots_json = scope_of(roots)
        from codexbard.cost.scanner import CostScanner  # the scanner (and its process pool) only where scans run

        self.scanner = CostScanner(roots, tz, clock=clock)
        self._clock = clock
        self._state: ScanState | None = None
        self._generation = 0

    def run(self) -> ScanOutcome:
        """Load (when another writer moved on), scan and save; raise StoreError when the database fails."""
        started = time.monotonic()
        conn = cost_store.connect(self.db_path)
        try:
            for _ in range(_CAS_ATTEMPTS):
                if self._state is None or cost_store.generation(conn, self.scope) != self._generation:
                    self._load(conn)
                state = self._state if self._state is not None else ScanState()
                before = _signature(state)
                state, changed = self.scanner.scan(state)
                self._state = state
                snapshot = snapshot_of(state)
                full = self._generation == 0 or bool(changed) or _signature(state) != before
                try:
                    # Nothing new (the common case, every few minutes): only the scan time is written; the stored
                    # state and aggregate (megabytes for a large corpus) are still right.
                    self._generation = cost_store.save(
                        conn, self.scope, self.roots_json, self._generation,
                        orjson.dumps(state.to_json()) if full else None,
                        aggregate_bytes(snapshot) if full else None, state.last_scan_epoch, self._clock(),
                    )
                except cost_store.CostConflict:
                    log.info("cost scan state changed under us (another codexbard saved a scan); scanning again")
                    self._state = None
                    continue
                except StoreError:
                    self._state = None  # reload what the database holds next time
                    raise
                days = sum(len(d) for d in changed.values())
                return ScanOutcome(snapshot, self._generation, full, days, len(state.files),
                                   time.monotonic() - started)
            raise cost_store.CostConflict(f"the cost scan state kept changing; gave up after {_CAS_ATTEMPTS} tries")
        finally:
            conn.close()

    def _load(self, conn: Any) -> None:
        stored = cost_store.load(conn, self.scope)
        if stored is None:
            self._state, self._generation = None, 0
            return
        self._generation = stored.generation
        try:
            self._state = ScanState.from_json(orjson.loads(stored.state))
        except (CostStateError, orjson.JSONDecodeError) as exc:
            # A state written by another scanner version: rescan from the start (days of deleted logs are lost).
            log.warning("the stored cost scan state cannot be used (%s); scanning the logs from the start", exc)
            self._state = None
