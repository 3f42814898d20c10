"""The `codex-cli` strategy against fake `codex` programs: the exact dialogue, errors, hangs, and reaping."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from codexbard.errors import ProviderError
from codexbard.models import Credits, Identity, RateWindow
from codexbard.providers.codex.rpc import CodexRpc
from tests.providers import kit
from tests.providers.codex.support import RPC_LIMITS, alive, context, fake_codex

ARGV = ["-s", "read-only", "-a", "never", "app-server"]
RESET_5H = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)
RESET_7D = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
ERROR_BODY = (
    "failed to fetch codex rate limits: Decode error for https://chatgpt.com/backend-api/wham/usage: unknown "
    'variant `prolite`; content-type=application/json; body={ "email": "sam.rivera@example.org", '
    '"plan_type": "prolite", "rate_limit": { "primary_window": { "used_percent": 64, "limit_window_seconds": '
    '18000, "reset_at": 1795636800 }, "secondary_window": null }, "credits": { "balance": "0E-10" } }'
)


async def run(tmp_path: Path, cli: Path, *, deadline: float | None = None, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    ctx = context(tmp_path, kit.FakeUpstream(), cli=cli, env=env)
    if deadline is not None:
        ctx.deadline = time.monotonic() + deadline
    strategy = CodexRpc()
    availability = await strategy.available(ctx)
    assert availability.ok, availability.reason
    return await strategy.fetch(ctx)


async def test_happy_path_sends_exactly_the_read_only_dialogue(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path)
    snap = await run(tmp_path, cli.path)
    assert snap.primary == RateWindow(used_percent=37.5, window_minutes=300, resets_at=RESET_5H,
                                      reset_description="20:00", label="Session")
    assert snap.secondary == RateWindow(used_percent=12.0, window_minutes=10080, resets_at=RESET_7D,
                                        reset_description="Nov 30, 00:00", label="Weekly")
    assert snap.credits == Credits(remaining=42.75, total=None, unit="credits")
    assert snap.identity == Identity(account_email="sam.rivera@example.org", login_method="Plus")
    assert snap.version == "0.99.1"
    start = cli.start()
    assert start["argv"] == ARGV
    assert start["codex_home"] is None  # the default home: the child finds ~/.codex itself
    assert start["secret_env"] == []
    from codexbard import __version__

    assert cli.received() == [
        {"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "codexbard", "version": __version__}}},
        {"method": "initialized", "params": {}},
        {"id": 2, "method": "account/rateLimits/read", "params": {}},
        {"id": 3, "method": "account/read", "params": {}},
    ]
    assert not alive(start["pid"])


async def test_codex_home_is_passed_to_the_child(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path)
    await run(tmp_path, cli.path, env={"CODEX_HOME": str(tmp_path / "work-home")})
    assert cli.start()["codex_home"] == str(tmp_path / "work-home")


async def test_cli_path_variable_wins_over_path(tmp_path: Path) -> None:
    on_path = fake_codex(tmp_path, folder="bin")
    chosen = fake_codex(tmp_path, folder="chosen")
    await run(tmp_path, on_path.path, env={"CODEX_CLI_PATH": str(chosen.path)})
    assert on_path.records() == []
    assert chosen.start()["argv"] == ARGV


async def test_error_response_carrying_a_usage_body_is_recovered(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, error=ERROR_BODY)
    snap = await run(tmp_path, cli.path)
    assert snap.primary == RateWindow(used_percent=64.0, window_minutes=300, resets_at=RESET_5H,
                                      reset_description="20:00", label="Session")
    assert snap.secondary is None
    assert snap.credits == Credits(remaining=0.0, total=None, unit="credits")
    assert snap.identity == Identity(account_email="sam.rivera@example.org", login_method="Pro 5x")
    assert [m.get("method") for m in cli.received()] == ["initialize", "initialized", "account/rateLimits/read"]


async def test_plain_error_is_unavailable_with_its_message(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, error="backend exploded")
    with pytest.raises(ProviderError) as caught:
        await run(tmp_path, cli.path)
    assert (caught.value.kind, caught.value.message) == (
        "unavailable", "Codex app-server account/rateLimits/read failed: backend exploded")


async def test_api_key_login_is_unsupported(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, error="codex account authentication required to read rate limits",
                     account={"account": {"type": "apiKey"}, "requiresOpenaiAuth": True})
    with pytest.raises(ProviderError) as caught:
        await run(tmp_path, cli.path)
    assert caught.value.kind == "unsupported"
    assert caught.value.message == (
        "Codex is logged in with an OpenAI API key, which has no ChatGPT plan quota to show; "
        "run `codex login` with a ChatGPT account to see Codex limits")


async def test_bedrock_backend_explains_the_auth_error(tmp_path: Path) -> None:
    home = tmp_path / "home" / ".codex"
    home.mkdir(parents=True)
    (home / "config.toml").write_text('model_provider = "amazon-bedrock"\n')
    cli = fake_codex(tmp_path, error="Codex account authentication required to read rate limits",
                     account={"account": None, "requiresOpenaiAuth": True})
    with pytest.raises(ProviderError) as caught:
        await run(tmp_path, cli.path)
    assert (caught.value.kind, caught.value.message) == (
        "unavailable",
        "Codex is configured for Amazon Bedrock (model_provider = 'amazon-bedrock'); ChatGPT rate limits don't apply")


async def test_account_read_failure_keeps_the_windows(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, "account-fails")
    snap = await run(tmp_path, cli.path)
    assert snap.primary is not None and snap.primary.used_percent == 37.5
    assert snap.identity == Identity(account_email=None, login_method="Plus")  # the bucket's planType


async def test_identity_without_windows_is_a_success(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, limits={"rateLimits": {"planType": "free"}})
    snap = await run(tmp_path, cli.path)
    assert (snap.primary, snap.secondary, snap.credits) == (None, None, None)
    assert snap.identity == Identity(account_email="sam.rivera@example.org", login_method="Plus")


async def test_hang_times_out_and_the_child_is_reaped(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, "hang")
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        await run(tmp_path, cli.path, deadline=1.0)
    assert time.monotonic() - started < 3.0
    assert (caught.value.kind, caught.value.message) == (
        "timeout", "timed out waiting for `account/rateLimits/read` from `codex`")
    assert not alive(cli.start()["pid"])


async def test_hang_while_ignoring_sigterm_is_killed(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, "hang-ignore-term")
    with pytest.raises(ProviderError) as caught:
        await run(tmp_path, cli.path, deadline=1.0)
    assert caught.value.kind == "timeout"
    assert not alive(cli.start()["pid"])


async def test_child_ignoring_sigterm_after_the_dialogue_is_killed(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, "ignore-term")
    started = time.monotonic()
    snap = await run(tmp_path, cli.path)
    assert snap.primary is not None
    assert 0.4 <= time.monotonic() - started < 5.0  # SIGTERM ignored: 0.4 s grace, then SIGKILL
    assert not alive(cli.start()["pid"])


async def test_garbage_is_skipped_and_a_non_object_result_is_a_parse_error(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, "garbage")
    with pytest.raises(ProviderError) as caught:
        await run(tmp_path, cli.path)
    assert (caught.value.kind, caught.value.message) == (
        "parse_error", "Codex app-server answered account/rateLimits/read without a rateLimits object")
    assert not alive(cli.start()["pid"])


async def test_child_that_exits_at_once_is_unavailable(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, "exit")
    with pytest.raises(ProviderError) as caught:
        await run(tmp_path, cli.path)
    assert (caught.value.kind, caught.value.message) == ("unavailable", "`codex` closed its output")


async def test_missing_cli_is_cli_missing(tmp_path: Path) -> None:
    ctx = context(tmp_path, kit.FakeUpstream())
    availability = await CodexRpc().available(ctx)
    assert (availability.ok, availability.kind, availability.reason) == (
        False, "cli_missing", "Codex CLI missing; install it with `npm i -g @openai/codex` (or set CODEX_CLI_PATH)")


async def test_cli_in_user_bin_dir_is_found_without_path(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path, folder="home/.local/bin")
    ctx = context(tmp_path, kit.FakeUpstream())
    availability = await CodexRpc().available(ctx)
    assert (availability.ok, availability.reason) == (True, f"Codex CLI at {cli.path}")


def test_rpc_limits_fixture_is_the_sheets_shape() -> None:
    assert set(RPC_LIMITS["rateLimits"]) == {"planType", "credits", "primary", "secondary"}
