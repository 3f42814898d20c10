"""The status poller against a fake upstream (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from codexbard.host.clock import FixedClock
from codexbard.host.http import HttpClient
from codexbard.models import ProviderStatus
from codexbard.status import poller as poller_module
from codexbard.status.poller import StatusPoller, indicator_rank, link_statuses
from codexbard.status.source import WORKSPACE_FEED_URL, StatusSource
from tests.helpers import NOW, fixture_bytes

GEMINI = "npdyhgECDJ6tB66MxXyo"
GEMINI_PAGE = f"https://www.google.com/appsstatus/dashboard/products/{GEMINI}/history"
CLAUDE_URL = "https://status.claude.com/api/v2/status.json"
OPENAI_URL = "https://status.openai.com/api/v2/status.json"

SOURCES: dict[str, StatusSource] = {
    "claude": StatusSource("statuspage", "https://status.claude.com/"),
    "codex": StatusSource("statuspage", "https://status.openai.com/"),
    "openai": StatusSource("statuspage", "https://status.openai.com"),
    "gemini": StatusSource("google-workspace", GEMINI_PAGE, product_id=GEMINI),
    "antigravity": StatusSource("google-workspace", GEMINI_PAGE, product_id=GEMINI),
    "openrouter": StatusSource("link", "https://status.openrouter.ai"),
    "perplexity": StatusSource("link", "https://status.perplexity.com/"),
}

Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
)


def status_fixture(name: str) -> bytes:
    return fixture_bytes(__file__, name)


def ok(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "application/json"})


def default_answers() -> dict[str, httpx.Response]:
    return {
        CLAUDE_URL: ok(status_fixture("statuspage/none_fractions.json")),
        OPENAI_URL: ok(status_fixture("statuspage/major_offset.json")),
        WORKSPACE_FEED_URL: ok(status_fixture("workspace/synthetic.json")),
    }


class FakeUpstream:
    """Answers by URL and counts the requests."""

    def __init__(self, answers: dict[str, httpx.Response | Exception]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers[str(request.url)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def counts(self) -> Counter[str]:
        return Counter(str(r.url) for r in self.requests)


@pytest.fixture
async def clients() -> AsyncIterator[list[HttpClient]]:
    made: list[HttpClient] = []
    yield made
    for client in made:
        await client.aclose()


def make_poller(handler: Handler, clients: list[HttpClient]) -> StatusPoller:
    clock = FixedClock(NOW)
    http = HttpClient(transport=httpx.MockTransport(handler), clock=clock)
    clients.append(http)
    return StatusPoller(http, clock)


CLAUDE_OK = ProviderStatus(
    kind="statuspage",
    indicator="none",
    description="All Systems Operational",
    updated_at=datetime(2026, 3, 4, 9, 41, 7, 512000, tzinfo=UTC),
    url="https://status.claude.com/",
)
GEMINI_OK = ProviderStatus(
    kind="google-workspace",
    indicator="critical",
    description="Requests to the Gemini API fail.",
    updated_at=datetime(2026, 3, 4, 9, 30, tzinfo=UTC),
    url=GEMINI_PAGE,
)


def openai_ok(url: str) -> ProviderStatus:
    return ProviderStatus(
        kind="statuspage",
        indicator="major",
        description="Partial System Outage",
        updated_at=datetime(2026, 3, 4, 15, 2, tzinfo=UTC),
        url=url,
    )


async def test_one_request_per_distinct_url(clients: list[HttpClient]) -> None:
    upstream = FakeUpstream(dict(default_answers()))
    result = await make_poller(upstream, clients).poll(SOURCES)

    assert upstream.counts() == Counter({CLAUDE_URL: 1, OPENAI_URL: 1, WORKSPACE_FEED_URL: 1})
    assert all(r.method == "GET" for r in upstream.requests)
    assert all(r.headers["Accept"] == "application/json" for r in upstream.requests)
    assert all("authorization" not in r.headers for r in upstream.requests)
    assert result == {
        "claude": CLAUDE_OK,
        "codex": openai_ok("https://status.openai.com/"),
        "openai": openai_ok("https://status.openai.com"),
        "gemini": GEMINI_OK,
        "antigravity": GEMINI_OK,
    }


async def test_each_call_fetches_again(clients: list[HttpClient]) -> None:
    upstream = FakeUpstream(dict(default_answers()))
    poller = make_poller(upstream, clients)
    await poller.poll(SOURCES)
    await poller.poll(SOURCES)
    assert upstream.counts() == Counter({CLAUDE_URL: 2, OPENAI_URL: 2, WORKSPACE_FEED_URL: 2})


async def test_fetches_run_concurrently(clients: list[HttpClient]) -> None:
    arrived: list[str] = []
    everyone = asyncio.Event()
    answers = default_answers()

    async def handler(request: httpx.Request) -> httpx.Response:
        arrived.append(str(request.url))
        if len(arrived) == 3:
            everyone.set()
        # Sequential fetching would leave the first request waiting here forever.
        await asyncio.wait_for(everyone.wait(), timeout=5)
        return answers[str(request.url)]

    result = await make_poller(handler, clients).poll(SOURCES)
    assert sorted(arrived) == sorted([CLAUDE_URL, OPENAI_URL, WORKSPACE_FEED_URL])
    assert set(result) == {"claude", "codex", "openai", "gemini", "antigravity"}


async def test_feed_is_decoded_off_the_event_loop(
    clients: list[HttpClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    original = asyncio.to_thread

    async def recording_to_thread(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        calls.append(getattr(func, "__name__", repr(func)))
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", recording_to_thread)
    result = await make_poller(FakeUpstream(dict(default_answers())), clients).poll(SOURCES)
    assert calls == ["json"]
    assert result["gemini"] == GEMINI_OK


async def test_500_leaves_that_provider_out(
    clients: list[HttpClient], caplog: pytest.LogCaptureFixture
) -> None:
    answers: dict[str, httpx.Response | Exception] = dict(default_answers())
    answers[CLAUDE_URL] = httpx.Response(500, text="oops")
    caplog.set_level(logging.DEBUG, logger="codexbard.status.poller")
    result = await make_poller(FakeUpstream(answers), clients).poll(SOURCES)

    assert "claude" not in result
    assert set(result) == {"codex", "openai", "gemini", "antigravity"}
    assert result["gemini"] == GEMINI_OK
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    expected = "status of claude not updated: unavailable: status.claude.com is unavailable (HTTP 500)"
    assert expected in messages


async def test_malformed_date_leaves_workspace_providers_out(
    clients: list[HttpClient], caplog: pytest.LogCaptureFixture
) -> None:
    answers: dict[str, httpx.Response | Exception] = dict(default_answers())
    answers[WORKSPACE_FEED_URL] = ok(status_fixture("workspace/bad_date.json"))
    caplog.set_level(logging.DEBUG, logger="codexbard.status.poller")
    result = await make_poller(FakeUpstream(answers), clients).poll(SOURCES)

    assert set(result) == {"claude", "codex", "openai"}
    assert result["claude"] == CLAUDE_OK
    messages = [r.getMessage() for r in caplog.records]
    for provider in ("gemini", "antigravity"):
        assert any(m.startswith(f"status of {provider} not updated: parse_error: ") for m in messages)


async def test_caller_keeps_last_good_status(clients: list[HttpClient]) -> None:
    answers: dict[str, httpx.Response | Exception] = dict(default_answers())
    upstream = FakeUpstream(answers)
    poller = make_poller(upstream, clients)
    kept = dict(await poller.poll(SOURCES))

    answers[CLAUDE_URL] = httpx.Response(503)
    answers[WORKSPACE_FEED_URL] = ok(status_fixture("workspace/bad_date.json"))
    answers[OPENAI_URL] = ok(status_fixture("statuspage/critical_no_page.json"))
    kept.update(await poller.poll(SOURCES))

    assert kept["claude"] == CLAUDE_OK
    assert kept["gemini"] == GEMINI_OK
    assert kept["antigravity"] == GEMINI_OK
    assert kept["openai"].indicator == "critical"
    assert kept["openai"].description == "Major Service Outage"
    assert kept["openai"].updated_at is None


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (httpx.ConnectError("refused"), "unavailable"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.Response(429, headers={"Retry-After": "60"}), "rate_limited"),
        (httpx.Response(404, text="gone"), "unavailable"),
        (httpx.Response(200, text="<!DOCTYPE html><html></html>"), "parse_error"),
        (httpx.Response(200, text='{"status": {"indicator": "no'), "parse_error"),
        (ok(status_fixture("statuspage/missing_indicator.json")), "parse_error"),
        (httpx.Response(200), "parse_error"),
    ],
)
async def test_failures_leave_providers_out(
    clients: list[HttpClient], caplog: pytest.LogCaptureFixture, answer: httpx.Response | Exception, kind: str
) -> None:
    answers: dict[str, httpx.Response | Exception] = dict(default_answers())
    answers[OPENAI_URL] = answer
    caplog.set_level(logging.DEBUG, logger="codexbard.status.poller")
    result = await make_poller(FakeUpstream(answers), clients).poll(SOURCES)

    assert set(result) == {"claude", "gemini", "antigravity"}
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith(f"status of codex not updated: {kind}: ") for m in messages)
    assert any(m.startswith(f"status of openai not updated: {kind}: ") for m in messages)


async def test_whole_fetch_is_bounded(
    clients: list[HttpClient], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(poller_module, "STATUS_TIMEOUT", 0.05)
    answers = default_answers()

    async def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == WORKSPACE_FEED_URL:
            await asyncio.sleep(30)
        return answers[str(request.url)]

    caplog.set_level(logging.DEBUG, logger="codexbard.status.poller")
    result = await make_poller(handler, clients).poll(SOURCES)
    assert set(result) == {"claude", "codex", "openai"}
    messages = [r.getMessage() for r in caplog.records]
    assert "status of gemini not updated: timeout: www.google.com did not answer within 0.05 s" in messages


async def test_unexpected_error_leaves_provider_out(clients: list[HttpClient]) -> None:
    answers: dict[str, httpx.Response | Exception] = dict(default_answers())
    answers[CLAUDE_URL] = RuntimeError("bug in a transport")
    result = await make_poller(FakeUpstream(answers), clients).poll(SOURCES)
    assert set(result) == {"codex", "openai", "gemini", "antigravity"}


async def test_workspace_source_without_product_id_is_left_out(clients: list[HttpClient]) -> None:
    upstream = FakeUpstream(dict(default_answers()))
    sources = {
        "gemini": SOURCES["gemini"],
        "broken": StatusSource("google-workspace", GEMINI_PAGE),
    }
    result = await make_poller(upstream, clients).poll(sources)
    assert result == {"gemini": GEMINI_OK}
    assert upstream.counts() == Counter({WORKSPACE_FEED_URL: 1})


async def test_link_only_and_empty_sources_send_nothing(clients: list[HttpClient]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request to {request.url}")

    poller = make_poller(handler, clients)
    assert await poller.poll({}) == {}
    assert await poller.poll({k: SOURCES[k] for k in ("openrouter", "perplexity")}) == {}


async def test_upstream_overrides_apply(clients: list[HttpClient]) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return ok(status_fixture("statuspage/minor.json"))

    clock = FixedClock(NOW)
    http = HttpClient(
        overrides={"https://status.claude.com": "http://127.0.0.1:9000/claude"},
        transport=httpx.MockTransport(handler),
        clock=clock,
    )
    clients.append(http)
    result = await StatusPoller(http, clock).poll({"claude": SOURCES["claude"]})
    assert seen == ["http://127.0.0.1:9000/claude/api/v2/status.json"]
    assert result["claude"].indicator == "minor"
    assert result["claude"].url == "https://status.claude.com/"


def test_link_statuses() -> None:
    assert link_statuses(SOURCES) == {
        "openrouter": ProviderStatus(kind="link", url="https://status.openrouter.ai"),
        "perplexity": ProviderStatus(kind="link", url="https://status.perplexity.com/"),
    }
    wire = link_statuses(SOURCES)["openrouter"].wire()
    assert wire == {
        "kind": "link",
        "indicator": None,
        "description": None,
        "updatedAt": None,
        "url": "https://status.openrouter.ai",
    }
    assert link_statuses({}) == {}


def test_indicator_rank_is_exported() -> None:
    ranked = sorted(["critical", "none", "major", "unknown", "minor", "maintenance"], key=indicator_rank)
    assert ranked == ["none", "unknown", "maintenance", "minor", "major", "critical"]
    assert indicator_rank("maintenance") == indicator_rank("unknown") == 1
