"""The shared provider test kit: a fake upstream, reply builders and the one HTTP error matrix.

A provider's strategy test declares its matrix once and runs every row with one parametrized test:

    MATRIX = kit.ErrorMatrix("openrouter", OpenRouterApi, key=KEY, env={"OPENROUTER_API_KEY": KEY},
                             target=CREDITS_URL, service="OpenRouter", timeout=15,
                             changes={"401": kit.Expect("auth_required", "...")})

    @pytest.mark.parametrize("row", MATRIX.params())
    async def test_error_matrix(row: kit.Row) -> None:
        await MATRIX.check(row)

Every row checks the error's kind, its exact message, Retry-After where the row sets one, and that no
8-character fragment of the key (in any case) reaches the message, `str()` or `repr()` of the error.
A provider lists in `changes` only the rows its fact sheet changes; the others expect the host's phrasing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from codexbard.errors import ProviderError
from codexbard.host.http import default_status_message, describe_url
from codexbard.models import UsageSnapshot
from codexbard.providers.base import FetchContext, Strategy
from tests.helpers import NOW, make_context

Responder = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]

# --- reply builders ---------------------------------------------------------------------------------


def reply_json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Responder:
    """Answer with `data` as JSON."""
    body = json.dumps(data).encode()
    return reply_raw(status, body, {"content-type": "application/json", **(headers or {})})


def reply_raw(status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> Responder:
    """Answer with exactly these status, body and headers."""
    return lambda request: httpx.Response(status, content=body, headers=dict(headers or {}))


def reply_fixture(test_file: str, name: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Responder:
    """Answer with tests/.../fixtures/<name> next to `test_file`."""
    body = (Path(test_file).parent / "fixtures" / name).read_bytes()
    return reply_raw(status, body, headers)


def reply_raise(exc_type: type[httpx.TransportError], text: str = "boom") -> Responder:
    """Fail the request the way httpx does: timeouts, refused connections."""

    def reply(request: httpx.Request) -> httpx.Response:
        raise exc_type(text, request=request)

    return reply


def reply_delayed(seconds: float, inner: Responder) -> Responder:
    """Answer like `inner` after `seconds` (asynchronously)."""

    async def reply(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(seconds)
        answer = inner(request)
        return await answer if isinstance(answer, Awaitable) else answer

    return reply


def retry_after_date(seconds: float) -> str:
    """A Retry-After HTTP-date `seconds` after tests.helpers.NOW (the fixed clock of make_context)."""
    return format_datetime(NOW + timedelta(seconds=seconds), usegmt=True)


# --- fake upstream ----------------------------------------------------------------------------------


class FakeUpstream:
    """Answers by URL without its query (404 for anything else); records every request."""

    def __init__(self, routes: Mapping[str, Responder] | None = None, default: Responder | None = None) -> None:
        self.routes: dict[str, Responder] = dict(routes or {})
        self.default = default or reply_raw(404, b"no such route")
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        responder = self.routes.get(str(request.url.copy_with(query=None)), self.default)
        answer = responder(request)
        return await answer if isinstance(answer, Awaitable) else answer

    @property
    def urls(self) -> list[str]:
        """Every requested URL, in order."""
        return [str(r.url) for r in self.requests]


# --- secrets ----------------------------------------------------------------------------------------


def leaked(text: str, secret: str, size: int = 8) -> list[str]:
    """Every `size`-character piece of `secret` found in `text`, case-insensitively."""
    folded, lowered = secret.lower(), text.lower()
    return [folded[i : i + size] for i in range(len(folded) - size + 1) if folded[i : i + size] in lowered]


def masked(key: str) -> str:
    """The way dashboards echo a key: four characters, an ellipsis, the last ten, stars."""
    return f"{key[:4]}…{key[-10:]}****"


# --- the matrix -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What a row must raise: the error kind, its exact message and (for 429) the Retry-After seconds."""

    kind: str
    message: str
    retry_after: float | None = None


@dataclass(frozen=True)
class Row:
    """One upstream misbehaviour (built from the key under test) and what it must raise."""

    id: str
    reply: Callable[[str], Responder]
    expect: Expect


ROW_IDS: tuple[str, ...] = (
    "401", "403", "429-seconds", "429-http-date", "500", "502", "503", "timeout", "connection-refused",
    "html", "truncated-json", "echoed-key", "echoed-key-masked", "echoed-key-upper-case", "echoed-key-truncated",
)

# Bodies of the default rows; a provider that quotes bodies states its message from these.
BODY_401 = b'{"error": "invalid credentials"}'
BODY_403 = b'{"error": "forbidden"}'
BODY_429 = b"slow down"
BODY_500 = b"<html><body>internal error</body></html>"
BODY_503 = b'{"status": "down"}'
BODY_HTML = b"<!DOCTYPE html><html><body>Sign in</body></html>"
BODY_TRUNCATED = b'{"data": {"total'


def echo_body(text: str) -> bytes:
    """The 401 body of the echoed-key rows: `{"error": "invalid api key <text>"}`."""
    return json.dumps({"error": f"invalid api key {text}"}, ensure_ascii=False).encode()


