"""Where the daemon's cost scans run: a child process that keeps the scan state in memory between scans.

The scanner is CPU-bound Python. In a thread of the daemon it would hold the GIL for seconds while a large corpus
is read, and every `/usage` request would wait for it; in a process of its own it only competes for a core. The
child (multiprocessing, `spawn`: the daemon has threads, so no fork) receives `ScanRequest`s on a pipe, runs a
`PersistentScan` per scope (state and aggregate saved by the child, one transaction per scan) and answers with a
`ScanReply` carrying only the small aggregate, plus what the daemon would otherwise compute on its event loop after
every scan: the `/usage` summaries and the `GET /cost` bodies of the standard queries. It exits when the pipe
closes or its parent goes away (on Linux the kernel kills it at once, PR_SET_PDEATHSIG; elsewhere a thread checks
twice a second), so a daemon killed with SIGKILL leaves no scanner behind.

`ThreadScanRunner` runs the same code in a thread of the caller (tests; no process).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from codexbard.cost.pricing import Pricing
from codexbard.cost.roots import CostRoots
from codexbard.cost.service import PersistentScan, cost_summaries, render_query
from codexbard.cost.state import ScanState
from codexbard.cost.timeutil import zone

if TYPE_CHECKING:  # multiprocessing is imported when the worker starts, not by every daemon
    from multiprocessing.connection import Connection

log = logging.getLogger(__name__)

PARENT_CHECK_SECONDS: Final = 0.5
_PR_SET_PDEATHSIG: Final = 1
STOP_WAIT_SECONDS: Final = 2.0
WORKER_NICENESS: Final = 10  # added to the daemon's own (a scan is background work)


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """Scan these roots with the state of this database; then summarise and render as of `now` (days in `tz`)."""

    db_path: str
    roots: CostRoots
    tz: str
    now: float = 0.0  # epoch seconds of the daemon's clock when it asked
    pricing: dict[str, dict[str, float]] = field(default_factory=dict)  # `[cost.pricing]` overrides
    history_days: int = 30
    queries: tuple[str, ...] = ()  # `GET /cost` query strings to render
    downloaded: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # refreshed prices, per provider


@dataclass(frozen=True, slots=True)
class ScanReply:
    """The aggregate after a scan (a `ScanState` without files) with its summaries and renders, or the error."""

    snapshot: ScanState | None
    generation: int = 0
    error: str | None = None
    seconds: float = 0.0
    files: int = 0
    changed_days: int = 0
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)  # provider -> `cost` of /usage (camelCase)
    rendered: dict[str, bytes] = field(default_factory=dict)  # query -> 200 body of GET /cost
    day: str = ""  # the local day (in `tz`) `summaries` and `rendered` are for


class ScanRunner(Protocol):
    """Runs one scan somewhere (a worker process, a thread) and returns its reply; never raises for a failed scan."""

    async def __call__(self, request: ScanRequest) -> ScanReply: ...

    async def close(self) -> None: ...


def run_scan(scans: dict[tuple[str, CostRoots, str], PersistentScan], request: ScanRequest) -> ScanReply:
    """Run one request with the scope's cached `PersistentScan` (blocking); errors become the reply's `error`."""
    key = (request.db_path, request.roots, request.tz)
    scan = scans.get(key)
    try:
        if scan is None:
            scan = PersistentScan(Path(request.db_path), request.roots, request.tz)
            scans[key] = scan
        outcome = scan.run()
        pricing = Pricing(request.pricing, request.downloaded)
        zi = zone(request.tz)
        now = datetime.fromtimestamp(request.now, UTC)
        snapshot = outcome.snapshot
        summaries = cost_summaries(snapshot, pricing=pricing, tz=zi, now=now, days=request.history_days)
        rendered: dict[str, bytes] = {}
        for query in request.queries:
            status, body = render_query(snapshot, query, pricing=pricing, tz=zi, now=now)
            if status == 200:
                rendered[query] = body
    except Exception as exc:  # the reply carries it; the daemon logs and keeps it
        text = str(exc).splitlines()[0] if str(exc) else ""
        return ScanReply(None, error=f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
    return ScanReply(snapshot, outcome.generation, None, outcome.seconds, outcome.files, outcome.changed_days,
                     summaries, rendered, now.astimezone(zi).date().isoformat())


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this process when its parent dies (the watchdog thread covers the rest)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes  # only in the worker process: the daemon itself never needs it

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        log.debug("prctl(PR_SET_PDEATHSIG) is not available")


def _lower_priority() -> None:
    """Give way to the daemon: when a scan and the API or a poll want the same CPU, the daemon gets it.

    The niceness is inherited by the scan's own worker processes. Without it, a cold scan of a large corpus
    (three busy processes on a two-core machine) doubled the daemon's `/usage` p99 latency.
    """
    try:
        os.nice(WORKER_NICENESS)
    except (OSError, AttributeError):  # a platform or sandbox without it: scan at normal priority
        log.debug("cannot lower the cost worker's priority")


def _watch_parent(parent_pid: int) -> None:
    wait = threading.Event()
    while not wait.wait(PARENT_CHECK_SECONDS):
        if os.getppid() != parent_pid:
            os._exit(0)


def worker_main(conn: Connection, parent_pid: int) -> None:
    """The child process: answer scan requests until the pipe closes, a None request arrives, or the parent dies."""
    _die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before the line above took effect
        os._exit(0)
    _lower_priority()
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="parent-watch", daemon=True).start()
    scans: dict[tuple[str, CostRoots, str], PersistentScan] = {}
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if not isinstance(request, ScanRequest):
            return
        reply = run_scan(scans, request)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return


class ProcessScanRunner:
    """Runs scans in one long-lived child process (started on the first scan, restarted after a crash)."""

    def __init__(self) -> None:
        self._process: Any = None
        self._conn: Connection | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        process = self._process
        return int(process.pid) if process is not None and process.is_alive() else None

    def _start(self) -> Connection:
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(target=worker_main, args=(child, os.getpid()), name="codexbard-cost", daemon=True)
        process.start()
        child.close()
        self._process, self._conn = process, parent
        return parent

    async def __call__(self, request: ScanRequest) -> ScanReply:
        """Send one request to the worker and wait for its reply."""
        async with self._lock:
            if self._closed:
                return ScanReply(None, error="the cost worker is stopped")
            conn = self._conn
            if conn is None or self._process is None or not self._process.is_alive():
                self._kill()
                # In the event loop's thread: Linux's parent-death signal follows the thread that forked.
                conn = self._start()
            try:
                conn.send(request)
                reply = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
            except (EOFError, OSError, ValueError):
                self._kill()
                return ScanReply(None, error="the cost worker process ended during the scan")
            except asyncio.CancelledError:
                self._kill()  # the reply would come after a later request's; start afresh
                raise
        if not isinstance(reply, ScanReply):
            return ScanReply(None, error="the cost worker answered something unexpected")
        return reply

    def _kill(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is not None:
            if process.is_alive():
                process.kill()
            process.join(STOP_WAIT_SECONDS)
        if conn is not None:  # after the child is gone: a reader blocked on it has seen EOF by now
            conn.close()

    async def close(self) -> None:
        """Stop the worker (a scan in progress is abandoned: nothing of it is saved)."""
        self._closed = True
        await asyncio.to_thread(self._kill)


class ThreadScanRunner:
    """Runs scans in a thread of this process (tests and one-off use)."""

    def __init__(self) -> None:
        self._scans: dict[tuple[str, CostRoots, str], PersistentScan] = {}
        self.calls = 0

    async def __call__(self, request: ScanRequest) -> ScanReply:
        """Run one scan in a worker thread."""
        self.calls += 1
        return await asyncio.to_thread(run_scan, self._scans, request)

    async def close(self) -> None:
        """Nothing to stop."""
