"""The cost job inside the real `codexbard serve`: GET /cost latency, and /usage latency idle vs during a cold scan.

What runs:
- `bench/gen_corpus.py` writes a Codex + Claude log tree of `--size-mb` (or `--corpus` names one);
- `codexbard serve` with `[cost] interval_seconds = 10` and CODEX_HOME / CLAUDE_CONFIG_DIR pointing at log roots
  where only an empty `claude/projects` exists: its start-up scan finds nothing. Once the daemon is warm, the
  corpus is renamed into place, so the next scan is a cold scan of the whole corpus, in a daemon otherwise idle;
- a paced client on one keep-alive connection (`--rate` requests/s, as a status bar or a dashboard polls) sends
  `/usage` throughout; each request is classed "during the scan" when the worker process used CPU between the
  requests before and after it (from /proc), else "idle" - the same run, the same machine load;
- then `GET /cost` (the standard queries come rendered from the worker; `?days=7` is rendered on first use);
- when `wrk` is on PATH, also `wrk -t1 -c1 --latency` on /usage during a second cold scan (a fresh daemon) and idle.

    python bench/cost_daemon.py [--size-mb 400] [--corpus DIR] [--rate 100] [--python .venv/bin/python]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """One `codexbard serve` with its own home and database; its log roots are `<logs>/codex` and `<logs>/claude`."""

    def __init__(self, python: str, logs: Path, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config = home / "config.toml"
        config.write_text('[cost]\ntimezone = "UTC"\ninterval_seconds = 10\n')
        self.env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEXBARD_CONFIG": str(config),
            "XDG_DATA_HOME": str(home / "data"), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "CODEXBARD_PORT": str(self.port), "CODEXBARD_LOG_LEVEL": "warning",
            "CODEX_HOME": str(logs / "codex"), "CLAUDE_CONFIG_DIR": str(logs / "claude"),
        }
        script = Path(python).parent / "codexbard"
        self.command = [str(script)] if script.exists() else [python, "-m", "codexbard"]
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: http.client.HTTPConnection | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([*self.command, "serve"], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.01)
        raise SystemExit("codexbard serve did not start")

    def get(self, path: str) -> tuple[float, bytes]:
        """(milliseconds, body) of one GET on the keep-alive connection."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            started = time.perf_counter()
            try:
                self.conn.request("GET", path)
                body = self.conn.getresponse().read()
            except (http.client.RemoteDisconnected, ConnectionError):
                self.conn.close()  # the server ended an idle keep-alive connection: reconnect once
                self.conn = None
                if attempt == 2:
                    raise
                continue
            return (time.perf_counter() - started) * 1000, body
        raise AssertionError("unreachable")

    def cost_tokens(self) -> int | None:
        """All-time tokens of both providers, None before the first scan."""
        _, body = self.get("/cost?period=all")
        blocks = json.loads(body)
        if blocks[0]["updatedAt"] is None:
            return None
        return sum(int(b["totals"]["totalTokens"]) for b in blocks)

    def worker_cpu(self) -> int:
        """CPU clock ticks used so far by the cost worker process (0 before it exists)."""
        assert self.proc is not None
        total = 0
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in children:
                try:
                    if b"spawn_main" not in Path(f"/proc/{child}/cmdline").read_bytes():
                        continue
                    fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                total += int(fields[11]) + int(fields[12])
        return total

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)


def paced(serve: Serve, path: str, rate: float, seconds: float) -> list[float]:
    """Latencies (ms) of GETs sent `rate` times a second for `seconds`."""
    out: list[float] = []
    started = next_at = time.monotonic()
    while time.monotonic() - started < seconds:
        now = time.monotonic()
        if next_at > now:
            time.sleep(next_at - now)
        out.append(serve.get(path)[0])
        next_at += 1.0 / rate
    return out


def put_corpus(staged: Path, logs: Path) -> None:
    """Move the corpus into the daemon's log roots (two renames; the empty `claude/projects` is replaced)."""
    (staged / "codex").rename(logs / "codex")
    (staged / "claude" / "projects").rename(logs / "claude" / "projects")


def take_corpus(logs: Path, staged: Path) -> None:
    """Move the corpus back out, leaving the empty `claude/projects` the next daemon starts with."""
    (logs / "codex").rename(staged / "codex")
    (logs / "claude" / "projects").rename(staged / "claude" / "projects")
    (logs / "claude" / "projects").mkdir()


