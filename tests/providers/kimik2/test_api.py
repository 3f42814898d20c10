"""The Kimi K2 API-key strategy against a fake upstream."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from codexbard.errors import (
    NotConfigured,
    ParseError,
    Unavailable,
)
from codexbard.providers.kimik2.api import KimiK2ApiStrategy
from tests.helpers import fixture_bytes, json_response, make_context
from tests.providers import kit

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


# The sheet: a 401 has its own phrasing; every other status quotes the body (scrubbed, then cut to 160).
INVALID = kit.Expect("auth_required", "Kimi K2 API key is invalid or expired.")
MATRIX = kit.ErrorMatrix(
    "kimik2", KimiK2ApiStrategy, key=KEY, env={"KIMI_K2_API_KEY": KEY}, target=URL, service="kimi-k2.ai",
    timeout=30,
    changes={
        "401": INVALID,
        "403": kit.Row("403", lambda key: kit.reply_raw(403, f"forbidden for key {key}".encode()),
                       kit.Expect("auth_required", "Kimi K2 API error (HTTP 403): forbidden for key ***")),
        "429-seconds": kit.Expect("rate_limited", "Kimi K2 API error (HTTP 429): slow down", 120.0),
        "429-http-date": kit.Expect("rate_limited", "Kimi K2 API error (HTTP 429)", 90.0),
        "500": kit.Expect("unavailable", "Kimi K2 API error (HTTP 500): <html><body>internal error</body></html>"),
        "502": kit.Expect("unavailable", "Kimi K2 API error (HTTP 502)"),
        "503": kit.Expect("unavailable", 'Kimi K2 API error (HTTP 503): {"status": "down"}'),
        "echoed-key": INVALID,
        "echoed-key-masked": INVALID,
        "echoed-key-upper-case": INVALID,
        "echoed-key-truncated": INVALID,
    },
)


@pytest.mark.parametrize("row", MATRIX.params())
async def test_error_matrix(row: kit.Row) -> None:
    await MATRIX.check(row)


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


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("html.html", "kimi-k2.ai answered with HTML instead of JSON"),
        ("truncated.json", "kimi-k2.ai answered with invalid JSON"),  # the fixtures, besides the kit's bodies
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
