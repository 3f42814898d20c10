"""ApiKeyStrategy as data (ApiKey), async single lookups off the event loop (issue 6, items 1 and 4)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from codexbard.errors import NotConfigured
from codexbard.host.credentials import CredentialResolver, MemorySecretStore, Secret
from codexbard.host.files import HomeFiles
from codexbard.models import RateWindow, UsageSnapshot
from codexbard.providers.base import ApiKey, ApiKeyStrategy, FetchContext, ProviderSpec
from codexbard.providers.runner import run_pipeline
from tests.helpers import json_response, make_context

KEY = "stored-key-0123456789"


class SlowStore(MemorySecretStore):
    """A secret store whose every read blocks its thread (a slow keyring or secrets file)."""

    def __init__(self, values: dict[str, str], wait: Callable[[], None]) -> None:
        super().__init__(values)
        self.name = "slow store"
        self.wait = wait
        self.calls = 0
        self.threads: list[str] = []

    def get(self, user: str) -> tuple[str | None, str | None]:
        self.calls += 1
        self.threads.append(threading.current_thread().name)
        self.wait()
        return super().get(user)


class Demo(ApiKeyStrategy):
    """The whole of a minimal API-key strategy: the key as data, the request, one parse call."""

    key = ApiKey("Demo", env_vars=("DEMO_API_KEY", "DEMO_TOKEN"))

    async def fetch_with_key(self, ctx: FetchContext, key: Secret) -> UsageSnapshot:
        response = await ctx.http.get("https://demo.example/usage", service="Demo", bearer=key, timeout=10.0)
        return UsageSnapshot(primary=RateWindow(used_percent=float(response.json_object()["used"])))


SPEC = ProviderSpec(id="demo", display_name="Demo", strategies=(Demo(),))


def demo_context(store: MemorySecretStore, *, env: dict[str, str] | None = None) -> FetchContext:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response({"used": 12})

    ctx = make_context("demo", handler, env=env)
    ctx.credentials = CredentialResolver(
        provider="demo", account=None, env=ctx.env, store=store, files=HomeFiles(ctx.env), config_values={}
    )
    ctx.notes["requests"] = seen
    return ctx


async def test_a_slow_secret_store_does_not_block_the_loop() -> None:
    # The store's read waits until the loop has run another coroutine three times: had the read run
    # on the event loop, that could never happen and the wait would time out.
    ticked = threading.Event()
    released: list[bool] = []
    store = SlowStore({"demo:api_key": KEY}, lambda: released.append(ticked.wait(30)))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1
            if ticks >= 3:
                ticked.set()

    task = asyncio.create_task(ticker())
    try:
        availability = await Demo().available(demo_context(store))
    finally:
        task.cancel()
    assert availability.ok and availability.reason == "API key from slow store"
    assert released == [True]
    assert ticks >= 3
    assert store.threads != [threading.current_thread().name]


async def test_a_200_ms_store_keeps_a_concurrent_coroutine_ticking_through_a_poll() -> None:
    store = SlowStore({"demo:api_key": KEY}, lambda: time.sleep(0.2))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        outcome = await run_pipeline(SPEC, demo_context(store))
    finally:
        task.cancel()
    assert outcome.ok and outcome.snapshot == UsageSnapshot(primary=RateWindow(used_percent=12.0))
    assert ticks > 0  # blocked for the whole lookup, the ticker would not have run once
    # One lookup per poll: what available() found is what fetch() sends.
    assert store.calls == 1


async def test_fetch_reuses_what_available_found() -> None:
    store = SlowStore({"demo:api_key": KEY}, lambda: None)
    ctx = demo_context(store)
    strategy = Demo()
    assert (await strategy.available(ctx)).ok
    store.values["demo:api_key"] = "changed-after-available"
    await strategy.fetch(ctx)
    assert store.calls == 1
    assert ctx.notes["requests"][0].headers["authorization"] == f"Bearer {KEY}"


async def test_fetch_without_available_looks_the_key_up_once() -> None:
    store = SlowStore({"demo:api_key": KEY}, lambda: None)
    ctx = demo_context(store)
    await Demo().fetch(ctx)
    assert store.calls == 1
    assert ctx.notes["requests"][0].headers["authorization"] == f"Bearer {KEY}"


async def test_an_env_key_needs_no_store_read() -> None:
    store = SlowStore({}, lambda: None)
    ctx = demo_context(store, env={"DEMO_TOKEN": " 'env-key' "})
    availability = await Demo().available(ctx)
    assert availability.reason == "API key from env DEMO_TOKEN"
    assert store.calls == 0


async def test_missing_key_message_is_built_from_the_spec() -> None:
    ctx = demo_context(MemorySecretStore())
    availability = await Demo().available(ctx)
    message = (
        "Demo API key not found (looked in env DEMO_API_KEY, env DEMO_TOKEN, memory entry demo:api_key, "
        "config providers.demo.api_key). Set DEMO_API_KEY (or DEMO_TOKEN) or run "
        "`codexbard config set-secret --provider demo`."
    )
    assert not availability.ok and availability.reason == message
    with pytest.raises(NotConfigured) as info:
        await Demo().fetch(demo_context(MemorySecretStore()))
    assert info.value.message == message


def test_api_key_hints() -> None:
    assert ApiKey("X", env_vars=("X_KEY",)).hint("x") == "Set X_KEY or run `codexbard config set-secret --provider x`."
    assert ApiKey("X", env_vars=("X_KEY", "X_TOKEN"), note="an `xk-…` key").hint("x") == (
        "Set X_KEY (or X_TOKEN; an `xk-…` key) or run `codexbard config set-secret --provider x`.")
    assert ApiKey("X", env_vars=("X_KEY",), opt_in_env_vars=("A", "B")).hint("x") == (
        "Set X_KEY or run `codexbard config set-secret --provider x` "
        "(A and B count only with `[providers.x] enabled = true`).")
    # A named account reads neither env vars nor files: only the secret store or its config table.
    assert ApiKey("X", env_vars=("X_KEY",)).hint("x", "work") == (
        "Run `codexbard config set-secret --provider x --account work`.")
    assert ApiKey("X").hint("x") == "Run `codexbard config set-secret --provider x`."


async def test_opt_in_env_vars_and_files_follow_the_spec(tmp_path: Path) -> None:
    class Files(Demo):
        key = ApiKey("Demo", env_vars=("DEMO_API_KEY",), opt_in_env_vars=("GENERIC_KEY",),
                     files=("~/.demo/key",))

    (tmp_path / ".demo").mkdir()
    (tmp_path / ".demo" / "key").write_text("file-key\n")
    env = {"GENERIC_KEY": "generic", "HOME": str(tmp_path)}
    ctx = make_context("demo", lambda r: json_response({}), env=env)
    found = await Files().lookup(ctx)
    assert found.secret is not None and found.secret.origin == "file ~/.demo/key"
    ctx = make_context("demo", lambda r: json_response({}), env=env, explicitly_enabled=True)
    found = await Files().lookup(ctx)
    assert found.secret is not None and found.secret.origin == "env GENERIC_KEY"
    ctx = make_context("demo", lambda r: json_response({}), env=env, explicitly_enabled=True, account="work")
    found = await Files().lookup(ctx)
    assert found.secret is None
    assert found.searched == ["memory entry demo@work:api_key", "config providers.demo.accounts[work].api_key"]