def default_rows(service: str, target: str, timeout: float) -> dict[str, Row]:
    """The matrix as the host phrases it (`host.http`): no provider-specific wording."""

    def status(code: int) -> str:
        return default_status_message(service, code)

    auth = Expect("auth_required", status(401))
    rows = [
        Row("401", lambda key: reply_raw(401, BODY_401), auth),
        Row("403", lambda key: reply_raw(403, BODY_403), Expect("auth_required", status(403))),
        Row("429-seconds", lambda key: reply_raw(429, BODY_429, {"Retry-After": "120"}),
            Expect("rate_limited", status(429), 120.0)),
        Row("429-http-date", lambda key: reply_raw(429, b"", {"Retry-After": retry_after_date(90)}),
            Expect("rate_limited", status(429), 90.0)),
        Row("500", lambda key: reply_raw(500, BODY_500), Expect("unavailable", status(500))),
        Row("502", lambda key: reply_raw(502, b""), Expect("unavailable", status(502))),
        Row("503", lambda key: reply_raw(503, BODY_503), Expect("unavailable", status(503))),
        Row("timeout", lambda key: reply_raise(httpx.ReadTimeout),
            Expect("timeout", f"{service} did not answer within {timeout:g} s")),
        Row("connection-refused", lambda key: reply_raise(httpx.ConnectError, "connection refused"),
            Expect("unavailable", f"cannot connect to {service} ({describe_url(target)})")),
        Row("html", lambda key: reply_raw(200, BODY_HTML, {"content-type": "text/html"}),
            Expect("parse_error", f"{service} answered with HTML instead of JSON")),
        Row("truncated-json", lambda key: reply_raw(200, BODY_TRUNCATED),
            Expect("parse_error", f"{service} answered with invalid JSON")),
        Row("echoed-key", lambda key: reply_raw(401, echo_body(key)), auth),
        Row("echoed-key-masked", lambda key: reply_raw(401, echo_body(masked(key))), auth),
        Row("echoed-key-upper-case", lambda key: reply_raw(401, echo_body(key.upper())), auth),
        Row("echoed-key-truncated", lambda key: reply_raw(401, echo_body(key[:-3] + "...")), auth),
    ]
    return {row.id: row for row in rows}


@dataclass(frozen=True)
class ErrorMatrix:
    """One strategy's error matrix: where its required request goes and the rows its sheet changes.

    `target` is the URL (without query) of the request whose failure fails the fetch; `others` answers
    every other request (optional enrichments). `changes` maps row ids to an `Expect` (same reply,
    different outcome) or a whole `Row` (a different reply too).
    """

    provider_id: str
    strategy: Callable[[], Strategy]
    key: str
    env: Mapping[str, str]
    target: str
    service: str
    timeout: float
    changes: Mapping[str, Expect | Row] = field(default_factory=dict)
    others: Responder | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def rows(self) -> list[Row]:
        """The default rows with this provider's changes applied, in `ROW_IDS` order."""
        rows = default_rows(self.service, self.target, self.timeout)
        unknown = set(self.changes) - set(rows)
        assert not unknown, f"unknown matrix rows: {sorted(unknown)}"
        for row_id, change in self.changes.items():
            rows[row_id] = change if isinstance(change, Row) else replace(rows[row_id], expect=change)
        return [rows[i] for i in ROW_IDS]

    def params(self) -> list[Any]:
        """`pytest.param`s of every row, with the row id as the test id."""
        return [pytest.param(row, id=row.id) for row in self.rows()]

    def context(self, upstream: FakeUpstream) -> FetchContext:
        """A fetch context with the key in the environment, answered by `upstream`."""
        return make_context(self.provider_id, upstream, env=self.env, options=self.options)

    def upstream(self, responder: Responder) -> FakeUpstream:
        """The fake upstream of one row: `target` answers with `responder`, the rest with `others`."""
        return FakeUpstream({self.target: responder}, default=self.others)

    async def fetch(self, responder: Responder) -> UsageSnapshot:
        """available() (must find the key) then fetch(), against one reply."""
        strategy = self.strategy()
        ctx = self.context(self.upstream(responder))
        availability = await strategy.available(ctx)
        assert availability.ok, availability.reason
        return await strategy.fetch(ctx)

    async def check(self, row: Row) -> ProviderError:
        """Run one row and assert everything it expects; return the error for extra checks."""
        with pytest.raises(ProviderError) as caught:
            await self.fetch(row.reply(self.key))
        error = caught.value
        assert (error.kind, error.message) == (row.expect.kind, row.expect.message)
        if row.id.startswith("429"):
            assert error.retry_after == row.expect.retry_after
        for text in (error.message, str(error), repr(error)):
            assert leaked(text, self.key) == []
        return error


def assert_no_leak(texts: Sequence[str], key: str) -> None:
    """No 8-character piece of `key` in any of `texts`."""
    for text in texts:
        assert leaked(text, key) == [], text
