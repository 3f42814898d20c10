"""`GET /cost` and `cost` in `/usage` payloads, in-process over a daemon whose cost job scanned a small corpus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codexbard.api.app import create_app
from codexbard.api.schemas import CostBlock
from codexbard.cost.worker import ThreadScanRunner
from codexbard.daemon import Daemon
from codexbard.host.clock import FixedClock
from codexbard.scheduler.cost import cost_job_for
from codexbard.state import AccountState, State
from codexbard.store import Store
from tests.api.test_app import BASE
from tests.cost.corpus import NOW, TZ, cost_env, expected_blocks, write_corpus
from tests.fakes import ScriptedStrategy, fake_spec, make_runtime, snapshot


async def _daemon(tmp_path: Path, toml: str = f'[cost]\ntimezone = "{TZ}"\n', *, cost: bool = True) -> Daemon:
    specs = [fake_spec(name, ScriptedStrategy([snapshot(10.0)])) for name in ("codex", "alpha", "claude")]
    runtime = make_runtime(tmp_path, specs, toml, env=cost_env(tmp_path / "logs"), clock=FixedClock(NOW))
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    store = await Store.open(runtime.paths.database, clock=runtime.clock)
    job = None
    if cost:
        job = cost_job_for(runtime.settings.cost, state, runtime.clock, db_path=store.path, env=runtime.env,
                           home=tmp_path / "home", runner=ThreadScanRunner())
    return Daemon(runtime, store, state, job)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    write_corpus(tmp_path / "logs")
    d = await _daemon(tmp_path)
    yield d
    await d.stop(timeout=1)


def client(d: Daemon) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(d)), base_url=BASE,
                             headers={"host": "127.0.0.1:8765"})


def _updated(body: list[dict[str, Any]]) -> str:
    value = body[0]["updatedAt"]
    assert isinstance(value, str) and value.endswith("Z")
    return value


async def test_cost_serves_the_scanned_corpus_exactly(daemon: Daemon) -> None:
    assert daemon.cost is not None
    await daemon.cost.run()
    async with client(daemon) as c:
        r = await c.get("/cost")
        again = await c.get("/cost")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert body == expected_blocks(_updated(body))
    assert again.content == r.content
    for block in body:
        CostBlock.model_validate(block)


async def test_cost_filters_provider_days_and_period(daemon: Daemon) -> None:
    assert daemon.cost is not None
    await daemon.cost.run()
    async with client(daemon) as c:
        claude = (await c.get("/cost", params={"provider": "claude", "days": "2"})).json()
        both = (await c.get("/cost", params=[("provider", "claude"), ("provider", "codex")])).json()
        every = (await c.get("/cost", params={"provider": "all", "period": "all"})).json()
        month = (await c.get("/cost", params={"period": "month"})).json()
    assert [b["provider"] for b in claude] == ["claude"]
    assert [d["date"] for d in claude[0]["daily"]] == ["2026-12-06"]
    assert (claude[0]["last30DaysTokens"], claude[0]["last30DaysCostUSD"]) == (3800, 0.009975)
    assert [b["provider"] for b in both] == ["codex", "claude"]
    expected = expected_blocks(_updated(every))
    assert every == expected and month == expected


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("provider=zai", {"error": "unknown provider 'zai'", "known": ["codex", "claude", "all"]}),
        ("days=0", {"error": "'days' must be a whole number from 1 to 365"}),
        ("days=366", {"error": "'days' must be a whole number from 1 to 365"}),
        ("days=abc", {"error": "'days' must be a whole number from 1 to 365"}),
        ("days=", {"error": "'days' must be a whole number from 1 to 365"}),
        ("days=-3", {"error": "'days' must be a whole number from 1 to 365"}),
        ("period=week", {"error": "unknown period 'week'", "known": ["month", "all"]}),
        ("days=7&period=month", {"error": "use either 'days' or 'period', not both"}),
    ],
)
async def test_bad_parameters_are_400_json(daemon: Daemon, query: str, error: dict[str, Any]) -> None:
    async with client(daemon) as c:
        r = await c.get(f"/cost?{query}")
    assert r.status_code == 400
    assert r.json() == error


async def test_before_the_first_scan_the_numbers_are_null(daemon: Daemon) -> None:
    async with client(daemon) as c:
        body = (await c.get("/cost")).json()
        usage = (await c.get("/usage")).json()
    empty = {"inputTokens": 0, "outputTokens": 0, "cacheReadTokens": 0, "cacheCreationTokens": 0,
             "totalTokens": 0, "reasoningTokens": 0, "unpricedTokens": 0, "totalCost": None}
    assert body == [
        {"provider": p, "source": "local", "updatedAt": None, "sessionTokens": None, "sessionCostUSD": None,
         "last30DaysTokens": None, "last30DaysCostUSD": None, "daily": [], "totals": empty}
        for p in ("codex", "claude")
    ]
    assert [(p["provider"], p["cost"]) for p in usage] == [("codex", None), ("alpha", None), ("claude", None)]


async def test_usage_payloads_carry_the_cost_of_their_provider(daemon: Daemon) -> None:
    assert daemon.cost is not None
    await daemon.cost.run()
    async with client(daemon) as c:
        usage = (await c.get("/usage")).json()
        one = (await c.get("/usage/claude")).json()
        updated = _updated((await c.get("/cost")).json())
    second = updated[:19] + "Z"  # payload times are to the second
    costs = {p["provider"]: p["cost"] for p in usage}
    assert costs == {
        "codex": {"source": "local", "sessionTokens": 26500, "sessionCostUSD": 0.04585, "last30DaysTokens": 26500,
                  "last30DaysCostUSD": 0.04585, "updatedAt": second},
        "alpha": None,
        "claude": {"source": "local", "sessionTokens": 3800, "sessionCostUSD": 0.009975, "last30DaysTokens": 3950,
                   "last30DaysCostUSD": 0.010325, "updatedAt": second},
    }
    assert one["cost"] == costs["claude"]


async def test_cost_without_the_job_is_404(tmp_path: Path) -> None:
    d = await _daemon(tmp_path, "[cost]\nenabled = false\n", cost=False)
    try:
        async with client(d) as c:
            r = await c.get("/cost")
        assert r.status_code == 404
        assert r.json() == {"error": "the local cost job is off (set [cost] enabled = true; it also needs the "
                                     "database)"}
    finally:
        await d.stop(timeout=1)


async def test_openapi_describes_cost(daemon: Daemon) -> None:
    async with client(daemon) as c:
        spec = (await c.get("/openapi.json")).json()
    op = spec["paths"]["/cost"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"provider", "days", "period"}
    assert set(op["responses"]) == {"200", "404", "4XX"}
    block = spec["components"]["schemas"]["CostBlock"]
    assert set(block["properties"]) == {"provider", "source", "updatedAt", "sessionTokens", "sessionCostUSD",
                                        "last30DaysTokens", "last30DaysCostUSD", "daily", "totals"}


async def test_the_router_route_serves_the_same_bytes_as_the_hot_route(daemon: Daemon) -> None:
    from codexbard.api.app import router_app
    from codexbard.api.fast import UsageCache, context_of

    assert daemon.cost is not None
    await daemon.cost.run()
    ctx = context_of(daemon)
    router = router_app(ctx, UsageCache(ctx))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=router), base_url=BASE) as c:
        routed = await c.get("/cost?provider=codex")
        bad = await c.get("/cost?days=0")
    async with client(daemon) as c:
        hot = await c.get("/cost?provider=codex")
    assert routed.status_code == 200 and routed.content == hot.content
    assert bad.status_code == 400
