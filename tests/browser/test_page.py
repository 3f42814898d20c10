"""The web page in a real browser: the real `codexbard serve` against fake upstreams, headless Chromium.

Each test saves screenshots under its own `tmp_path` (pytest prints the folder with `-v`; look for
`page-*.png`).
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture says how to install it (a skip, or a failure under CI)
    expect = None

from tests.e2e.test_daemon import Daemon, free_port
from tests.e2e.upstream import FakeUpstream

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ZAI_KEY = "zai-browser-secret-key-1234"
OPENROUTER_KEY = "sk-or-browser-secret-5678"
TOKEN = "browser-token-9f8e7d6c5b4a"
QUOTA_PATH = "/zai/api/monitor/usage/quota/limit"


def epoch_ms(delta: timedelta) -> int:
    return int((datetime.now(UTC) + delta).timestamp() * 1000)


def zai_quota(session_percent: float) -> dict[str, Any]:
    """A z.ai plan: 5-hour window resetting in 2 h, weekly window in 3 days, monthly MCP quota."""
    return {"code": 200, "msg": "ok", "success": True, "data": {"planName": "Pro", "limits": [
        {"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": session_percent,
         "nextResetTime": epoch_ms(timedelta(hours=2))},
        {"type": "TOKENS_LIMIT", "unit": 6, "number": 1, "percentage": 12,
         "nextResetTime": epoch_ms(timedelta(days=3))},
        {"type": "TIME_LIMIT", "unit": 5, "number": 1, "percentage": 92, "usage": 1000, "currentValue": 920,
         "remaining": 80, "nextResetTime": epoch_ms(timedelta(days=12))},
    ]}}


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.set_json(QUOTA_PATH, zai_quota(40))
        fake.set_json("/zai/api/monitor/usage/model-usage",
                      {"code": 200, "success": True, "data": {"x_time": [], "modelDataList": []}})
        fake.set_json("/openrouter/credits", {"data": {"total_credits": 250.0, "total_usage": 87.35}})
        fake.set_json("/openrouter/key", {"data": {"limit": 100, "limit_remaining": 62.5, "limit_reset": "monthly",
                                                   "usage": 310.2, "usage_daily": 1.75, "usage_weekly": 9.9,
                                                   "usage_monthly": 37.5}})
        yield fake


def start_daemon(tmp_path: Path, upstream: FakeUpstream, **extra_env: str) -> Daemon:
    home = tmp_path / "home-browser"
    home.mkdir()
    d = Daemon(home, free_port(), {
        "Z_AI_API_KEY": ZAI_KEY,
        "OPENROUTER_API_KEY": OPENROUTER_KEY,
        "CODEXBARD_UPSTREAM_OVERRIDES": json.dumps({
            "https://api.z.ai": f"{upstream.base}/zai",
            "https://openrouter.ai/api/v1": f"{upstream.base}/openrouter",
        }),
        **extra_env,
    })
    d.start()
    d.wait_ready()
    return d


def payloads(d: Daemon, **headers: str) -> dict[str, dict[str, Any]]:
    body = d.get("/usage", headers=headers).json()
    return {p["provider"]: p for p in body if p["usage"] is not None}


def wait_both(d: Daemon, **headers: str) -> dict[str, dict[str, Any]]:
    return d.wait_for(lambda: (found := payloads(d, **headers)) and len(found) == 2 and found)  # type: ignore[no-any-return]


@pytest.fixture
def daemon(tmp_path: Path, upstream: FakeUpstream) -> Iterator[Daemon]:
    d = start_daemon(tmp_path, upstream)
    yield d
    d.stop()


def open_page(browser: Any, d: Daemon, *, install_clock: bool = False, **context_args: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_args)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and "404" not in msg.text
            and "401" not in msg.text else None)
    page.errors = errors
    if install_clock:
        page.clock.install()
    page.goto(f"http://127.0.0.1:{d.port}/")
    return page


def used_text(page: Any, provider: str, window: str) -> Any:
    return page.locator(f'.card[data-provider="{provider}"] section.window[data-window="{window}"] .used')


def test_cards_bars_charts_and_a_live_update(browser: Any, daemon: Daemon, upstream: FakeUpstream,
                                             tmp_path: Path) -> None:
    first = wait_both(daemon)
    first_success = time.monotonic()
    page = open_page(browser, daemon, install_clock=True)
    page.wait_for_selector('.card[data-provider="openrouter"]')
    assert page.locator(".card").count() == 2
    assert [page.locator(".card h2").nth(i).inner_text() for i in range(2)] == ["z.ai", "OpenRouter"]

    zai = page.locator('.card[data-provider="zai"]')
    assert zai.locator("section.window").evaluate_all("els => els.map(e => e.dataset.window)") == [
        "primary", "secondary", "zai-mcp"]
    assert [zai.locator(".window-title").nth(i).inner_text() for i in range(3)] == ["5-hour", "Weekly", "MCP"]
    assert used_text(page, "zai", "primary").inner_text() == "40% used"
    assert used_text(page, "zai", "secondary").inner_text() == "12% used"
    assert used_text(page, "zai", "zai-mcp").inner_text() == "92% used"
    bars = zai.locator(".bar")
    assert bars.evaluate_all("els => els.map(e => e.getAttribute('aria-valuenow'))") == ["40", "12", "92"]
    assert zai.locator(".bar-fill").evaluate_all("els => els.map(e => e.className)") == [
        "bar-fill level-ok", "bar-fill level-ok", "bar-fill level-critical"]
    assert zai.locator(".bar-fill").first.evaluate("e => e.style.width") == "40%"
    # reset countdowns in local time, and the pace line from the payload
    primary = zai.locator('section.window[data-window="primary"]')
    reset = primary.locator(".reset").inner_text()
    assert reset.startswith(("resets in 1h 59m · ", "resets in 2h 0m · ")), reset
    assert primary.locator(".pace").inner_text() == first["zai"]["pace"]["primary"]["summary"]
    assert primary.locator(".pace").get_attribute("data-stage") == first["zai"]["pace"]["primary"]["stage"]
    # OpenRouter: credits line
    credits = page.locator('.card[data-provider="openrouter"] .credits').inner_text()
    assert credits == "Credits $162.65 left of $250.00"
    # one history chart per window, each with the one stored sample drawn
    expect(zai.locator('figure.chart svg[data-count="1"]')).to_have_count(3)
    charts = zai.locator("figure.chart svg")
    assert charts.count() == 3
    assert charts.first.locator("polyline.line").count() == 1
    assert charts.first.get_attribute("data-range") == "24h"
    assert zai.locator("figure.chart figcaption").first.inner_text().split("\n") == ["24 h ago", "now"]
    assert page.errors == []

    # the 7-day range reloads every chart
    page.click('.range button[data-range="7d"]')
    expect(zai.locator('svg[data-range="7d"][data-count="1"]')).to_have_count(3)
    assert page.locator('.range button[aria-pressed="true"]').inner_text() == "7 d"

    # a live update: the upstream changes, the daemon refreshes, the page follows without a reload
    expect(page.locator("#live")).to_have_attribute("data-state", re.compile(r"^(live|polling)$"))
    live = page.locator("#live").get_attribute("data-state")
    upstream.set_json(QUOTA_PATH, zai_quota(55))
    time.sleep(max(0.0, 10.5 - (time.monotonic() - first_success)))  # past the refresh debounce
    refreshed = daemon.post("/refresh?provider=zai").json()
    assert refreshed[0]["usage"]["primary"]["usedPercent"] == 55.0
    if live == "polling":  # this build has no /events: the page polls /usage every 60 s
        page.clock.run_for(61_000)
    used_text(page, "zai", "primary").filter(has_text="55% used").wait_for(timeout=10_000)
    assert page.locator(".card").count() == 2
    # the chart follows too (one point per hour on the 7-day range: the newest sample)
    expect(zai.locator('svg[data-range="7d"]').first).to_have_attribute("data-last", "55", timeout=10_000)
    page.click('.range button[data-range="24h"]')
    expect(zai.locator('svg[data-range="24h"]').first).to_have_attribute("data-last", "55")
    expect(zai.locator('svg[data-range="24h"]').first.locator("circle.dot")).to_have_count(1)
    assert page.errors == []
    page.screenshot(path=str(tmp_path / "page-light.png"), full_page=True)


def test_events_stream_updates_cards_and_badges(browser: Any, daemon: Daemon, tmp_path: Path) -> None:
    """The page's SSE client against a stream in API.md's format (served by the browser's route hook)."""
    current = wait_both(daemon)
    changed = copy.deepcopy(current["zai"])
    changed["usage"]["primary"]["usedPercent"] = 77.5
    changed["stale"] = True
    changed["lastError"] = {"kind": "timeout", "message": "z.ai did not answer within 10 s", "code": 4,
                            "at": datetime.now(UTC).isoformat().replace("+00:00", "Z")}
    exhausts = (datetime.now(UTC) + timedelta(minutes=90)).replace(microsecond=0)
    changed["forecast"] = {"primary": {"burnRatePercentPerHour": 15.0, "projectedUsedPercentAtReset": 107.5,
                                       "exhaustsAt": exhausts.isoformat().replace("+00:00", "Z"), "samples": 6},
                           "secondary": None, "tertiary": None}
    status = {"provider": "openrouter", "kind": "statuspage", "indicator": "major",
              "description": "Partial outage", "updatedAt": None, "url": "https://status.openrouter.ai"}
    failing = {"provider": "warp", "displayName": "Warp", "account": None, "source": None, "version": None,
               "status": None, "usage": None, "credits": None, "cost": None, "pace": None, "stale": False,
               "error": {"kind": "auth_required", "message": "Warp rejected the API key (HTTP 401)", "code": 1},
               "lastError": None, "fetchedAt": None, "nextRefreshAt": None}
    stream = (f"retry: 600000\nid: 1-1\nevent: usage\ndata: {json.dumps(changed)}\n\n"
              f": heartbeat\n\nid: 1-2\nevent: status\ndata: {json.dumps(status)}\n\n"
              f"id: 1-3\nevent: usage\ndata: {json.dumps(failing)}\n\n"
              "event: usage\ndata: {not json\n\n").encode()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/events", lambda route: route.fulfill(status=200, body=stream, headers={
        "content-type": "text/event-stream", "cache-control": "no-store"}))
    page.goto(f"http://127.0.0.1:{daemon.port}/")
    used_text(page, "zai", "primary").filter(has_text="77.5% used").wait_for(timeout=10_000)
    zai = page.locator('.card[data-provider="zai"]')
    assert zai.locator(".badge").evaluate_all("els => els.map(e => e.textContent)") == ["stale", "last poll failed"]
    message = zai.locator(".message.last-error").inner_text()
    assert message.startswith("Last poll failed at ") and message.endswith(": z.ai did not answer within 10 s")
    assert zai.locator(".bar-fill").first.get_attribute("class") == "bar-fill level-warning"
    forecast = zai.locator('section.window[data-window="primary"] .forecast')
    assert forecast.get_attribute("class") == "forecast exhausts"
    assert forecast.inner_text().startswith("Forecast ≈107.5% at reset, 15%/h, runs out ")
    assert zai.locator('section.window[data-window="secondary"] .forecast').count() == 0
    openrouter = page.locator('.card[data-provider="openrouter"]')
    openrouter.locator(".badge.status").wait_for()
    assert openrouter.locator(".badge.status").inner_text() == "status: major"
    assert openrouter.locator(".badge.status a").get_attribute("href") == "https://status.openrouter.ai"
    warp = page.locator('.card[data-provider="warp"]')
    warp.wait_for()
    assert page.locator(".card h2").all_inner_texts() == ["z.ai", "OpenRouter", "Warp"]
    assert warp.locator(".badge").all_inner_texts() == ["error"]
    assert warp.locator(".message.error").inner_text() == "Warp rejected the API key (HTTP 401)"
    assert warp.locator("section.window").count() == 0
    assert errors == []
    page.screenshot(path=str(tmp_path / "page-events.png"), full_page=True)
    context.close()


