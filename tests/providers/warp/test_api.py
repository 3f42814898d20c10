"""Warp API strategy against a fake GraphQL upstream (httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from codexbard.errors import ProviderError
from codexbard.models import Credits, RateWindow, UsageSnapshot
from codexbard.providers.base import FetchContext
from codexbard.providers.warp.api import WarpApi
from codexbard.providers.warp.const import QUERY
from tests.helpers import fixture_bytes, json_response, make_context
from tests.providers import kit

KEY = "wk-1TESTkey0123456789abcdef"
URL = "https://app.warp.dev/graphql/v2?op=GetRequestLimitInfo"

Reply = Callable[[httpx.Request], httpx.Response]

EXPECTED_BODY = {
    "operationName": "GetRequestLimitInfo",
    "variables": {
        "requestContext": {
            "clientContext": {},
            "osContext": {"category": "macOS", "name": "macOS", "version": "14.5.0"},
        }
    },
    "query": QUERY,
}

OK_SNAPSHOT = UsageSnapshot(
    primary=RateWindow(
        used_percent=25.6,
        resets_at=datetime(2026, 4, 2, 8, 30, 15, 123456, tzinfo=UTC),
        reset_description="640/2500 credits",
        label="Credits",
    ),
    secondary=RateWindow(
        used_percent=40.0,
        reset_description="40 credits expires on 2026-04-10 00:00 UTC",
        label="Add-on credits",
    ),
    credits=Credits(remaining=1860.0, total=2500.0, unit="credits"),
)


def fixture(name: str, status: int = 200) -> Reply:
    return lambda request: httpx.Response(status, content=fixture_bytes(__file__, name))


def raw(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Reply:
    return lambda request: httpx.Response(status, content=body, headers=headers)


def fail(exc_type: type[httpx.TransportError]) -> Reply:
    def reply(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom", request=request)

    return reply


class FakeWarp:
    """A fake Warp edge: 429 `Rate exceeded.` without Warp's User-Agent, then the GraphQL reply."""

    def __init__(self, reply: Reply | None = None, key: str = KEY) -> None:
        self.reply = reply or fixture("ok.json")
        self.key = key
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("User-Agent") != "Warp/1.0":
            return httpx.Response(429, content=b"Rate exceeded.")
        assert request.headers["Authorization"] == f"Bearer {self.key}"
        assert json.loads(request.content)["operationName"] == "GetRequestLimitInfo"
        return self.reply(request)


def context(upstream: FakeWarp, env: dict[str, str] | None = None, **kwargs: Any) -> FetchContext:
    return make_context("warp", upstream, env={"WARP_API_KEY": KEY} if env is None else env, **kwargs)


async def fetch(upstream: FakeWarp, env: dict[str, str] | None = None, **kwargs: Any) -> UsageSnapshot:
    return await WarpApi().fetch(context(upstream, env, **kwargs))


async def fetch_error(upstream: FakeWarp, env: dict[str, str] | None = None, **kwargs: Any) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await fetch(upstream, env, **kwargs)
    return caught.value


# --- happy path -------------------------------------------------------------------------------------


async def test_happy_path_request_and_snapshot() -> None:
    upstream = FakeWarp()
    assert await fetch(upstream) == OK_SNAPSHOT
    assert len(upstream.requests) == 1
    request = upstream.requests[0]
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.url.params["op"] == "GetRequestLimitInfo"
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Accept"] == "application/json"
    assert headers["Authorization"] == f"Bearer {KEY}"
    assert headers["User-Agent"] == "Warp/1.0"
    assert headers.get_list("User-Agent") == ["Warp/1.0"]  # replaces codexbard's default, not added
    assert headers["x-warp-client-id"] == "warp-app"
    assert headers["x-warp-os-category"] == "macOS"
    assert headers["x-warp-os-name"] == "macOS"
    assert headers["x-warp-os-version"] == "14.5.0"
    assert json.loads(request.content) == EXPECTED_BODY


def test_query_is_the_sheet_query() -> None:
    # Whitespace is insignificant to GraphQL; the tokens must match the sheet's query exactly.
    expected = """query GetRequestLimitInfo($requestContext: RequestContext!) { user(requestContext:
    $requestContext) { __typename ... on UserOutput { user { requestLimitInfo { isUnlimited nextRefreshTime
    requestLimit requestsUsedSinceLastRefresh } bonusGrants { requestCreditsGranted requestCreditsRemaining
    expiration } workspaces { bonusGrantsInfo { grants { requestCreditsGranted requestCreditsRemaining
    expiration } } } } } } }"""
    assert QUERY.split() == expected.split()


