"""The real `codexbard serve` against a bare FastAPI + uvicorn route serving the identical bytes.

What runs:
- a fake upstream on 127.0.0.1 answers for four providers (z.ai with 17 accounts, Kimi K2, Warp,
  OpenRouter): 20 payloads, polled once at start (intervals of an hour, so nothing polls during the load);
- `codexbard serve` as users run it (the installed command next to --python), once per event loop;
- a bare `uvicorn.run(app)` whose `/usage` and `/health` return the bytes codexbard served;
- one load client for both: `wrk` when it is on PATH, else a built-in asyncio client.

Modes: 50 keep-alive connections on /usage, 1 keep-alive connection on /health and on /usage, and a new
connection per request (`Connection: close`) on /usage. Each mode runs bare and codexbard alternately,
`--rounds` times; the median is reported with the ratio codexbard / bare. Then the time from starting
`codexbard serve` to `/usage` answering with the 20 stored payloads (upstream hanging) is measured.

    python bench/usage_throughput.py [--seconds 5] [--rounds 3] [--python .venv/bin/python] [--client auto]
        [--path '/usage?format=waybar'] [--skip-startup]

`--path` measures another query of `/usage` (a format, a provider filter) in place of `/usage`: the bare
route then serves the bytes codexbard answered for that query, with the same content type, so the ratio
compares rendering-and-serving that format against serving fixed bytes.
"""

from __future__ import annotations

import argparse
import asyncio
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
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.upstream import FakeUpstream

ZAI_ACCOUNTS = 17
WARP = {"data": {"user": {"__typename": "UserOutput", "user": {
    "requestLimitInfo": {"isUnlimited": False, "nextRefreshTime": "2100-01-01T00:00:00Z",
                         "requestLimit": 2500, "requestsUsedSinceLastRefresh": 640},
    "bonusGrants": [], "workspaces": []}}}}
ZAI = {"code": 200, "msg": "ok", "success": True, "data": {"planName": "Pro", "limits": [
    {"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": 40, "nextResetTime": 4102444800000},
    {"type": "TOKENS_LIMIT", "unit": 6, "number": 1, "percentage": 12, "nextResetTime": 4103049600000}]}}


@dataclass
class Result:
    rps: float
    p99_ms: float
    errors: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fake_upstream() -> FakeUpstream:
    up = FakeUpstream()
    up.set_json("/zai/api/monitor/usage/quota/limit", ZAI)
    up.set_json("/zai/api/monitor/usage/model-usage",
                {"code": 200, "success": True, "data": {"x_time": [], "modelDataList": []}})
    up.set_json("/kimik2/api/user/credits", {"data": {"usage": {"total": 340, "credits_remaining": 160}}})
    up.set_json("/warp/graphql/v2", WARP)
    up.set_json("/openrouter/api/v1/credits", {"data": {"total_credits": 250.0, "total_usage": 87.35}})
    up.set_json("/openrouter/api/v1/key", {"data": {"limit": 100, "limit_remaining": 62.5}})
    return up


def codexbard_command(python: str) -> list[str]:
    """The installed `codexbard` entry point of the interpreter's environment."""
    script = Path(python).parent / "codexbard"
    return [str(script)] if script.exists() else [python, "-m", "codexbard"]


