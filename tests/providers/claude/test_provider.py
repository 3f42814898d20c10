"""The Claude descriptor: registration, auto order and fall-through, light imports, and the 429 ladder end to
end through the scheduler (last good data served stale meanwhile)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx

from codexbard.errors import RateLimited
from codexbard.providers.claude import PROVIDER
from codexbard.providers.claude.cli import ClaudeCliStrategy
from codexbard.providers.claude.oauth import ClaudeOAuthStrategy
from codexbard.providers.claude.web import ClaudeWebStrategy
from codexbard.providers.registry import default_registry
from codexbard.providers.runner import run_pipeline
from tests.helpers import fixture_bytes, make_context
from tests.providers import kit
from tests.providers.claude import fakes
from tests.scheduler.kit import T0, RecordingStore, build

USAGE = "https://api.anthropic.com/api/oauth/usage"
USAGE_BODY = json.loads(fixture_bytes(__file__, "usage_full.json"))


def fresh_spec():  # type: ignore[no-untyped-def]
    return dataclasses.replace(PROVIDER, strategies=(ClaudeOAuthStrategy(), ClaudeCliStrategy(), ClaudeWebStrategy()))


def test_descriptor() -> None:
    assert "claude" in default_registry()
    assert [s.id for s in PROVIDER.strategies] == ["oauth", "cli", "web"]
    assert [s.source_label for s in PROVIDER.strategies] == ["oauth", "claude", "web"]
    assert (PROVIDER.refresh_floor_seconds, PROVIDER.min_interval_seconds, PROVIDER.default_interval_seconds) == (
        300, 300, 300)
    assert PROVIDER.modes() == ["auto", "oauth", "cli", "web"] or set(PROVIDER.modes()) == {
        "auto", "oauth", "cli", "web"}
    assert {k.name for k in PROVIDER.account_setting_keys()} == {"claude_config_dir", "oauth_token", "oauth_scopes"}
    assert "oauth_token" in PROVIDER.secret_fields()


def test_loading_the_registry_does_not_import_models_parsers_or_the_pty() -> None:
    code = ("import sys; from codexbard.providers.registry import default_registry; default_registry(); "
            "print(sorted(m for m in sys.modules if m.startswith('codexbard.providers.claude.') or m in "
            "('codexbard.host.pty', 'pyte')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(eval(out))
    assert not loaded & {"codexbard.providers.claude.models", "codexbard.providers.claude.parse",
                         "codexbard.providers.claude.panel", "codexbard.host.pty", "pyte"}


async def test_auto_uses_oauth_first(clean_env: Path) -> None:
    fakes.write_credentials(clean_env / ".claude", fakes.credentials())
    up = kit.FakeUpstream({USAGE: kit.reply_json(USAGE_BODY)})
    outcome = await run_pipeline(fresh_spec(), make_context("claude", up, home=clean_env))
    assert (outcome.source, [a.strategy for a in outcome.attempts]) == ("oauth", ["oauth"])


async def test_oauth_rate_limit_does_not_fall_through(clean_env: Path) -> None:
    fakes.write_credentials(clean_env / ".claude", fakes.credentials())
    up = kit.FakeUpstream({USAGE: kit.reply_raw(429, b"", {"Retry-After": "0"})},
                          default=kit.reply_json([]))
    ctx = make_context("claude", up, home=clean_env, options={"cookie_header": "sessionKey=sk-ant-sid-x"})
    outcome = await run_pipeline(fresh_spec(), ctx)
    assert [a.strategy for a in outcome.attempts] == ["oauth"]
    assert isinstance(outcome.error, RateLimited) and outcome.error.retry_after == 300.0


async def test_nothing_configured_tries_every_strategy_and_reports_not_configured(clean_env: Path) -> None:
    up = kit.FakeUpstream()
    outcome = await run_pipeline(fresh_spec(), make_context("claude", up, home=clean_env, env={"PATH": "/nonexistent"}))
    assert [(a.strategy, a.error_kind) for a in outcome.attempts] == [
        ("oauth", "not_configured"), ("cli", "cli_missing"), ("web", "not_configured")]
    assert up.requests == []


async def test_auth_failure_falls_through_to_web(clean_env: Path) -> None:
    fakes.write_credentials(clean_env / ".claude", fakes.credentials(scopes=["user:inference"]))
    orgs = [{"uuid": "o1", "name": "Org", "capabilities": ["chat"]}]
    up = kit.FakeUpstream({
        "https://claude.ai/api/organizations": kit.reply_json(orgs),
        "https://claude.ai/api/organizations/o1/usage": kit.reply_json({"five_hour": {"utilization": 7}}),
    }, default=kit.reply_raw(404))
    ctx = make_context("claude", up, home=clean_env, env={"PATH": "/nonexistent"},
                       options={"cookie_header": "sessionKey=sk-ant-sid-x"})
    outcome = await run_pipeline(fresh_spec(), ctx)
    assert outcome.source == "web"
    assert [a.strategy for a in outcome.attempts] == ["oauth", "cli", "web"]
    assert outcome.snapshot is not None and outcome.snapshot.primary is not None
    assert outcome.snapshot.primary.used_percent == 7.0


async def test_ladder_through_the_scheduler_keeps_serving_stale_data(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fakes.write_credentials(home / ".claude", fakes.credentials(expires=fakes.FUTURE_MS + 10**10))
    replies = {"status": 200}
    usage_calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/usage"):
            usage_calls.append(str(request.url))
            if replies["status"] == 429:
                return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "rate_limited"})
            return httpx.Response(200, json=USAGE_BODY)
        return httpx.Response(404)

    store = RecordingStore()
    scheduler, state, clock = build(tmp_path, [fresh_spec()], transport=httpx.MockTransport(answer), store=store)
    account = state.require("claude")
    await scheduler.poll("claude")
    assert account.snapshot is not None and account.source == "oauth" and not account.stale
    good = account.snapshot
    replies["status"] = 429
    waits = []
    for _ in range(5):
        assert account.next_run_at is not None
        clock.advance((account.next_run_at - clock.now()).total_seconds())
        await scheduler.poll("claude")
        waits.append((account.next_run_at - clock.now()).total_seconds())
        payload = account.payload(clock.now(), None)
        assert payload.usage is not None and payload.stale is True and account.snapshot == good
        assert account.error is not None and account.error.kind == "rate_limited"
    assert waits == [300.0, 600.0, 1200.0, 2400.0, 3600.0]
    assert len(usage_calls) == 6
    # A user-initiated refresh inside the back-off sends nothing.
    await scheduler.refresh(["claude"], timeout=5)
    assert len(usage_calls) == 6
    assert account.rate_limited_until is not None and account.rate_limited_until > clock.now()
    assert clock.now() - T0 > timedelta(minutes=80)
    await scheduler.shutdown(timeout=1)
