"""The optional models.dev price refresh: mapping, storage, failures, precedence, once a day; a local fake upstream."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from codexbard.config import CostConfig
from codexbard.cost.pricing import Pricing, band_for, bundled_models
from codexbard.cost.refresh import PRICES_FILE, PriceRefresher, map_catalog, read_prices
from codexbard.cost.roots import discover_roots
from codexbard.cost.state import ScanState
from codexbard.cost.timeutil import slot_of
from codexbard.cost.worker import ScanReply, ScanRequest
from codexbard.host.clock import FixedClock
from codexbard.host.http import HttpClient
from codexbard.scheduler.cost import CostJob, cost_job_for
from codexbard.state import State
from tests.cost.corpus import NOW as CORPUS_NOW

NOW = datetime(2026, 8, 3, 12, 0, tzinfo=UTC)
DAY = 24 * 3600

CATALOG = {
    "openai": {"id": "openai", "name": "OpenAI", "models": {
        "gpt-5.2-codex": {"id": "gpt-5.2-codex", "cost": {"input": 2, "output": 16, "cache_read": 0.2}},
        "gpt-5.4": {"id": "gpt-5.4", "cost": {"input": 3, "output": 18, "cache_read": 0.3,
                                              "context_over_200k": {"input": 6, "output": 27, "cache_read": 0.6}}},
        "gpt-5.5": {"id": "gpt-5.5", "cost": {"input": 4}},  # no output: not priceable
        "gpt-5.6-terra": {"id": "gpt-5.6-terra", "cost": {"input": 3, "output": 13, "cache_read": 0.3,
                                                          "cache_write": 3.5}},
        "gpt-9": {"id": "gpt-9", "cost": {"input": 1, "output": 1}},  # not in the bundled table
    }},
    "anthropic": {"id": "anthropic", "name": "Anthropic", "models": {
        "claude-haiku-4-5": {"id": "claude-haiku-4-5", "cost": {"input": 1.1, "output": 5.5}},
        "claude-sonnet-4-5": {"id": "claude-sonnet-4-5", "cost": {
            "input": 4, "output": 16, "cache_read": 0.4, "cache_write": 5,
            "context_over_200k": {"input": 8, "output": 24, "cache_read": 0.8, "cache_write": 10}}},
        "claude-opus-4-6": {"id": "claude-opus-4-6", "cost": {"input": 50, "output": 250}},  # bundled only
    }},
    "google": {"id": "google", "models": {"gemini-3": {"cost": {"input": 1, "output": 2}}}},
}

EXPECTED = {
    "codex": {
        "gpt-5.2-codex": {"input": 2, "output": 16, "cache_read": 0.2, "cache_write": 1.75},
        "gpt-5.4": {"input": 3, "output": 18, "cache_read": 0.3, "cache_write": 2.5, "threshold": 272000,
                    "above": {"input": 6, "output": 27, "cache_read": 0.6}},
        "gpt-5.6-terra": {"input": 3, "output": 13, "cache_read": 0.3, "cache_write": 3.5, "threshold": 272000,
                          "above": {"input": 4.0, "output": 18.0, "cache_read": 0.4, "cache_write": 5.0}},
    },
    "claude": {
        "claude-haiku-4-5": {"input": 1.1, "output": 5.5},
        "claude-sonnet-4-5": {"input": 4, "output": 16, "cache_read": 0.4, "cache_write": 5, "threshold": 200000,
                              "above": {"input": 8, "output": 24, "cache_read": 0.8, "cache_write": 10}},
    },
}


class Upstream:
    """A fake models.dev on 127.0.0.1 answering `body` with `status`, counting requests."""

    def __init__(self) -> None:
        self.body = json.dumps(CATALOG).encode()
        self.status = 200
        self.paths: list[str] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                upstream.paths.append(self.path)
                self.send_response(upstream.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(upstream.body)))
                self.end_headers()
                self.wfile.write(upstream.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


def _client(base: str) -> HttpClient:
    return HttpClient(overrides={"https://models.dev": base})


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _cost(pricing: Pricing, provider: str, model: str, ts: str, c: list[int]) -> float | None:
    slot = slot_of(ts)
    assert slot is not None
    return pricing.cost(provider, model, slot, band_for(c[0] + c[1] + c[2] + c[3]), c)  # type: ignore[arg-type]


def test_the_catalog_maps_to_the_bundled_layout() -> None:
    assert map_catalog(CATALOG) == EXPECTED
    assert map_catalog({"providers": CATALOG}) == EXPECTED


async def test_a_refresh_stores_the_prices_and_they_are_used(tmp_path: Path, upstream: Upstream) -> None:
    http = _client(upstream.url)
    clock = FixedClock(NOW)
    refresher = PriceRefresher(http, tmp_path / PRICES_FILE, clock)
    assert refresher.prices == {} and refresher.due()
    assert await refresher.refresh() is True
    assert upstream.paths == ["/api.json"]
    assert refresher.prices == EXPECTED and refresher.fetched_at == NOW
    stored = json.loads((tmp_path / PRICES_FILE).read_text())
    assert stored == {"version": 1, "source": "https://models.dev/api.json", "fetched_at": NOW.isoformat(),
                      "prices": EXPECTED}
    assert [n for n in os.listdir(tmp_path) if PRICES_FILE in n] == [PRICES_FILE]  # no temporary file left
    pricing = Pricing(None, refresher.prices)
    # gpt-5.2-codex: 1000 uncached, 2000 cached, 100 output at 2 / 0.2 / 16 per 1M
    assert _cost(pricing, "codex", "gpt-5.2-codex", "2026-08-01T10:00:00Z", [1000, 2000, 0, 0, 100, 0]) == \
        pytest.approx(1000 * 2e-6 + 2000 * 0.2e-6 + 100 * 16e-6)
    # gpt-5.4 above the bundled 272k threshold: the catalog's long-context rates
    assert _cost(pricing, "codex", "gpt-5.4", "2026-08-01T10:00:00Z", [100000, 200000, 0, 0, 5000, 0]) == \
        pytest.approx(100000 * 6e-6 + 200000 * 0.6e-6 + 5000 * 27e-6)
    # Claude without catalog cache rates: cache tokens at the input rate
    assert _cost(pricing, "claude", "claude-haiku-4-5", "2026-08-01T10:00:00Z", [1000, 1000, 1000, 0, 100, 0]) == \
        pytest.approx(3000 * 1.1e-6 + 100 * 5.5e-6)
    # claude-opus-4-6 stays bundled (5 / 25), gpt-5.5 (no catalog output) too
    assert _cost(pricing, "claude", "claude-opus-4-6", "2026-08-01T10:00:00Z", [1000, 0, 0, 0, 100, 0]) == \
        pytest.approx(1000 * 5e-6 + 100 * 25e-6)
    assert _cost(pricing, "codex", "gpt-5.5", "2026-08-01T10:00:00Z", [1000, 0, 0, 0, 100, 0]) == \
        pytest.approx(1000 * 5e-6 + 100 * 30e-6)
    await http.aclose()


def test_precedence_overrides_then_downloaded_then_bundled() -> None:
    pricing = Pricing({"gpt-5.2-codex": {"input": 1, "output": 1}}, EXPECTED)
    ts = "2026-08-01T10:00:00Z"
    assert _cost(pricing, "codex", "gpt-5.2-codex", ts, [1000, 0, 0, 0, 1000, 0]) == pytest.approx(2000e-6)
    assert _cost(pricing, "codex", "gpt-5.4", ts, [1000, 0, 0, 0, 1000, 0]) == pytest.approx(1000 * 3e-6 + 1000 * 18e-6)
    assert _cost(pricing, "codex", "gpt-5.2", ts, [1000, 0, 0, 0, 1000, 0]) == \
        pytest.approx(1000 * 1.75e-6 + 1000 * 14e-6)
    # the bundled earlier price still applies to rows from before its change (gpt-5.6-terra: before 2026-07-30)
    assert _cost(pricing, "codex", "gpt-5.6-terra", "2026-07-01T10:00:00Z", [1000, 0, 0, 0, 1000, 0]) == \
        pytest.approx(1000 * 2.5e-6 + 1000 * 15e-6)
    assert _cost(pricing, "codex", "gpt-5.6-terra", ts, [1000, 0, 0, 0, 1000, 0]) == \
        pytest.approx(1000 * 3e-6 + 1000 * 13e-6)
    # a downloaded model the bundled table does not know is ignored: still unpriced
    assert Pricing(None, {"codex": {"gpt-9": {"input": 1, "output": 1}}}).entry("codex", "gpt-9") is None


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"not json", 200, "models.dev answered with invalid JSON"),
        (b"<!doctype html><p>hi</p>", 200, "models.dev answered with HTML instead of JSON"),
        (b"", 200, "models.dev answered with an empty body"),
        (b"[1, 2]", 200, "the pricing catalog is not a JSON object"),
        (b'{"google": {"models": {}}}', 200, "neither an 'openai' nor an 'anthropic' provider"),
        (b'{"openai": {"models": {"gpt-5": {"cost": {"input": "1", "output": -1}}}}}', 200,
         "the pricing catalog prices none of the known models"),
        (b'{"openai": {"models": []}, "anthropic": "x"}', 200, "neither an 'openai' nor an 'anthropic' provider"),
        (b"{}", 503, "models.dev is unavailable (HTTP 503)"),
    ],
)
async def test_malformed_payloads_keep_the_previous_prices(
    tmp_path: Path, upstream: Upstream, caplog: pytest.LogCaptureFixture, body: bytes, status: int, message: str
) -> None:
    clock = FixedClock(NOW)
    http = _client(upstream.url)
    first = PriceRefresher(http, tmp_path / PRICES_FILE, clock)
    assert await first.refresh() is True
    before = (tmp_path / PRICES_FILE).read_bytes()
    clock.advance(DAY + 1)
    upstream.body, upstream.status = body, status
    refresher = PriceRefresher(http, tmp_path / PRICES_FILE, clock)
    assert refresher.due()
    with caplog.at_level(logging.WARNING, logger="codexbard.cost.refresh"):
        assert await refresher.refresh() is False
    assert refresher.prices == EXPECTED and refresher.fetched_at == NOW
    assert (tmp_path / PRICES_FILE).read_bytes() == before
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and message in warnings[0]
    assert warnings[0].startswith("price refresh failed, keeping the previous prices: ")
    await http.aclose()


async def test_a_too_large_catalog_is_refused(tmp_path: Path, upstream: Upstream) -> None:
    http = _client(upstream.url)
    refresher = PriceRefresher(http, tmp_path / PRICES_FILE, FixedClock(NOW), max_bytes=100)
    assert await refresher.refresh() is False
    assert refresher.last_error == "price refresh failed, keeping the previous prices: " \
                                   "models.dev answered with more than 100 bytes"
    assert not (tmp_path / PRICES_FILE).exists()
    await http.aclose()


async def test_offline_is_logged_once_and_retried_a_day_later(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FixedClock(NOW)
    http = _client(_closed_port())
    refresher = PriceRefresher(http, tmp_path / PRICES_FILE, clock, timeout=2.0)
    with caplog.at_level(logging.WARNING, logger="codexbard.cost.refresh"):
        assert await refresher.refresh() is False
        assert refresher.attempts == 1 and not refresher.due()
        assert await refresher.refresh() is False  # not due: no second attempt
        assert refresher.attempts == 1
        clock.advance(DAY)
        assert await refresher.refresh() is False
        assert refresher.attempts == 2
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert messages[0].startswith("price refresh failed, keeping the previous prices: cannot connect to models.dev")
    assert refresher.prices == {} and not (tmp_path / PRICES_FILE).exists()
    await http.aclose()


async def test_a_damaged_stored_file_is_ignored(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / PRICES_FILE).write_text('{"version": 1, "fetched_at": "2026-08-01T00:00:00+00:00", '
                                        '"prices": {"codex": {"gpt-5": {"input": -1, "output": 1}}}}')
    http = _client(_closed_port())
    with caplog.at_level(logging.WARNING, logger="codexbard.cost.refresh"):
        refresher = PriceRefresher(http, tmp_path / PRICES_FILE, FixedClock(NOW))
    assert refresher.prices == {} and refresher.fetched_at is None and refresher.due()
    assert [r.getMessage() for r in caplog.records] == [
        "ignoring the stored prices: pricing-refresh.json: downloaded prices codex.gpt-5.input: expected a "
        "non-negative number of USD per 1M tokens, got -1"
    ]
    await http.aclose()


class Recorder:
    """A scan runner that records requests and answers an empty aggregate."""

    def __init__(self) -> None:
        self.requests: list[ScanRequest] = []

    async def __call__(self, request: ScanRequest) -> ScanReply:
        self.requests.append(request)
        return ScanReply(ScanState(), generation=len(self.requests))

    async def close(self) -> None:
        pass


def _job(tmp_path: Path, http: HttpClient, clock: FixedClock, runner: Recorder, **config: object) -> CostJob:
    (tmp_path / ".claude" / "projects").mkdir(parents=True, exist_ok=True)  # a log root: the job scans
    return cost_job_for(CostConfig(**config), State([]), clock, db_path=tmp_path / "codexbard.db", env={},
                        home=tmp_path, runner=runner, http=http)


async def test_the_cost_job_refreshes_at_most_once_a_day(tmp_path: Path, upstream: Upstream) -> None:
    clock = FixedClock(NOW)
    http = _client(upstream.url)
    runner = Recorder()
    job = _job(tmp_path, http, clock, runner, pricing_refresh=True,
               pricing={"gpt-5.4": {"input": 1, "output": 1}})
    await job.run()
    assert upstream.paths == ["/api.json"]
    assert runner.requests[0].downloaded == EXPECTED
    assert runner.requests[0].pricing == {"gpt-5.4": {"input": 1.0, "output": 1.0}}
    entry = job.pricing.entry("codex", "gpt-5.2-codex")
    assert entry is not None and entry.current.base.output == pytest.approx(16e-6)
    override = job.pricing.entry("codex", "gpt-5.4")
    assert override is not None and override.current.base.output == pytest.approx(1e-6)
    clock.advance(DAY - 60)
    await job.run()
    assert upstream.paths == ["/api.json"] and len(runner.requests) == 2
    assert runner.requests[1].downloaded == EXPECTED
    # a restart within the day uses the stored prices without downloading
    restarted = _job(tmp_path, http, clock, Recorder(), pricing_refresh=True)
    await restarted.run()
    assert upstream.paths == ["/api.json"]
    assert restarted.pricing.entry("claude", "claude-haiku-4-5") == Pricing(None, EXPECTED).entry(
        "claude", "claude-haiku-4-5")
    clock.advance(61)
    await job.run()
    assert upstream.paths == ["/api.json", "/api.json"]
    await http.aclose()


async def test_refresh_is_off_by_default(tmp_path: Path, upstream: Upstream) -> None:
    http = _client(upstream.url)
    runner = Recorder()
    job = _job(tmp_path, http, FixedClock(NOW), runner)
    assert job.refresher is None
    await job.run()
    assert upstream.paths == [] and runner.requests[0].downloaded == {}
    assert not (tmp_path / PRICES_FILE).exists()
    assert read_prices(tmp_path / PRICES_FILE) is None
    await http.aclose()


async def test_the_worker_prices_with_the_downloaded_table(tmp_path: Path) -> None:
    from codexbard.cost.worker import run_scan
    from codexbard.store import Store
    from tests.cost.corpus import TZ, cost_env, write_corpus

    write_corpus(tmp_path / "logs")
    roots = discover_roots(cost_env(tmp_path / "logs"), tmp_path)
    store = await Store.open(tmp_path / "codexbard.db")
    await store.close()
    query = "days=30"
    bundled = run_scan({}, ScanRequest(str(tmp_path / "codexbard.db"), roots, TZ, CORPUS_NOW.timestamp(),
                                       queries=(query,)))
    half = {p: {m: {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0} for m in bundled_models(p)}
            for p in ("codex", "claude")}
    free = run_scan({}, ScanRequest(str(tmp_path / "codexbard.db"), roots, TZ, CORPUS_NOW.timestamp(),
                                    queries=(query,), downloaded=half))
    assert bundled.error is None and free.error is None
    priced = [r["totals"]["totalCost"] for r in json.loads(bundled.rendered[query])]
    zero = [r["totals"]["totalCost"] for r in json.loads(free.rendered[query])]
    assert all(c is not None and c > 0 for c in priced)
    assert zero == [0, 0]