def test_polling_fallback_when_events_fail(browser: Any, daemon: Daemon, upstream: FakeUpstream) -> None:
    wait_both(daemon)
    first_success = time.monotonic()
    context = browser.new_context()
    page = context.new_page()
    page.clock.install()
    page.route("**/events", lambda route: route.fulfill(status=404, body=b'{"error":"not found"}',
                                                        headers={"content-type": "application/json"}))
    page.goto(f"http://127.0.0.1:{daemon.port}/")
    page.wait_for_selector('#live[data-state="polling"]')
    assert page.locator("#live").inner_text() == "polling every 60 s"
    assert used_text(page, "zai", "primary").inner_text() == "40% used"
    upstream.set_json(QUOTA_PATH, zai_quota(63))
    time.sleep(max(0.0, 10.5 - (time.monotonic() - first_success)))
    assert daemon.post("/refresh?provider=zai").json()[0]["usage"]["primary"]["usedPercent"] == 63.0
    page.clock.run_for(30_000)
    assert used_text(page, "zai", "primary").inner_text() == "40% used"  # not yet: the poll is every 60 s
    page.clock.run_for(31_000)
    used_text(page, "zai", "primary").filter(has_text="63% used").wait_for(timeout=10_000)
    context.close()


def test_token_flow_on_a_protected_daemon(browser: Any, tmp_path: Path, upstream: FakeUpstream) -> None:
    d = start_daemon(tmp_path, upstream, CODEXBARD_TOKEN=TOKEN)
    try:
        wait_both(d, authorization=f"Bearer {TOKEN}")
        context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark",
                                      device_scale_factor=2, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{d.port}/")
        page.wait_for_selector("#auth:not([hidden])")
        assert page.locator("#live").get_attribute("data-state") == "signed-out"
        assert page.locator(".card").count() == 0
        page.fill("#token", "not-the-token")
        page.click("#auth-form button[type=submit]")
        page.wait_for_selector("#auth-error:not([hidden])")
        assert page.locator("#auth-error").inner_text() == "That token is not right."
        assert page.locator("#token").input_value() == ""
        assert context.cookies() == []
        page.fill("#token", TOKEN)
        page.click("#auth-form button[type=submit]")
        page.wait_for_selector('.card[data-provider="openrouter"]')
        assert page.locator("#auth").is_hidden()
        cookies = context.cookies()
        assert [(c["name"], c["httpOnly"], c["sameSite"], c["path"]) for c in cookies] == [
            ("codexbard_session", True, "Strict", "/")]
        session = cookies[0]["value"]
        assert TOKEN not in session
        assert page.evaluate("document.cookie") == ""  # HttpOnly: the page's script cannot read it
        expect(page.locator('.card[data-provider="zai"] svg[data-count="1"]')).to_have_count(3)
        # the cookie authenticates GET routes, never a POST, and is not the token
        cookie = {"cookie": f"codexbard_session={session}"}
        assert d.get("/usage", headers=cookie).status_code == 200
        assert httpx.post(f"http://127.0.0.1:{d.port}/refresh", headers=cookie, timeout=10).status_code == 401
        # asked once: a reload goes straight to the cards
        page.reload()
        page.wait_for_selector('.card[data-provider="zai"]')
        assert page.locator("#auth").is_hidden()
        expect(page.locator('.card[data-provider="zai"] svg[data-count="1"]')).to_have_count(3)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
        page.screenshot(path=str(tmp_path / "page-phone-dark.png"), full_page=True)
        for path in tmp_path.glob("home-browser/**/*"):
            if path.is_file() and path.suffix != ".toml":
                assert TOKEN.encode() not in path.read_bytes()
        context.close()
    finally:
        d.stop()
