"""The HTTP API in-process: routes, selection, errors, host check and token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codexbard.api.app import create_app
from codexbard.api.security import GuardMiddleware
from codexbard.daemon import Daemon
from codexbard.errors import AuthRequired
from codexbard.models import ProviderStatus
from codexbard.providers.base import ConfigKey
from codexbard.state import AccountState, State
from codexbard.status.source import StatusSource
from tests.fakes import ScriptedStrategy, fake_spec, make_runtime, snapshot

BASE = "http://127.0.0.1:8765"


def make_daemon(tmp_path: Path, toml: str = "", *, specs: list[Any] | None = None) -> Daemon:
    if specs is None:
        specs = [
            fake_spec("alpha", ScriptedStrategy([snapshot(40.0)]),
                      status=StatusSource(kind="statuspage", url="https://status.alpha.example")),
            fake_spec("beta", ScriptedStrategy([AuthRequired("Beta key rejected (HTTP 401)")])),
            fake_spec("gamma", ScriptedStrategy([snapshot(1.0)], available=False),
                      status=StatusSource(kind="link", url="https://status.gamma.example")),
        ]
    runtime = make_runtime(tmp_path, specs, toml)
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    return Daemon(runtime, None, state)


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    d = make_daemon(tmp_path)
    yield d
    await d.stop(timeout=1)


def client(d: Daemon, host: str = "127.0.0.1:8765", **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(d)), base_url=BASE,
                             headers={"host": host, **headers})


async def test_usage_lists_enabled_providers_in_registry_order(daemon: Daemon) -> None:
    await daemon.scheduler.poll("alpha")
    await daemon.scheduler.poll("beta")
    async with client(daemon) as c:
        r = await c.get("/usage")
    assert r.status_code == 200
    body = r.json()
    assert [p["provider"] for p in body] == ["alpha", "beta"]
    alpha, beta = body
    assert set(alpha) == {"provider", "displayName", "account", "source", "version", "status", "usage",
                          "credits", "cost", "pace", "forecast", "error", "lastError", "stale", "fetchedAt",
                          "nextRefreshAt"}
    assert alpha["usage"]["primary"] == {"usedPercent": 40.0, "windowMinutes": None, "resetsAt": None,
                                         "resetDescription": None, "label": "Session"}
    assert alpha["usage"]["secondary"] is None and alpha["usage"]["tertiary"] is None
    assert alpha["source"] == "api" and alpha["stale"] is False and alpha["error"] is None
    assert alpha["status"] == {"kind": "statuspage", "indicator": "unknown", "description": None,
                               "updatedAt": None, "url": "https://status.alpha.example"}
    assert beta["usage"] is None
    assert beta["error"] == {"kind": "auth_required", "message": "Beta key rejected (HTTP 401)", "code": 1}


async def test_usage_all_and_disabled_provider(daemon: Daemon) -> None:
    async with client(daemon) as c:
        r = await c.get("/usage", params={"provider": "all"})
        only = await c.get("/usage", params=[("provider", "gamma"), ("provider", "alpha")])
    assert [p["provider"] for p in r.json()] == ["alpha", "beta", "gamma"]
    gamma = r.json()[2]
    assert gamma["usage"] is None and gamma["error"]["kind"] == "not_configured"
    assert "Gamma is not enabled" in gamma["error"]["message"]
    assert "Set GAMMA_KEY." in gamma["error"]["message"]
    assert gamma["status"] == {"kind": "link", "indicator": None, "description": None, "updatedAt": None,
                               "url": "https://status.gamma.example"}
    assert [p["provider"] for p in only.json()] == ["alpha", "gamma"]


async def test_unknown_provider_is_400_with_known_ids(daemon: Daemon) -> None:
    async with client(daemon) as c:
        r = await c.get("/usage?provider=nope")
        one = await c.get("/usage/nope")
        refresh = await c.post("/refresh?provider=nope")
    assert r.status_code == 400
    assert r.json() == {"error": "unknown provider 'nope'", "known": ["alpha", "beta", "gamma"]}
    assert one.status_code == 404
    assert refresh.status_code == 400


async def test_usage_one_and_formats(daemon: Daemon) -> None:
    await daemon.scheduler.poll("alpha")
    async with client(daemon) as c:
        one = await c.get("/usage/alpha")
        flat = await c.get("/usage?format=flat")
        text = await c.get("/usage?format=text")
        bad = await c.get("/usage?format=xml")
        missing_account = await c.get("/usage/alpha?account=work")
    assert one.json()["provider"] == "alpha"
    assert flat.json()["alpha"]["primary"]["usedPercent"] == 40.0
    assert flat.json()["beta"] == {"displayName": "Beta", "primary": None, "secondary": None, "tertiary": None,
                                   "credits": None, "stale": False, "error": None, "lastError": None,
                                   "updatedAt": None}
    assert text.headers["content-type"].startswith("text/plain")
    assert "Session: 60% left (40% used)" in text.text
    assert bad.status_code == 400 and bad.json()["known"] == ["json", "flat", "text", "waybar", "swiftbar"]
    assert missing_account.status_code == 404


async def test_usage_cache_follows_state_changes(daemon: Daemon) -> None:
    async with client(daemon) as c:
        before = (await c.get("/usage")).json()
        await daemon.scheduler.poll("alpha")
        after = (await c.get("/usage")).json()
    assert before[0]["usage"] is None and after[0]["usage"]["primary"]["usedPercent"] == 40.0


async def test_refresh_polls_and_returns_payloads(daemon: Daemon) -> None:
    async with client(daemon) as c:
        r = await c.post("/refresh?provider=alpha")
    assert r.status_code == 200
    assert [p["provider"] for p in r.json()] == ["alpha"]
    assert r.json()[0]["usage"]["primary"]["usedPercent"] == 40.0


async def test_providers_describes_every_provider(daemon: Daemon) -> None:
    async with client(daemon) as c:
        r = await c.get("/providers")
    body = {p["id"]: p for p in r.json()}
    assert list(body) == ["alpha", "beta", "gamma"]
    assert body["alpha"]["enabled"] is True and body["gamma"]["enabled"] is False
    assert body["gamma"]["strategies"] == [{"id": "api", "kind": "api", "sourceLabel": "api",
                                            "available": False, "reason": "no scripted key"}]
    assert body["gamma"]["enabledReason"] == "api: no scripted key"
    assert body["alpha"]["statusUrl"] == "https://status.alpha.example"
    assert body["alpha"]["intervalSeconds"] == 300 and body["alpha"]["configuredSource"] == "auto"


async def test_status_lists_enabled_providers_with_a_source(daemon: Daemon) -> None:
    daemon.state.statuses["alpha"] = ProviderStatus(kind="statuspage", indicator="major",
                                                    description="Partial outage", url="https://status.alpha.example")
    async with client(daemon) as c:
        r = await c.get("/status")
    assert r.json() == [{"provider": "alpha", "kind": "statuspage", "indicator": "major",
                         "description": "Partial outage", "updatedAt": None, "url": "https://status.alpha.example"}]


async def test_health(daemon: Daemon) -> None:
    async with client(daemon) as c:
        r = await c.get("/health")
    body = r.json()
    assert body["status"] == "ok" and body["providersEnabled"] == 2 and isinstance(body["uptimeSeconds"], float)


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "LOCALHOST", "localhost."])
async def test_loopback_host_headers_are_accepted(daemon: Daemon, host: str) -> None:
    async with client(daemon, host=host) as c:
        assert (await c.get("/usage")).status_code == 200


HOST_REFUSED = (
    "this Host header is not allowed (DNS rebinding protection); on a non-loopback bind, add the name or IP "
    "clients use to `allowed_hosts` in the config (or CODEXBARD_ALLOWED_HOSTS='[\"name\"]')"
)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", ""])
async def test_foreign_host_headers_are_rejected(daemon: Daemon, host: str) -> None:
    async with client(daemon, host=host) as c:
        r = await c.get("/usage")
        health = await c.get("/health")
    assert r.status_code == 403 and r.json()["error"] == HOST_REFUSED
    assert health.status_code == 403


async def test_token_protects_data_routes_on_a_public_bind(tmp_path: Path) -> None:
    d = make_daemon(tmp_path, 'host = "0.0.0.0"\ntoken = "s3cret-token"\nallowed_hosts = ["box.lan"]\n')
    async with client(d, host="box.lan:8765") as c:
        assert (await c.get("/usage")).status_code == 401
        assert (await c.get("/usage", headers={"authorization": "Bearer wrong"})).status_code == 401
        assert (await c.get("/usage", params={"token": "s3cret-token"})).status_code == 401
        ok = await c.get("/usage", headers={"authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
        assert (await c.get("/health")).status_code == 200
        assert (await c.get("/openapi.json")).status_code == 401
    async with client(d, host="other.lan") as c:
        refused = await c.get("/health")
    assert (refused.status_code, refused.json()) == (403, {"error": HOST_REFUSED})
    await d.stop(timeout=1)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "'provider' is required"),
        ("provider=nope", "unknown provider 'nope'"),
        ("provider=alpha&since=yesterday", "'since' must be ISO 8601 or epoch seconds"),
        ("provider=alpha&until=1e400", "'until' is out of range"),
        ("provider=alpha&step=abc", "'step' must be a whole number of seconds"),
        ("provider=alpha&step=0", "'step' must be between 1 and 31536000 seconds"),
        ("provider=alpha&since=2026-11-25T10:00:00Z&until=2026-11-24T10:00:00Z", "'since' must not be after"),
    ],
)
async def test_history_rejects_bad_input(daemon: Daemon, query: str, message: str) -> None:
    async with client(daemon) as c:
        r = await c.get(f"/history?{query}")
    assert r.status_code == 400
    assert message in r.json()["error"]


async def test_no_client_input_gives_a_500(daemon: Daemon) -> None:
    odd = ["/usage?provider=", "/usage?provider=%00", "/usage?account=%ff%fe", "/usage/%2e%2e",
           "/history?provider=alpha&since=-5", "/history?provider=alpha&window=%F0%9F%92%A5",
           "/refresh", "/usage?format=", "/nope", "/usage?provider=all&provider=alpha"]
    async with client(daemon) as c:
        for path in odd:
            r = await c.get(path)
            assert r.status_code < 500, path
            assert r.headers["content-type"].startswith(("application/json", "text/plain")), path
        assert (await c.delete("/usage")).status_code == 405


async def test_a_provider_with_an_empty_accounts_list(tmp_path: Path) -> None:
    d = make_daemon(tmp_path, "[providers.alpha]\naccounts = []\n", specs=[
        fake_spec("alpha", ScriptedStrategy([snapshot(1.0)]), account_keys=(ConfigKey("home"),)),
        fake_spec("beta", ScriptedStrategy([snapshot(2.0)])),
    ])
    async with client(d) as c:
        providers = (await c.get("/providers")).json()
        one = await c.get("/usage/alpha")
        usage = (await c.get("/usage?provider=all")).json()
    assert providers[0]["id"] == "alpha" and providers[0]["enabled"] is False
    assert providers[0]["enabledReason"] == "no accounts are configured ([providers.alpha] accounts is empty)"
    assert one.status_code == 404 and one.json() == {"error": "no accounts are configured for alpha"}
    assert [p["provider"] for p in usage] == ["beta"]
    await d.stop(timeout=1)


@pytest.mark.parametrize("path", ["/usage", "/usage?provider=all&format=flat", "/usage?format=text", "/health"])
async def test_router_serves_the_bytes_the_guard_serves(daemon: Daemon, path: str) -> None:
    await daemon.scheduler.poll("alpha")
    app = create_app(daemon)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not GuardMiddleware]  # the router answers
    async with client(daemon) as guarded, httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE) as bare:
        hot, routed = await guarded.get(path), await bare.get(path)
    assert routed.status_code == hot.status_code == 200
    assert routed.headers["content-type"] == hot.headers["content-type"]
    if path == "/health":
        assert set(routed.json()) == set(hot.json())
        assert {**routed.json(), "uptimeSeconds": 0} == {**hot.json(), "uptimeSeconds": 0}
    else:
        assert routed.content == hot.content
