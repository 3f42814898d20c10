"""Resident memory of `codexbard serve` with every registered provider, idle (no clients), after N seconds.

Every registered provider with canned replies below (`CANNED`) is enabled, with a fake key in the first
secret env var it declares, and pointed at a fake upstream on 127.0.0.1 through upstream_overrides; any
other registered provider is disabled (and named), so nothing leaves the machine. Each polls every 60 s
so the daemon does real work while it idles. RSS is read from /proc/<pid>/status every 10 s. Target: <= 55 MB
after 5 minutes (measured with the four providers zai, kimik2, warp and openrouter).

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

from codexbard.providers.registry import default_registry
from tests.e2e.upstream import FakeUpstream

WARP = {"data": {"user": {"__typename": "UserOutput", "user": {
    "requestLimitInfo": {"isUnlimited": False, "nextRefreshTime": "2100-01-01T00:00:00Z",
                         "requestLimit": 2500, "requestsUsedSinceLastRefresh": 640},
    "bonusGrants": [], "workspaces": []}}}}
ZAI = {"code": 200, "msg": "ok", "success": True, "data": {"planName": "Pro", "limits": [
    {"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": 40, "nextResetTime": 4102444800000},
    {"type": "TOKENS_LIMIT", "unit": 6, "number": 1, "percentage": 12, "nextResetTime": 4103049600000}]}}


# provider id -> (canonical origin, {path: JSON reply}) for the providers this bench has replies for.
CANNED: dict[str, tuple[str, dict[str, object]]] = {
    "zai": ("https://api.z.ai", {"/api/monitor/usage/quota/limit": ZAI}),
    "kimik2": ("https://kimi-k2.ai", {"/api/user/credits": {"data": {"usage": {"total": 340,
                                                                               "credits_remaining": 160}}}}),
    "warp": ("https://app.warp.dev", {"/graphql/v2": WARP}),
    "openrouter": ("https://openrouter.ai", {
        "/api/v1/credits": {"data": {"total_credits": 250.0, "total_usage": 87.35}},
        "/api/v1/key": {"data": {"limit": 100, "limit_remaining": 62.5}}}),
}


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
        registry = default_registry()
        overrides: dict[str, str] = {}
        keys: dict[str, str] = {}
        tables: list[str] = []
        for spec in registry:
            if spec.id not in CANNED:
                print(f"{spec.id}: no canned replies in this bench; disabled")
                tables.append(f"[providers.{spec.id}]\nenabled = false\n")
                continue
            origin, routes = CANNED[spec.id]
            for path, reply in routes.items():
                up.set_json(f"/{spec.id}{path}", reply)
            overrides[origin] = f"{up.base}/{spec.id}"
            secret = next((v.name for v in spec.env_vars if v.secret), None)
            if secret is not None:
                keys[secret] = f"bench-{spec.id}"
            tables.append(f"[providers.{spec.id}]\ninterval_seconds = 60\n")
        home = Path(tmp)
        config = home / "config.toml"
        config.write_text("".join(tables))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {
            "PATH": os.environ.get("PATH", ""), "HOME": str(home), "CODEXBARD_CONFIG": str(config),
            "CODEXBARD_PORT": str(port), **keys, "CODEXBARD_UPSTREAM_OVERRIDES": json.dumps(overrides),
        }
        # cwd outside the checkout: `-m codexbard` must load the install under test, not ./codexbard
        proc = subprocess.Popen([args.python, "-m", "codexbard", "serve"], env=env, cwd=tmp,
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
          f"(start {samples[0] / 1024:.1f} MB, max {max(samples) / 1024:.1f} MB; target <= 55 MB); "
          f"z.ai polled {polls} times")


if __name__ == "__main__":
    main()
