"""The Kimi K2 API-key strategy against a fake upstream."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from codexbard.errors import (
    AuthRequired,
    NotConfigured,
    ParseError,
    RateLimited,
    Timeout,
    Unavailable,
)
from codexbard.providers.kimik2.api import KimiK2ApiStrategy
from tests.helpers import fixture_bytes, json_response, make_context

KEY = "k2-test-secret-0123456789"
URL = "https://kimi-k2.ai/api/user/credits"


def fixture_response(name: str, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=fixture_bytes(__file__, name), headers=headers or {})


async def test_happy_path_request_and_snapshot() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return fixture_response("nested_data_usage.json", headers={"content-type": "application/json"})

    ctx = make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY})
    snap = await KimiK2ApiStrategy().fetch(ctx)

    assert len(seen) == 1
    request = seen[0]
    assert request.method == "GET"
    assert str(request.url) == URL
    assert request.url.query == b""
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Accept"] == "application/json"
    assert request.content == b""
    assert snap.credits is not None
    assert snap.credits.remaining == 160.0
    assert snap.credits.total == 500.0
    assert snap.identity is not None
    assert snap.identity.login_method == "Credits: 160 left"
    assert snap.updated_at == datetime(2026, 3, 4, 9, 15, tzinfo=UTC)
    assert snap.primary is None and snap.secondary is None and snap.tertiary is None


async def test_padded_key_is_sent_trimmed() -> None:
    auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers["Authorization"])
        return json_response({"credits_remaining": 1})

    ctx = make_context("kimik2", handler, env={"KIMI_K2_API_KEY": "  key\n"})
    await KimiK2ApiStrategy().fetch(ctx)
    assert auth == ["Bearer key"]


async def test_quoted_key_is_unquoted() -> None:
    auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers["Authorization"])
        return json_response({"credits_remaining": 1})

    ctx = make_context("kimik2", handler, env={"KIMI_K2_API_KEY": " ' quoted-key ' "})
    await KimiK2ApiStrategy().fetch(ctx)
    assert auth == ["Bearer quoted-key"]


async def test_header_fallback_for_remaining() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response({"total_credits_consumed": 75}, headers={"X-Credits-Remaining": "25"})

    snap = await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert snap.credits is not None
    assert snap.credits.remaining == 25.0
    assert snap.credits.total == 100.0
    assert snap.identity is not None
    assert snap.identity.login_method == "Credits: 25 left"


async def test_infinity_body_and_minus_infinity_header_give_zero() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response({"credits_remaining": "Infinity"}, headers={"x-credits-remaining": "-Infinity"})

    snap = await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert snap.credits is not None
    assert snap.credits.remaining == 0.0
    assert snap.credits.total == 0.0


@pytest.mark.parametrize("stamp", ["0", "NaN", "-1"])
async def test_ignored_timestamps_leave_updated_at_to_the_caller(stamp: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response({"credits_remaining": 5, "timestamp": stamp})

    snap = await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert snap.updated_at is None


async def test_401_is_auth_required_with_reference_message() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response({"error": f"bad key {KEY}"}, status=401)

    with pytest.raises(AuthRequired) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert info.value.message == "Kimi K2 API key is invalid or expired."
    assert info.value.kind == "auth_required"


async def test_403_is_auth_required_with_scrubbed_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text=f"forbidden for key {KEY}")

    with pytest.raises(AuthRequired) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert info.value.message == "Kimi K2 API error (HTTP 403): forbidden for key ***"
    assert KEY not in str(info.value)


async def test_429_retry_after_seconds() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, text="slow down", headers={"Retry-After": "120"})

    with pytest.raises(RateLimited) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert info.value.retry_after == 120.0
    assert info.value.kind == "rate_limited"
    assert info.value.message == "Kimi K2 API error (HTTP 429): slow down"


async def test_429_retry_after_http_date() -> None:
    # helpers.NOW is 2026-11-25T18:00:00Z (a Wednesday); the date is 90 s later.
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "Wed, 25 Nov 2026 18:01:30 GMT"})

    with pytest.raises(RateLimited) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert info.value.retry_after == 90.0
    assert info.value.message == "Kimi K2 API error (HTTP 429)"


async def test_500_does_not_leak_key_echoed_in_body() -> None:
    body = (
        '{"error": "internal", "debug": {"authorization": "Bearer ' + KEY + '", "api_key": "' + KEY
        + '", "echo": "' + KEY + '"}}'
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text=body)

    with pytest.raises(Unavailable) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    error = info.value
    assert type(error) is Unavailable
    assert error.kind == "unavailable"
    assert error.message.startswith("Kimi K2 API error (HTTP 500): ")
    assert '"error": "internal"' in error.message
    assert KEY not in error.message
    assert KEY not in str(error)
    assert KEY not in repr(error)
    assert "0123456789" not in error.message


async def test_short_key_echoed_in_body_drops_the_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="bad key: abc")

    with pytest.raises(Unavailable) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": "abc"}))
    assert info.value.message == "Kimi K2 API error (HTTP 502)"


async def test_long_body_is_summarized() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="x" * 1000 + "\n\n  tail")

    with pytest.raises(Unavailable) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert info.value.message == "Kimi K2 API error (HTTP 503): " + "x" * 160 + "..."


async def test_other_4xx_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="not found")

    with pytest.raises(Unavailable) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert type(info.value) is Unavailable
    assert info.value.message == "Kimi K2 API error (HTTP 404): not found"


async def test_non_200_success_code_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)

    with pytest.raises(Unavailable) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert info.value.message == "Kimi K2 API error (HTTP 204)"


async def test_connection_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(Unavailable) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert info.value.kind == "unavailable"
    assert "cannot connect to kimi-k2.ai" in info.value.message


async def test_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(Timeout) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert info.value.kind == "timeout"
    assert info.value.message == "kimi-k2.ai did not answer within 30 s"


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("html.html", "kimi-k2.ai answered with HTML instead of JSON"),
        ("truncated.json", "kimi-k2.ai answered with invalid JSON"),
        ("root_array.json", "Kimi K2: root JSON is not an object."),
        ("root_string.json", "Kimi K2: root JSON is not an object."),
    ],
)
async def test_undecodable_bodies_are_parse_errors(fixture: str, message: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return fixture_response(fixture)

    with pytest.raises(ParseError) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert info.value.message == message


async def test_empty_body_is_parse_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200)

    with pytest.raises(ParseError, match="empty body"):
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))


# --- credentials -------------------------------------------------------------------------------------


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no request may be sent")


async def test_available_with_own_env_var() -> None:
    ctx = make_context("kimik2", _unreachable, env={"KIMI_K2_API_KEY": KEY})
    availability = await KimiK2ApiStrategy().available(ctx)
    assert availability.ok
    assert availability.reason == "API key from env KIMI_K2_API_KEY"
    assert KEY not in availability.reason


@pytest.mark.parametrize("var", ["KIMI_API_KEY", "KIMI_KEY"])
async def test_generic_env_vars_do_not_auto_enable(var: str) -> None:
    availability = await KimiK2ApiStrategy().available(make_context("kimik2", _unreachable, env={var: KEY}))
    assert not availability.ok
    assert availability.kind == "not_configured"
    assert availability.reason == (
        "Kimi K2 API key not found (looked in env KIMI_K2_API_KEY, memory entry kimik2:api_key, "
        "config providers.kimik2.api_key). Set KIMI_K2_API_KEY or run "
        "`codexbard config set-secret --provider kimik2` (KIMI_API_KEY and KIMI_KEY count only with "
        "`[providers.kimik2] enabled = true`)."
    )
    assert KEY not in availability.reason


@pytest.mark.parametrize("var", ["KIMI_API_KEY", "KIMI_KEY"])
async def test_generic_env_vars_count_when_explicitly_enabled(var: str) -> None:
    auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers["Authorization"])
        return json_response({"credits_remaining": 3})

    ctx = make_context("kimik2", handler, env={var: f" {KEY} "}, explicitly_enabled=True)
    availability = await KimiK2ApiStrategy().available(ctx)
    assert availability.ok
    assert availability.reason == f"API key from env {var}"
    await KimiK2ApiStrategy().fetch(ctx)
    assert auth == [f"Bearer {KEY}"]


async def test_generic_order_when_explicitly_enabled() -> None:
    auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers["Authorization"])
        return json_response({"credits_remaining": 3})

    env = {"KIMI_API_KEY": "generic-one", "KIMI_KEY": "generic-two", "KIMI_K2_API_KEY": "   "}
    ctx = make_context("kimik2", handler, env=env, explicitly_enabled=True)
    await KimiK2ApiStrategy().fetch(ctx)
    assert auth == ["Bearer generic-one"]


async def test_own_key_wins_over_generic_ones() -> None:
    auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers["Authorization"])
        return json_response({"credits_remaining": 3})

    env = {"KIMI_API_KEY": "generic-one", "KIMI_K2_API_KEY": "own-key"}
    await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env=env, explicitly_enabled=True))
    assert auth == ["Bearer own-key"]


async def test_configured_key_wins_over_generic_ones() -> None:
    auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers["Authorization"])
        return json_response({"credits_remaining": 3})

    ctx = make_context(
        "kimik2", handler, env={"KIMI_API_KEY": "generic-one"}, options={"api_key": "config-key"},
        explicitly_enabled=True,
    )
    await KimiK2ApiStrategy().fetch(ctx)
    assert auth == ["Bearer config-key"]


async def test_configured_key_auto_enables() -> None:
    auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers["Authorization"])
        return json_response({"credits_remaining": 3})

    ctx = make_context("kimik2", handler, options={"api_key": "config-key"})
    assert (await KimiK2ApiStrategy().available(ctx)).reason == "API key from config providers.kimik2.api_key"
    await KimiK2ApiStrategy().fetch(ctx)
    assert auth == ["Bearer config-key"]


async def test_stored_secret_is_used_and_env_wins_over_it() -> None:
    auth: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        auth.append(request.headers["Authorization"])
        return json_response({"credits_remaining": 3})

    stored = make_context("kimik2", handler, secrets={"kimik2:api_key": "stored-key"})
    assert (await KimiK2ApiStrategy().available(stored)).ok
    await KimiK2ApiStrategy().fetch(stored)
    both = make_context(
        "kimik2", handler, env={"KIMI_K2_API_KEY": "env-key"}, secrets={"kimik2:api_key": "stored-key"}
    )
    await KimiK2ApiStrategy().fetch(both)
    assert auth == ["Bearer stored-key", "Bearer env-key"]


async def test_fetch_without_key_is_not_configured() -> None:
    ctx = make_context("kimik2", _unreachable, env={"KIMI_K2_API_KEY": " \n", "KIMI_KEY": KEY})
    with pytest.raises(NotConfigured) as info:
        await KimiK2ApiStrategy().fetch(ctx)
    assert "Kimi K2 API key not found" in info.value.message
    assert "KIMI_K2_API_KEY" in info.value.message
    assert "codexbard config set-secret --provider kimik2" in info.value.message
    assert KEY not in info.value.message


async def test_explicitly_enabled_without_any_key_names_every_place() -> None:
    ctx = make_context("kimik2", _unreachable, explicitly_enabled=True)
    with pytest.raises(NotConfigured) as info:
        await KimiK2ApiStrategy().fetch(ctx)
    assert info.value.message.startswith(
        "Kimi K2 API key not found (looked in env KIMI_K2_API_KEY, memory entry kimik2:api_key, "
        "config providers.kimik2.api_key, env KIMI_API_KEY, env KIMI_KEY). "
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("key k2-t…0123456789**** rejected", "Kimi K2 API error (HTTP 500): key *** rejected"),
        (f"key {KEY.upper()} rejected", "Kimi K2 API error (HTTP 500): key *** rejected"),
        (f"key {KEY[:-3]}... rejected", "Kimi K2 API error (HTTP 500): key *** rejected"),
        ("x" * 150 + " " + KEY + " end", "Kimi K2 API error (HTTP 500): " + "x" * 150 + " *** end"),
    ],
    ids=["masked", "upper-case", "truncated", "straddling-the-cut"],
)
async def test_partly_echoed_key_never_reaches_the_message(body: str, expected: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, text=body)

    with pytest.raises(Unavailable) as info:
        await KimiK2ApiStrategy().fetch(make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert info.value.message == expected
