"""The Claude OAuth strategy against a fake upstream: credentials variants, the per-token gate and 429 ladder,
delegated refresh through a fake `claude`, and the error matrix. No request ever goes to the token endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from codexbard.errors import AuthRequired, NotConfigured, RateLimited
from codexbard.host.clock import FixedClock
from codexbard.models import Identity
from codexbard.providers.claude import cli
from codexbard.providers.claude.oauth import ClaudeOAuthStrategy, looks_like_access_token
from tests.helpers import NOW, fixture_bytes, make_context
from tests.providers import kit
from tests.providers.claude import fakes

USAGE = "https://api.anthropic.com/api/oauth/usage"
PROFILE = "https://api.anthropic.com/api/oauth/profile"
TOKEN = "https://platform.claude.com/v1/oauth/token"
USAGE_BODY = json.loads(fixture_bytes(__file__, "usage_full.json"))
PROFILE_BODY = json.loads(fixture_bytes(__file__, "profile.json"))


def upstream(**replies: kit.Responder) -> kit.FakeUpstream:
    routes = {USAGE: kit.reply_json(USAGE_BODY), PROFILE: kit.reply_json(PROFILE_BODY)}
    routes.update({{"usage": USAGE, "profile": PROFILE}[k]: v for k, v in replies.items()})
    return kit.FakeUpstream(routes)


def home_ctx(home: Path, up: kit.FakeUpstream, clock: FixedClock | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    return make_context("claude", up, home=home, clock=clock, **kwargs)  # type: ignore[arg-type]


async def fetch(strategy: ClaudeOAuthStrategy, ctx):  # type: ignore[no-untyped-def]
    availability = await strategy.available(ctx)
    assert availability.ok, availability.reason
    return await strategy.fetch(ctx)


def no_token_endpoint(up: kit.FakeUpstream) -> None:
    assert [u for u in up.urls if "platform.claude.com" in u or "oauth/token" in u] == []


async def test_happy_path_sends_the_sheet_headers_and_maps_exact_values(clean_env: Path) -> None:
    fakes.write_credentials(clean_env / ".claude", fakes.credentials())
    up = upstream()
    snapshot = await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up))
    assert up.urls == [USAGE, PROFILE]
    sent = up.requests[0].headers
    assert sent["authorization"] == f"Bearer {fakes.ACCESS}"
    assert (sent["anthropic-beta"], sent["accept"], sent["user-agent"]) == (
        "oauth-2025-04-20", "application/json", "claude-code/2.1.0")
    assert snapshot.primary is not None and snapshot.primary.used_percent == 23.0
    assert snapshot.primary.window_minutes == 300 and snapshot.primary.label == "Session"
    assert snapshot.secondary is not None and snapshot.secondary.used_percent == 41.0
    assert snapshot.tertiary is not None and snapshot.tertiary.used_percent == 9.0
    assert [(w.id, w.title, w.window.used_percent) for w in snapshot.extra_rate_windows] == [
        ("claude-weekly-scoped-fable", "Fable only", 17.0), ("claude-routines", "Daily Routines", 0.0)]
    assert snapshot.provider_cost is not None
    assert (snapshot.provider_cost.used, snapshot.provider_cost.limit, snapshot.provider_cost.period) == (
        12.75, 50.0, "Monthly cap")
    assert snapshot.identity == Identity(account_email="jordan.lee@example.net", account_organization=None,
                                         login_method="Claude Max 20x")
    no_token_endpoint(up)


@pytest.mark.parametrize("snake", [False, True], ids=["camelCase", "snake_case"])
async def test_credentials_in_either_spelling_are_read(clean_env: Path, snake: bool) -> None:
    fakes.write_credentials(clean_env / ".claude", fakes.credentials(snake=snake))
    up = upstream()
    await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up))
    assert up.requests[0].headers["authorization"] == f"Bearer {fakes.ACCESS}"


async def test_claude_config_dir_and_secure_storage_dir_are_honoured(clean_env: Path, tmp_path: Path) -> None:
    fakes.write_credentials(tmp_path / "cfg", fakes.credentials(access="sk-ant-oat01-CONFIGDIR-token"))
    up = upstream()
    await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up, env={"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg")}))
    assert up.requests[0].headers["authorization"] == "Bearer sk-ant-oat01-CONFIGDIR-token"
    fakes.write_credentials(tmp_path / "secure", fakes.credentials(access="sk-ant-oat01-SECURE-token"))
    up = upstream()
    env = {"CLAUDE_CONFIG_DIR": str(tmp_path / "cfg"), "CLAUDE_SECURESTORAGE_CONFIG_DIR": str(tmp_path / "secure")}
    await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up, env=env))
    assert up.requests[0].headers["authorization"] == "Bearer sk-ant-oat01-SECURE-token"


async def test_account_with_its_own_config_dir_or_token(clean_env: Path, tmp_path: Path) -> None:
    fakes.write_credentials(clean_env / ".claude-work", fakes.credentials(access="sk-ant-oat01-WORK-token"))
    up = upstream()
    ctx = home_ctx(clean_env, up, account="work", options={"claude_config_dir": "~/.claude-work"})
    await fetch(ClaudeOAuthStrategy(), ctx)
    assert up.requests[0].headers["authorization"] == "Bearer sk-ant-oat01-WORK-token"
    up = upstream()
    ctx = home_ctx(clean_env, up, account="solo", secrets={"claude@solo:oauth_token": "sk-ant-oat01-SOLO-token"})
    snapshot = await fetch(ClaudeOAuthStrategy(), ctx)
    assert up.requests[0].headers["authorization"] == "Bearer sk-ant-oat01-SOLO-token"
    assert snapshot.identity is not None and snapshot.identity.login_method is None  # a bare token has no plan


async def test_env_token_without_profile_scope_sends_nothing(clean_env: Path) -> None:
    up = upstream()
    env = {"CODEXBAR_CLAUDE_OAUTH_TOKEN": "sk-ant-oat01-ENV-token", "CODEXBAR_CLAUDE_OAUTH_SCOPES": "user:inference"}
    with pytest.raises(AuthRequired) as caught:
        await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up, env=env))
    assert "lacks the user:profile scope" in caught.value.message
    assert up.requests == []


async def test_missing_file_is_not_configured(clean_env: Path) -> None:
    strategy = ClaudeOAuthStrategy()
    ctx = home_ctx(clean_env, upstream())
    availability = await strategy.available(ctx)
    path = clean_env / ".claude" / ".credentials.json"
    assert (availability.ok, availability.reason) == (
        False, f"Claude Code credentials not found ({path}); run `claude` and log in")
    with pytest.raises(NotConfigured):
        await strategy.fetch(ctx)


@pytest.mark.parametrize(("name", "kind"), [
    ("credentials_invalid.json", "auth_required"),
    ("credentials_no_oauth.json", "auth_required"),
    ("credentials_empty_token.json", "auth_required"),
    ("credentials_mcp_only.json", "not_configured"),
])
async def test_unusable_files_are_typed_errors_without_requests(clean_env: Path, name: str, kind: str) -> None:
    root = clean_env / ".claude"
    root.mkdir()
    (root / ".credentials.json").write_bytes(fixture_bytes(__file__, name))
    up = upstream()
    with pytest.raises((AuthRequired, NotConfigured)) as caught:
        await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up))
    assert caught.value.kind == kind
    assert up.requests == []


@pytest.mark.parametrize("doc", [
    fakes.credentials(refresh=None, expires=fakes.PAST_MS),
    fakes.credentials(refresh=None, expires=None),
], ids=["expired-epoch-ms", "no-expiry"])
async def test_expired_without_refresh_token_asks_for_login(clean_env: Path, doc: dict[str, object]) -> None:
    path = fakes.write_credentials(clean_env / ".claude", doc)
    up = upstream()
    with pytest.raises(AuthRequired) as caught:
        await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up))
    assert caught.value.message == (
        f"Claude Code credentials in {path} have expired and hold no refresh token; run `claude` and log in again")
    assert up.requests == []


@pytest.fixture
def quick_dialogue(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"startup": 0.2, "delegate_enter": 0.1, "delegate_settle": 0.05,
                        "delegate_timeout": 3.0}.items():
        monkeypatch.setattr(cli.TIMING, name, value)


async def test_expired_credentials_are_refreshed_by_delegation_only(
    clean_env: Path, tmp_path: Path, quick_dialogue: None
) -> None:
    path = fakes.write_credentials(clean_env / ".claude", fakes.credentials(expires=fakes.PAST_MS))
    program, log = fakes.fake_claude(tmp_path / "bin", "refresh", creds=path)
    up = upstream()
    ctx = home_ctx(clean_env, up, env={"CLAUDE_CLI_PATH": str(program)})
    snapshot = await fetch(ClaudeOAuthStrategy(), ctx)
    assert snapshot.primary is not None and snapshot.primary.used_percent == 23.0
    assert up.requests[0].headers["authorization"] == f"Bearer {fakes.NEW_ACCESS}"
    no_token_endpoint(up)
    assert fakes.typed_lines(log) == ["/status", "y", "/status", "/exit"]
    argv = [value for kind, value in fakes.read_log(log) if kind == "argv"]
    assert argv[0][:4] == ["--allowed-tools", "", "--strict-mcp-config", "--session-id"]
    # Claude Code's file keeps every other key; codexbard wrote nothing into it.
    assert json.loads(path.read_text())["otherKey"] == {"keep": True}


async def test_failed_delegation_honours_the_cooldown(clean_env: Path, tmp_path: Path, quick_dialogue: None) -> None:
    path = fakes.write_credentials(clean_env / ".claude", fakes.credentials(expires=fakes.PAST_MS))
    program, log = fakes.fake_claude(tmp_path / "bin", "nothing", creds=path)
    clock = FixedClock(NOW)
    strategy = ClaudeOAuthStrategy()
    up = upstream()
    ctx = home_ctx(clean_env, up, clock=clock, env={"CLAUDE_CLI_PATH": str(program)})
    with pytest.raises(AuthRequired) as first:
        await fetch(strategy, ctx)
    assert first.value.message == (
        f"Claude Code credentials in {path} have expired and `claude` did not refresh them; "
        "run `claude` to log in again")
    launches = len([1 for kind, _ in fakes.read_log(log) if kind == "argv"])
    clock.advance(10)
    with pytest.raises(AuthRequired) as second:
        await fetch(strategy, home_ctx(clean_env, up, clock=clock, env={"CLAUDE_CLI_PATH": str(program)}))
    assert "next try in 10 s" in second.value.message
    assert len([1 for kind, _ in fakes.read_log(log) if kind == "argv"]) == launches  # not launched again
    assert up.requests == []
    no_token_endpoint(up)


async def test_rate_limit_ladder_and_floor_with_retry_after_zero(clean_env: Path) -> None:
    fakes.write_credentials(clean_env / ".claude", fakes.credentials(expires=fakes.FUTURE_MS + 10**9))
    clock = FixedClock(NOW)
    strategy = ClaudeOAuthStrategy()
    up = upstream(usage=kit.reply_raw(429, b'{"error": "rate_limited"}', {"Retry-After": "0"}))
    waits = []
    for _ in range(6):
        with pytest.raises(RateLimited) as caught:
            await fetch(strategy, home_ctx(clean_env, up, clock=clock))
        waits.append(caught.value.retry_after)
        calls = len(up.requests)
        with pytest.raises(RateLimited) as blocked:  # inside the block: no request at all
            await fetch(strategy, home_ctx(clean_env, up, clock=clock))
        assert len(up.requests) == calls and "no request sent" in blocked.value.message
        clock.advance(caught.value.retry_after or 0)
    assert waits == [300.0, 600.0, 1200.0, 2400.0, 3600.0, 3600.0]
    up.routes[USAGE] = kit.reply_json(USAGE_BODY)
    await fetch(strategy, home_ctx(clean_env, up, clock=clock))
    up.routes[USAGE] = kit.reply_raw(429, b"")
    with pytest.raises(RateLimited) as again:
        clock.advance(300)
        await fetch(strategy, home_ctx(clean_env, up, clock=clock))
    assert again.value.retry_after == 300.0  # a success reset the ladder


async def test_retry_after_longer_than_the_ladder_wins(clean_env: Path) -> None:
    fakes.write_credentials(clean_env / ".claude", fakes.credentials())
    up = upstream(usage=kit.reply_raw(429, b"", {"Retry-After": "7200"}))
    with pytest.raises(RateLimited) as caught:
        await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up))
    assert caught.value.retry_after == 7200.0


async def test_one_call_per_token_per_five_minutes_even_across_accounts(clean_env: Path, tmp_path: Path) -> None:
    fakes.write_credentials(clean_env / ".claude", fakes.credentials())
    fakes.write_credentials(tmp_path / "twin", fakes.credentials())  # the same token in another config dir
    clock = FixedClock(NOW)
    strategy = ClaudeOAuthStrategy()
    up = upstream()
    first = await fetch(strategy, home_ctx(clean_env, up, clock=clock))
    clock.advance(60)
    twin = await fetch(strategy, home_ctx(clean_env, up, clock=clock, account="twin",
                                           options={"claude_config_dir": str(tmp_path / "twin")}))
    assert twin == first
    assert up.urls == [USAGE, PROFILE]
    clock.advance(240)
    await fetch(strategy, home_ctx(clean_env, up, clock=clock))
    assert up.urls == [USAGE, PROFILE, USAGE, PROFILE]


async def test_profile_failure_does_not_fail_the_fetch(clean_env: Path) -> None:
    fakes.write_credentials(clean_env / ".claude", fakes.credentials())
    up = upstream(profile=kit.reply_raw(500, b"down"))
    snapshot = await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up))
    assert snapshot.identity == Identity(login_method="Claude Max 20x")


def test_rate_limited_does_not_fall_through_but_auth_does() -> None:
    strategy = ClaudeOAuthStrategy()
    assert strategy.should_fall_back(RateLimited("x", retry_after=300)) is False
    assert strategy.should_fall_back(AuthRequired("x")) is True


def test_access_token_routing() -> None:
    assert looks_like_access_token("Bearer sk-ant-oat01-abc")
    assert not looks_like_access_token("sessionKey=sk-ant-oat01-abc")
    assert not looks_like_access_token("sk-ant-sid01-abc")


KEY = "sk-ant-oat01-MATRIXKEY-0123456789abcdef"
MATRIX = kit.ErrorMatrix(
    "claude", ClaudeOAuthStrategy, key=KEY, env={"CODEXBAR_CLAUDE_OAUTH_TOKEN": KEY}, target=USAGE,
    service="Claude OAuth", timeout=30,
    changes={
        "401": kit.Expect("auth_required", "Claude OAuth token was rejected (HTTP 401); run `claude` to log in again"),
        "403": kit.Expect("unavailable", 'Claude OAuth error: HTTP 403 - {"error": "forbidden"}'),
        "429-seconds": kit.Expect("rate_limited", "Claude usage endpoint is rate limited (HTTP 429); next attempt "
                                  "in 5 min", 300.0),
        "429-http-date": kit.Expect("rate_limited", "Claude usage endpoint is rate limited (HTTP 429); next "
                                    "attempt in 5 min", 300.0),
        "500": kit.Expect("unavailable", "Claude OAuth error: HTTP 500 - <html><body>internal error</body></html>"),
        "502": kit.Expect("unavailable", "Claude OAuth error: HTTP 502"),
        "503": kit.Expect("unavailable", 'Claude OAuth error: HTTP 503 - {"status": "down"}'),
        **{row: kit.Expect("auth_required", "Claude OAuth token was rejected (HTTP 401); run `claude` to log in "
                           "again") for row in ("echoed-key", "echoed-key-masked", "echoed-key-upper-case",
                                                "echoed-key-truncated")},
    },
    others=kit.reply_raw(404, b""),
)


@pytest.mark.parametrize("row", MATRIX.params())
async def test_error_matrix(row: kit.Row) -> None:
    await MATRIX.check(row)


async def test_403_mentioning_the_scope_is_auth_required(clean_env: Path) -> None:
    fakes.write_credentials(clean_env / ".claude", fakes.credentials())
    up = upstream(usage=kit.reply_raw(403, b'{"error": "token lacks user:profile"}'))
    with pytest.raises(AuthRequired) as caught:
        await fetch(ClaudeOAuthStrategy(), home_ctx(clean_env, up))
    assert caught.value.message.startswith("Claude OAuth token lacks the user:profile scope (HTTP 403)")


def test_no_request_to_the_token_endpoint_is_ever_built() -> None:
    source = Path(cli.__file__).parent
    for module in ("oauth.py", "cli.py", "web.py", "__init__.py"):
        assert "TOKEN_URL" not in (source / module).read_text()
    assert httpx  # the fake upstreams above record every URL; no test saw the token endpoint
    assert TOKEN
