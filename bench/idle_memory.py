"""Resident memory of `codexbard serve` with four providers, idle (no clients), after N seconds.

The four built-in providers (zai, kimik2, warp, openrouter) are enabled with fake keys and pointed at a
fake upstream on 127.0.0.1 through upstream_overrides; each polls every 60 s so the daemon does real
work while it idles. RSS is read from /proc/<pid>/status every 10 s. Target: <= 60 MB after 5 minutes.

    python bench/idle_memory.py [--seconds 300]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.upstream import FakeUpstream

WARP = {"data": {"user": {"__typename": "UserOutput", "user": {
    "requestLimitInfo": {"isUnlimited": False, "nextRefreshTime": "2100-01-01T00:00:00Z",
                         "requestLimit": 2500, "requestsUsedSinceLastRefresh": 640},
    "bonusGrants": [], "workspaces": []}}}}
ZAI = {"code": 200, "msg": "ok", "success": True, "data": {"planName": "Pro", "limits": [
    {"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": 40, "nextResetTime": 4102444800000},
    {"type": "TOKENS_LIMIT", "unit": 6, "number": 1, "percentage": 12, "nextResetTime": 4103049600000}]}}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter of the install to measure (a plain `pip install .` venv, no dev tools)")
    args = parser.parse_args()
    with FakeUpstream() as up, tempfile.TemporaryDirectory() as tmp:
        up.set_json("/zai/api/monitor/usage/quota/limit", ZAI)
        up.set_json("/kimik2/api/user/credits", {"data": {"usage": {"total": 340, "credits_remaining": 160}}})
        up.set_json("/warp/graphql/v2", WARP)
        up.set_json("/openrouter/api/v1/credits", {"data": {"total_credits": 250.0, "total_usage": 87.35}})
        up.set_json("/openrouter/api/v1/key", {"data": {"limit": 100, "limit_remaining": 62.5}})
        home = Path(tmp)
        config = home / "config.toml"
        config.write_text("".join(f"[providers.{p}]\ninterval_seconds = 60\n"
                                  for p in ("zai", "kimik2", "warp", "openrouter")))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEXBARD_CONFIG": str(config),
            "CODEXBARD_PORT": str(port), "Z_AI_API_KEY": "bench-zai", "KIMI_K2_API_KEY": "bench-kimi",
            "WARP_API_KEY": "wk-bench", "OPENROUTER_API_KEY": "sk-or-bench",
            "CODEXBARD_UPSTREAM_OVERRIDES": json.dumps({
                "https://api.z.ai": f"{up.base}/zai", "https://kimi-k2.ai": f"{up.base}/kimik2",
                "https://app.warp.dev": f"{up.base}/warp", "https://openrouter.ai": f"{up.base}/openrouter"}),
        }
        proc = subprocess.Popen([args.python, "-m", "codexbard", "serve"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(3)
            usage = json.loads(subprocess.run(["curl", "-s", f"http://127.0.0.1:{port}/usage"],
                                              capture_output=True, text=True).stdout or "[]")
            ok = [p["provider"] for p in usage if p["usage"] is not None]
            print(f"providers with data after 3 s: {ok}")
            started = time.monotonic()
            samples: list[int] = []
            while time.monotonic() - started < args.seconds:
                samples.append(rss_kib(proc.pid))
                time.sleep(min(10, max(0.1, args.seconds - (time.monotonic() - started))))
            samples.append(rss_kib(proc.pid))
            polls = sum(1 for r in up.requests if "quota/limit" in r[1])
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"RSS after {args.seconds:g} s idle: {samples[-1] / 1024:.1f} MB "
          f"(start {samples[0] / 1024:.1f} MB, max {max(samples) / 1024:.1f} MB; target <= 60 MB); "
          f"z.ai polled {polls} times")


if __name__ == "__main__":
    main()
