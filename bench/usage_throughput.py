"""GET /usage with 20 stored provider payloads vs. a bare FastAPI+uvicorn route returning the same bytes.

Both servers run as a subprocess with the same uvicorn settings; the same load client (keep-alive
HTTP/1.1 over asyncio streams, N concurrent connections) measures each for the same duration.
Prints requests/s, latency percentiles, and the throughput ratio codexbard / bare.

    python bench/usage_throughput.py [--seconds 10] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_PROVIDERS = 20


@dataclass
class Result:
    """One measured run."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_daemon(home: Path):  # type: ignore[no-untyped-def]
    """A daemon whose state holds 20 full provider payloads (no scheduler jobs, no upstream)."""
    from codexbard.daemon import Daemon
    from codexbard.models import Credits, Identity, NamedWindow, RateWindow, UsageSnapshot, WindowValue
    from codexbard.state import AccountState, State
    from tests.fakes import ScriptedStrategy, fake_spec, make_runtime

    now = datetime.now(UTC)
    specs = [fake_spec(f"p{i:02d}", ScriptedStrategy([])) for i in range(N_PROVIDERS)]
    runtime = make_runtime(home, specs)
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.plans)
    for i, account in enumerate(state.accounts.values()):
        account.snapshot = UsageSnapshot(
            primary=RateWindow(used_percent=10.0 + i, window_minutes=300, resets_at=now + timedelta(hours=2),
                               label="Session"),
            secondary=RateWindow(used_percent=40.0 + i, window_minutes=10080, resets_at=now + timedelta(days=3),
                                 label="Weekly"),
            extra_rate_windows=[NamedWindow(id=f"p{i:02d}-mcp", title="MCP",
                                            window=WindowValue(used_percent=5.0, window_minutes=43200))],
            credits=Credits(remaining=100.0 - i, total=250.0, unit="USD"),
            identity=Identity(account_email=f"user{i}@example.com", login_method="Pro"),
        )
        account.source = "api"
        account.fetched_at = now
        account.next_run_at = now + timedelta(minutes=5)
    return Daemon(runtime, None, state)


def serve(kind: str, port: int, home: Path) -> None:
    """Child process: run one of the two servers."""
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response

    from codexbard.api.app import create_app
    from codexbard.api.render import payloads_json

    daemon = build_daemon(home)
    if kind == "codexbard":
        app = create_app(daemon)
    else:
        body = payloads_json(daemon.payloads(daemon.state.enabled())).encode()
        app = FastAPI()

        @app.get("/usage")
        async def usage() -> Response:
            return Response(body, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def _worker(port: int, stop_at: float, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET /usage HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not head.startswith(b"HTTP/1.1 200"):
                errors.append(1)
    finally:
        writer.close()


async def load(port: int, seconds: float, concurrency: int) -> Result:
    """Drive the server with `concurrency` keep-alive connections."""
    latencies: list[float] = []
    errors: list[int] = []
    warm = time.perf_counter() + 1.0
    await asyncio.gather(*(_worker(port, warm, [], []) for _ in range(concurrency)))
    started = time.perf_counter()
    await asyncio.gather(*(_worker(port, started + seconds, latencies, errors) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Result(rps=len(latencies) / elapsed, p50_ms=percentile(latencies, 0.50),
                  p99_ms=percentile(latencies, 0.99), errors=len(errors))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _wrk_ms(text: str) -> float:
    """Convert a wrk duration such as `834.00us`, `8.34ms` or `1.02s` to milliseconds."""
    import re

    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert match is not None, text
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[match.group(2)]
    return float(match.group(1)) * factor


def load_wrk(port: int, seconds: float, concurrency: int) -> Result:
    """Drive the server with wrk (a C client, so the client steals less CPU from the server)."""
    import re
    import shutil

    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk); use --client python")
    url = f"http://127.0.0.1:{port}/usage"
    subprocess.run([wrk, "-t1", f"-c{concurrency}", "-d1s", url], capture_output=True, check=True)
    out = subprocess.run([wrk, "-t1", f"-c{concurrency}", f"-d{int(seconds)}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout

    def grab(pattern: str) -> str:
        match = re.search(pattern, out)
        assert match is not None, out
        return match.group(1)

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Result(rps=float(grab(r"Requests/sec:\s+([\d.]+)")), p50_ms=_wrk_ms(grab(r"50%\s+(\S+)")),
                  p99_ms=_wrk_ms(grab(r"99%\s+(\S+)")), errors=int(errors.group(1)) if errors else 0)


def run_one(kind: str, seconds: float, concurrency: int, home: Path, client: str = "python") -> Result:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    child = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port), "--home", str(home)],
                             env=env)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        if client == "wrk":
            return load_wrk(port, seconds, concurrency)
        return asyncio.run(load(port, seconds, concurrency))
    finally:
        child.terminate()
        child.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the two servers this many times")
    parser.add_argument("--client", choices=["python", "wrk"], default="python",
                        help="load generator: the built-in asyncio client, or wrk when installed")
    parser.add_argument("--serve")
    parser.add_argument("--port", type=int)
    parser.add_argument("--home")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, Path(args.home))
        return
    import tempfile

    results: dict[str, list[Result]] = {"bare": [], "codexbard": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for kind in ("bare", "codexbard"):
                results[kind].append(run_one(kind, args.seconds, args.concurrency, Path(tmp), args.client))
    summary: dict[str, Result] = {}
    for kind, runs in results.items():
        summary[kind] = Result(
            rps=round(sum(r.rps for r in runs) / len(runs), 1),
            p50_ms=round(max(r.p50_ms for r in runs), 2),
            p99_ms=round(max(r.p99_ms for r in runs), 2),
            errors=sum(r.errors for r in runs),
        )
        r = summary[kind]
        print(f"{kind:>10}: {r.rps:8.1f} req/s  p50 {r.p50_ms:.2f} ms  p99 {r.p99_ms:.2f} ms  errors {r.errors}")
    ratio = summary["codexbard"].rps / summary["bare"].rps
    print(f"client {args.client}, {args.concurrency} connections, {args.rounds} x {args.seconds:g} s per server")
    print(f"throughput ratio codexbard/bare: {ratio:.3f} (target >= 0.8); "
          f"codexbard p99 {summary['codexbard'].p99_ms:.2f} ms (target < 10 ms)")
    print(json.dumps({"ratio": round(ratio, 3), **{k: asdict(v) for k, v in summary.items()}}))


if __name__ == "__main__":
    main()