async def test_warp_token_is_used_when_api_key_is_absent() -> None:
    upstream = FakeWarp(key="wk-from-token-var")
    assert await fetch(upstream, {"WARP_TOKEN": " 'wk-from-token-var' "}) == OK_SNAPSHOT


async def test_warp_api_key_wins_over_warp_token() -> None:
    upstream = FakeWarp()
    assert await fetch(upstream, {"WARP_API_KEY": KEY, "WARP_TOKEN": "wk-other"}) == OK_SNAPSHOT


async def test_empty_api_key_falls_through_to_token() -> None:
    upstream = FakeWarp(key="wk-token-only")
    assert await fetch(upstream, {"WARP_API_KEY": '  ""  ', "WARP_TOKEN": "wk-token-only"}) == OK_SNAPSHOT


async def test_key_from_secret_store_and_config() -> None:
    upstream = FakeWarp()
    assert await fetch(upstream, {}, secrets={"warp:api_key": KEY}) == OK_SNAPSHOT
    assert await fetch(upstream, {}, options={"api_key": KEY}) == OK_SNAPSHOT


async def test_env_wins_over_secret_store_and_config() -> None:
    upstream = FakeWarp()
    secrets = {"warp:api_key": "wk-store"}
    await fetch(upstream, {"WARP_API_KEY": KEY}, secrets=secrets, options={"api_key": "wk-cfg"})
    assert upstream.requests[0].headers["Authorization"] == f"Bearer {KEY}"


async def test_no_key_is_not_configured() -> None:
    upstream = FakeWarp()
    error = await fetch_error(upstream, {})
    assert error.kind == "not_configured"
    assert "Warp API key not found" in error.message
    assert "env WARP_API_KEY" in error.message
    assert "env WARP_TOKEN" in error.message
    assert upstream.requests == []


async def test_upstream_overrides() -> None:
    upstream = FakeWarp()
    overrides = {"https://app.warp.dev": "http://127.0.0.1:9/fake-warp"}
    assert await fetch(upstream, overrides=overrides) == OK_SNAPSHOT
    assert str(upstream.requests[0].url) == "http://127.0.0.1:9/fake-warp/graphql/v2?op=GetRequestLimitInfo"


def test_fake_rejects_wrong_user_agent() -> None:
    # The fake's own guard, so the happy path above really proves the UA header.
    upstream = FakeWarp()
    response = upstream(httpx.Request("POST", URL, headers={"User-Agent": "codexbard/0.1"}))
    assert response.status_code == 429
    assert response.content == b"Rate exceeded."


# --- HTTP failures ----------------------------------------------------------------------------------


# The sheet: every status quotes a summary of the body, scrubbed of the key.
MATRIX = kit.ErrorMatrix(
    "warp", WarpApi, key=KEY, env={"WARP_API_KEY": KEY}, target="https://app.warp.dev/graphql/v2",
    service="Warp", timeout=15,
    changes={
        "401": kit.Expect("auth_required", "Warp API error (401): invalid credentials"),
        "403": kit.Expect("auth_required", "Warp API error (403): forbidden"),
        "429-seconds": kit.Row("429-seconds", lambda key: kit.reply_raw(429, b"Rate exceeded.", {"Retry-After": "45"}),
                               kit.Expect("rate_limited", "Warp API error (429): Rate exceeded.", 45.0)),
        "429-http-date": kit.Expect("rate_limited", "Warp API error (429): Unexpected response body (0 bytes).", 90.0),
        "500": kit.Expect("unavailable", "Warp API error (500): <html><body>internal error</body></html>"),
        "502": kit.Expect("unavailable", "Warp API error (502): Unexpected response body (0 bytes)."),
        "503": kit.Expect("unavailable", "Warp API error (503): HTTP 503 (18 bytes)."),
        "echoed-key": kit.Expect("auth_required", "Warp API error (401): invalid api key ***"),
        "echoed-key-masked": kit.Expect("auth_required", "Warp API error (401): invalid api key ***"),
        "echoed-key-upper-case": kit.Expect("auth_required", "Warp API error (401): invalid api key ***"),
        "echoed-key-truncated": kit.Expect("auth_required", "Warp API error (401): invalid api key ***"),
    },
)


