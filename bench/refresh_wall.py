"""Wall time of one full refresh of 20 providers whose upstreams each answer after 300 ms.

The providers are real strategies going through the shared HTTP client (upstream_overrides pointing at
a threaded fake server on 127.0.0.1), the real scheduler (`POST /refresh`'s code path: single flight,
concurrency cap, state update) and the real SQLite store. Target: wall time <= 1.3 x 300 ms.

    python bench/refresh_wall.py [--providers 20] [--delay 0.3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codexbard.daemon import Daemon
from codexbard.models import RateWindow, UsageSnapshot
from codexbard.providers.base import Availability, FetchContext, ProviderSpec, Strategy
from codexbard.state import AccountState, State
from codexbard.store import Store
from tests.e2e.upstream import FakeUpstream
from tests.fakes import make_runtime


class HttpStrategy(Strategy):
    """Fetches `https://p<i>.example/usage` and maps `{"used": n}` to a primary window."""

    id = "api"
    kind = "api"
    source_label = "api"

    def __init__(self, index: int) -> None:
        self.url = f"https://p{index:02d}.example/usage"

    async def available(self, ctx: FetchContext) -> Availability:
        return Availability.yes("benchmark")

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        response = await ctx.http.get(self.url, service="bench upstream", timeout=ctx.remaining(15.0))
        data = response.json_object()
        return UsageSnapshot(primary=RateWindow(used_percent=float(data["used"]), window_minutes=300))


async def run(providers: int, delay: float, rounds: int) -> list[float]:
    with FakeUpstream() as upstream, tempfile.TemporaryDirectory() as tmp:
        upstream.delay = delay
        for i in range(providers):
            upstream.set_json(f"/p{i:02d}/usage", {"used": 10 + i})
        overrides = "\n".join(f'"https://p{i:02d}.example" = "{upstream.base}/p{i:02d}"' for i in range(providers))
        specs = [ProviderSpec(id=f"p{i:02d}", display_name=f"P{i:02d}", strategies=(HttpStrategy(i),))
                 for i in range(providers)]
        runtime = make_runtime(Path(tmp), specs, f"[upstream_overrides]\n{overrides}\n")
        store = await Store.open(Path(tmp) / "bench.db", clock=runtime.clock)
        state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
        daemon = Daemon(runtime, store, state)
        keys = [a.target.key for a in state.enabled()]
        walls: list[float] = []
        try:
            for _ in range(rounds):
                for account in state.accounts.values():
                    account.last_success_at = None  # step past the 10 s refresh debounce between rounds
                started = time.perf_counter()
                await daemon.scheduler.refresh(keys, timeout=10)
                walls.append(time.perf_counter() - started)
                assert all(a.snapshot is not None and a.error is None for a in state.accounts.values())
        finally:
            await daemon.stop()
        return walls


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--providers", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    walls = asyncio.run(run(args.providers, args.delay, args.rounds))
    ms = [w * 1000 for w in walls]
    print("rounds (ms): " + ", ".join(f"{m:.0f}" for m in ms))
    median = statistics.median(ms)
    print(f"{args.providers} providers x {args.delay * 1000:.0f} ms upstream: median {median:.0f} ms, "
          f"max {max(ms):.0f} ms, ratio {median / (args.delay * 1000):.2f} (target <= 1.30)")


if __name__ == "__main__":
    main()
