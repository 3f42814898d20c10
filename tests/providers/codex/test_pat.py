"""The `pat` strategy: a personal access token from auth.json → whoami → wham/usage."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from codexbard.errors import ProviderError
from codexbard.models import Identity
from codexbard.providers.codex.pat import CodexPat, pat_user_agent
from tests.helpers import fixture_bytes
from tests.providers import kit
from tests.providers.codex.support import USAGE_URL, WHOAMI_URL, auth_doc, context, home_of, write_auth

PAT = "pat-synthetic-0123456789abcdef"
WHOAMI = {"chatgpt_account_id": "acct-whoami", "chatgpt_plan_type": "pro", "email": "pat.user@example.org"}
REJECTED = "OpenAI rejected the Codex personal access token in auth.json; run `codex login`"


def usage_reply() -> kit.Responder:
    return kit.reply_raw(200, fixture_bytes(__file__, "usage_free_weekly_in_primary.json"))


async def test_happy_path_uses_whoami_workspace_and_identity(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", auth_doc(personalAccessToken=PAT))
    upstream = kit.FakeUpstream({WHOAMI_URL: kit.reply_json(WHOAMI), USAGE_URL: usage_reply()})
    ctx = context(tmp_path, upstream)
    availability = await CodexPat().available(ctx)
    assert (availability.ok, availability.reason) == (
        True, f"personal access token in {home_of(tmp_path) / '.codex' / 'auth.json'}")
    snap = await CodexPat().fetch(ctx)
    assert snap.identity == Identity(account_email="pat.user@example.org", login_method="Free")
    whoami, usage = upstream.requests
    assert whoami.headers["Authorization"] == usage.headers["Authorization"] == f"Bearer {PAT}"
    assert "ChatGPT-Account-Id" not in whoami.headers
    assert usage.headers["ChatGPT-Account-Id"] == "acct-whoami"
    assert usage.headers["originator"] == "codex_cli_rs"
    assert usage.headers["User-Agent"] == pat_user_agent()
    assert pat_user_agent().startswith("codex_cli_rs (")


async def test_without_a_pat_it_is_not_available(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", auth_doc())
    availability = await CodexPat().available(context(tmp_path, kit.FakeUpstream()))
    assert availability.ok is False


async def test_whoami_401_is_auth_required(tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", auth_doc(personal_access_token=PAT))
    upstream = kit.FakeUpstream({WHOAMI_URL: kit.reply_raw(401, b"{}")})
    ctx = context(tmp_path, upstream)
    with pytest.raises(ProviderError) as caught:
        await CodexPat().fetch(ctx)
    assert (caught.value.kind, caught.value.message) == ("auth_required", f"{REJECTED} (HTTP 401)")
    assert upstream.urls == [WHOAMI_URL]


MATRIX = kit.ErrorMatrix(
    "codex", CodexPat, key=PAT, env={}, target=USAGE_URL, service="ChatGPT", timeout=30,
    others=kit.reply_json(WHOAMI),
    changes={
        **{row: kit.Expect("auth_required", f"{REJECTED} (HTTP 401)")
           for row in ("401", "echoed-key", "echoed-key-masked", "echoed-key-upper-case", "echoed-key-truncated")},
        "403": kit.Expect("auth_required", f"{REJECTED} (HTTP 403)"),
        "500": kit.Expect("unavailable", "ChatGPT is unavailable (HTTP 500): <html><body>internal error</body></html>"),
        "503": kit.Expect("unavailable", 'ChatGPT is unavailable (HTTP 503): {"status": "down"}'),
    },
)


@pytest.mark.parametrize("row", MATRIX.params())
async def test_error_matrix(row: kit.Row, tmp_path: Path) -> None:
    write_auth(home_of(tmp_path) / ".codex", auth_doc(personal_access_token=PAT))
    await replace(MATRIX, env={"HOME": str(home_of(tmp_path)), "PATH": "", "TZ": "UTC"}).check(row)
