"""The Codex descriptor: source modes, auto order and fall-through, two accounts, and import cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from codexbard.config import Settings
from codexbard.providers.codex import PROVIDER
from codexbard.providers.registry import Registry, poll_targets
from codexbard.providers.runner import run_pipeline
from tests.helpers import fixture_bytes
from tests.providers import kit
from tests.providers.codex.support import (
    ACCESS,
    STALE,
    USAGE_URL,
    WHOAMI_URL,
    auth_doc,
    context,
    fake_codex,
    home_of,
    jwt,
    write_auth,
)


def usage_reply() -> kit.Responder:
    return kit.reply_raw(200, fixture_bytes(__file__, "usage_full.json"))


def attempts(outcome) -> list[tuple[str, bool, str | None]]:  # type: ignore[no-untyped-def]
    return [(a.strategy, a.ok, a.error_kind) for a in outcome.attempts]


def test_modes_follow_the_sheet() -> None:
    assert PROVIDER.modes() == {
        "auto": ("pat", "oauth", "codex-cli"),
        "api": ("pat",),
        "oauth": ("oauth",),
        "cli": ("codex-cli", "status-pty"),
        "web": ("openai-web",),
    }
    assert [s.source_label for s in PROVIDER.strategies] == ["pat", "oauth", "codex-cli", "openai-web", "codex-cli"]
    assert PROVIDER.env_names() == frozenset({"CODEX_HOME", "CODEX_CLI_PATH"})


async def test_auto_uses_oauth_when_fresh(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", auth_doc())
    cli = fake_codex(tmp_path)
    outcome = await run_pipeline(PROVIDER, context(tmp_path, kit.FakeUpstream({USAGE_URL: usage_reply()}),
                                                   cli=cli.path))
    assert (outcome.source, attempts(outcome)) == ("oauth", [("pat", False, "not_configured"), ("oauth", True, None)])
    assert cli.records() == []


async def test_auto_pat_first_and_its_401_falls_through_to_oauth(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", auth_doc(personal_access_token="pat-synthetic-0123456789"))
    upstream = kit.FakeUpstream({WHOAMI_URL: kit.reply_raw(401, b"{}"), USAGE_URL: usage_reply()})
    outcome = await run_pipeline(PROVIDER, context(tmp_path, upstream))
    assert attempts(outcome) == [("pat", False, "auth_required"), ("oauth", True, None)]
    assert upstream.requests[-1].headers["Authorization"] == f"Bearer {ACCESS}"


async def test_auto_without_login_runs_the_cli(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path)
    outcome = await run_pipeline(PROVIDER, context(tmp_path, kit.FakeUpstream(), cli=cli.path))
    assert outcome.source == "codex-cli"
    assert attempts(outcome) == [("pat", False, "not_configured"), ("oauth", False, "not_configured"),
                                 ("codex-cli", True, None)]


async def test_auto_stale_tokens_leave_the_refresh_to_the_cli(tmp_path: Path) -> None:
    path = write_auth(home_of(tmp_path) / ".codex", auth_doc(last_refresh=STALE))
    before = path.read_bytes()
    cli = fake_codex(tmp_path)
    upstream = kit.FakeUpstream()
    outcome = await run_pipeline(PROVIDER, context(tmp_path, upstream, cli=cli.path))
    assert outcome.source == "codex-cli"
    assert upstream.requests == []  # no refresh, no usage call
    assert path.read_bytes() == before


async def test_auto_usage_401_falls_through_to_the_cli(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", auth_doc())
    cli = fake_codex(tmp_path)
    outcome = await run_pipeline(PROVIDER, context(tmp_path, kit.FakeUpstream({USAGE_URL: kit.reply_raw(401)}),
                                                   cli=cli.path))
    assert attempts(outcome)[1:] == [("oauth", False, "auth_required"), ("codex-cli", True, None)]


async def test_auto_usage_500_and_429_stop_without_spawning(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", auth_doc())
    cli = fake_codex(tmp_path)
    for reply, kind in ((kit.reply_raw(500), "unavailable"), (kit.reply_raw(429, b"", {"Retry-After": "0"}),
                                                              "rate_limited")):
        outcome = await run_pipeline(PROVIDER, context(tmp_path, kit.FakeUpstream({USAGE_URL: reply}), cli=cli.path))
        assert attempts(outcome)[-1] == ("oauth", False, kind)
        assert outcome.error is not None and outcome.error.kind == kind
    assert cli.records() == []


async def test_auto_invalid_auth_json_is_surfaced_without_fallback(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", "{broken")
    cli = fake_codex(tmp_path)
    outcome = await run_pipeline(PROVIDER, context(tmp_path, kit.FakeUpstream(), cli=cli.path))
    assert attempts(outcome)[-1] == ("oauth", False, "parse_error")
    assert cli.records() == []


async def test_api_key_login_without_cli_reports_unsupported(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", {"OPENAI_API_KEY": "sk-synthetic-not-a-real-key"})
    outcome = await run_pipeline(PROVIDER, context(tmp_path, kit.FakeUpstream()))
    assert attempts(outcome) == [("pat", False, "not_configured"), ("oauth", False, "unsupported"),
                                 ("codex-cli", False, "cli_missing")]
    assert outcome.error is not None and outcome.error.kind == "unsupported"


async def test_api_mode_runs_only_the_pat(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", auth_doc())
    outcome = await run_pipeline(PROVIDER, context(tmp_path, kit.FakeUpstream()), "api")
    assert attempts(outcome) == [("pat", False, "not_configured")]


async def test_two_accounts_are_polled_separately_with_their_own_home(tmp_path: Path) -> None:
    tokens = {}
    for label in ("work", "personal"):
        doc = auth_doc(account_id=f"acct-{label}")
        tokens[label] = doc["tokens"]["access_token"] = jwt({"sub": label, "nonce": f"{label}-0123456789"})
        write_auth(tmp_path / f"codex-{label}", doc)
    settings = Settings.model_validate({"providers": {"codex": {"accounts": [
        {"label": "work", "codex_home": str(tmp_path / "codex-work")},
        {"label": "personal", "codex_home": str(tmp_path / "codex-personal")},
    ]}}})
    targets = poll_targets(settings, Registry([PROVIDER]))
    assert [(p.account, p.options["codex_home"]) for p in targets] == [
        ("work", str(tmp_path / "codex-work")), ("personal", str(tmp_path / "codex-personal"))]
    for target in targets:
        upstream = kit.FakeUpstream({USAGE_URL: usage_reply()})
        ctx = context(tmp_path, upstream, account=target.account, options=target.options,
                      env={"CODEX_HOME": str(tmp_path / "ignored-for-named-accounts")})
        outcome = await run_pipeline(PROVIDER, ctx)
        assert outcome.source == "oauth"
        [request] = upstream.requests
        assert request.headers["Authorization"] == f"Bearer {tokens[target.account or '']}"
        assert request.headers["ChatGPT-Account-Id"] == f"acct-{target.account}"
        assert ctx.watched_files.paths()[0] == tmp_path / f"codex-{target.account}" / "auth.json"


async def test_each_account_runs_the_cli_with_its_own_codex_home(tmp_path: Path) -> None:
    cli = fake_codex(tmp_path)
    for label in ("work", "personal"):
        ctx = context(tmp_path, kit.FakeUpstream(), cli=cli.path, account=label,
                      options={"codex_home": str(tmp_path / f"codex-{label}")})
        outcome = await run_pipeline(PROVIDER, ctx, "cli")
        assert outcome.source == "codex-cli"
    homes = [r["codex_home"] for r in cli.records() if "argv" in r]
    assert homes == [str(tmp_path / "codex-work"), str(tmp_path / "codex-personal")]


def test_account_keys_are_validated() -> None:
    import pytest

    from codexbard.errors import ConfigError

    settings = Settings.model_validate({"providers": {"codex": {"accounts": [{"label": "a", "codex_hom": "x"}]}}})
    with pytest.raises(ConfigError):
        poll_targets(settings, Registry([PROVIDER]))


def test_registry_import_does_not_load_models_or_the_pty() -> None:
    code = (
        "import sys\n"
        "from codexbard.providers.registry import default_registry\n"
        "assert 'codex' in default_registry()\n"
        "loaded = [m for m in ('codexbard.providers.codex.models', 'codexbard.providers.codex.parse',\n"
        "          'codexbard.host.pty', 'pyte') if m in sys.modules]\n"
        "print(loaded)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
