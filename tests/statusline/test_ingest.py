"""`POST /ingest/claude-statusline` in-process, and `State.ingest`: the two windows change, nothing is polled,
the schedule and the 5-minute floor stay, history gets a sample, subscribers see an `ingest` event."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from codexbard.api.app import create_app
from codexbard.daemon import Daemon
from codexbard.host.clock import FixedClock
from codexbard.models import RateWindow, UsageSnapshot
from codexbard.providers.claude import PROVIDER
from codexbard.providers.claude.cli import ClaudeCliStrategy
from codexbard.providers.claude.ingest import choose_target
from codexbard.providers.claude.oauth import ClaudeOAuthStrategy
from codexbard.providers.claude.web import ClaudeWebStrategy
from codexbard.state import AccountState, State
from codexbard.store import Store
from tests.fakes import make_runtime

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
BASE = "http://127.0.0.1:8765"
RESET_5H = int((NOW + timedelta(hours=2)).timestamp())
RESET_7D = int((NOW + timedelta(days=3)).timestamp())
BODY = {"session_id": "s1", "model": {"display_name": "Opus"},
        "rate_limits": {"five_hour": {"used_percentage": 23.5, "resets_at": RESET_5H},
                        "seven_day": {"used_percentage": 41.0, "resets_at": RESET_7D}}}
TOML = """
[[providers.claude.accounts]]
label = "personal"
claude_config_dir = "~/.claude-personal"

[[providers.claude.accounts]]
label = "work"
claude_config_dir = "/srv/claude-work"
"""


def spec():  # type: ignore[no-untyped-def]
    return dataclasses.replace(PROVIDER, strategies=(ClaudeOAuthStrategy(), ClaudeCliStrategy(), ClaudeWebStrategy()))


async def make(tmp_path: Path, toml: str = TOML, with_store: bool = True) -> tuple[Daemon, Store | None]:
    clock = FixedClock(NOW)
    runtime = make_runtime(tmp_path, [spec()], toml, clock=clock)
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    store = await Store.open(tmp_path / "db.sqlite", clock=clock) if with_store else None
    return Daemon(runtime, store, state), store


def client(d: Daemon, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(d)), base_url=BASE,
                             headers={"host": "127.0.0.1:8765", **headers})


async def post(d: Daemon, body: Any, query: str = "", raw: bytes | None = None, **headers: str) -> httpx.Response:
    async with client(d, **headers) as c:
        content = raw if raw is not None else json.dumps(body).encode()
        return await c.post(f"/ingest/claude-statusline{query}", content=content,
                            headers={"content-type": "application/json"})


async def test_ingest_updates_the_account_snapshot_history_and_events(tmp_path: Path) -> None:
    d, store = await make(tmp_path)
    assert store is not None
    key = "claude:work"
    account = d.state.require(key)
    polled = UsageSnapshot(primary=RateWindow(used_percent=5.0, window_minutes=300, label="Session"),
                           tertiary=RateWindow(used_percent=9.0, window_minutes=10080, label="Sonnet"))
    d.state.succeed(key, polled, "oauth", NOW - timedelta(minutes=2), next_run_at=NOW + timedelta(minutes=3))
    before = (account.last_attempt_at, account.last_success_at, account.next_run_at, account.consecutive_failures)
    subscription = d.state.hub.subscribe("test")
    response = await post(d, BODY, "?account=work")
    assert (response.status_code, response.json()) == (200, {"accepted": True, "reason": None})
    assert account.source == "statusline" and account.fetched_at == NOW and not account.stale
    assert account.snapshot is not None and account.snapshot.primary is not None
    assert (account.snapshot.primary.used_percent, account.snapshot.primary.window_minutes,
            account.snapshot.primary.resets_at) == (23.5, 300, datetime.fromtimestamp(RESET_5H, UTC))
    assert account.snapshot.secondary is not None and account.snapshot.secondary.used_percent == 41.0
    assert account.snapshot.tertiary == polled.tertiary  # the model window keeps its polled value
    # Neither the schedule nor the floor moved.
    assert (account.last_attempt_at, account.last_success_at, account.next_run_at,
            account.consecutive_failures) == before
    assert [(e.kind, e.key) for e in subscription.drain()] == [("ingest", key)]
    samples = await store.history("claude", "work", "primary", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert [s.used_percent for s in samples] == [23.5]
    latest = {(r.provider, r.account): r for r in await store.load_latest()}
    assert latest[("claude", "work")].source == "statusline"
    others = d.state.require("claude:personal")
    assert others.snapshot is None
    await store.close()


async def test_account_by_config_dir_and_default(tmp_path: Path) -> None:
    d, _ = await make(tmp_path, with_store=False)
    response = await post(d, BODY, "?config_dir=/srv/claude-work")
    assert response.json()["accepted"] is True
    assert d.state.require("claude:work").source == "statusline"
    home = str(Path.home())
    targets = [a.target for a in d.state.accounts.values()]
    assert choose_target(targets, None, f"{home}/.claude-personal", home).account == "personal"  # type: ignore[union-attr]
    assert choose_target(targets, None, None).account == "personal"  # type: ignore[union-attr]  # no default: the first


async def test_without_rate_limits_nothing_changes(tmp_path: Path) -> None:
    d, _ = await make(tmp_path, "", with_store=False)
    for body in ({"model": {"display_name": "Opus"}}, {"rate_limits": "garbage"},
                 {"rate_limits": {"five_hour": {"used_percentage": 50, "resets_at": int(NOW.timestamp()) - 5}}}):
        response = await post(d, body)
        assert (response.status_code, response.json()) == (
            200, {"accepted": False, "reason": "no usable rate_limits in the status-line JSON"})
    assert d.state.require("claude").snapshot is None


@pytest.mark.parametrize(("raw", "status"), [
    (b"[1, 2]", 400), (b"not json", 400), (b'"text"', 400), (b"{" + b" " * (64 * 1024) + b"}", 413),
])
async def test_bad_bodies(tmp_path: Path, raw: bytes, status: int) -> None:
    d, _ = await make(tmp_path, "", with_store=False)
    response = await post(d, None, raw=raw)
    assert response.status_code == status and "error" in response.json()


async def test_unknown_account_is_400(tmp_path: Path) -> None:
    d, _ = await make(tmp_path, with_store=False)
    response = await post(d, BODY, "?account=nope")
    assert (response.status_code, response.json()) == (400, {"error": "no Claude account 'nope'"})


async def test_token_is_required_when_configured(tmp_path: Path) -> None:
    d, _ = await make(tmp_path, 'token = "secret-token-123456"\n', with_store=False)
    assert (await post(d, BODY)).status_code == 401
    response = await post(d, BODY, authorization="Bearer secret-token-123456")
    assert response.json() == {"accepted": True, "reason": None}


def test_state_ingest_keeps_error_and_backoff() -> None:
    from codexbard.models import FetchError
    from codexbard.providers.registry import PollTarget
    from codexbard.runtime import Detection

    target = PollTarget(spec(), None, {}, "auto", 300, None)
    state = State([AccountState(target, Detection(True, False, []))])
    until = NOW + timedelta(minutes=10)
    state.fail("claude", FetchError.of("rate_limited", "429"), NOW, rate_limited_until=until,
               next_run_at=until)
    event = state.ingest("claude", UsageSnapshot(primary=RateWindow(used_percent=1.0)), "statusline", NOW)
    account = state.require("claude")
    assert event.kind == "ingest"
    assert (account.rate_limited_until, account.next_run_at, account.consecutive_failures) == (until, until, 1)
    assert account.error is not None and account.error.kind == "rate_limited" and account.stale is False
