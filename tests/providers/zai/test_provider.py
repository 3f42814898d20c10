"""The z.ai descriptor: spec fields, config keys, and the pipeline end to end."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from codexbard.config import Settings
from codexbard.errors import ConfigError
from codexbard.providers.registry import Registry, poll_targets
from codexbard.providers.runner import run_pipeline
from codexbard.providers.zai import PROVIDER
from codexbard.providers.zai.api import ZaiApiStrategy
from codexbard.providers.zai.const import REGIONS, SCOPES
from codexbard.providers.zai.parse import parse_quota
from tests.helpers import fixture_bytes, json_response, make_context

QUOTA = "https://api.z.ai/api/monitor/usage/quota/limit"


def load(name: str) -> Any:
    return json.loads(fixture_bytes(__file__, name))


def upstream(requests: list[httpx.Request]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if str(request.url) == QUOTA:
            return json_response(load("quota_full.json"))
        return httpx.Response(404)
    return handler


def test_spec_fields() -> None:
    assert PROVIDER.id == "zai"
    assert PROVIDER.display_name == "z.ai"
    assert len(PROVIDER.strategies) == 1
    strategy = PROVIDER.strategies[0]
    assert isinstance(strategy, ZaiApiStrategy)
    assert (strategy.id, strategy.kind, strategy.source_label) == ("api", "api", "api")
    assert PROVIDER.window_labels == ("5-hour", "Weekly", None)
    assert PROVIDER.dashboard_url == "https://z.ai/manage-apikey/coding-plan/personal/my-plan"
    assert PROVIDER.status is None
    assert PROVIDER.default_interval_seconds is None
    assert PROVIDER.poll_deadline_seconds == 20.0
    assert PROVIDER.modes() == {"auto": ("api",), "api": ("api",)}
    assert "Z_AI_API_KEY" in PROVIDER.enable_hint
    assert "codexbard config set-secret --provider zai" in PROVIDER.enable_hint


def test_config_keys() -> None:
    region = PROVIDER.config_key("region")
    assert region is not None
    assert region.choices == ("global", "bigmodel-cn")
    assert region.default == "global"
    scope = PROVIDER.config_key("usage_scope")
    assert scope is not None
    assert scope.choices == ("personal", "team")
    assert scope.default == "personal"
    assert PROVIDER.config_key("organization_id") is not None
    assert PROVIDER.config_key("project_id") is not None
    api_key = PROVIDER.account_key("api_key")
    assert api_key is not None and api_key.secret
    assert PROVIDER.config_key("api_key") is None  # provider-level api_key is a common key
    assert PROVIDER.secret_fields() == ("api_key",)
    assert region.choices == REGIONS and scope.choices == SCOPES


def test_env_vars_are_declared() -> None:
    assert [(v.name, v.secret) for v in PROVIDER.env_vars] == [
        ("Z_AI_API_KEY", True), ("BIGMODEL_API_KEY", True), ("ZHIPU_API_KEY", True), ("ZHIPUAI_API_KEY", True),
        ("GLM_API_KEY", True), ("Z_AI_API_HOST", False), ("Z_AI_QUOTA_URL", False), ("Z_AI_BALANCE_URL", False),
        ("Z_AI_BIGMODEL_ORGANIZATION", False), ("Z_AI_BIGMODEL_PROJECT", False),
    ]


def test_account_api_key_stays_wrapped_and_is_never_echoed() -> None:
    (target,) = targets({"zai": {"accounts": [{"label": "a", "api_key": "zk-account-secret"}]}})
    assert target.options["api_key"] == SecretStr("zk-account-secret")
    assert "zk-account-secret" not in repr(target.options)
    with pytest.raises(ConfigError) as info:
        targets({"zai": {"accounts": [{"label": "a", "api_key": ["zk-account-secret"]}]}})
    assert str(info.value) == "providers.zai.accounts[0].api_key: must be a string"


def targets(providers: dict[str, Any]) -> list[Any]:
    return poll_targets(Settings(providers=providers), Registry((PROVIDER,)))


def test_valid_config_is_accepted() -> None:
    (target,) = targets({"zai": {"region": "bigmodel-cn", "usage_scope": "team", "organization_id": "o",
                             "project_id": "p"}})
    assert target.options["region"] == "bigmodel-cn"
    assert target.options["usage_scope"] == "team"
    assert target.options["organization_id"] == "o"
    (default,) = targets({})
    assert default.options["region"] == "global"
    assert default.options["usage_scope"] == "personal"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"region": "cn"}, "providers.zai.region: must be one of 'global', 'bigmodel-cn'"),
        ({"region": "Global"}, "providers.zai.region: must be one of 'global', 'bigmodel-cn'"),
        ({"usage_scope": "org"}, "providers.zai.usage_scope: must be one of 'personal', 'team'"),
        ({"region": 3}, "providers.zai.region: must be one of 'global', 'bigmodel-cn'"),
        ({"organization_id": 42}, "providers.zai.organization_id: must be a string"),
        ({"workspace_id": "w"}, "unknown key 'providers.zai.workspace_id' (provider zai does not declare it)"),
        ({"api_key": "k", "accounts": [{"label": "a", "region": "mars"}]},
         "providers.zai.accounts[0].region: must be one of 'global', 'bigmodel-cn'"),
        ({"accounts": [{"label": "a", "team": "t"}]},
         "unknown key 'providers.zai.accounts[0].team' (provider zai does not declare it)"),
    ],
)
def test_invalid_config_stops_startup(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        targets({"zai": table})
    assert str(info.value) == message


def test_accounts_are_accepted() -> None:
    result = targets({"zai": {"accounts": [
        {"label": "cn-team", "api_key": "k", "region": "bigmodel-cn", "usage_scope": "team",
         "organization_id": "o", "project_id": "p"},
        {"label": "global"},
    ]}})
    assert [p.account for p in result] == ["cn-team", "global"]
    assert result[0].options["region"] == "bigmodel-cn"
    assert result[1].options["region"] == "global"


async def test_pipeline_auto_and_api_give_the_same_snapshot() -> None:
    outcomes = []
    for mode in ("auto", "api"):
        requests: list[httpx.Request] = []
        ctx = make_context("zai", upstream(requests), env={"Z_AI_API_KEY": "k-123456"})
        outcome = await run_pipeline(PROVIDER, ctx, mode)
        assert outcome.ok
        assert outcome.source == "api"
        assert outcome.error is None
        assert [a.strategy for a in outcome.attempts] == ["api"]
        # The quota, then the two optional model-usage calls (answered 404 here, so ignored).
        assert str(requests[0].url) == QUOTA
        assert [r.url.path for r in requests][1:] == ["/api/monitor/usage/model-usage"] * 2
        outcomes.append(outcome)
    assert outcomes[0].snapshot == outcomes[1].snapshot == parse_quota(load("quota_full.json"))


async def test_pipeline_without_key_is_not_configured() -> None:
    requests: list[httpx.Request] = []
    outcome = await run_pipeline(PROVIDER, make_context("zai", upstream(requests)))
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.kind == "not_configured"
    assert "Z_AI_API_KEY" in outcome.error.message
    assert "codexbard config set-secret --provider zai" in outcome.error.message
    assert requests == []


async def test_pipeline_reports_a_team_setup_error() -> None:
    requests: list[httpx.Request] = []
    ctx = make_context("zai", upstream(requests), env={"Z_AI_API_KEY": "k-123456"},
                       options={"usage_scope": "team"})
    outcome = await run_pipeline(PROVIDER, ctx)
    assert outcome.error is not None
    assert outcome.error.kind == "not_configured"
    assert "Organization ID and the Project ID" in outcome.error.message
    assert requests == []


async def test_pipeline_parse_error_is_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_response(load("quota_float_percentage.json"))

    outcome = await run_pipeline(PROVIDER, make_context("zai", handler, env={"Z_AI_API_KEY": "k-123456"}))
    assert outcome.error is not None
    assert outcome.error.kind == "parse_error"
    assert outcome.attempts[0].error_kind == "parse_error"