def during_and_idle(serve: Serve, staged: Path, logs: Path, rate: float) -> tuple[list[float], list[float], float]:
    """/usage latencies while the worker burns CPU (the cold scan) and while it does not; and the scan's length."""
    samples: list[tuple[float, int, int]] = []  # latency, worker CPU before, after
    started = next_at = time.monotonic()
    moved = False
    scan_started = scan_ended = 0.0
    while True:
        now = time.monotonic()
        if not moved and now - started > 1.0:
            put_corpus(staged, logs)  # the next scan (within 10 s) reads the whole corpus
            moved = True
        if next_at > now:
            time.sleep(next_at - now)
        before = serve.worker_cpu()
        ms, _ = serve.get("/usage")
        after = serve.worker_cpu()
        samples.append((ms, before, after))
        if after > before and not scan_started:
            scan_started = time.monotonic()
        next_at += 1.0 / rate
        if scan_started and not scan_ended and len(samples) % max(1, int(rate / 5)) == 0 and serve.cost_tokens():
            scan_ended = time.monotonic()
        if scan_ended and time.monotonic() - scan_ended > 3.0:
            break
        if time.monotonic() - started > 600:
            raise SystemExit("the cold scan did not finish in 10 minutes")
    busy: list[float] = []
    idle: list[float] = []
    for i, (ms, before, after) in enumerate(samples):
        prev_before = samples[i - 1][1] if i else before
        next_after = samples[i + 1][2] if i + 1 < len(samples) else after
        (busy if next_after > prev_before else idle).append(ms)
    return busy, idle, scan_ended - scan_started


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "p50_ms": round(pct(values, 50), 3), "p99_ms": round(pct(values, 99), 3),
            "max_ms": round(max(values), 3) if values else None,
            "mean_ms": round(statistics.fmean(values), 3) if values else None}


def run_wrk(port: int, path: str, seconds: float) -> dict[str, Any]:
    out = subprocess.run(["wrk", "-t1", "-c1", f"-d{max(1, int(seconds))}s", "--latency",
                          f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True).stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    found = {q: re.search(rf"{q}%\s+([\d.]+)(us|ms|s)\b", out) for q in ("50", "99")}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {f"p{q}_ms": round(float(m.group(1)) * scale[m.group(2)], 3) if m else None
            for q, m in found.items()} | {"rps": float(rps.group(1)) if rps else None}


def wait_scanned(serve: Serve, nonempty: bool) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        tokens = serve.cost_tokens()
        if tokens is not None and (tokens > 0 or not nonempty):
            return
        time.sleep(0.05)
    raise SystemExit("no scan finished")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=400.0)
    parser.add_argument("--corpus", type=Path, help="an existing corpus (from gen_corpus.py) instead of a new one")
    parser.add_argument("--rate", type=float, default=100.0, help="paced requests per second")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="codexbard-cost-daemon-"))
    result: dict[str, Any] = {}
    started: list[Serve] = []
    staged = work / "staged"
    logs = work / "logs"
    try:
        if args.corpus is not None:
            shutil.copytree(args.corpus, staged)
        else:
            subprocess.run([args.python, str(ROOT / "bench" / "gen_corpus.py"), str(staged), "--size-mb",
                            str(args.size_mb)], check=True, stdout=subprocess.DEVNULL)
        result["corpus_mb"] = round(sum(p.stat().st_size for p in staged.rglob("*.jsonl")) / 1e6, 1)
        # The daemon starts on an empty Claude log root (a user with no logs yet): its cost worker runs and
        # scans nothing; with no root at all the job would not start a worker, and nothing would be published.
        (logs / "claude" / "projects").mkdir(parents=True)

        serve = Serve(args.python, logs, work / "home1")
        started.append(serve)
        serve.start()
        wait_scanned(serve, nonempty=False)  # the start-up scan of nothing
        serve.get("/usage")
        busy, idle, scan_seconds = during_and_idle(serve, staged, logs, args.rate)
        result["cold_scan_seconds_seen_by_client"] = round(scan_seconds, 2)
        result["usage_during_cold_scan"] = summary(busy)
        result["usage_idle"] = summary(idle)
        result["usage_p99_ratio_scan_vs_idle"] = round(pct(busy, 99) / pct(idle, 99), 2)
        first_ms, _ = serve.get("/cost?days=7")
        result["cost_first_render_days_7_ms"] = round(first_ms, 3)
        result["cost_cached"] = summary(paced(serve, "/cost", args.rate, 3.0))
        result["cost_cached_period_all"] = summary(paced(serve, "/cost?period=all", args.rate, 2.0))
        result["cost_body_bytes"] = len(serve.get("/cost")[1])
        serve.stop()
        take_corpus(logs, staged)

        if shutil.which("wrk"):
            serve = Serve(args.python, logs, work / "home2")
            started.append(serve)
            serve.start()
            wait_scanned(serve, nonempty=False)
            result["wrk_usage_idle"] = run_wrk(serve.port, "/usage", 3)
            put_corpus(staged, logs)
            while serve.worker_cpu() == (cpu := serve.worker_cpu()) or not cpu:
                time.sleep(0.01)
            result["wrk_usage_during_cold_scan"] = run_wrk(serve.port, "/usage", max(1.0, scan_seconds * 0.6))
            wait_scanned(serve, nonempty=True)
            result["wrk_cost_idle"] = run_wrk(serve.port, "/cost", 3)
            serve.stop()
    finally:
        for one in started:  # also after an error: never leave a daemon behind
            one.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
