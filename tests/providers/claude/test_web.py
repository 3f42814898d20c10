"""The Claude web strategy (claude.ai sessionKey cookie) against a fake claude.ai: org choice, side calls,
session renewal, and the error matrix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codexbard.errors import AuthRequired, NotConfigured
from codexbard.models import Credits, Identity, ProviderCost
from codexbard.providers.claude.web import ClaudeWebStrategy, session_key
from tests.helpers import fixture_bytes, make_context
from tests.providers import kit

BASE = "https://claude.ai/api"
ORGS = f"{BASE}/organizations"
USAGE = f"{BASE}/organizations/org-synthetic-chat/usage"
OVERAGE = f"{BASE}/organizations/org-synthetic-chat/overage_spend_limit"
PREPAID = f"{BASE}/organizations/org-synthetic-chat/prepaid/credits"
ACCOUNT = f"{BASE}/account"
KEY = "sk-ant-sid01-WEBSESSION-0123456789abcdef"


def body(name: str) -> kit.Responder:
    return kit.reply_json(json.loads(fixture_bytes(__file__, name)))


def upstream(**changes: kit.Responder) -> kit.FakeUpstream:
    routes = {ORGS: body("web_orgs.json"), USAGE: body("web_usage.json"), OVERAGE: body("web_overage.json"),
              PREPAID: body("web_prepaid.json"), ACCOUNT: body("web_account.json")}
    names = {"orgs": ORGS, "usage": USAGE, "overage": OVERAGE, "prepaid": PREPAID, "account": ACCOUNT}
    routes.update({names[k]: v for k, v in changes.items()})
    return kit.FakeUpstream(routes)


async def fetch(up: kit.FakeUpstream, cookie: str = f"sessionKey={KEY}", **options: object):  # type: ignore[no-untyped-def]
    strategy = ClaudeWebStrategy()
    ctx = make_context("claude", up, options={"cookie_header": cookie, **options})
    availability = await strategy.available(ctx)
    assert availability.ok, availability.reason
    return await strategy.fetch(ctx)


async def test_happy_path_exact_values_and_only_the_session_cookie_is_sent() -> None:
    up = upstream()
    snapshot = await fetch(up, f"Cookie: other=1; sessionKey={KEY}; more=2")
    assert up.urls == [ORGS, USAGE, PREPAID, ACCOUNT]  # the usage answer carried extra_usage: no overage call
    assert {r.headers["cookie"] for r in up.requests} == {f"sessionKey={KEY}"}
    assert snapshot.primary is not None and (snapshot.primary.used_percent, snapshot.primary.window_minutes) == (
        8.0, 300)
    assert snapshot.secondary is not None and snapshot.secondary.used_percent == 33.0
    assert snapshot.tertiary is not None and snapshot.tertiary.used_percent == 4.0
    assert snapshot.provider_cost == ProviderCost(used=1.5, limit=20.0, currency_code="USD", period="Monthly cap",
                                                  balance=75.0)
    assert snapshot.credits == Credits(remaining=75.0, unit="USD")
    assert snapshot.identity == Identity(account_email="jordan.lee@example.net",
                                         account_organization="Jordan's Workspace", login_method="Claude Max 20x")


async def test_five_hour_null_gives_no_session_and_uses_the_spend_limit() -> None:
    up = upstream(usage=body("web_usage_five_hour_null.json"))
    snapshot = await fetch(up, KEY)  # a bare key is normalised to sessionKey=<key>
    assert snapshot.primary is None
    assert snapshot.provider_cost is not None and (snapshot.provider_cost.used, snapshot.provider_cost.limit) == (
        24.5, 100.0)
    assert up.urls == [ORGS, USAGE, OVERAGE, PREPAID, ACCOUNT]


async def test_renewed_session_key_is_used_for_the_remaining_requests() -> None:
    renewed = "sk-ant-sid01-RENEWED-abcdef"
    orgs = json.loads(fixture_bytes(__file__, "web_orgs.json"))
    up = upstream(orgs=kit.reply_json(orgs, headers={"set-cookie": f"sessionKey={renewed}; Path=/; HttpOnly"}))
    await fetch(up)
    assert [r.headers["cookie"] for r in up.requests] == [f"sessionKey={KEY}"] + [f"sessionKey={renewed}"] * 3


async def test_configured_organization_must_exist() -> None:
    with pytest.raises(NotConfigured):
        await fetch(upstream(), organization_id="org-missing")


async def test_side_calls_failing_do_not_fail_the_fetch() -> None:
    up = upstream(prepaid=kit.reply_raw(500), account=kit.reply_raw(403))
    snapshot = await fetch(up)
    assert snapshot.credits is None and snapshot.identity == Identity(account_organization="Jordan's Workspace")


def test_session_key_normalisation() -> None:
    assert session_key("Cookie: a=b; sessionKey=sk-ant-x") == "sk-ant-x"
    assert session_key("sk-ant-bare") == "sk-ant-bare"
    assert session_key("a=b") is None


async def test_no_cookie_is_not_configured_and_a_bad_one_is_auth_required() -> None:
    strategy = ClaudeWebStrategy()
    ctx = make_context("claude", kit.FakeUpstream())
    assert (await strategy.available(ctx)).ok is False
    up = kit.FakeUpstream()
    with pytest.raises(AuthRequired):
        await fetch(up, "sessionKey=not-a-claude-key")
    assert up.requests == []


MATRIX = kit.ErrorMatrix(
    "claude", ClaudeWebStrategy, key=KEY, env={}, target=ORGS, service="claude.ai", timeout=15,
    options={"cookie_header": f"sessionKey={KEY}"},
    changes={
        "401": kit.Expect("auth_required", "claude.ai rejected the session cookie (HTTP 401); log in to claude.ai "
                          "again"),
        "403": kit.Expect("auth_required", "claude.ai rejected the session cookie (HTTP 403); log in to claude.ai "
                          "again"),
        "429-seconds": kit.Expect("unavailable", "claude.ai error: HTTP 429"),
        "429-http-date": kit.Expect("unavailable", "claude.ai error: HTTP 429"),
        "500": kit.Expect("unavailable", "claude.ai error: HTTP 500"),
        "502": kit.Expect("unavailable", "claude.ai error: HTTP 502"),
        "503": kit.Expect("unavailable", "claude.ai error: HTTP 503"),
        **{row: kit.Expect("auth_required", "claude.ai rejected the session cookie (HTTP 401); log in to "
                           "claude.ai again") for row in ("echoed-key", "echoed-key-masked", "echoed-key-upper-case",
                                                          "echoed-key-truncated")},
    },
)


@pytest.mark.parametrize("row", MATRIX.params())
async def test_error_matrix(row: kit.Row) -> None:
    if row.id.startswith("429"):
        error = await _check_without_retry_after(row)
        assert error.retry_after is None
        return
    await MATRIX.check(row)


async def _check_without_retry_after(row: kit.Row):  # type: ignore[no-untyped-def]
    """claude.ai's 429 is not the usage endpoint's: an `unavailable` without a Retry-After."""
    with pytest.raises(Exception) as caught:
        await MATRIX.fetch(row.reply(KEY))
    error = caught.value
    assert (error.kind, error.message) == (row.expect.kind, row.expect.message)
    return error


def test_docs_name_the_cookie_setting() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "providers" / "claude.md").read_text()
    assert "cookie_header" in text
