"""Regression tests for the refresh and backoff faults of issue 6 (each failed on the code before it)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from codexbard.api.app import create_app
from codexbard.daemon import Daemon
from codexbard.models import FetchError
from tests.scheduler.kit import T0, HttpStrategy, RecordingStore, Upstream, build, closed_port, spec

URL = "https://alpha.example/usage"


def answering(status: int, headers: dict[str, str] | None = None) -> Upstream:
    return Upstream(lambda request: httpx.Response(status, headers=headers or {}, json={"error": "no"}))


async def test_a_failed_manual_refresh_never_lengthens_the_backoff(tmp_path: Path) -> None:
    upstream = answering(503)
    scheduler, state, clock = build(tmp_path, [spec(HttpStrategy(URL))], transport=upstream.transport())
    account = state.require("alpha")
    await scheduler.poll("alpha")  # the scheduled poll: first failure, 300 s interval doubled
    assert account.consecutive_failures == 1
    assert account.next_run_at == T0 + timedelta(seconds=600)
    for _ in range(3):  # the user keeps pressing refresh while the upstream is down
        clock.advance(60)
        await scheduler.refresh(["alpha"], timeout=5)
    assert upstream.requests == 4
    assert account.error is not None and account.error.kind == "unavailable"
    assert account.consecutive_failures == 1
    assert account.next_run_at == T0 + timedelta(seconds=600)
    clock.advance(420)  # the scheduled poll at T0 + 600 s is the second failure in a row
    await scheduler.poll("alpha")
    assert account.consecutive_failures == 2
    assert account.next_run_at == T0 + timedelta(seconds=600 + 1200)
    await scheduler.shutdown(timeout=1)


async def test_a_connection_failure_is_retried_on_a_short_fixed_schedule(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/usage"
    scheduler, state, clock = build(tmp_path, [spec(HttpStrategy(url))])
    account = state.require("alpha")
    delays = []
    for _ in range(4):
        await scheduler.poll("alpha")
        assert account.next_run_at is not None and account.last_attempt_at is not None
        delays.append((account.next_run_at - account.last_attempt_at).total_seconds())
        clock.advance(delays[-1])
    assert delays == [30.0, 60.0, 120.0, 120.0]
    assert account.error is not None and account.error.kind == "unavailable"
    assert account.error.message.startswith("cannot connect to Alpha")
    assert account.consecutive_failures == 4
    await scheduler.shutdown(timeout=1)


async def test_a_connection_failure_never_waits_longer_than_the_interval(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/usage"
    scheduler, state, clock = build(tmp_path, [spec(HttpStrategy(url))], toml="[providers.alpha]\n"
                                    "interval_seconds = 45\n")
    account = state.require("alpha")
    delays = []
    for _ in range(3):
        await scheduler.poll("alpha")
        assert account.next_run_at is not None and account.last_attempt_at is not None
        delays.append((account.next_run_at - account.last_attempt_at).total_seconds())
        clock.advance(delays[-1])
    assert delays == [30.0, 45.0, 45.0]
    await scheduler.shutdown(timeout=1)


async def test_a_refresh_loop_during_an_outage_sends_one_request_per_floor(tmp_path: Path) -> None:
    upstream = answering(502)
    scheduler, _, clock = build(tmp_path, [spec(HttpStrategy(URL))], transport=upstream.transport())
    for _ in range(50):
        await scheduler.refresh(["alpha"], timeout=5)
    assert upstream.requests == 1
    clock.advance(29)
    for _ in range(50):
        await scheduler.refresh(["alpha"], timeout=5)
    assert upstream.requests == 1
    clock.advance(1)
    for _ in range(50):
        await scheduler.refresh(["alpha"], timeout=5)
    assert upstream.requests == 2
    await scheduler.shutdown(timeout=1)


async def test_a_refresh_loop_against_a_rejected_key_sends_one_request(tmp_path: Path) -> None:
    upstream = answering(401)
    scheduler, state, clock = build(tmp_path, [spec(HttpStrategy(URL))], transport=upstream.transport())
    for _ in range(30):
        await scheduler.refresh(["alpha"], timeout=5)
        clock.advance(60)  # even spread out, nothing changed: no new request
    assert upstream.requests == 1
    account = state.require("alpha")
    assert account.error is not None and account.error.kind == "auth_required"
    # The schedule's hourly re-check was set by the first (manual) failure and never moved.
    assert account.next_run_at == T0 + timedelta(seconds=3600)
    (scheduler.runtime.paths.config_dir / "secrets.toml").write_text('"alpha:api_key" = "new"\n')
    await scheduler.refresh(["alpha"], timeout=5)
    assert upstream.requests == 2
    await scheduler.shutdown(timeout=1)


async def test_post_refresh_in_a_loop_reaches_the_upstream_once(tmp_path: Path) -> None:
    upstream = answering(503)
    scheduler, state, _ = build(tmp_path, [spec(HttpStrategy(URL))], transport=upstream.transport())
    daemon = Daemon(scheduler.runtime, None, state)
    daemon.scheduler = scheduler
    transport = httpx.ASGITransport(app=create_app(daemon))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
        for _ in range(40):
            response = await client.post("/refresh")
            assert response.status_code == 200
    assert upstream.requests == 1
    assert response.json()[0]["error"]["kind"] == "unavailable"
    await daemon.stop(timeout=1)


async def test_an_absurd_retry_after_is_clamped_saved_and_remembered(tmp_path: Path) -> None:
    upstream = answering(429, {"Retry-After": "1000000000000"})
    store = RecordingStore()
    scheduler, state, clock = build(tmp_path, [spec(HttpStrategy(URL))], transport=upstream.transport(),
                                    store=store)
    await scheduler.poll("alpha")
    account = state.require("alpha")
    day = timedelta(hours=24)
    assert account.error is not None and account.error.kind == "rate_limited"
    assert account.rate_limited_until == T0 + day
    assert account.next_run_at == T0 + day
    assert [(p.ok, p.error, p.consecutive_failures) for p in store.polls] == [
        (False, account.error, 1)
    ]
    assert isinstance(store.polls[0].error, FetchError)
    clock.advance(3600)
    await scheduler.refresh(["alpha"], timeout=5)  # the rate limit is remembered
    assert upstream.requests == 1
    await scheduler.shutdown(timeout=1)


async def test_the_stored_failure_count_follows_the_schedule_across_a_restart(tmp_path: Path) -> None:
    from codexbard.store import Store

    upstream = answering(503)
    store = await Store.open(tmp_path / "data" / "codexbard.db")
    scheduler, state, clock = build(tmp_path, [spec(HttpStrategy(URL))], transport=upstream.transport(),
                                    store=store)
    await scheduler.poll("alpha")
    clock.advance(60)
    await scheduler.refresh(["alpha"], timeout=5)
    [record] = await store.load_latest()
    assert record.consecutive_failures == state.require("alpha").consecutive_failures == 1
    assert [e["ok"] for e in await store.poll_log()] == [False, False]
    await scheduler.shutdown(timeout=1)
    await store.close()
