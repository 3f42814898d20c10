"""The Kimi K2 descriptor and the whole pipeline."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from codexbard.providers.kimik2 import PROVIDER
from codexbard.providers.kimik2.api import KimiK2ApiStrategy
from codexbard.providers.runner import run_pipeline
from tests.helpers import json_response, make_context

KEY = "k2-provider-test-key-42"


def test_spec_fields() -> None:
    assert PROVIDER.id == "kimik2"
    assert PROVIDER.display_name == "Kimi K2"
    assert len(PROVIDER.strategies) == 1
    strategy = PROVIDER.strategies[0]
    assert isinstance(strategy, KimiK2ApiStrategy)
    assert (strategy.id, strategy.kind, strategy.source_label) == ("api", "api", "api")
    assert PROVIDER.window_labels == (None, None, None)
    assert PROVIDER.default_interval_seconds is None
    assert PROVIDER.dashboard_url == "https://kimrel.com/my-credits"
    assert PROVIDER.status is None
    assert PROVIDER.config_keys == ()
    assert "KIMI_K2_API_KEY" in PROVIDER.enable_hint
    assert "codexbard config set-secret --provider kimik2" in PROVIDER.enable_hint


def test_auto_is_api() -> None:
    assert PROVIDER.modes() == {"auto": ("api",), "api": ("api",)}
    assert PROVIDER.strategies_for("auto") == PROVIDER.strategies_for("api")


@pytest.mark.parametrize("mode", ["auto", "api"])
async def test_pipeline_end_to_end(mode: str) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url} {request.headers['Authorization']}")
        return json_response(
            {"result": {"credits": {"creditsRemaining": "12.5", "usedCredits": "87.5"}},
             "timestamp": 1893456000000}
        )

    ctx = make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY})
    outcome = await run_pipeline(PROVIDER, ctx, mode)
    assert outcome.ok
    assert outcome.error is None
    assert outcome.source == "api"
    assert calls == [f"GET https://kimi-k2.ai/api/user/credits Bearer {KEY}"]
    assert outcome.snapshot is not None
    assert outcome.snapshot.credits is not None
    assert outcome.snapshot.credits.remaining == 12.5
    assert outcome.snapshot.credits.total == 100.0
    assert outcome.snapshot.identity is not None
    assert outcome.snapshot.identity.login_method == "Credits: 12.5 left"
    assert outcome.snapshot.updated_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert [(a.strategy, a.ok) for a in outcome.attempts] == [("api", True)]


async def test_pipeline_upstream_override() -> None:
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return json_response({"credits_remaining": 1})

    ctx = make_context(
        "kimik2", handler, env={"KIMI_K2_API_KEY": KEY},
        overrides={"https://kimi-k2.ai": "http://127.0.0.1:9000/k2"},
    )
    outcome = await run_pipeline(PROVIDER, ctx)
    assert outcome.ok
    assert urls == ["http://127.0.0.1:9000/k2/api/user/credits"]


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no request may be sent")


async def test_pipeline_not_configured_without_key() -> None:
    outcome = await run_pipeline(PROVIDER, make_context("kimik2", _unreachable))
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.kind == "not_configured"
    assert "KIMI_K2_API_KEY" in outcome.error.message
    assert "Kimi K2 API key not found" in outcome.error.message
    assert [(a.strategy, a.ok, a.error_kind) for a in outcome.attempts] == [("api", False, "not_configured")]


async def test_pipeline_generic_key_is_not_sent_unless_enabled() -> None:
    outcome = await run_pipeline(PROVIDER, make_context("kimik2", _unreachable, env={"KIMI_API_KEY": KEY}))
    assert outcome.error is not None
    assert outcome.error.kind == "not_configured"
    assert KEY not in outcome.error.message


async def test_pipeline_generic_key_when_enabled() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        return json_response({"credits_remaining": 160, "total": 340})

    ctx = make_context("kimik2", handler, env={"KIMI_KEY": KEY}, explicitly_enabled=True)
    outcome = await run_pipeline(PROVIDER, ctx)
    assert outcome.ok
    assert outcome.snapshot is not None
    assert outcome.snapshot.identity is not None
    assert outcome.snapshot.identity.login_method == "Credits: 160 left"


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, "auth_required"), (403, "auth_required"), (429, "rate_limited"), (500, "unavailable")],
)
async def test_pipeline_error_kinds(status: int, kind: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text=f"nope {KEY}")

    outcome = await run_pipeline(PROVIDER, make_context("kimik2", handler, env={"KIMI_K2_API_KEY": KEY}))
    assert outcome.error is not None
    assert outcome.error.kind == kind
    assert KEY not in outcome.error.message
    assert all(KEY not in (a.message or "") for a in outcome.attempts)
