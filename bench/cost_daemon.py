"""The cost job inside the real `codexbard serve`: GET /cost latency, and /usage latency idle vs during a cold scan.

What runs:
- `bench/gen_corpus.py` writes a Codex + Claude log tree of `--size-mb` (skipped when `--corpus` names one);
- `codexbard serve` with CODEX_HOME / CLAUDE_CONFIG_DIR on it and an empty database, so its start-up scan is cold;
- a paced client on one keep-alive connection (`--rate` requests/s, as a status bar or a dashboard polls) measures
  `/usage` latency while that cold scan runs (the scan's end is read from `/cost` `updatedAt`; only requests sent
  before it count), then again idle once the scan is done; then `GET /cost` (cached, as served), and the first
  `GET /cost` of a new query (rendered from the aggregate);
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
    """One `codexbard serve` with its own home and database, reading the corpus."""

    def __init__(self, python: str, corpus: Path, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        config = home / "config.toml"
        config.write_text('[cost]\ntimezone = "UTC"\n')
        self.env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEXBARD_CONFIG": str(config),
            "XDG_DATA_HOME": str(home / "data"), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "CODEXBARD_PORT": str(self.port), "CODEXBARD_LOG_LEVEL": "warning",
            "CODEX_HOME": str(corpus / "codex"), "CLAUDE_CONFIG_DIR": str(corpus / "claude"),
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
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        started = time.perf_counter()
        self.conn.request("GET", path)
        body = self.conn.getresponse().read()
        return (time.perf_counter() - started) * 1000, body

    def scanned_at(self) -> str | None:
        _, body = self.get("/cost?provider=codex")
        value = json.loads(body)[0]["updatedAt"]
        return value if isinstance(value, str) else None

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)


def paced(serve: Serve, path: str, rate: float, seconds: float | None = None,
          until_scanned: bool = False) -> tuple[list[float], float]:
    """Latencies (ms) of GETs sent `rate` times a second; stop after `seconds` or when the scan is done."""
    out: list[float] = []
    started = time.monotonic()
    step = 1.0 / rate
    next_at = started
    checks = 0
    while True:
        now = time.monotonic()
        if seconds is not None and now - started >= seconds:
            break
        if until_scanned and checks % int(rate / 4 or 1) == 0 and serve.scanned_at() is not None:
            break
        checks += 1
        if next_at > now:
            time.sleep(next_at - now)
        ms, _ = serve.get(path)
        out.append(ms)
        next_at += step
    return out, time.monotonic() - started


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
    out = subprocess.run(["wrk", "-t1", "-c1", f"-d{max(1, int(seconds))}s", "--latency", f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, check=True).stdout
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    found = {q: re.search(rf"{q}%\s+([\d.]+)(us|ms|s)\b", out) for q in ("50", "99")}
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return {f"p{q}_ms": float(m.group(1)) * scale[m.group(2)] if m else None for q, m in found.items()} | {
        "rps": float(rps.group(1)) if rps else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=400.0)
    parser.add_argument("--corpus", type=Path, help="an existing corpus (from gen_corpus.py) instead of a new one")
    parser.add_argument("--rate", type=float, default=100.0, help="paced requests per second")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="codexbard-cost-daemon-"))
    result: dict[str, Any] = {}
    try:
        corpus = args.corpus
        if corpus is None:
            corpus = work / "corpus"
            subprocess.run([args.python, str(ROOT / "bench" / "gen_corpus.py"), str(corpus), "--size-mb",
                            str(args.size_mb)], check=True, stdout=subprocess.DEVNULL)
        result["corpus_mb"] = round(sum(p.stat().st_size for p in corpus.rglob("*.jsonl")) / 1e6, 1)

        serve = Serve(args.python, corpus, work / "home1")
        started = time.monotonic()
        serve.start()
        during, _ = paced(serve, "/usage", args.rate, until_scanned=True)
        result["cold_scan_in_daemon_s"] = round(time.monotonic() - started, 2)  # incl. start-up, to the first answer
        # The last requests may have been answered after the scan ended: drop the final quarter second.
        during = during[: max(0, len(during) - int(args.rate / 4))]
        idle, _ = paced(serve, "/usage", args.rate, seconds=max(3.0, min(10.0, len(during) / args.rate)))
        result["usage_during_cold_scan"] = summary(during)
        result["usage_idle"] = summary(idle)
        result["usage_p99_ratio_scan_vs_idle"] = round(pct(during, 99) / pct(idle, 99), 2)
        first_ms, _ = serve.get("/cost?period=all")
        result["cost_first_render_period_all_ms"] = round(first_ms, 3)
        cost, _ = paced(serve, "/cost", args.rate, seconds=3.0)
        result["cost_cached"] = summary(cost)
        cost_all, _ = paced(serve, "/cost?period=all", args.rate, seconds=2.0)
        result["cost_cached_period_all"] = summary(cost_all)
        _, body = serve.get("/cost")
        result["cost_body_bytes"] = len(body)
        serve.stop()

        if shutil.which("wrk"):
            serve = Serve(args.python, corpus, work / "home2")
            serve.start()
            seconds = max(1.0, result["cold_scan_in_daemon_s"] * 0.6)
            result["wrk_usage_during_cold_scan"] = run_wrk(serve.port, "/usage", seconds)
            while serve.scanned_at() is None:
                time.sleep(0.2)
            result["wrk_usage_idle"] = run_wrk(serve.port, "/usage", seconds)
            result["wrk_cost_idle"] = run_wrk(serve.port, "/cost", 3)
            serve.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
