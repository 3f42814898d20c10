"""Wall time of the installed `codexbard statusline` command, with the daemon up and down (issue 7's benchmark).

    python bench/statusline.py [--runs 50] [--command PATH]

Runs the installed `codexbard` (next to this interpreter, else on PATH) `--runs` times per case, feeding
Claude Code's JSON on stdin, and reports min/median/p95/max in milliseconds as one JSON document. Cases:
`down` (nothing listens on the port), `up-ingest` (a real `codexbard serve`; the input carries rate_limits, so
the command POSTs them), `up-fallback` (no rate_limits: the command GETs the stored Claude payload). Also the
bare interpreter start-up (`python -c pass`), which is part of every run. Target: p95 < 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BODY = {"model": {"display_name": "Opus"},
        "rate_limits": {"five_hour": {"used_percentage": 23.5, "resets_at": 4102444800},
                        "seven_day": {"used_percentage": 41.0, "resets_at": 4102444800}}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command_path(given: str | None) -> str:
    if given:
        return given
    beside = Path(sys.executable).parent / "codexbard"
    found = str(beside) if beside.exists() else shutil.which("codexbard")
    if not found:
        raise SystemExit("the codexbard command is not installed (pip install -e .)")
    return found


def timed(argv: list[str], stdin: bytes, env: dict[str, str], runs: int) -> dict[str, Any]:
    samples = []
    output = b""
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(argv, input=stdin, env=env, capture_output=True, check=False)
        samples.append((time.perf_counter() - started) * 1000)
        output = result.stdout
        if result.returncode != 0:
            raise SystemExit(f"{argv} exited {result.returncode}: {result.stderr.decode()}")
    ordered = sorted(samples)
    return {
        "runs": runs,
        "min_ms": round(ordered[0], 1),
        "median_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[max(0, round(0.95 * runs) - 1)], 1),
        "max_ms": round(ordered[-1], 1),
        "output": output.decode().strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--command", help="the codexbard executable (default: the installed one)")
    args = parser.parse_args()
    program = command_path(args.command)
    body = json.dumps(BODY).encode()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        config = home / "config.toml"
        config.write_text("[providers.claude]\nenabled = true\n")
        port = free_port()
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
               "XDG_DATA_HOME": str(home / "data"), "XDG_STATE_HOME": str(home / "state"),
               "CODEXBARD_CONFIG": str(config), "CODEXBARD_PORT": str(port),
               "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
        report: dict[str, Any] = {"command": program}
        report["python_startup"] = timed([sys.executable, "-c", "pass"], b"", env, args.runs)
        report["down"] = timed([program, "statusline"], body, env, args.runs)
        daemon = subprocess.Popen([program, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    time.sleep(0.1)
            subprocess.run([program, "statusline"], input=body, env=env, capture_output=True, check=False)
            time.sleep(1.0)  # the first ingest loads the API router; measure the steady state
            report["up_ingest"] = timed([program, "statusline"], body, env, args.runs)
            report["up_fallback"] = timed([program, "statusline"], b'{"model": {"display_name": "Opus"}}', env,
                                          args.runs)
        finally:
            daemon.terminate()
            daemon.wait(10)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