@pytest.mark.parametrize("row", MATRIX.params())
async def test_error_matrix(row: kit.Row) -> None:
    await MATRIX.check(row)


async def test_401_echoing_a_key_of_unknown_shape_never_leaks_it() -> None:
    secret = "plainsecretvalue42"
    upstream = FakeWarp(raw(401, f"key {secret} is not valid".encode()), key=secret)
    error = await fetch_error(upstream, {"WARP_API_KEY": secret})
    assert error.kind == "auth_required"
    assert secret not in error.message
    assert error.message == "Warp API error (401): key *** is not valid"


async def test_403_with_message_field() -> None:
    error = await fetch_error(FakeWarp(raw(403, b'{"message": "Forbidden"}')))
    assert error.kind == "auth_required"
    assert error.message == "Warp API error (403): Forbidden"


async def test_429_without_retry_after() -> None:
    error = await fetch_error(FakeWarp(raw(429, b"Rate exceeded.")))
    assert error.kind == "rate_limited"
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (400, b'{"errors": [{"message": "Bad request"}]}', "Warp API error (400): Bad request"),
        (404, b"not found", "Warp API error (404): not found"),
    ],
)
async def test_other_statuses_are_unavailable(status: int, body: bytes, message: str) -> None:
    error = await fetch_error(FakeWarp(raw(status, body)))
    assert error.kind == "unavailable"
    assert error.message == message


# --- HTTP 200 bodies --------------------------------------------------------------------------------


async def test_graphql_unauthenticated_with_200() -> None:
    error = await fetch_error(FakeWarp(fixture("graphql_unauthenticated.json")))
    assert error.kind == "auth_required"
    assert error.message == "Warp API error (200): Unauthenticated"


async def test_graphql_error_echoing_key_is_scrubbed() -> None:
    reply = raw(200, json.dumps({"errors": [{"message": f"Unauthorized key {KEY}"}]}).encode())
    error = await fetch_error(FakeWarp(reply))
    assert error.kind == "auth_required"
    assert KEY not in error.message


async def test_graphql_other_errors_are_unavailable() -> None:
    error = await fetch_error(FakeWarp(fixture("graphql_errors_many.json")))
    assert error.kind == "unavailable"
    assert error.message == "Warp API error (200): Internal failure | Try again later | Third problem"


async def test_wrong_typename_is_auth_required() -> None:
    error = await fetch_error(FakeWarp(fixture("wrong_typename.json")))
    assert error.kind == "auth_required"
    assert "Unexpected user type 'UserFacingError'" in error.message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("html.html", "Warp answered with HTML instead of JSON"),
        ("truncated.json", "Warp answered with invalid JSON"),
        ("root_array.json", "Warp: Root JSON is not an object."),
        ("missing_user.json", "Warp response has no `data.user` object"),
        ("useroutput_no_info.json", "Unable to extract requestLimitInfo"),
    ],
)
async def test_unreadable_200_bodies_are_parse_errors(name: str, message: str) -> None:
    error = await fetch_error(FakeWarp(fixture(name)))
    assert error.kind == "parse_error"
    assert message in error.message


async def test_empty_200_body() -> None:
    error = await fetch_error(FakeWarp(raw(200, b"")))
    assert error.kind == "parse_error"
    assert "empty body" in error.message


async def test_unlimited_plan_end_to_end() -> None:
    snapshot = await fetch(FakeWarp(lambda request: json_response(
        {"data": {"user": {"__typename": "UserOutput", "user": {"requestLimitInfo": {
            "isUnlimited": True, "nextRefreshTime": "2026-12-01T00:00:00Z"}}}}}
    )))
    assert snapshot == UsageSnapshot(
        primary=RateWindow(used_percent=0.0, reset_description="Unlimited", label="Credits")
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"error": "invalid api key wk-1TEST\xe2\x80\xa6abcdef****"}', "Warp API error (401): invalid api key ***"),
        (json.dumps({"errors": [{"message": f"bad key {KEY.lower()}"}]}).encode(),
         "Warp API error (401): bad key ***"),
        (f"key {KEY[3:15]} refused".encode(), "Warp API error (401): key *** refused"),
    ],
    ids=["masked", "lower-case", "fragment"],
)
async def test_partly_echoed_key_never_reaches_the_message(body: bytes, expected: str) -> None:
    error = await fetch_error(FakeWarp(raw(401, body)))
    assert error.message == expected