class Codexbard:
    """One `codexbard serve` process with its own home, polling the fake upstream."""

    def __init__(self, python: str, upstream: FakeUpstream, loop: str, home: Path) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.loop = loop
        config = home / "config.toml"
        accounts = "".join(f'[[providers.zai.accounts]]\nlabel = "a{i:02d}"\napi_key = "bench-zai-key-{i:02d}"\n'
                           for i in range(ZAI_ACCOUNTS))
        config.write_text("".join(f"[providers.{p}]\ninterval_seconds = 3600\n"
                                  for p in ("kimik2", "warp", "openrouter"))
                          + f"[providers.zai]\ninterval_seconds = 3600\n{accounts}")
        self.env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEXBARD_CONFIG": str(config),
            "XDG_DATA_HOME": str(home / "data"), "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "CODEXBARD_PORT": str(self.port), "CODEXBARD_EVENT_LOOP": loop, "CODEXBARD_LOG_LEVEL": "warning",
            "KIMI_K2_API_KEY": "bench-kimi", "WARP_API_KEY": "wk-bench", "OPENROUTER_API_KEY": "sk-or-bench",
            "CODEXBARD_UPSTREAM_OVERRIDES": json.dumps({
                "https://api.z.ai": f"{upstream.base}/zai", "https://kimi-k2.ai": f"{upstream.base}/kimik2",
                "https://app.warp.dev": f"{upstream.base}/warp",
                "https://openrouter.ai": f"{upstream.base}/openrouter",
            }),
        }
        self.command = codexbard_command(python)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        started = time.monotonic()
        self.proc = subprocess.Popen([*self.command, "serve"], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        return started

    def wait_for_data(self, timeout: float = 30) -> float:
        """Wait until /usage holds 20 payloads with data; return the monotonic time it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise SystemExit(f"codexbard exited: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            try:
                body = get(self.port, "/usage")
                payloads = json.loads(body)
                if len(payloads) == 20 and all(p["usage"] is not None for p in payloads):
                    return time.monotonic()
            except (OSError, ValueError, http.client.HTTPException):
                pass
            time.sleep(0.01)
        raise SystemExit("codexbard never served 20 payloads")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


def get(port: int, path: str) -> bytes:
    return get_typed(port, path)[0]


def get_typed(port: int, path: str) -> tuple[bytes, str]:
    """A GET's body and content type."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.read(), response.getheader("content-type", "application/json")
    finally:
        conn.close()


BARE = textwrap.dedent('''
    import sys
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import Response

    usage = open(sys.argv[2], "rb").read()
    health = open(sys.argv[3], "rb").read()
    usage_type = sys.argv[4] if len(sys.argv) > 4 else "application/json"
    app = FastAPI()

    @app.get("/usage")
    async def get_usage() -> Response:
        return Response(usage, media_type=usage_type)

    @app.get("/health")
    async def get_health() -> Response:
        return Response(health, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
''')


def wait_port(port: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


# -- load clients ---------------------------------------------------------------------------------

def run_wrk(port: int, path: str, connections: int, seconds: float, close: bool) -> Result:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "5s"]
    if close:
        command += ["-H", "Connection: close"]
    out = subprocess.run([*command, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True,
                         check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    count = int(errors.group(1)) if errors else 0
    if socket_errors:
        count += sum(int(g) for g in socket_errors.groups())
    return Result(rps, float(p99.group(1)) * scale[p99.group(2)] if p99 else float("nan"), count)


async def _python_load(port: int, path: str, connections: int, seconds: float, close: bool) -> Result:
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               + ("Connection: close\r\n" if close else "") + "\r\n").encode()
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def one_response(reader: asyncio.StreamReader) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
        await reader.readexactly(length)
        if status != 200:
            raise ValueError(status)

    async def worker() -> None:
        nonlocal errors
        reader = writer = None
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(request)
                await one_response(reader)  # type: ignore[arg-type]
                latencies.append(time.perf_counter() - started)
            except (OSError, ValueError, asyncio.IncompleteReadError):
                errors += 1
                close_now = True
            else:
                close_now = close
            if close_now and writer is not None:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.monotonic() - started
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] * 1000 if latencies else float("nan")
    return Result(len(latencies) / elapsed, p99, errors)


def run_python(port: int, path: str, connections: int, seconds: float, close: bool) -> Result:
    return asyncio.run(_python_load(port, path, connections, seconds, close))


# -- the run --------------------------------------------------------------------------------------

MODES = [
    ("/usage, 50 keep-alive connections", "/usage", 50, False),
    ("/health, 1 keep-alive connection", "/health", 1, False),
    ("/usage, 1 keep-alive connection", "/usage", 1, False),
    ("/usage, new connection per request (4 clients)", "/usage", 4, True),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--python", default=sys.executable, help="interpreter of the install to measure")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--loops", default="uvloop,asyncio")
    parser.add_argument("--path", default="/usage",
                        help="the /usage query to measure (e.g. '/usage?format=waybar'); "
                             "the bare route serves its bytes")
    parser.add_argument("--skip-startup", action="store_true", help="leave out the startup measurement")
    args = parser.parse_args()
    if not args.path.startswith("/usage"):
        parser.error("--path must be a query of /usage")
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    load = run_wrk if client == "wrk" else run_python
    loops = [name for name in args.loops.split(",") if name]
    print(f"client: {client}; {args.rounds} rounds of {args.seconds:g} s per mode; median shown")

    with fake_upstream() as up, tempfile.TemporaryDirectory() as tmp:
        daemons = {loop: Codexbard(args.python, up, loop, Path(tmp, loop)) for loop in loops}
        for daemon in daemons.values():
            daemon.start()
        for daemon in daemons.values():
            daemon.wait_for_data()
        first = daemons[loops[0]]
        usage_file, health_file = Path(tmp, "usage.json"), Path(tmp, "health.json")
        body, media = get_typed(first.port, args.path)
        usage_file.write_bytes(body)
        health_file.write_bytes(get(first.port, "/health"))
        print(f"/usage: {len(json.loads(get(first.port, '/usage')))} payloads; {args.path}: "
              f"{usage_file.stat().st_size} bytes of {media}")
        bare_port = free_port()
        bare = subprocess.Popen([args.python, "-c", BARE, str(bare_port), str(usage_file), str(health_file), media],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(bare_port)
            for title, path, connections, close in MODES:
                if path == "/usage" and args.path != "/usage":
                    title, path = title.replace("/usage", args.path), args.path
                print(f"\n{title}")
                ports = {"bare": bare_port, **{f"codexbard ({loop})": d.port for loop, d in daemons.items()}}
                runs: dict[str, list[Result]] = {name: [] for name in ports}
                load(bare_port, path, connections, 1, close)  # warm-up
                for _ in range(args.rounds):
                    for name, port in ports.items():
                        runs[name].append(load(port, path, connections, args.seconds, close))
                base_rps = statistics.median(r.rps for r in runs["bare"])
                base_p99 = statistics.median(r.p99_ms for r in runs["bare"])
                for name, results in runs.items():
                    rps = statistics.median(r.rps for r in results)
                    p99 = statistics.median(r.p99_ms for r in results)
                    errors = sum(r.errors for r in results)
                    print(f"  {name:22} {rps:9.0f} req/s  p99 {p99:7.2f} ms  "
                          f"ratio {rps / base_rps:4.2f}x  p99 {p99 / base_p99:4.2f}x  errors {errors}")
        finally:
            bare.terminate()
            bare.wait(10)
            for daemon in daemons.values():
                daemon.stop()

        if args.skip_startup:
            return
        print("\nstartup: `codexbard serve` to /usage answering with the 20 stored payloads (upstream hanging)")
        up.delay = 60.0
        for loop, daemon in daemons.items():
            times = []
            for _ in range(3):
                started = daemon.start()
                times.append(daemon.wait_for_data() - started)
                daemon.proc.kill()  # type: ignore[union-attr]
                daemon.proc.wait(10)  # type: ignore[union-attr]
            print(f"  codexbard ({loop}): {statistics.median(times) * 1000:.0f} ms (median of 3; target < 1000 ms)")
        up.delay = 0.0


if __name__ == "__main__":
    main()
