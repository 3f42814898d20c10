"""OpenRouter API strategy against a fake upstream (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from codexbard.errors import ProviderError
from codexbard.models import Credits, Identity, ProviderCost, RateWindow, UsageSnapshot
from codexbard.providers.base import FetchContext
from codexbard.providers.openrouter.api import OpenRouterApi
from tests.helpers import fixture_bytes, make_context
from tests.providers import kit

KEY = "sk-or-v1-0123456789abcdefTESTKEY"
CREDITS_URL = "https://openrouter.ai/api/v1/credits"
KEY_URL = "https://openrouter.ai/api/v1/key"

Reply = Callable[[httpx.Request], Awaitable[httpx.Response]]


def fixture(name: str, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    async def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=fixture_bytes(__file__, name), headers=headers)

    return reply


def raw(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
    async def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers=headers)

    return reply


def fail(exc_type: type[httpx.TransportError]) -> Reply:
    async def reply(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return reply


def delayed(seconds: float, inner: Reply) -> Reply:
    async def reply(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(seconds)
        return await inner(request)

    return reply


class Upstream:
    """A fake OpenRouter: one reply per endpoint, every request recorded."""

    def __init__(self, credits: Reply | None = None, key: Reply | None = None) -> None:
        self.credits = credits or fixture("credits_ok.json")
        self.key = key or fixture("key_full.json")
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path.endswith("/credits"):
            return await self.credits(request)
        if request.url.path.endswith("/key"):
            return await self.key(request)
        return httpx.Response(404)

    def request_to(self, suffix: str) -> httpx.Request:
        matches = [r for r in self.requests if r.url.path.endswith(suffix)]
        assert len(matches) == 1
        return matches[0]


def context(upstream: Upstream, env: dict[str, str] | None = None, **kwargs: Any) -> FetchContext:
    environment = {"OPENROUTER_API_KEY": KEY, **(env or {})}
    return make_context("openrouter", upstream, env=environment, **kwargs)


async def fetch_full(upstream: Upstream, env: dict[str, str] | None = None, **kwargs: Any) -> UsageSnapshot:
    return await OpenRouterApi().fetch(context(upstream, env, **kwargs))


def windows_and_credits(snapshot: UsageSnapshot) -> UsageSnapshot:
    """The snapshot without its detail sections and openRouterUsage block (tested on their own below)."""
    return snapshot.model_copy(update={"details": [], "open_router_usage": None})


async def fetch(upstream: Upstream, env: dict[str, str] | None = None, **kwargs: Any) -> UsageSnapshot:
    return windows_and_credits(await fetch_full(upstream, env, **kwargs))


async def fetch_error(upstream: Upstream, env: dict[str, str] | None = None, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await fetch(upstream, env, **kwargs)
    return caught.value


FULL_SNAPSHOT = UsageSnapshot(
    primary=RateWindow(used_percent=37.5, label="Credits"),
    provider_cost=ProviderCost(used=37.5, limit=100.0, currency_code="USD", period="monthly",
                               balance=250.0 - 87.35),
    credits=Credits(remaining=250.0 - 87.35, total=250.0, unit="USD"),
    identity=Identity(login_method="Balance: $162.65"),
)
CREDITS_ONLY = UsageSnapshot(
    credits=Credits(remaining=250.0 - 87.35, total=250.0, unit="USD"),
    identity=Identity(login_method="Balance: $162.65"),
)


# --- happy path -------------------------------------------------------------------------------------


async def test_happy_path_requests_and_snapshot() -> None:
    upstream = Upstream()
    snapshot = await fetch(upstream)
    assert snapshot == FULL_SNAPSHOT

    credits = upstream.request_to("/credits")
    assert credits.method == "GET"
    assert str(credits.url) == CREDITS_URL
    assert credits.headers["Authorization"] == f"Bearer {KEY}"
    assert credits.headers["Accept"] == "application/json"
    assert credits.headers["X-Title"] == "codexbard"
    assert "HTTP-Referer" not in credits.headers

    key = upstream.request_to("/key")
    assert key.method == "GET"
    assert str(key.url) == KEY_URL
    assert key.headers["Authorization"] == f"Bearer {KEY}"
    assert key.headers["Accept"] == "application/json"
    assert "X-Title" not in key.headers
    assert "HTTP-Referer" not in key.headers
    assert len(upstream.requests) == 2  # no activity requests: that extra is not implemented


async def test_title_and_referer_from_env_go_to_credits_only() -> None:
    upstream = Upstream()
    env = {"OPENROUTER_X_TITLE": "  My Dashboard ", "OPENROUTER_HTTP_REFERER": "https://example.org/app"}
    assert await fetch(upstream, env) == FULL_SNAPSHOT
    credits = upstream.request_to("/credits")
    assert credits.headers["X-Title"] == "My Dashboard"
    assert credits.headers["HTTP-Referer"] == "https://example.org/app"
    key = upstream.request_to("/key")
    assert "X-Title" not in key.headers
    assert "HTTP-Referer" not in key.headers


async def test_blank_title_falls_back_to_app_name() -> None:
    upstream = Upstream()
    await fetch(upstream, {"OPENROUTER_X_TITLE": "   ", "OPENROUTER_HTTP_REFERER": ""})
    credits = upstream.request_to("/credits")
    assert credits.headers["X-Title"] == "codexbard"
    assert "HTTP-Referer" not in credits.headers


@pytest.mark.parametrize(
    ("name", "value"), [("OPENROUTER_X_TITLE", "Bard\r\nX-Evil: 1"), ("OPENROUTER_HTTP_REFERER", "https://é.example")]
)
async def test_unsendable_header_values_are_not_configured(name: str, value: str) -> None:
    upstream = Upstream()
    error = await fetch_error(upstream, {name: value})
    assert error.kind == "not_configured"
    assert name in error.message
    assert upstream.requests == []


async def test_key_from_secret_store() -> None:
    upstream = Upstream()
    ctx = make_context("openrouter", upstream, secrets={"openrouter:api_key": f' "{KEY}" '})
    assert windows_and_credits(await OpenRouterApi().fetch(ctx)) == FULL_SNAPSHOT
    assert upstream.request_to("/credits").headers["Authorization"] == f"Bearer {KEY}"


async def test_key_from_config_api_key() -> None:
    upstream = Upstream()
    ctx = make_context("openrouter", upstream, options={"api_key": KEY})
    assert windows_and_credits(await OpenRouterApi().fetch(ctx)) == FULL_SNAPSHOT


async def test_env_key_wins_over_config() -> None:
    upstream = Upstream()
    env = {"OPENROUTER_API_KEY": KEY}
    ctx = make_context("openrouter", upstream, env=env, options={"api_key": "sk-or-v1-config"})
    await OpenRouterApi().fetch(ctx)
    assert upstream.request_to("/credits").headers["Authorization"] == f"Bearer {KEY}"


async def test_fetch_without_key_is_not_configured() -> None:
    upstream = Upstream()
    ctx = make_context("openrouter", upstream)
    with pytest.raises(ProviderError) as caught:
        await OpenRouterApi().fetch(ctx)
    assert caught.value.kind == "not_configured"
    assert "OPENROUTER_API_KEY" in caught.value.message
    assert upstream.requests == []


async def test_upstream_overrides_redirect_both_requests() -> None:
    upstream = Upstream()
    overrides = {"https://openrouter.ai": "http://127.0.0.1:9/fake-openrouter"}
    assert await fetch(upstream, overrides=overrides) == FULL_SNAPSHOT
    assert str(upstream.request_to("/credits").url) == "http://127.0.0.1:9/fake-openrouter/api/v1/credits"
    assert str(upstream.request_to("/key").url) == "http://127.0.0.1:9/fake-openrouter/api/v1/key"


# --- OPENROUTER_API_URL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "base"),
    [
        ("router.example.com/api/v1/", "https://router.example.com/api/v1"),
        ("https://router.example.com:8443/v1//", "https://router.example.com:8443/v1"),
        ("  https://router.example.com/api/v1  ", "https://router.example.com/api/v1"),
        ("", "https://openrouter.ai/api/v1"),
    ],
)
async def test_api_url_override(value: str, base: str) -> None:
    upstream = Upstream()
    assert await fetch(upstream, {"OPENROUTER_API_URL": value}) == FULL_SNAPSHOT
    assert str(upstream.request_to("/credits").url) == base + "/credits"
    assert str(upstream.request_to("/key").url) == base + "/key"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("http://router.example.com/api/v1", "must be an https:// URL or a bare host name"),
        ("https://user:hunter2@router.example.com/api/v1", "must not carry a user name or password"),
        ("hunter2@router.example.com", "must not carry a user name or password"),
        ("ftp://router.example.com", "must be an https:// URL or a bare host name"),
        ("https://", "has no host name"),
        ("router.example.com:99999", "has an invalid port"),
        ("https://router.example.com/api?key=hunter2", "is a base URL and must not have a ?query"),
        ("https://router.example.com/a b", "contains whitespace or control characters"),
        ("https://router.example.com/api#hunter2", "must not have a #fragment"),
        ("https://router.example.com%2f@x/api", "must not carry a user name or password"),
        ("https://router.example.com%2fapi", "has percent-encoded or backslash characters"),
    ],
)
async def test_invalid_api_url_fails_before_any_request(value: str, reason: str) -> None:
    # The validator shared with z.ai (host.http.validate_endpoint): one set of rules, one phrasing.
    upstream = Upstream()
    error = await fetch_error(upstream, {"OPENROUTER_API_URL": value})
    assert error.kind == "not_configured"
    assert error.message.startswith(f"OPENROUTER_API_URL {reason}")
    assert error.message.endswith("(for a local test server use [upstream_overrides] instead)")
    assert "hunter2" not in error.message
    assert upstream.requests == []


# --- /credits failures are hard ---------------------------------------------------------------------


MATRIX = kit.ErrorMatrix(
    "openrouter", OpenRouterApi, key=KEY, env={"OPENROUTER_API_KEY": KEY}, target=CREDITS_URL,
    service="OpenRouter", timeout=15, others=kit.reply_fixture(__file__, "key_full.json"),
)


@pytest.mark.parametrize("row", MATRIX.params())
async def test_credits_error_matrix(row: kit.Row) -> None:
    # OpenRouter keeps the host's phrasing for every row: bodies are never quoted.
    await MATRIX.check(row)


async def test_credits_404() -> None:
    error = await fetch_error(Upstream(credits=raw(404, b"not here")))
    assert error.kind == "unavailable"
    assert "HTTP 404" in error.message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("credits_html.html", "HTML instead of JSON"),
        ("credits_truncated.json", "invalid JSON"),
        ("credits_root_array.json", "not an object"),
        ("credits_string_number.json", "`data.total_credits` is not a finite number"),  # sheet edge case 6
        ("credits_data_null.json", "no `data` object"),
    ],
)
async def test_credits_bad_bodies_are_parse_errors(name: str, message: str) -> None:
    error = await fetch_error(Upstream(credits=fixture(name)))
    assert error.kind == "parse_error"
    assert message in error.message


async def test_credits_empty_body() -> None:
    error = await fetch_error(Upstream(credits=raw(200, b"")))
    assert error.kind == "parse_error"
    assert "empty body" in error.message


# --- /key failures are soft -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        raw(500, b"oops"),  # sheet edge case 5
        raw(401, b"no"),
        raw(403, b"no"),
        raw(429, b"", {"Retry-After": "30"}),
        raw(404, b""),
        fail(httpx.ConnectError),
        fail(httpx.ReadTimeout),
        fixture("credits_html.html"),
        fixture("credits_truncated.json"),
        fixture("key_limit_string.json"),
        fixture("key_rate_limit_string_requests.json"),
        fixture("key_data_null.json"),
        fixture("key_root_array.json"),
        raw(200, b""),
    ],
    ids=[
        "500", "401", "403", "429", "404", "connect", "timeout", "html", "truncated", "limit-string",
        "rate-limit-string", "data-null", "root-array", "empty",
    ],
)
async def test_key_failure_keeps_credits_result(reply: Reply) -> None:
    assert await fetch(Upstream(key=reply)) == CREDITS_ONLY


async def test_key_without_cap_keeps_balance() -> None:
    # Sheet edge case 4: no cap -> no primary, balance still reported.
    assert await fetch(Upstream(key=fixture("key_no_cap.json"))) == CREDITS_ONLY


async def test_key_stall_is_cut_after_one_second() -> None:
    started = time.monotonic()
    snapshot = await fetch(Upstream(key=delayed(1.5, fixture("key_full.json"))))
    elapsed = time.monotonic() - started
    assert snapshot == CREDITS_ONLY
    assert 0.9 <= elapsed < 1.45


async def test_key_budget_follows_the_poll_deadline() -> None:
    upstream = Upstream(key=delayed(1.5, fixture("key_full.json")))
    ctx = context(upstream)
    ctx.deadline = time.monotonic() + 0.3
    started = time.monotonic()
    snapshot = await OpenRouterApi().fetch(ctx)
    assert windows_and_credits(snapshot) == CREDITS_ONLY
    assert time.monotonic() - started < 0.8


async def test_credits_and_key_run_concurrently() -> None:
    upstream = Upstream(
        credits=delayed(0.4, fixture("credits_ok.json")), key=delayed(0.4, fixture("key_full.json"))
    )
    started = time.monotonic()
    assert await fetch(upstream) == FULL_SNAPSHOT
    assert time.monotonic() - started < 0.75


async def test_credits_failure_cancels_pending_key_request() -> None:
    upstream = Upstream(credits=raw(500), key=delayed(1.5, fixture("key_full.json")))
    started = time.monotonic()
    error = await fetch_error(upstream)
    assert error.kind == "unavailable"
    assert time.monotonic() - started < 0.5
    leftovers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert leftovers == []


# --- detail sections and openRouterUsage ------------------------------------------------------------


async def test_details_and_open_router_usage_of_a_full_fetch() -> None:
    wire = (await fetch_full(Upstream())).wire()
    assert wire["details"] == [
        {"title": "Credits", "chart": None, "rows": [
            {"label": "Remaining", "value": "$162.65", "secondaryValue": None},
            {"label": "Used", "value": "$87.35", "secondaryValue": None},
            {"label": "Total added", "value": "$250.00", "secondaryValue": None},
        ]},
        {"title": "API key", "rows": [
            {"label": "API key budget", "value": "$100.00", "secondaryValue": None},
            {"label": "API key remaining", "value": "$62.50", "secondaryValue": None},
            {"label": "API key used", "value": "$310.20", "secondaryValue": None},
            {"label": "Reset window", "value": "monthly", "secondaryValue": None},
            {"label": "Today", "value": "$1.75", "secondaryValue": None},
            {"label": "This week", "value": "$9.90", "secondaryValue": None},
            {"label": "This month", "value": "$37.50", "secondaryValue": None},
            {"label": "Rate limit", "value": "60 requests / 10s", "secondaryValue": None},
        ], "chart": {"kind": "bars", "title": "Key spend", "unit": "USD", "points": [
            {"label": "Today", "value": 1.75}, {"label": "This week", "value": 9.9},
            {"label": "This month", "value": 37.5}]}},
    ]
    assert wire["openRouterUsage"] == {
        "totalCredits": 250.0, "totalUsage": 87.35, "balance": 162.65, "usedPercent": 34.94,
        "keyDataFetched": True, "keyLimit": 100.0, "keyLimitRemaining": 62.5, "keyLimitReset": "monthly",
        "keyUsage": 310.2, "keyUsageDaily": 1.75, "keyUsageWeekly": 9.9, "keyUsageMonthly": 37.5,
        "rateLimit": {"requests": 60, "interval": "10s"}, "updatedAt": None,
    }


async def test_a_failed_key_request_says_why_in_the_details() -> None:
    snapshot = await fetch_full(Upstream(key=fixture("key_full.json", status=500)))
    assert snapshot.details[1].wire() == {"title": "API key", "chart": None, "rows": [
        {"label": "API key budget", "value": "Unavailable right now", "secondaryValue": "Request returned HTTP 500"},
    ]}
    assert snapshot.open_router_usage is not None
    assert snapshot.open_router_usage.key_data_fetched is False
    assert snapshot.open_router_usage.key_limit is None


async def test_a_key_without_cap_says_so() -> None:
    snapshot = await fetch_full(Upstream(key=fixture("key_no_cap.json")))
    assert snapshot.details[1].rows[0].wire() == {"label": "API key budget", "value": "No limit configured",
                                                  "secondaryValue": None}
