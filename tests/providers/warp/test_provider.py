"""Warp descriptor and the whole pipeline (run_pipeline) against a fake upstream."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx

from codexbard.models import Credits, RateWindow
from codexbard.providers.base import Availability
from codexbard.providers.runner import run_pipeline
from codexbard.providers.warp import PROVIDER
from codexbard.providers.warp.api import WarpApi
from tests.helpers import json_response, make_context

KEY = "wk-pipelineKEY0123456"

PAYLOAD = {
    "data": {
        "user": {
            "__typename": "UserOutput",
            "user": {
                "requestLimitInfo": {
                    "isUnlimited": False,
                    "nextRefreshTime": "2026-12-01T00:00:00Z",
                    "requestLimit": 1000,
                    "requestsUsedSinceLastRefresh": 250,
                },
                "bonusGrants": [],
                "workspaces": [],
            },
        }
    }
}


def handler(request: httpx.Request) -> httpx.Response:
    if request.headers.get("User-Agent") != "Warp/1.0":
        return httpx.Response(429, content=b"Rate exceeded.")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert json.loads(request.content)["operationName"] == "GetRequestLimitInfo"
    return json_response(PAYLOAD)


def test_spec_fields() -> None:
    assert PROVIDER.id == "warp"
    assert PROVIDER.display_name == "Warp"
    assert PROVIDER.window_labels == ("Credits", "Add-on credits", None)
    assert PROVIDER.dashboard_url == "https://docs.warp.dev/reference/cli/api-keys"
    assert PROVIDER.status is None
    assert PROVIDER.default_interval_seconds is None
    assert PROVIDER.config_keys == ()
    assert "WARP_API_KEY" in PROVIDER.enable_hint
    assert "codexbard config set-secret --provider warp" in PROVIDER.enable_hint
    assert len(PROVIDER.strategies) == 1
    strategy = PROVIDER.strategies[0]
    assert isinstance(strategy, WarpApi)
    assert (strategy.id, strategy.kind, strategy.source_label) == ("api", "api", "api")


def test_auto_is_api() -> None:
    assert PROVIDER.modes() == {"auto": ("api",), "api": ("api",)}
    assert PROVIDER.strategies_for("auto") == PROVIDER.strategies_for("api")


async def test_pipeline_end_to_end() -> None:
    ctx = make_context("warp", handler, env={"WARP_API_KEY": KEY})
    for mode in ("auto", "api"):
        outcome = await run_pipeline(PROVIDER, ctx, mode)
        assert outcome.ok
        assert outcome.error is None
        assert outcome.source == "api"
        assert outcome.snapshot is not None
        assert outcome.snapshot.primary == RateWindow(
            used_percent=25.0,
            resets_at=datetime(2026, 12, 1, tzinfo=UTC),
            reset_description="250/1000 credits",
            label="Credits",
        )
        assert outcome.snapshot.secondary is None
        assert outcome.snapshot.credits == Credits(remaining=750.0, total=1000.0, unit="credits")
        assert [(a.strategy, a.ok) for a in outcome.attempts] == [("api", True)]


async def test_pipeline_without_key_is_not_configured() -> None:
    calls: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    ctx = make_context("warp", record)
    availability = await PROVIDER.strategies[0].available(ctx)
    assert availability.ok is False
    outcome = await run_pipeline(PROVIDER, ctx)
    assert outcome.error is not None
    assert outcome.error.kind == "not_configured"
    assert "Warp API key not found" in outcome.error.message
    assert "env WARP_API_KEY, env WARP_TOKEN" in outcome.error.message
    assert "config providers.warp.api_key" in outcome.error.message
    assert "WARP_API_KEY" in outcome.error.message
    assert calls == []


async def test_available_names_the_source_not_the_value() -> None:
    ctx = make_context("warp", handler, env={"WARP_TOKEN": KEY})
    availability = await PROVIDER.strategies[0].available(ctx)
    assert availability == Availability.yes("API key from env WARP_TOKEN")
    assert KEY not in availability.reason


async def test_pipeline_graphql_auth_error() -> None:
    def reject(request: httpx.Request) -> httpx.Response:
        return json_response({"errors": [{"message": f"Unauthenticated: {KEY}"}]})

    ctx = make_context("warp", reject, env={"WARP_API_KEY": KEY})
    outcome = await run_pipeline(PROVIDER, ctx)
    assert outcome.error is not None
    assert outcome.error.kind == "auth_required"
    assert KEY not in outcome.error.message
    assert all(KEY not in (a.message or "") for a in outcome.attempts)
