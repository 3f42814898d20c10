"""Tests for codexbard.host.http: override rewriting, status and transport error mapping, body checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from codexbard.errors import AuthRequired, NotConfigured, ParseError, RateLimited, Timeout, Unavailable
from codexbard.host.clock import FixedClock
from codexbard.host.http import (
    MAX_BODY_BYTES,
    USER_AGENT,
    HttpClient,
    HttpResponse,
    describe_url,
    normalize_overrides,
    raise_for_status,
    rewrite_url,
)
from tests.helpers import NOW, Handler, json_response

SECRET_URL = "https://api.example.com/v1/usage?key=secret-query-value"
ZAI = {"https://api.z.ai": "http://127.0.0.1:9000/zai"}


def client(handler: Handler, **kwargs: Any) -> HttpClient:
    return HttpClient(clock=FixedClock(NOW), transport=httpx.MockTransport(handler), **kwargs)


class Recorder:
    """A MockTransport handler that remembers every request and answers with a fixed response."""

    def __init__(self, response: httpx.Response | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.response = response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response or json_response({"ok": True})

    @property
    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]


# --- upstream_overrides -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://api.z.ai/api/monitor/usage/quota/limit",
            "http://127.0.0.1:9000/zai/api/monitor/usage/quota/limit",
        ),
        ("https://api.z.ai", "http://127.0.0.1:9000/zai"),
        ("https://api.z.ai?a=1&b=2", "http://127.0.0.1:9000/zai?a=1&b=2"),
        ("https://api.z.ai#part", "http://127.0.0.1:9000/zai#part"),
        ("https://api.z.ai/x?q=1", "http://127.0.0.1:9000/zai/x?q=1"),
        # Not at a boundary: another host that merely starts with the key.
        ("https://api.z.ai.evil.com/x", "https://api.z.ai.evil.com/x"),
        ("https://api.z.aix/x", "https://api.z.aix/x"),
        ("https://api.z.ai:8443/x", "https://api.z.ai:8443/x"),
        ("http://api.z.ai/x", "http://api.z.ai/x"),
        ("https://open.bigmodel.cn/x", "https://open.bigmodel.cn/x"),
    ],
)
def test_rewrite_url_boundary(url: str, expected: str) -> None:
    assert rewrite_url(url, ZAI) == expected


def test_rewrite_url_longest_key_wins() -> None:
    overrides = {
        "https://api.example.com": "http://127.0.0.1:1/short",
        "https://api.example.com/v2": "http://127.0.0.1:1/long",
    }
    assert rewrite_url("https://api.example.com/v2/usage", overrides) == "http://127.0.0.1:1/long/usage"
    assert rewrite_url("https://api.example.com/v2", overrides) == "http://127.0.0.1:1/long"
    assert rewrite_url("https://api.example.com/v1/usage", overrides) == "http://127.0.0.1:1/short/v1/usage"
    # "/v2x" does not continue "/v2" at a boundary, so only the shorter key applies.
    assert rewrite_url("https://api.example.com/v2x", overrides) == "http://127.0.0.1:1/short/v2x"
    # Order of the table does not matter.
    flipped = dict(reversed(list(overrides.items())))
    assert rewrite_url("https://api.example.com/v2/usage", flipped) == "http://127.0.0.1:1/long/usage"


def test_normalize_overrides_strips_trailing_slashes_and_blank_keys() -> None:
    assert normalize_overrides({"https://api.z.ai/": "http://127.0.0.1:9000/zai/", "  ": "http://x"}) == ZAI
    assert normalize_overrides({"https://api.z.ai///": "http://127.0.0.1:9000/"}) == {
        "https://api.z.ai": "http://127.0.0.1:9000"
    }


async def test_transport_sees_rewritten_url_with_query() -> None:
    seen = Recorder()
    http = client(seen, overrides=ZAI)
    await http.get("https://api.z.ai/api/monitor/usage/quota/limit?type=1&x=a%20b", service="z.ai")
    await http.get("https://api.z.ai/api/quota", service="z.ai", params={"start": "2026-11-25 00:00"})
    await http.get("https://api.z.ai.evil.com/api/quota", service="z.ai")
    assert seen.urls == [
        "http://127.0.0.1:9000/zai/api/monitor/usage/quota/limit?type=1&x=a%20b",
        "http://127.0.0.1:9000/zai/api/quota?start=2026-11-25+00%3A00",
        "https://api.z.ai.evil.com/api/quota",
    ]
    await http.aclose()


async def test_trailing_slashes_in_config_do_not_double() -> None:
    seen = Recorder()
    http = client(seen, overrides={"https://api.z.ai/": "http://127.0.0.1:9000/zai/"})
    response = await http.get("https://api.z.ai/api/x", service="z.ai")
    assert seen.urls == ["http://127.0.0.1:9000/zai/api/x"]
    assert response.url == "http://127.0.0.1:9000/zai/api/x"
    assert http.rewrite("https://api.z.ai") == "http://127.0.0.1:9000/zai"
    await http.aclose()


async def test_longest_key_wins_through_the_client() -> None:
    seen = Recorder()
    http = client(
        seen,
        overrides={
            "https://api.example.com": "http://127.0.0.1:1/a",
            "https://api.example.com/v2": "http://127.0.0.1:2/b",
        },
    )
    await http.get("https://api.example.com/v2/usage?x=1", service="s")
    await http.get("https://api.example.com/v1/usage?x=1", service="s")
    assert seen.urls == ["http://127.0.0.1:2/b/usage?x=1", "http://127.0.0.1:1/a/v1/usage?x=1"]
    await http.aclose()


# --- request basics -----------------------------------------------------------------------------


async def test_default_user_agent_and_headers() -> None:
    seen = Recorder()
    http = client(seen)
    response = await http.get("https://api.example.com/x", service="s", headers={"Authorization": "Bearer t"})
    request = seen.requests[0]
    assert request.headers["user-agent"] == USER_AGENT
    assert USER_AGENT.startswith("codexbard/")
    assert request.headers["authorization"] == "Bearer t"
    assert response.status == 200
    assert response.service == "s"
    assert response.json() == {"ok": True}
    await http.aclose()


async def test_custom_user_agent_and_post_json() -> None:
    seen = Recorder()
    http = client(seen, user_agent="other/1")
    await http.post("https://api.example.com/graphql", service="s", json_body={"query": "q"})
    request = seen.requests[0]
    assert request.method == "POST"
    assert request.headers["user-agent"] == "other/1"
    assert request.headers["content-type"] == "application/json"
    assert request.content == b'{"query":"q"}'
    await http.aclose()


async def test_redirects_are_not_followed() -> None:
    seen = Recorder(httpx.Response(302, headers={"location": "https://elsewhere.example/"}))
    http = client(seen)
    with pytest.raises(Unavailable) as info:
        await http.get("https://api.example.com/x", service="S")
    assert info.value.message == "S answered HTTP 302"
    assert len(seen.requests) == 1
    await http.aclose()


# --- status mapping -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_statuses(status: int) -> None:
    http = client(Recorder(json_response({"error": "bad key"}, status)))
    with pytest.raises(AuthRequired) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.kind == "auth_required"
    assert info.value.message == f"Example rejected the credentials (HTTP {status})"
    await http.aclose()


async def test_429_retry_after_seconds() -> None:
    http = client(Recorder(json_response({}, 429, {"Retry-After": "120"})))
    with pytest.raises(RateLimited) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.kind == "rate_limited"
    assert info.value.retry_after == 120.0
    assert info.value.message == "Example is rate limiting requests (HTTP 429)"
    await http.aclose()


async def test_429_retry_after_http_date() -> None:
    # NOW is 2026-11-25 18:00:00 UTC.
    http = client(Recorder(json_response({}, 429, {"Retry-After": "Wed, 25 Nov 2026 18:05:30 GMT"})))
    with pytest.raises(RateLimited) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.retry_after == 330.0
    await http.aclose()


async def test_429_retry_after_past_date_and_missing() -> None:
    http = client(Recorder(json_response({}, 429, {"Retry-After": "Wed, 25 Nov 2026 17:00:00 GMT"})))
    with pytest.raises(RateLimited) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.retry_after == 0.0
    http = client(Recorder(json_response({}, 429)))
    with pytest.raises(RateLimited) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.retry_after is None
    await http.aclose()


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (500, "Example is unavailable (HTTP 500)"),
        (502, "Example is unavailable (HTTP 502)"),
        (503, "Example is unavailable (HTTP 503)"),
        (404, "Example answered HTTP 404"),
        (400, "Example answered HTTP 400"),
    ],
)
async def test_unavailable_statuses(status: int, message: str) -> None:
    http = client(Recorder(httpx.Response(status, text="<html>down</html>")))
    with pytest.raises(Unavailable) as info:
        await http.get(SECRET_URL, service="Example")
    assert type(info.value) is Unavailable
    assert info.value.kind == "unavailable"
    assert info.value.message == message
    await http.aclose()


async def test_check_status_false_returns_the_response() -> None:
    http = client(Recorder(json_response({"error": "nope"}, 404)))
    response = await http.get("https://api.example.com/x", service="S", check_status=False)
    assert response.status == 404
    assert response.json_object() == {"error": "nope"}
    await http.aclose()


def test_raise_for_status_passes_2xx() -> None:
    for status in (200, 201, 204, 299):
        raise_for_status(HttpResponse(status, httpx.Headers(), b"", "https://x/", "S"), FixedClock(NOW))


# --- transport failures -------------------------------------------------------------------------


def raising(exc_type: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("boom key=secret-query-value", request=request)

    return handler


async def test_connect_error_is_unavailable() -> None:
    http = client(raising(httpx.ConnectError))
    with pytest.raises(Unavailable) as info:
        await http.get(SECRET_URL, service="Example")
    assert type(info.value) is Unavailable
    assert info.value.message == "cannot connect to Example (https://api.example.com/v1/usage)"
    await http.aclose()


@pytest.mark.parametrize(
    "exc_type", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.WriteTimeout, httpx.PoolTimeout]
)
async def test_timeouts(exc_type: type[httpx.TransportError]) -> None:
    http = client(raising(exc_type))
    with pytest.raises(Timeout) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.kind == "timeout"
    assert info.value.message == "Example did not answer within 30 s"
    with pytest.raises(Timeout) as info:
        await http.get(SECRET_URL, service="Example", timeout=2.5)
    assert info.value.message == "Example did not answer within 2.5 s"
    await http.aclose()


async def test_unsupported_protocol_is_not_configured() -> None:
    http = client(raising(httpx.UnsupportedProtocol))
    with pytest.raises(NotConfigured) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.message == "invalid URL for Example: https://api.example.com/v1/usage"
    await http.aclose()


async def test_override_to_a_non_http_scheme_is_not_configured() -> None:
    # The real transport (no MockTransport) refuses the scheme before touching any socket.
    http = HttpClient(overrides={"https://api.example.com": "ftp://127.0.0.1/x"})
    with pytest.raises(NotConfigured) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.message == "invalid URL for Example: ftp://127.0.0.1/x/v1/usage"
    assert "secret" not in info.value.message
    await http.aclose()


async def test_other_transport_errors_are_unavailable() -> None:
    http = client(raising(httpx.RemoteProtocolError))
    with pytest.raises(Unavailable) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.message == "Example closed the connection before answering"
    http = client(raising(httpx.ReadError))
    with pytest.raises(Unavailable) as info:
        await http.get(SECRET_URL, service="Example")
    assert type(info.value) is Unavailable
    assert info.value.message == "network error talking to Example: ReadError"
    await http.aclose()


async def test_out_of_range_port_in_override_does_not_crash() -> None:
    seen = Recorder()
    http = client(seen, overrides={"https://api.example.com": "http://127.0.0.1:99999/x"})
    await http.get("https://api.example.com/y", service="S")
    assert seen.urls == ["http://127.0.0.1:99999/x/y"]
    assert describe_url("http://127.0.0.1:99999/x/y?k=v") == "http://127.0.0.1/x/y"
    await http.aclose()


def test_describe_url_drops_query_and_userinfo() -> None:
    described = describe_url("https://user:pw@api.example.com:8443/v1/x?key=s#f")
    assert described == "https://api.example.com:8443/v1/x"
    assert describe_url(SECRET_URL) == "https://api.example.com/v1/usage"


# --- bodies -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><body>Sign in</body></html>",
        b"  \n<html><head></head></html>",
        b"<HTML>Bad gateway</HTML>",
        b"<?xml version='1.0'?><error/>",
    ],
)
async def test_html_body_is_parse_error(body: bytes) -> None:
    http = client(Recorder(httpx.Response(200, content=body, headers={"content-type": "text/html"})))
    response = await http.get(SECRET_URL, service="Example")
    with pytest.raises(ParseError) as info:
        response.json()
    assert info.value.message == "Example answered with HTML instead of JSON"
    await http.aclose()


@pytest.mark.parametrize(
    "body", [b'{"limits": [{"usage": 1', b"{'single': 'quotes'}", b"NaN-ish", b"\xff\xfe\x00"]
)
async def test_invalid_json_is_parse_error(body: bytes) -> None:
    http = client(Recorder(httpx.Response(200, content=body)))
    response = await http.get(SECRET_URL, service="Example")
    with pytest.raises(ParseError) as info:
        response.json()
    assert info.value.message == "Example answered with invalid JSON"
    await http.aclose()


async def test_deeply_nested_json_is_parse_error_not_a_crash() -> None:
    http = client(Recorder(httpx.Response(200, content=b"[" * 200_000)))
    response = await http.get(SECRET_URL, service="Example")
    with pytest.raises(ParseError) as info:
        response.json()
    assert info.value.message == "Example answered with invalid JSON"
    await http.aclose()


@pytest.mark.parametrize("body", [b"", b"   \n"])
async def test_empty_body_is_parse_error(body: bytes) -> None:
    http = client(Recorder(httpx.Response(200, content=body)))
    response = await http.get(SECRET_URL, service="Example")
    with pytest.raises(ParseError) as info:
        response.json()
    assert info.value.message == "Example answered with an empty body"
    await http.aclose()


@pytest.mark.parametrize("data", [[1, 2], "text", 3, None])
async def test_json_object_rejects_other_shapes(data: object) -> None:
    http = client(Recorder(json_response(data)))
    response = await http.get(SECRET_URL, service="Example")
    assert response.json() == data
    with pytest.raises(ParseError) as info:
        response.json_object()
    assert info.value.message == "Example answered with JSON that is not an object"
    await http.aclose()


async def test_body_size_cap() -> None:
    http = client(Recorder(httpx.Response(200, content=b"x" * 101)), max_body_bytes=100)
    with pytest.raises(ParseError) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.message == "Example answered with more than 100 bytes"
    http = client(Recorder(httpx.Response(200, content=b"[" + b"1," * 48 + b"10]")), max_body_bytes=100)
    response = await http.get(SECRET_URL, service="Example")
    assert len(response.body) == 100
    assert response.json() == [1] * 48 + [10]
    await http.aclose()


async def test_default_body_cap_is_5_mib() -> None:
    assert MAX_BODY_BYTES == 5 * 1024 * 1024
    http = client(Recorder(httpx.Response(200, content=b" " * (MAX_BODY_BYTES + 1))))
    with pytest.raises(ParseError) as info:
        await http.get(SECRET_URL, service="Example")
    assert info.value.message == "Example answered with more than 5 MiB"
    await http.aclose()


def test_text_replaces_bad_bytes() -> None:
    response = HttpResponse(200, httpx.Headers(), b"ok \xff", "https://x/", "S")
    assert response.text() == "ok \ufffd"


# --- no secrets in messages or logs -------------------------------------------------------------


def echo(status: int, headers: dict[str, str] | None = None, body: bytes | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        content = body if body is not None else b'{"error": "invalid key ' + request.url.query + b'"}'
        return httpx.Response(status, content=content, headers=headers or {})

    return handler


@pytest.mark.parametrize(
    "handler",
    [
        echo(401),
        echo(403),
        echo(429, {"Retry-After": "5"}),
        echo(500),
        echo(404),
        raising(httpx.ConnectError),
        raising(httpx.ReadTimeout),
        raising(httpx.UnsupportedProtocol),
        raising(httpx.ReadError),
    ],
)
async def test_messages_never_contain_the_query(
    handler: Handler, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http = client(handler, overrides={"https://api.example.com": "http://127.0.0.1:9/proxy"})
    with pytest.raises(Exception) as info:
        await http.get(SECRET_URL, service="Example", headers={"Authorization": "Bearer secret-header"})
    assert "secret" not in str(info.value)
    assert "secret" not in repr(info.value)
    assert "secret" not in caplog.text
    await http.aclose()


@pytest.mark.parametrize(
    "body", [b"<html>key=secret-query-value</html>", b'{"truncated": "secret-query-value', b"x" * 200]
)
async def test_body_errors_never_contain_the_query_or_body(
    body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http = client(echo(200, body=body), max_body_bytes=150)
    with pytest.raises(ParseError) as info:
        response = await http.get(SECRET_URL, service="Example")
        response.json_object()
    assert "secret" not in str(info.value)
    assert "xxxx" not in str(info.value)
    assert "secret" not in caplog.text
    await http.aclose()


async def test_debug_log_names_the_path_only(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="codexbard.host.http")
    http = client(Recorder())
    await http.get(SECRET_URL, service="Example")
    assert "GET https://api.example.com/v1/usage -> 200" in caplog.text
    assert "secret" not in caplog.text
    await http.aclose()


# --- real sockets on loopback -------------------------------------------------------------------


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[tuple[int, asyncio.Event]]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    done = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # until the client gives up and closes
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port, done
    finally:
        server.close()
        await server.wait_closed()


async def test_real_server_that_never_answers_times_out() -> None:
    async with silent_server() as (port, done):
        http = HttpClient(overrides={"https://api.example.com": f"http://127.0.0.1:{port}"})
        started = time.monotonic()
        with pytest.raises(Timeout) as info:
            await http.get(SECRET_URL, service="Example", timeout=0.5)
        elapsed = time.monotonic() - started
        assert 0.4 <= elapsed < 1.5
        assert info.value.kind == "timeout"
        assert info.value.message == "Example did not answer within 0.5 s"
        await http.aclose()
        await asyncio.wait_for(done.wait(), 2)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_on_a_closed_port() -> None:
    port = free_port()
    http = HttpClient(overrides={"https://api.example.com": f"http://127.0.0.1:{port}"})
    started = time.monotonic()
    with pytest.raises(Unavailable) as info:
        await http.get(SECRET_URL, service="Example", timeout=5)
    assert time.monotonic() - started < 2
    assert type(info.value) is Unavailable
    assert info.value.message == f"cannot connect to Example (http://127.0.0.1:{port}/v1/usage)"
    await http.aclose()
