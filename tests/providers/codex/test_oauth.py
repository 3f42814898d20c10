"""The `oauth` strategy: auth.json variants, wham/usage, staleness and the in-process refresh."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from codexbard.errors import ProviderError
from codexbard.models import Credits, Identity, RateWindow
from codexbard.providers.codex.oauth import CodexOAuth
from tests.helpers import fixture_bytes
from tests.providers import kit
from tests.providers.codex.support import (
    ACCESS,
    FRESH,
    ID_TOKEN,
    REFRESH,
    REFRESH_URL,
    STALE,
    USAGE_URL,
    auth_doc,
    context,
    fake_codex,
    home_of,
    jwt,
)

T5H = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
T7D = datetime(2026, 3, 6, 23, 23, 10, tzinfo=UTC)
LOGIN = "ChatGPT rejected the Codex login; run `codex login`"


def usage_reply(name: str = "usage_full.json", status: int = 200) -> kit.Responder:
    return kit.reply_raw(status, fixture_bytes(__file__, name), {"content-type": "application/json"})


def codex_home(tmp_path: Path) -> Path:
    return home_of(tmp_path) / ".codex"


def write(tmp_path: Path, data: object) -> Path:
    from tests.providers.codex.support import write_auth

    return write_auth(codex_home(tmp_path), data)  # type: ignore[arg-type]


async def fetch(tmp_path: Path, upstream: kit.FakeUpstream, **kwargs: object):  # type: ignore[no-untyped-def]
    ctx = context(tmp_path, upstream, **kwargs)  # type: ignore[arg-type]
    strategy = CodexOAuth()
    availability = await strategy.available(ctx)
    assert availability.ok, availability.reason
    return await strategy.fetch(ctx)


async def fails(tmp_path: Path, upstream: kit.FakeUpstream, **kwargs: object) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await fetch(tmp_path, upstream, **kwargs)
    return caught.value


# --- happy path ---------------------------------------------------------------------------------------


async def test_happy_path_exact_values_and_headers(tmp_path: Path) -> None:
    write(tmp_path, auth_doc())
    upstream = kit.FakeUpstream({USAGE_URL: usage_reply()})
    snap = await fetch(tmp_path, upstream)
    assert snap.primary == RateWindow(used_percent=37.0, window_minutes=300, resets_at=T5H,
                                      reset_description="Mar 2, 10:00", label="Session")
    assert snap.secondary == RateWindow(used_percent=12.0, window_minutes=10080, resets_at=T7D,
                                        reset_description="Mar 6, 23:23", label="Weekly")
    assert [w.id for w in snap.extra_rate_windows] == ["codex-spark", "codex-spark-weekly"]
    assert snap.credits == Credits(remaining=42.75, total=None, unit="credits")
    assert snap.identity == Identity(account_email="sam.rivera@example.org", login_method="Plus")
    [request] = upstream.requests
    assert request.headers["Authorization"] == f"Bearer {ACCESS}"
    assert request.headers["ChatGPT-Account-Id"] == "acct-synthetic-7f3a"
    assert request.headers["User-Agent"] == "codexbard"
    assert request.headers["Accept"] == "application/json"


async def test_free_plan_weekly_window_in_primary_lands_in_secondary(tmp_path: Path) -> None:
    write(tmp_path, auth_doc())
    snap = await fetch(tmp_path, kit.FakeUpstream({USAGE_URL: usage_reply("usage_free_weekly_in_primary.json")}))
    assert snap.primary is None
    assert snap.secondary is not None and snap.secondary.window_minutes == 10080


async def test_account_id_from_the_id_token_when_the_file_has_none(tmp_path: Path) -> None:
    write(tmp_path, auth_doc(account_id=None))
    upstream = kit.FakeUpstream({USAGE_URL: usage_reply()})
    await fetch(tmp_path, upstream)
    assert upstream.requests[0].headers["ChatGPT-Account-Id"] == "acct-from-jwt"


async def test_no_account_header_when_unknown(tmp_path: Path) -> None:
    doc = auth_doc(account_id=None)
    doc["tokens"]["id_token"] = jwt({"email": "a@example.org"})
    write(tmp_path, doc)
    upstream = kit.FakeUpstream({USAGE_URL: usage_reply()})
    snap = await fetch(tmp_path, upstream)
    assert "ChatGPT-Account-Id" not in upstream.requests[0].headers
    assert snap.identity == Identity(account_email="a@example.org", login_method="Plus")  # plan from the body


async def test_camel_case_tokens(tmp_path: Path) -> None:
    write(tmp_path, {"tokens": {"idToken": ID_TOKEN, "accessToken": ACCESS, "refreshToken": REFRESH,
                                "accountId": "acct-camel"}, "last_refresh": FRESH})
    upstream = kit.FakeUpstream({USAGE_URL: usage_reply()})
    await fetch(tmp_path, upstream)
    assert upstream.requests[0].headers["ChatGPT-Account-Id"] == "acct-camel"


async def test_config_base_url_and_codex_api_path(tmp_path: Path) -> None:
    write(tmp_path, auth_doc())
    (codex_home(tmp_path) / "config.toml").write_text(
        '#chatgpt_base_url = "https://ignored.example"\n[x]\nchatgpt_base_url = "https://mirror.example/v1/"\n')
    upstream = kit.FakeUpstream({"https://mirror.example/v1/api/codex/usage": usage_reply()})
    snap = await fetch(tmp_path, upstream)
    assert snap.primary is not None
    assert upstream.urls == ["https://mirror.example/v1/api/codex/usage"]


async def test_team_monthly_pool_follow_up(tmp_path: Path) -> None:
    write(tmp_path, auth_doc())
    team = {"plan_type": "team", "rate_limit": {"primary_window": {
        "used_percent": 10, "limit_window_seconds": 604800, "reset_at": 1772839390}, "secondary_window": None},
        "credits": {"balance": None}, "spend_control": {"reached": False}}
    pool = "https://chatgpt.com/backend-api/accounts/acct-synthetic-7f3a/spend-controls/current-user/monthly-usage"
    upstream = kit.FakeUpstream({USAGE_URL: kit.reply_json(team), pool: usage_reply("monthly_usage.json")})
    snap = await fetch(tmp_path, upstream)
    assert snap.credits == Credits(remaining=5000 - 812.4, total=5000.0, unit="credits")
    assert [w.id for w in snap.extra_rate_windows] == ["codex-monthly-credit-limit"]
    assert upstream.urls == [USAGE_URL, pool]


async def test_reads_are_watched(tmp_path: Path) -> None:
    write(tmp_path, auth_doc())
    ctx = context(tmp_path, kit.FakeUpstream({USAGE_URL: usage_reply()}))
    await CodexOAuth().available(ctx)
    await CodexOAuth().fetch(ctx)
    assert ctx.watched_files.paths() == (codex_home(tmp_path) / "auth.json", codex_home(tmp_path) / "config.toml")


# --- auth.json variants -----------------------------------------------------------------------------------


async def test_missing_file_is_not_available(tmp_path: Path) -> None:
    ctx = context(tmp_path, kit.FakeUpstream())
    availability = await CodexOAuth().available(ctx)
    path = codex_home(tmp_path) / "auth.json"
    assert (availability.ok, availability.reason) == (
        False, f"no Codex login: {path} does not exist; run `codex login`")
    assert ctx.watched_files.paths() == (path,)


@pytest.mark.parametrize(("content", "kind", "message"), [
    ("{not json", "parse_error", "Codex {path} is not valid JSON"),
    ('["not", "an", "object"]', "parse_error", "Codex {path} does not hold a JSON object"),
    ("{}", "auth_required", "Codex auth.json has no ChatGPT tokens; run `codex login`"),
    (fixture_bytes(__file__, "auth_no_refresh_token.json").decode(), "auth_required",
     "Codex auth.json has no ChatGPT tokens; run `codex login`"),
    (fixture_bytes(__file__, "auth_api_key.json").decode(), "unsupported",
     "Codex is logged in with an OpenAI API key, which has no ChatGPT plan quota to show; run `codex login` "
     "with a ChatGPT account to see Codex limits"),
])
async def test_file_variants(tmp_path: Path, content: str, kind: str, message: str) -> None:
    path = write(tmp_path, content)
    upstream = kit.FakeUpstream()
    error = await fails(tmp_path, upstream)
    assert (error.kind, error.message) == (kind, message.format(path=path))
    assert upstream.requests == []


async def test_unreadable_file_is_auth_required(tmp_path: Path) -> None:
    (codex_home(tmp_path) / "auth.json").mkdir(parents=True)
    error = await fails(tmp_path, kit.FakeUpstream())
    path = codex_home(tmp_path) / "auth.json"
    assert (error.kind, error.message) == (
        "auth_required", f"Codex {path} cannot be read (not a regular file); run `codex login`")


async def test_tokens_win_over_an_api_key(tmp_path: Path) -> None:
    write(tmp_path, auth_doc(OPENAI_API_KEY="sk-synthetic-not-a-real-key"))
    snap = await fetch(tmp_path, kit.FakeUpstream({USAGE_URL: usage_reply()}))
    assert snap.primary is not None


# --- errors from the usage endpoint -------------------------------------------------------------------------


def _matrix_rows() -> dict[str, kit.Expect]:
    auth = kit.Expect("auth_required", f"{LOGIN} (HTTP 401)")
    return {
        "401": auth,
        "403": kit.Expect("auth_required", f"{LOGIN} (HTTP 403)"),
        "500": kit.Expect("unavailable", "ChatGPT is unavailable (HTTP 500): <html><body>internal error</body></html>"),
        "503": kit.Expect("unavailable", 'ChatGPT is unavailable (HTTP 503): {"status": "down"}'),
        "echoed-key": auth, "echoed-key-masked": auth, "echoed-key-upper-case": auth, "echoed-key-truncated": auth,
    }


MATRIX = kit.ErrorMatrix(
    "codex", CodexOAuth, key=ACCESS, env={}, target=USAGE_URL, service="ChatGPT", timeout=30,
    changes=_matrix_rows(),
)


@pytest.mark.parametrize("row", MATRIX.params())
async def test_error_matrix(row: kit.Row, tmp_path: Path) -> None:
    write(tmp_path, auth_doc())
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    matrix = replace(MATRIX, env={"HOME": str(home_of(tmp_path)), "PATH": str(empty), "TZ": "UTC"})
    await matrix.check(row)


async def test_retry_after_zero_is_kept(tmp_path: Path) -> None:
    write(tmp_path, auth_doc())
    error = await fails(tmp_path, kit.FakeUpstream({USAGE_URL: kit.reply_raw(429, b"", {"Retry-After": "0"})}))
    assert (error.kind, error.retry_after) == ("rate_limited", 0.0)


async def test_401_triggers_no_refresh(tmp_path: Path) -> None:
    write(tmp_path, auth_doc())
    upstream = kit.FakeUpstream({USAGE_URL: kit.reply_raw(401, b"{}")})
    error = await fails(tmp_path, upstream)
    assert error.kind == "auth_required"
    assert upstream.urls == [USAGE_URL]


async def test_malformed_body_is_a_parse_error(tmp_path: Path) -> None:
    write(tmp_path, auth_doc())
    error = await fails(tmp_path, kit.FakeUpstream({USAGE_URL: kit.reply_json({"plan_type": "plus"})}))
    assert (error.kind, error.message) == ("parse_error", "Codex usage response has no rate limits")


# --- staleness and refresh -------------------------------------------------------------------------------------

NEW_ACCESS = jwt({"sub": "user-synthetic", "nonce": "new-access-abcdefghij"})
NEW_ID = jwt({"email": "sam.rivera@example.org", "https://api.openai.com/auth": {"chatgpt_plan_type": "pro"}})


async def test_stale_tokens_with_the_cli_step_aside(tmp_path: Path) -> None:
    write(tmp_path, auth_doc(last_refresh=STALE))
    cli = fake_codex(tmp_path)
    ctx = context(tmp_path, kit.FakeUpstream(), cli=cli.path)
    availability = await CodexOAuth().available(ctx)
    assert availability.ok is False
    assert availability.reason == (
        f"Codex tokens in {codex_home(tmp_path) / 'auth.json'} are stale (last refreshed over 8 days ago, or never "
        "recorded); the Codex CLI refreshes them itself, so the codex-cli strategy runs instead")


async def test_missing_last_refresh_counts_as_stale(tmp_path: Path) -> None:
    write(tmp_path, auth_doc(last_refresh=None))
    cli = fake_codex(tmp_path)
    availability = await CodexOAuth().available(context(tmp_path, kit.FakeUpstream(), cli=cli.path))
    assert availability.ok is False


async def test_stale_without_cli_refreshes_writes_back_and_uses_the_new_token(tmp_path: Path) -> None:
    path = write(tmp_path, auth_doc(last_refresh=STALE, unknown_key={"kept": True}))
    path.chmod(0o644)
    bodies: list[dict[str, object]] = []

    def refresh(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"access_token": NEW_ACCESS, "refresh_token": "rt_new_0123456789",
                                         "id_token": NEW_ID})

    upstream = kit.FakeUpstream({REFRESH_URL: refresh, USAGE_URL: usage_reply()})
    snap = await fetch(tmp_path, upstream)
    assert upstream.urls == [REFRESH_URL, USAGE_URL]
    assert bodies == [{"client_id": "app_EMoamEEZ73f0CkXaXp7hrann", "grant_type": "refresh_token",
                       "refresh_token": REFRESH, "scope": "openid profile email"}]
    assert upstream.requests[1].headers["Authorization"] == f"Bearer {NEW_ACCESS}"
    assert snap.identity == Identity(account_email="sam.rivera@example.org", login_method="Plus")
    written = json.loads(path.read_text())
    assert written == {
        "OPENAI_API_KEY": None,
        "tokens": {"id_token": NEW_ID, "access_token": NEW_ACCESS, "refresh_token": "rt_new_0123456789",
                   "account_id": "acct-synthetic-7f3a"},
        "last_refresh": "2026-11-25T18:00:00Z",
        "unknown_key": {"kept": True},
    }
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


async def test_refresh_keeps_old_values_for_missing_fields(tmp_path: Path) -> None:
    path = write(tmp_path, auth_doc(last_refresh=STALE))
    upstream = kit.FakeUpstream({REFRESH_URL: kit.reply_json({"access_token": NEW_ACCESS}),
                                 USAGE_URL: usage_reply()})
    await fetch(tmp_path, upstream)
    tokens = json.loads(path.read_text())["tokens"]
    assert (tokens["access_token"], tokens["refresh_token"], tokens["id_token"]) == (NEW_ACCESS, REFRESH, ID_TOKEN)


@pytest.mark.parametrize(("status", "body", "message"), [
    (400, {"error": "invalid_grant"}, "The Codex refresh token was revoked; run `codex login`"),
    (401, {"error": {"code": "refresh_token_expired"}}, "The Codex refresh token has expired; run `codex login`"),
    (400, {"code": "refresh_token_reused"}, "The Codex refresh token was already used; run `codex login`"),
    (401, {}, "The Codex refresh token has expired; run `codex login`"),
])
async def test_rejected_refresh_is_auth_required(tmp_path: Path, status: int, body: object, message: str) -> None:
    path = write(tmp_path, auth_doc(last_refresh=STALE))
    before = path.read_bytes()
    upstream = kit.FakeUpstream({REFRESH_URL: kit.reply_json(body, status)})
    error = await fails(tmp_path, upstream)
    assert (error.kind, error.message) == ("auth_required", message)
    assert upstream.urls == [REFRESH_URL]
    assert path.read_bytes() == before


async def test_refresh_server_error_is_unavailable(tmp_path: Path) -> None:
    write(tmp_path, auth_doc(last_refresh=STALE))
    error = await fails(tmp_path, kit.FakeUpstream({REFRESH_URL: kit.reply_raw(500, b"oops")}))
    assert (error.kind, error.message) == ("unavailable", "Codex token refresh failed (HTTP 500)")


async def test_refresh_that_cannot_reach_the_endpoint_is_unavailable(tmp_path: Path) -> None:
    write(tmp_path, auth_doc(last_refresh=STALE))
    upstream = kit.FakeUpstream({REFRESH_URL: kit.reply_raise(httpx.ConnectError, "refused")})
    error = await fails(tmp_path, upstream)
    assert (error.kind, error.message) == (
        "unavailable", "cannot connect to OpenAI token refresh (https://auth.openai.com/oauth/token)")


async def test_refresh_timeout_is_a_timeout(tmp_path: Path) -> None:
    write(tmp_path, auth_doc(last_refresh=STALE))
    upstream = kit.FakeUpstream({REFRESH_URL: kit.reply_raise(httpx.ReadTimeout)})
    error = await fails(tmp_path, upstream)
    assert (error.kind, error.message) == ("timeout", "OpenAI token refresh did not answer within 30 s")


async def test_a_login_that_happened_meanwhile_wins(tmp_path: Path) -> None:
    path = write(tmp_path, auth_doc(last_refresh=STALE))
    theirs = jwt({"sub": "user-synthetic", "nonce": "their-login-zyxwvutsrq"})

    def refresh(request: httpx.Request) -> httpx.Response:
        doc = auth_doc(last_refresh="2026-11-25T17:59:00Z")
        doc["tokens"]["access_token"] = theirs
        path.write_text(json.dumps(doc))  # the user ran `codex login` while we refreshed
        return httpx.Response(200, json={"access_token": NEW_ACCESS, "refresh_token": "rt_new_0123456789"})

    upstream = kit.FakeUpstream({REFRESH_URL: refresh, USAGE_URL: usage_reply()})
    await fetch(tmp_path, upstream)
    assert upstream.requests[1].headers["Authorization"] == f"Bearer {theirs}"
    assert json.loads(path.read_text())["tokens"]["access_token"] == theirs


# --- external sources (opt-in) -------------------------------------------------------------------------------


async def test_external_sources_are_off_by_default(tmp_path: Path) -> None:
    from tests.providers.codex.support import write_auth

    write_auth(home_of(tmp_path) / ".config" / "codex", auth_doc())
    availability = await CodexOAuth().available(context(tmp_path, kit.FakeUpstream()))
    assert availability.ok is False


async def test_legacy_external_file_when_enabled(tmp_path: Path) -> None:
    from tests.providers.codex.support import write_auth

    legacy = write_auth(home_of(tmp_path) / ".config" / "codex", auth_doc())
    ctx = context(tmp_path, kit.FakeUpstream({USAGE_URL: usage_reply()}), options={"external_sources": True})
    availability = await CodexOAuth().available(ctx)
    assert (availability.ok, availability.reason) == (True, f"external Codex login in {legacy}")
    snap = await CodexOAuth().fetch(ctx)
    assert snap.primary is not None


async def test_stale_opencode_file_fails_closed(tmp_path: Path) -> None:
    share = home_of(tmp_path) / ".local" / "share" / "opencode"
    share.mkdir(parents=True)
    (share / "auth.json").write_text(fixture_bytes(__file__, "opencode_auth.json").decode())
    upstream = kit.FakeUpstream()
    error = await fails(tmp_path, upstream, options={"external_sources": True})
    assert error.kind == "auth_required"
    assert error.message == (
        f"the external Codex login in {share / 'auth.json'} is stale and codexbard never refreshes it; "
        "run `codex login`")
    assert upstream.requests == []
