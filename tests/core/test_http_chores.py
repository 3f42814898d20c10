"""host.http chores of issue 6: bearer auth, deadline-clipped timeouts, status errors with scrubbed
excerpts, the shared endpoint validator, the decompressed-size cap while streaming, and override
userinfo that is never sent."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import httpx
import pytest

from codexbard.errors import AuthRequired, NotConfigured, ParseError, RateLimited, Unavailable
from codexbard.host.clock import FixedClock
from codexbard.host.credentials import Secret
from codexbard.host.http import HttpClient, poll_deadline, split_userinfo, validate_endpoint
from tests.helpers import NOW, json_response

KEY = "0123456789CanaryZaiSecret"
URL = "https://api.example.com/v1/usage"
MIB = 1024 * 1024


def mock_client(handler: httpx.MockTransport | None = None, **kwargs: object) -> HttpClient:
    return HttpClient(clock=FixedClock(NOW), transport=handler, **kwargs)  # type: ignore[arg-type]


class Recorder:
    def __init__(self, response: httpx.Response | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.response = response

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.response or json_response({"ok": True})


def leaked(text: str, secret: str = KEY, size: int = 8) -> list[str]:
    folded, lowered = secret.lower(), text.lower()
    return [folded[i : i + size] for i in range(len(folded) - size + 1) if folded[i : i + size] in lowered]


# --- bearer auth and typed keywords --------------------------------------------------------------


async def test_bearer_sets_the_authorization_header() -> None:
    recorder = Recorder()
    http = mock_client(httpx.MockTransport(recorder))
    await http.get(URL, service="Example", bearer=Secret(KEY, "env X"), headers={"Accept": "application/json"})
    await http.post(URL, service="Example", bearer=Secret(KEY, "env X"), json_body={"q": 1})
    assert [r.headers["authorization"] for r in recorder.requests] == [f"Bearer {KEY}"] * 2
    assert recorder.requests[0].headers["accept"] == "application/json"
    assert recorder.requests[1].content == b'{"q":1}'
    assert recorder.requests[0].headers["accept-encoding"] == "gzip, deflate"
    response = await http.get(URL, service="Example", bearer=Secret(KEY, "env X"))
    assert response.secrets == (KEY,)
    assert KEY not in repr(response)
    await http.aclose()


async def test_status_error_excerpt_is_scrubbed_of_the_bearer_then_cut() -> None:
    body = ("x" * 150 + " key 0123…CanaryZaiSec**** and " + KEY.upper() + " " + "z" * 200).encode()
    http = mock_client(httpx.MockTransport(Recorder(httpx.Response(500, content=body))))
    response = await http.get(URL, service="Example", bearer=Secret(KEY, "env X"), check_status=False)
    error = response.error("Example API error (HTTP 500)", excerpt=200)
    assert type(error) is Unavailable
    assert error.message == "Example API error (HTTP 500): " + "x" * 150 + " key *** and *** " + "z" * 33 + "..."
    assert leaked(error.message) == []
    await http.aclose()


@pytest.mark.parametrize(
    ("status", "kind", "message"),
    [
        (401, AuthRequired, "Example rejected the credentials (HTTP 401)"),
        (403, AuthRequired, "Example rejected the credentials (HTTP 403)"),
        (429, RateLimited, "Example is rate limiting requests (HTTP 429)"),
        (503, Unavailable, "Example is unavailable (HTTP 503)"),
        (404, Unavailable, "Example answered HTTP 404"),
    ],
)
async def test_response_error_defaults(status: int, kind: type[Exception], message: str) -> None:
    reply = httpx.Response(status, headers={"retry-after": "42"}, text=f"echo {KEY}")
    http = mock_client(httpx.MockTransport(Recorder(reply)))
    response = await http.get(URL, service="Example", bearer=Secret(KEY, "env X"), check_status=False)
    error = response.error()
    assert type(error) is kind and error.message == message
    assert response.error(excerpt=50).message == f"{message}: echo ***"
    if status == 429:
        assert isinstance(error, RateLimited) and error.retry_after == 42.0
    with pytest.raises(kind) as info:
        await http.get(URL, service="Example", bearer=Secret(KEY, "env X"))
    assert str(info.value) == message
    await http.aclose()


# --- timeouts clipped to the poll deadline ---------------------------------------------------------


async def test_timeout_is_clipped_to_the_poll_deadline() -> None:
    recorder = Recorder()
    http = mock_client(httpx.MockTransport(recorder))
    await http.get(URL, service="Example", timeout=15.0)
    with poll_deadline(time.monotonic() + 2.0):
        await http.get(URL, service="Example", timeout=15.0)
        await http.get(URL, service="Example")  # the default 30 s, clipped too
        await asyncio.create_task(http.get(URL, service="Example"))  # child tasks inherit the deadline
    with poll_deadline(time.monotonic() - 5.0):  # already past: the floor, not a negative timeout
        await http.get(URL, service="Example", timeout=15.0)
    await http.get(URL, service="Example")
    reads = [r.extensions["timeout"]["read"] for r in recorder.requests]
    assert reads[0] == 15.0
    assert all(0.1 < read <= 2.0 for read in reads[1:4])
    assert reads[4] == 0.1
    assert reads[5] == 30.0
    await http.aclose()


# --- one endpoint-override validator ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "base", "expected"),
    [
        ("proxy.example", False, "https://proxy.example"),
        (" https://proxy.example/x?a=1 ", False, "https://proxy.example/x?a=1"),
        ("HTTPS://Proxy.Example:8443/api/", False, "https://Proxy.Example:8443/api/"),
        ("https://proxy.example/api/v1/", True, "https://proxy.example/api/v1"),
        ("proxy.example", True, "https://proxy.example"),
    ],
)
def test_validate_endpoint_accepts(raw: str, base: bool, expected: str) -> None:
    assert validate_endpoint("X_URL", raw, base=base) == expected


@pytest.mark.parametrize(
    ("raw", "base", "reason"),
    [
        ("http://proxy.example", False, "must be an https:// URL or a bare host name; fix or unset it"),
        ("https://user:hunter2@proxy.example", False, "must not carry a user name or password; remove it"),
        ("https://proxy example", False, "contains whitespace or control characters; fix or unset it"),
        ("https://proxy.example\x7f", False, "contains whitespace or control characters; fix or unset it"),
        ("https://evil%2fproxy.example", False, "has percent-encoded or backslash characters in its host; fix it"),
        ("https://evil\\proxy.example", False,
         "has percent-encoded or backslash characters in its host; fix it"),
        ("https://proxy.example:port", False, "has an invalid port; fix or unset it"),
        ("https://", False, "has no host name; fix or unset it"),
        ("https://proxy.example/x#hunter2", False, "must not have a #fragment; fix or unset it"),
        ("https://proxy.example/x?key=hunter2", True, "is a base URL and must not have a ?query; fix or unset it"),
    ],
)
def test_validate_endpoint_refuses_without_echoing(raw: str, base: bool, reason: str) -> None:
    with pytest.raises(NotConfigured) as info:
        validate_endpoint("X_URL", raw, base=base, hint="(see the docs)")
    assert info.value.message == f"X_URL {reason} (see the docs)"
    assert "hunter2" not in info.value.message


# --- userinfo in an override URL is never sent ----------------------------------------------------


def test_split_userinfo() -> None:
    assert split_userinfo("http://user:pa55word@127.0.0.1:9000/x?q=1") == (
        "http://127.0.0.1:9000/x?q=1", ("pa55word", "user:pa55word"))
    assert split_userinfo("http://tok%40en@127.0.0.1/x") == ("http://127.0.0.1/x", ("tok%40en", "tok@en"))
    assert split_userinfo("https://api.example.com/x") == ("https://api.example.com/x", ())


async def test_override_userinfo_does_not_replace_the_bearer_and_is_scrubbed() -> None:
    # A proxy password in an override used to become a Basic Authorization header that replaced the
    # provider's Bearer header (and reached the upstream).
    recorder = Recorder(httpx.Response(502, text="proxy says: bad credentials user:pa55word"))
    http = mock_client(
        httpx.MockTransport(recorder),
        overrides={"https://api.example.com": "http://user:pa55word@127.0.0.1:9000/x"},
    )
    response = await http.get(URL, service="Example", bearer=Secret(KEY, "env X"), check_status=False)
    sent = recorder.requests[0]
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert str(sent.url) == "http://127.0.0.1:9000/x/v1/usage"
    assert response.error(excerpt=200).message == "Example is unavailable (HTTP 502): proxy says: bad credentials ***"
    assert "pa55word" not in response.url
    await http.aclose()


# --- the body cap applies to decompressed bytes, while streaming ----------------------------------


@contextlib.asynccontextmanager
async def raw_server(body: bytes, encoding: str) -> AsyncIterator[str]:
    """A loopback HTTP/1.1 server answering every request with `body` as `Content-Encoding: encoding`."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {encoding}\r\n"
                    f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
            writer.write(head.encode() + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def deflate(data: bytes, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


async def test_gzip_bomb_is_refused_with_memory_bounded() -> None:
    bomb = gzip.compress(b"\0" * (200 * MIB), compresslevel=9)
    assert len(bomb) < 250_000  # a small body ...
    async with raw_server(bomb, "gzip") as base:
        http = HttpClient(overrides={"https://api.example.com": base})
        tracemalloc.start()
        try:
            with pytest.raises(ParseError) as info:
                await http.get(URL, service="Example")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        await http.aclose()
    assert info.value.message == "Example answered with more than 5 MiB"
    # ... that inflates to 200 MiB: decoding stops at the cap, so memory stays near the cap.
    assert peak < 16 * MIB


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", lambda data: deflate(data, zlib.MAX_WBITS)),
        ("deflate", lambda data: deflate(data, -zlib.MAX_WBITS)),  # raw deflate, as some servers send
        ("identity", lambda data: data),
    ],
    ids=["gzip", "x-gzip", "zlib-deflate", "raw-deflate", "identity"],
)
async def test_compressed_bodies_are_decoded_up_to_the_cap(encoding: str, pack: object) -> None:
    assert callable(pack)
    small = b'{"n": "' + b"a" * 5000 + b'"}'
    just_over = b" " * (MIB + 1)
    async with raw_server(pack(small), encoding) as base:
        http = HttpClient(overrides={"https://api.example.com": base}, max_body_bytes=MIB)
        response = await http.get(URL, service="Example")
        assert response.body == small
        await http.aclose()
    async with raw_server(pack(just_over), encoding) as base:
        http = HttpClient(overrides={"https://api.example.com": base}, max_body_bytes=MIB)
        with pytest.raises(ParseError, match=r"^Example answered with more than 1 MiB$"):
            await http.get(URL, service="Example")
        await http.aclose()


async def test_exactly_the_cap_after_decompression_is_accepted() -> None:
    body = b"7" * MIB
    async with raw_server(gzip.compress(body), "gzip") as base:
        http = HttpClient(overrides={"https://api.example.com": base}, max_body_bytes=MIB)
        assert (await http.get(URL, service="Example")).body == body
        await http.aclose()


@pytest.mark.parametrize(
    ("body", "encoding", "message"),
    [
        (b"not gzip at all", "gzip", "Example answered with a body that cannot be decompressed"),
        (b"{}", "br", "Example answered with an unsupported content encoding"),
    ],
)
async def test_undecodable_bodies_are_parse_errors(body: bytes, encoding: str, message: str) -> None:
    async with raw_server(body, encoding) as base:
        http = HttpClient(overrides={"https://api.example.com": base})
        with pytest.raises(ParseError) as info:
            await http.get(URL, service="Example")
        assert info.value.message == message
        await http.aclose()
