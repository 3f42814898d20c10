"""OpenRouter descriptor and the whole pipeline (run_pipeline) against a fake upstream."""

from __future__ import annotations

import httpx

from codexbard.models import Credits, Identity, ProviderStatus, RateWindow
from codexbard.providers.base import Availability
from codexbard.providers.openrouter import PROVIDER
from codexbard.providers.openrouter.api import OpenRouterApi
from codexbard.providers.runner import run_pipeline
from codexbard.status.source import StatusSource
from tests.helpers import json_response, make_context

KEY = "sk-or-v1-pipelineKEY123456"


def handler(request: httpx.Request) -> httpx.Response:
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    if request.url.path == "/api/v1/credits":
        assert request.headers["X-Title"] == "codexbard"
        return json_response({"data": {"total_credits": 50, "total_usage": 12.5}})
    if request.url.path == "/api/v1/key":
        return json_response({"data": {"limit": 40, "usage": 10}})
    return httpx.Response(404)


def test_spec_fields() -> None:
    assert PROVIDER.id == "openrouter"
    assert PROVIDER.display_name == "OpenRouter"
    assert PROVIDER.window_labels == ("Credits", None, None)
    assert PROVIDER.dashboard_url == "https://openrouter.ai/settings/credits"
    assert PROVIDER.status == StatusSource(kind="link", url="https://status.openrouter.ai")
    assert PROVIDER.status.link_status() == ProviderStatus(kind="link", url="https://status.openrouter.ai")
    assert PROVIDER.default_interval_seconds is None
    assert PROVIDER.config_keys == ()
    assert "OPENROUTER_API_KEY" in PROVIDER.enable_hint
    assert "codexbard config set-secret --provider openrouter" in PROVIDER.enable_hint
    assert len(PROVIDER.strategies) == 1
    strategy = PROVIDER.strategies[0]
    assert isinstance(strategy, OpenRouterApi)
    assert (strategy.id, strategy.kind, strategy.source_label) == ("api", "api", "api")


def test_auto_is_api() -> None:
    assert PROVIDER.modes() == {"auto": ("api",), "api": ("api",)}
    assert PROVIDER.strategies_for("auto") == PROVIDER.strategies_for("api")


async def test_pipeline_end_to_end() -> None:
    ctx = make_context("openrouter", handler, env={"OPENROUTER_API_KEY": KEY})
    for mode in ("auto", "api"):
        outcome = await run_pipeline(PROVIDER, ctx, mode)
        assert outcome.ok
        assert outcome.error is None
        assert outcome.source == "api"
        assert outcome.snapshot is not None
        assert outcome.snapshot.primary == RateWindow(used_percent=25.0, label="Credits")
        assert outcome.snapshot.credits == Credits(remaining=37.5, total=50.0, unit="USD")
        assert outcome.snapshot.identity == Identity(login_method="Balance: $37.50")
        assert [(a.strategy, a.ok) for a in outcome.attempts] == [("api", True)]


async def test_pipeline_without_key_is_not_configured() -> None:
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    ctx = make_context("openrouter", record)
    availability = await PROVIDER.strategies[0].available(ctx)
    assert availability.ok is False
    assert availability.kind == "not_configured"
    outcome = await run_pipeline(PROVIDER, ctx)
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.kind == "not_configured"
    assert "OPENROUTER_API_KEY" in outcome.error.message
    assert "env OPENROUTER_API_KEY" in outcome.error.message  # where it looked
    assert "config providers.openrouter.api_key" in outcome.error.message
    assert "codexbard config set-secret --provider openrouter" in outcome.error.message
    assert calls == []


async def test_available_names_the_source_not_the_value() -> None:
    ctx = make_context("openrouter", handler, env={"OPENROUTER_API_KEY": KEY})
    availability = await PROVIDER.strategies[0].available(ctx)
    assert availability == Availability.yes("API key from env OPENROUTER_API_KEY")
    assert KEY not in availability.reason


async def test_pipeline_rejected_key_is_auth_required_without_secret() -> None:
    def reject(request: httpx.Request) -> httpx.Response:
        return json_response({"error": {"message": f"bad key {KEY}"}}, status=401)

    ctx = make_context("openrouter", reject, env={"OPENROUTER_API_KEY": KEY})
    outcome = await run_pipeline(PROVIDER, ctx)
    assert outcome.error is not None
    assert outcome.error.kind == "auth_required"
    assert KEY not in outcome.error.message
    assert all(KEY not in (a.message or "") for a in outcome.attempts)
