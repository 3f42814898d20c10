"""GET /metrics against the bare route, and what 200 open /events clients cost polls, /usage and memory.

Uses the setup of bench/usage_throughput.py: a fake upstream for 20 payloads, `codexbard serve` as a
subprocess, a bare FastAPI + uvicorn route serving the /usage bytes, and `wrk` (or the asyncio client).

1. /metrics and /usage on codexbard against the bare route (50 keep-alive connections), median of rounds.
2. Rounds alternating without and with 200 SSE clients connected (each reading every frame): in each,
   `wrk` loads /usage while, 1 s in, `POST /refresh` polls all 20 accounts (so the events fan out during
   the measurement); the refresh's wall time, /usage p99, the daemon's RSS growth when the clients
   connect, and how many frames they received. Medians over the rounds.
3. The daemon's CPU time for one refresh with no other load, without and with the clients: the fan-out's cost
   without the noise of a saturated server (p99 under `wrk` swings between rounds of either kind).

    python bench/events_metrics.py [--seconds 5] [--rounds 3] [--sse-rounds 6] [--clients 200]
                                   [--python .venv/bin/python]
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from usage_throughput import BARE, Codexbard, fake_upstream, free_port, get, run_python, run_wrk, wait_port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of a process to `cpus` (threads it starts later inherit the mask)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def refresh_wall(port: int) -> float:
    """Seconds for POST /refresh to poll every account (after the 10 s refresh debounce has passed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        started = time.perf_counter()
        conn.request("POST", "/refresh")
        conn.getresponse().read()
        return time.perf_counter() - started
    finally:
        conn.close()


class SseClients:
    """N /events connections in a thread of their own, each reading everything."""

    def __init__(self, port: int, n: int) -> None:
        self.port, self.n = port, n
        self.frames = 0
        self.connected = 0
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())

    async def _one(self) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        self.connected += 1
        assert self._stop is not None
        try:
            while not self._stop.is_set():
                chunk = await reader.read(65536)
                if not chunk:
                    break
                self.frames += chunk.count(b"\nevent: ")
        finally:
            writer.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        tasks = [asyncio.create_task(self._one()) for _ in range(self.n)]
        await self._stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 30
        while self.connected < self.n and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--sse-rounds", type=int, default=10, help="alternating without/with rounds")
    parser.add_argument("--cpu-rounds", type=int, default=4, help="rounds of the CPU-per-refresh figure")
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--loop", default="auto")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not give the servers CPU 0 and the load generator (wrk, the SSE clients) the others")
    args = parser.parse_args()
    load = run_wrk if shutil.which("wrk") else run_python
    print(f"client: {'wrk' if load is run_wrk else 'python'}; {args.rounds} rounds of {args.seconds:g} s")
    with fake_upstream() as up, tempfile.TemporaryDirectory() as tmp:
        daemon = Codexbard(args.python, up, args.loop, Path(tmp, "d"))
        daemon.start()
        daemon.wait_for_data()
        assert daemon.proc is not None
        cpus = sorted(os.sched_getaffinity(0))
        pinned = args.pin and len(cpus) >= 2
        if pinned:  # the server and its clients no longer steal each other's core: p99 measures the server
            pin(daemon.proc.pid, {cpus[0]})
            pin(os.getpid(), set(cpus[1:]))  # this process, its threads, and wrk (started later)
            print(f"servers pinned to CPU {cpus[0]}, load generators to CPUs {cpus[1:]}")
        usage_file = Path(tmp, "usage.json")
        usage_file.write_bytes(get(daemon.port, "/usage"))
        health_file = Path(tmp, "health.json")
        health_file.write_bytes(get(daemon.port, "/health"))
        metrics = get(daemon.port, "/metrics")
        lines = metrics.count(b"\n")
        print(f"/metrics: {len(metrics)} bytes, {lines} lines; /usage: {usage_file.stat().st_size} bytes")
        bare_port = free_port()
        bare = subprocess.Popen([args.python, "-c", BARE, str(bare_port), str(usage_file), str(health_file)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(bare_port)
            if pinned:
                pin(bare.pid, {cpus[0]})
            print("\n1. 50 keep-alive connections")
            targets = {"bare /usage": (bare_port, "/usage"), "codexbard /metrics": (daemon.port, "/metrics"),
                       "codexbard /usage": (daemon.port, "/usage")}
            load(bare_port, "/usage", 50, 1, False)
            load(daemon.port, "/metrics", 50, 1, False)
            runs: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (port, path) in targets.items():
                    runs[name].append(load(port, path, 50, args.seconds, False).rps)
            base = statistics.median(runs["bare /usage"])
            for name, values in runs.items():
                rps = statistics.median(values)
                print(f"  {name:20} {rps:9.0f} req/s  ratio {rps / base:4.2f}x")

            print(f"\n2. polls and /usage with and without {args.clients} SSE clients "
                  f"({args.sse_rounds} alternating rounds; each: /usage under load for {args.seconds:g} s "
                  f"with POST /refresh polling all 20 accounts 1 s in)")
            get(daemon.port, "/providers")  # warm-up: the router (built on the first non-hot request) and a poll
            refresh_wall(daemon.port)
            walls: dict[str, list[float]] = {"without": [], "with": []}
            p99s: dict[str, list[float]] = {"without": [], "with": []}
            rss_growth: list[float] = []
            frames = connected = 0
            last_refresh = time.monotonic()
            for round_no in range(args.sse_rounds):
                # alternate the order so drift (caches, page cache, other load) falls on both phases alike
                order = ("without", "with") if round_no % 2 == 0 else ("with", "without")
                for phase in order:
                    clients: SseClients | None = None
                    if phase == "with":
                        rss_before = rss_kib(daemon.proc.pid)
                        clients = SseClients(daemon.port, args.clients)
                        clients.start()
                        time.sleep(1)
                        rss_growth.append((rss_kib(daemon.proc.pid) - rss_before) / 1024)
                    time.sleep(max(0.0, last_refresh + 10.5 - time.monotonic()))  # past the refresh debounce
                    timer = threading.Timer(1.0, lambda wall=walls[phase]: wall.append(refresh_wall(daemon.port)))
                    timer.start()
                    p99s[phase].append(load(daemon.port, "/usage", 50, args.seconds, False).p99_ms)
                    timer.join()
                    last_refresh = time.monotonic()
                    if clients is not None:
                        time.sleep(0.5)  # the last frames of the poll
                        frames, connected = clients.frames, clients.connected
                        clients.stop()
            w0, w1 = statistics.median(walls["without"]), statistics.median(walls["with"])
            p0, p1 = statistics.median(p99s["without"]), statistics.median(p99s["with"])
            print("  /usage p99 per round (ms): without " + " ".join(f"{v:.1f}" for v in p99s["without"])
                  + "; with " + " ".join(f"{v:.1f}" for v in p99s["with"]))
            print(f"  poll wall (POST /refresh, 20 accounts): {w0 * 1000:7.1f} ms without, {w1 * 1000:7.1f} ms with"
                  f"  ({w1 / w0:4.2f}x), medians")
            print(f"  /usage p99 (50 connections, polls running): {p0:7.2f} ms without, {p1:7.2f} ms with"
                  f"  ({p1 / p0:4.2f}x), medians")
            print(f"  RSS growth when {connected} clients connect: {rss_growth[0]:.1f} MiB the first time, "
                  f"{statistics.median(rss_growth[1:] or rss_growth):.1f} MiB later (median: memory is reused); "
                  f"daemon now {rss_kib(daemon.proc.pid) / 1024:.1f} MiB")
            print(f"  frames the last round's clients received: {frames} ({frames / max(1, connected):.0f} each)")

            print(f"\n3. the daemon's CPU time for one POST /refresh (20 accounts), no other load, "
                  f"{args.cpu_rounds} alternating rounds")
            cpu: dict[str, list[float]] = {"without": [], "with": []}
            quiet_walls: dict[str, list[float]] = {"without": [], "with": []}
            for round_no in range(args.cpu_rounds):
                for phase in ("without", "with") if round_no % 2 == 0 else ("with", "without"):
                    clients = SseClients(daemon.port, args.clients) if phase == "with" else None
                    if clients is not None:
                        clients.start()
                    time.sleep(max(0.0, last_refresh + 10.5 - time.monotonic()))
                    before = cpu_seconds(daemon.proc.pid)
                    quiet_walls[phase].append(refresh_wall(daemon.port))
                    time.sleep(0.5)  # the frames of the last batch
                    cpu[phase].append(cpu_seconds(daemon.proc.pid) - before)
                    last_refresh = time.monotonic()
                    if clients is not None:
                        clients.stop()
            c0, c1 = statistics.median(cpu["without"]), statistics.median(cpu["with"])
            print(f"  CPU per refresh: {c0 * 1000:.0f} ms without, {c1 * 1000:.0f} ms with {args.clients} clients "
                  f"(medians; samples {[round(v, 2) for v in cpu['without']]} / {[round(v, 2) for v in cpu['with']]})")
            q0, q1 = statistics.median(quiet_walls["without"]), statistics.median(quiet_walls["with"])
            print(f"  poll wall (POST /refresh, 20 accounts), no other load: {q0 * 1000:.0f} ms without, "
                  f"{q1 * 1000:.0f} ms with ({q1 / q0:4.2f}x), medians")
        finally:
            bare.terminate()
            bare.wait(10)
            daemon.stop()


if __name__ == "__main__":
    main()
