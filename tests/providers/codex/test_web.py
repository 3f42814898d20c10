"""The `openai-web` strategy: a manual chatgpt.com Cookie header, identity lookup and the account guard."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import SecretStr

from codexbard.errors import ProviderError
from codexbard.models import Identity
from codexbard.providers.codex.web import LOGIN_PAGE, CodexWeb, cookie_value
from tests.helpers import fixture_bytes
from tests.providers import kit
from tests.providers.codex.support import USAGE_URL, auth_doc, context, home_of, write_auth

COOKIE = "__Secure-next-auth.session-token=synthetic-session-0123456789abcdef; _account=acct"
ME_URL = "https://chatgpt.com/backend-api/me"
SESSION_URL = "https://chatgpt.com/api/auth/session"
REJECTED = "chatgpt.com did not accept the Cookie header; copy a fresh one from a signed-in browser"


def usage_reply() -> kit.Responder:
    return kit.reply_raw(200, fixture_bytes(__file__, "usage_full.json"))


def options(cookie: str = COOKIE) -> dict[str, object]:
    return {"cookie_header": SecretStr(cookie)}


async def test_happy_path_with_identity(tmp_path: Path) -> None:
    upstream = kit.FakeUpstream({USAGE_URL: usage_reply(), ME_URL: kit.reply_json({"email": "sam@example.org"})})
    ctx = context(tmp_path, upstream, options=options("Cookie: " + COOKIE))
    assert (await CodexWeb().available(ctx)).ok
    snap = await CodexWeb().fetch(ctx)
    assert snap.identity == Identity(account_email="sam@example.org", login_method="Plus")
    assert snap.primary is not None and snap.primary.used_percent == 37.0
    request = upstream.requests[0]
    assert request.headers["Cookie"] == COOKIE
    assert "Authorization" not in request.headers
    assert request.headers["Accept-Language"] == "en-US,en;q=0.9"
    assert upstream.urls == [USAGE_URL, ME_URL]


async def test_email_from_the_session_when_me_fails(tmp_path: Path) -> None:
    upstream = kit.FakeUpstream({USAGE_URL: usage_reply(),
                                 SESSION_URL: kit.reply_json({"user": {"name": "x", "email": "s@example.org"}})})
    snap = await CodexWeb().fetch(context(tmp_path, upstream, options=options()))
    assert snap.identity == Identity(account_email="s@example.org", login_method="Plus")


async def test_other_account_is_refused(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", auth_doc())  # id token email: sam.rivera@example.org
    upstream = kit.FakeUpstream({USAGE_URL: usage_reply(), ME_URL: kit.reply_json({"email": "other@example.org"})})
    with pytest.raises(ProviderError) as caught:
        await CodexWeb().fetch(context(tmp_path, upstream, options=options()))
    assert caught.value.kind == "auth_required"
    assert "different account" in caught.value.message


async def test_login_page_is_auth_required(tmp_path: Path) -> None:
    upstream = kit.FakeUpstream({USAGE_URL: kit.reply_raw(200, b"<!DOCTYPE html><html>Log in</html>")})
    with pytest.raises(ProviderError) as caught:
        await CodexWeb().fetch(context(tmp_path, upstream, options=options()))
    assert (caught.value.kind, caught.value.message) == (
        "auth_required", "chatgpt.com answered with a login page: the Cookie header is not signed in")


async def test_without_a_cookie_it_is_not_available(tmp_path: Path) -> None:
    availability = await CodexWeb().available(context(tmp_path, kit.FakeUpstream()))
    assert availability.ok is False
    assert "importing browser cookies comes later" in availability.reason


def test_cookie_prefix_is_stripped() -> None:
    assert cookie_value("  cookie: a=b; c=d ") == "a=b; c=d"


MATRIX = kit.ErrorMatrix(
    "codex", CodexWeb, key=COOKIE, env={"HOME": "/nonexistent-home"}, target=USAGE_URL, service="ChatGPT",
    timeout=4, options=options(), others=kit.reply_raw(404),
    changes={
        **{row: kit.Expect("auth_required", f"{REJECTED} (HTTP 401)")
           for row in ("401", "echoed-key", "echoed-key-masked", "echoed-key-upper-case", "echoed-key-truncated")},
        "403": kit.Expect("auth_required", f"{REJECTED} (HTTP 403)"),
        "500": kit.Expect("unavailable", "ChatGPT is unavailable (HTTP 500): <html><body>internal error</body></html>"),
        "503": kit.Expect("unavailable", 'ChatGPT is unavailable (HTTP 503): {"status": "down"}'),
        "html": kit.Expect("auth_required", LOGIN_PAGE),
    },
)


@pytest.mark.parametrize("row", MATRIX.params())
async def test_error_matrix(row: kit.Row, tmp_path: Path) -> None:
    await replace(MATRIX, env={"HOME": str(home_of(tmp_path))}).check(row)
