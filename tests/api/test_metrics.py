"""GET /metrics: the metric set of integrations.md §5.2 with exact values, promtool-clean, no redirect."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from codexbard import __version__
from codexbard.api.app import create_app
from codexbard.api.entry import DaemonApp
from codexbard.daemon import Daemon
from codexbard.errors import ERROR_KINDS, AuthRequired
from codexbard.host.clock import FixedClock
from codexbard.models import Credits, NamedWindow, RateWindow, UsageSnapshot, WindowValue
from codexbard.providers.base import ConfigKey
from codexbard.state import AccountState, State
from codexbard.telemetry import DurationHistogram, FetchStats
from tests.fakes import ScriptedStrategy, fake_spec, make_runtime
from tests.helpers import NOW

BASE = "http://127.0.0.1:8765"
RESETS = NOW + timedelta(hours=2)
WEEK_RESETS = NOW + timedelta(days=3)

ALPHA = UsageSnapshot(
    primary=RateWindow(used_percent=40.0, window_minutes=300, resets_at=RESETS, label="Session"),
    secondary=RateWindow(used_percent=112.5, window_minutes=10080, resets_at=WEEK_RESETS),
    extra_rate_windows=[NamedWindow(id="alpha-mcp", title="MCP", window=WindowValue(used_percent=3.0))],
    credits=Credits(remaining=160.0, total=500.0, unit="credits"),
)
DELTA = UsageSnapshot(credits=Credits(remaining=62.5, total=100.0, unit="USD"))


def make_daemon(tmp_path: Path, toml: str = "") -> Daemon:
    specs = [
        fake_spec("alpha", ScriptedStrategy([ALPHA]), account_keys=(ConfigKey("home"),)),
        fake_spec("beta", ScriptedStrategy([AuthRequired("Beta key rejected (HTTP 401)")])),
        fake_spec("gamma", ScriptedStrategy([ALPHA], available=False)),
        fake_spec("delta", ScriptedStrategy([DELTA])),
    ]
    runtime = make_runtime(tmp_path, specs, toml, clock=FixedClock(NOW))
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    return Daemon(runtime, None, state)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    d = make_daemon(tmp_path)
    for key in ("alpha", "beta", "beta", "delta"):
        await d.scheduler.poll(key)
    yield d
    await d.stop(timeout=1)


def client(d: Daemon, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(d)), base_url=BASE,
                             headers={"host": "127.0.0.1:8765", **headers})


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample except the fetch-duration histogram's (its durations are real time)."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if not s.name.startswith("codexbard_fetch_duration_seconds"):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def lab(**labels: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


async def test_metric_set_with_exact_values(daemon: Daemon) -> None:
    async with client(daemon) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    got = samples(r.text)
    expected = {
        ("codexbard_window_used_ratio", lab(provider="alpha", account="", window="primary")): 0.4,
        ("codexbard_window_used_ratio", lab(provider="alpha", account="", window="secondary")): 1.125,
        ("codexbard_window_used_ratio", lab(provider="alpha", account="", window="alpha-mcp")): 0.03,
        ("codexbard_window_reset_timestamp_seconds", lab(provider="alpha", account="", window="primary")):
            RESETS.timestamp(),
        ("codexbard_window_reset_timestamp_seconds", lab(provider="alpha", account="", window="secondary")):
            WEEK_RESETS.timestamp(),
        ("codexbard_window_length_seconds", lab(provider="alpha", account="", window="primary")): 18000.0,
        ("codexbard_window_length_seconds", lab(provider="alpha", account="", window="secondary")): 604800.0,
        ("codexbard_credits_remaining", lab(provider="alpha", account="")): 160.0,
        ("codexbard_credits_remaining_usd", lab(provider="delta", account="")): 62.5,
        ("codexbard_last_success_timestamp_seconds", lab(provider="alpha", account="")): NOW.timestamp(),
        ("codexbard_last_success_timestamp_seconds", lab(provider="delta", account="")): NOW.timestamp(),
        ("codexbard_provider_up", lab(provider="alpha", account="")): 1.0,
        ("codexbard_provider_up", lab(provider="beta", account="")): 0.0,
        ("codexbard_provider_up", lab(provider="delta", account="")): 1.0,
        ("codexbard_build_info", lab(version=__version__)): 1.0,
    }
    for provider in ("alpha", "beta", "delta"):
        for kind in ERROR_KINDS:
            expected[("codexbard_fetch_errors_total", lab(provider=provider, account="", kind=kind))] = (
                2.0 if (provider, kind) == ("beta", "auth_required") else 0.0)
    assert got == expected  # gamma is not enabled: no series at all
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    histogram = families["codexbard_fetch_duration_seconds"]
    assert histogram.type == "histogram"
    by_provider: dict[str, dict[str, float]] = {}
    for s in histogram.samples:
        if s.name.endswith("_count"):
            by_provider.setdefault(s.labels["provider"], {})["count"] = s.value
        elif s.name.endswith("_bucket") and s.labels["le"] == "+Inf":
            by_provider.setdefault(s.labels["provider"], {})["inf"] = s.value
    assert by_provider == {"alpha": {"count": 1.0, "inf": 1.0}, "beta": {"count": 2.0, "inf": 2.0},
                           "delta": {"count": 1.0, "inf": 1.0}}
    assert "_created" not in r.text


async def test_passes_promtool_check_metrics(daemon: Daemon) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is missing: apt-get install prometheus (.ci/run does it)"
    async with client(daemon) as c:
        text = (await c.get("/metrics")).text
    check = await asyncio.to_thread(subprocess.run, [promtool, "check", "metrics"], input=text,
                                    capture_output=True, text=True, timeout=60)
    assert (check.returncode, check.stdout, check.stderr) == (0, "", "")


async def test_openmetrics_on_request_and_no_redirect(daemon: Daemon) -> None:
    async with client(daemon) as c:
        r = await c.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert (r.status_code, r.history) == (200, [])  # a route, not a mount: no 307 to /metrics/
    assert r.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert r.text.endswith("# EOF\n")
    assert "# TYPE codexbard_fetch_errors counter" in r.text
    assert 'codexbard_fetch_errors_total{account="",kind="auth_required",provider="beta"} 2.0' in r.text


async def test_the_router_serves_the_same_bytes_as_the_guard(daemon: Daemon) -> None:
    from codexbard.api.app import router_app
    from codexbard.api.fast import UsageCache, context_of

    ctx = context_of(daemon)
    bare_router = router_app(ctx, UsageCache(ctx))
    async with client(daemon) as c, httpx.AsyncClient(transport=httpx.ASGITransport(app=bare_router),
                                                       base_url=BASE) as r:
        hot = await c.get("/metrics")
        routed = await r.get("/metrics")
        spec = (await r.get("/openapi.json")).json()
    assert samples(hot.text) == samples(routed.text)
    assert routed.headers["content-type"] == hot.headers["content-type"]
    assert "/metrics" in spec["paths"]


async def test_a_new_poll_shows_at_once(daemon: Daemon) -> None:
    async with client(daemon) as c:
        await c.get("/metrics")
        await daemon.scheduler.poll("beta")
        text = (await c.get("/metrics")).text
    got = samples(text)
    assert got[("codexbard_fetch_errors_total", lab(provider="beta", account="", kind="auth_required"))] == 3.0


async def test_accounts_are_labelled_and_need_the_token(tmp_path: Path) -> None:
    toml = ('token = "s3cret-token-value"\n[[providers.alpha.accounts]]\nlabel = "work"\n'
            '[[providers.alpha.accounts]]\nlabel = "home"\n')
    d = make_daemon(tmp_path, toml)
    try:
        await d.scheduler.poll("alpha:work")
        async with client(d) as c:
            refused = await c.get("/metrics")
            r = await c.get("/metrics", headers={"authorization": "Bearer s3cret-token-value"})
        assert refused.status_code == 401
        got = samples(r.text)
        assert got[("codexbard_provider_up", lab(provider="alpha", account="work"))] == 1.0
        assert got[("codexbard_provider_up", lab(provider="alpha", account="home"))] == 0.0  # never polled
        assert got[("codexbard_window_used_ratio", lab(provider="alpha", account="work", window="primary"))] == 0.4
        assert ("codexbard_window_used_ratio", lab(provider="alpha", account="home", window="primary")) not in got
        assert "s3cret" not in r.text
    finally:
        await d.stop(timeout=1)


async def test_served_by_the_daemon_app_without_the_router(daemon: Daemon) -> None:
    app = DaemonApp(daemon)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE,
                                 headers={"host": "127.0.0.1:8765"}) as c:
        r = await c.get("/metrics")
    assert r.status_code == 200 and "codexbard_build_info" in r.text
    assert app.router_loaded is False


def test_prometheus_client_waits_for_the_first_scrape() -> None:
    code = ("import sys, codexbard.api.entry, codexbard.serve, codexbard.api.fast; "
            "print('prometheus_client' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_duration_histogram_buckets() -> None:
    histogram = DurationHistogram()
    for seconds in (0.05, 0.1, 0.3, 7.0, 45.0, -1.0):
        histogram.observe(seconds)
    assert histogram.cumulative() == [("0.1", 3), ("0.25", 3), ("0.5", 4), ("1.0", 4), ("2.5", 4), ("5.0", 4),
                                      ("10.0", 5), ("30.0", 5), ("+Inf", 6)]
    assert (histogram.count, histogram.total) == (6, 52.45)
    stats = FetchStats()
    stats.record("p", None, 0.2, None)
    stats.record("p", "work", 0.2, "timeout")
    assert stats.errors == {("p", "work", "timeout"): 1}
    assert (stats.version, stats.durations["p"].count) == (2, 2)
