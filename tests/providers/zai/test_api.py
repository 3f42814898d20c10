"""The z.ai API strategy against a fake upstream: requests sent, regions, team scope, overrides, failures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from codexbard.errors import AuthRequired, NotConfigured, ParseError, Unavailable
from codexbard.models import Credits
from codexbard.providers.base import FetchContext
from codexbard.providers.zai.api import ZaiApiStrategy
from codexbard.providers.zai.parse import parse_quota
from tests.helpers import fixture_bytes, json_response, make_context
from tests.providers import kit

GLOBAL_QUOTA = "https://api.z.ai/api/monitor/usage/quota/limit"
CN_QUOTA = "https://open.bigmodel.cn/api/monitor/usage/quota/limit"
CN_BALANCE = "https://www.bigmodel.cn/api/biz/account/query-customer-account-report"
KEY = "zk-test-0123456789abcdef"
CANARY = "0123456789CanaryZaiSecret"  # no sk-/JWT shape: only the known-secret scrubbing can hide it
CN = {"region": "bigmodel-cn"}
TEAM = {"usage_scope": "team", "organization_id": "org-7", "project_id": "proj-9"}

Reply = httpx.Response | Callable[[httpx.Request], httpx.Response]


def load(name: str) -> Any:
    return json.loads(fixture_bytes(__file__, name))


class Upstream:
    """A fake upstream: replies keyed by URL without its query; records every request."""

    def __init__(self, replies: dict[str, Reply] | None = None) -> None:
        self.replies: dict[str, Reply] = {
            GLOBAL_QUOTA: json_response(load("quota_full.json")),
            CN_QUOTA: json_response(load("quota_full.json")),
            CN_BALANCE: json_response(load("balance_full.json")),
        }
        self.replies.update(replies or {})
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.get(str(request.url.copy_with(query=None)))
        if reply is None:
            return httpx.Response(404, text="no such route")
        return reply(request) if callable(reply) else reply

    @property
    def urls(self) -> list[str]:
        """Every request but the optional model-usage ones (`model_urls`)."""
        return [str(r.url) for r in self.requests if "/model-usage" not in r.url.path]

    @property
    def model_urls(self) -> list[str]:
        return [str(r.url) for r in self.requests if "/model-usage" in r.url.path]


def context(upstream: Upstream, *, env: dict[str, str] | None = None, **kwargs: Any) -> FetchContext:
    environment = {"Z_AI_API_KEY": KEY} if env is None else env
    return make_context("zai", upstream, env=environment, **kwargs)


async def fetch(ctx: FetchContext) -> Any:
    strategy = ZaiApiStrategy()
    availability = await strategy.available(ctx)
    if not availability.ok:
        raise NotConfigured(availability.reason)
    return await strategy.fetch(ctx)


def raising(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc
    return handler


# --- happy paths -------------------------------------------------------------------------------


async def test_global_happy_path_sends_one_quota_request() -> None:
    upstream = Upstream()
    snapshot = await fetch(context(upstream))
    assert snapshot == parse_quota(load("quota_full.json"))
    assert snapshot.credits is None
    assert upstream.urls == [GLOBAL_QUOTA]  # no balance (global)
    # Then the two optional model-usage calls (1 day, 30 days), in local time; their 404s are ignored.
    assert upstream.model_urls == [
        "https://api.z.ai/api/monitor/usage/model-usage?startTime=2026-11-24%2000%3A00%3A00"
        "&endTime=2026-11-25%2018%3A59%3A59",
        "https://api.z.ai/api/monitor/usage/model-usage?startTime=2026-10-26%2000%3A00%3A00"
        "&endTime=2026-11-25%2018%3A59%3A59",
    ]
    request = upstream.requests[0]
    assert request.method == "GET"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "application/json"
    assert "bigmodel-organization" not in request.headers
    assert "bigmodel-project" not in request.headers
    assert request.extensions["timeout"]["read"] == 15.0


async def test_cn_happy_path_adds_balance_as_credits() -> None:
    upstream = Upstream()
    snapshot = await fetch(context(upstream, options=CN))
    assert upstream.urls == [CN_QUOTA, CN_BALANCE]
    assert snapshot.primary is not None and snapshot.primary.used_percent == 40.0
    assert snapshot.credits == Credits(remaining=17.9, unit="CNY")
    balance = upstream.requests[1]
    assert balance.method == "GET"
    assert balance.headers["authorization"] == f"Bearer {KEY}"
    assert balance.extensions["timeout"]["read"] == 5.0
    assert upstream.requests[0].extensions["timeout"]["read"] == 15.0


async def test_cn_balance_with_null_available_uses_balance() -> None:
    upstream = Upstream({CN_BALANCE: json_response(load("balance_available_null.json"))})
    snapshot = await fetch(context(upstream, options=CN))
    assert snapshot.credits == Credits(remaining=18.4, unit="CNY")


BALANCE_FAILURES: list[tuple[str, Reply]] = [
    ("http-500", httpx.Response(500, text="oops")),
    ("http-401", httpx.Response(401, text="no")),
    ("http-429", httpx.Response(429, headers={"retry-after": "60"})),
    ("html", httpx.Response(200, content=fixture_bytes(__file__, "quota_html.html"))),
    ("error-envelope", json_response(load("balance_error.json"))),
    ("all-null", json_response(load("balance_all_null.json"))),
    ("timeout", raising(httpx.ReadTimeout("slow"))),
    ("refused", raising(httpx.ConnectError("refused"))),
]


@pytest.mark.parametrize(("name", "reply"), BALANCE_FAILURES, ids=[c[0] for c in BALANCE_FAILURES])
async def test_cn_balance_failure_is_ignored(name: str, reply: Reply) -> None:
    upstream = Upstream({CN_BALANCE: reply})
    snapshot = await fetch(context(upstream, options=CN))
    assert snapshot == parse_quota(load("quota_full.json"))
    assert snapshot.credits is None
    assert upstream.urls == [CN_QUOTA, CN_BALANCE]


async def test_balance_is_skipped_when_the_deadline_is_near() -> None:
    upstream = Upstream()
    ctx = context(upstream, options=CN)
    ctx.deadline = time.monotonic() + 0.3
    snapshot = await fetch(ctx)
    assert upstream.urls == [CN_QUOTA]
    assert snapshot.credits is None
    assert upstream.requests[0].extensions["timeout"]["read"] <= 0.3


async def test_upstream_overrides_rewrite_the_canonical_url() -> None:
    upstream = Upstream({"http://127.0.0.1:9/zai/api/monitor/usage/quota/limit":
                         json_response(load("quota_single_credit_30d.json"))})
    snapshot = await fetch(context(upstream, overrides={"https://api.z.ai": "http://127.0.0.1:9/zai"}))
    assert upstream.urls == ["http://127.0.0.1:9/zai/api/monitor/usage/quota/limit"]
    assert snapshot.primary is not None and snapshot.primary.window_minutes == 43200


# --- team scope ----------------------------------------------------------------------------------


async def test_team_scope_sets_type_2_and_headers() -> None:
    upstream = Upstream()
    await fetch(context(upstream, options={**CN, **TEAM}))
    quota, balance, hourly, daily = upstream.requests
    # Model usage in team scope: `type=3` and the same two team headers.
    for model in (hourly, daily):
        assert model.url.params["type"] == "3"
        assert model.headers["bigmodel-organization"] == "org-7"
        assert model.headers["bigmodel-project"] == "proj-9"
    assert str(quota.url) == CN_QUOTA + "?type=2"
    assert quota.headers["bigmodel-organization"] == "org-7"
    assert quota.headers["bigmodel-project"] == "proj-9"
    # The balance is the account's own: it gets the bearer header only.
    assert str(balance.url) == CN_BALANCE
    assert balance.headers["authorization"] == f"Bearer {KEY}"
    assert "bigmodel-organization" not in balance.headers
    assert "bigmodel-project" not in balance.headers


async def test_team_scope_replaces_existing_type_and_keeps_other_params() -> None:
    upstream = Upstream()
    env = {"Z_AI_API_KEY": KEY, "Z_AI_QUOTA_URL": GLOBAL_QUOTA + "?type=9&keep=1"}
    await fetch(context(upstream, env=env, options=TEAM))
    assert upstream.urls == [GLOBAL_QUOTA + "?keep=1&type=2"]
    assert upstream.requests[0].url.params.get_list("type") == ["2"]


async def test_personal_scope_keeps_the_configured_query() -> None:
    upstream = Upstream()
    env = {"Z_AI_API_KEY": KEY, "Z_AI_QUOTA_URL": GLOBAL_QUOTA + "?type=9&keep=1"}
    await fetch(context(upstream, env=env))
    assert upstream.urls == [GLOBAL_QUOTA + "?type=9&keep=1"]


async def test_team_ids_from_env_fill_missing_keys() -> None:
    upstream = Upstream()
    env = {"Z_AI_API_KEY": KEY, "Z_AI_BIGMODEL_ORGANIZATION": " org-env ",
           "Z_AI_BIGMODEL_PROJECT": "proj-env"}
    await fetch(context(upstream, env=env, options={**CN, "usage_scope": "team", "project_id": "proj-cfg"}))
    quota = upstream.requests[0]
    assert quota.headers["bigmodel-organization"] == "org-env"
    assert quota.headers["bigmodel-project"] == "proj-cfg"  # the config key wins over the env var


async def test_team_env_ids_are_ignored_in_personal_scope() -> None:
    upstream = Upstream()
    env = {"Z_AI_API_KEY": KEY, "Z_AI_BIGMODEL_ORGANIZATION": "org", "Z_AI_BIGMODEL_PROJECT": "proj"}
    await fetch(context(upstream, env=env, options=CN))
    assert upstream.urls[0] == CN_QUOTA
    assert "bigmodel-organization" not in upstream.requests[0].headers


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        ({"usage_scope": "team"}, "missing: organization_id, project_id"),
        ({"usage_scope": "team", "organization_id": "org-7"}, "missing: project_id"),
        ({"usage_scope": "team", "project_id": "proj-9", "organization_id": "   "},
         "missing: organization_id"),
    ],
)
async def test_team_scope_without_both_ids_fails_before_any_request(
    options: dict[str, str], missing: str
) -> None:
    upstream = Upstream()
    with pytest.raises(NotConfigured) as info:
        await fetch(context(upstream, options={**CN, **options}))
    message = info.value.message
    assert "Organization ID and the Project ID" in message
    assert "providers.zai.organization_id" in message and "providers.zai.project_id" in message
    assert "Z_AI_BIGMODEL_ORGANIZATION" in message and "Z_AI_BIGMODEL_PROJECT" in message
    assert missing in message
    assert upstream.requests == []


@pytest.mark.parametrize("bad", ["org-1\norg-1", "org-1\rorg-2", "org 1", "org-1,org-1", "org\t1"])
async def test_team_ids_must_be_one_value_on_one_line(bad: str) -> None:
    upstream = Upstream()
    with pytest.raises(NotConfigured) as info:
        await fetch(context(upstream, options={**TEAM, "organization_id": bad}))
    assert "providers.zai.organization_id" in info.value.message
    assert "single value on one line" in info.value.message
    assert upstream.requests == []


async def test_team_id_from_env_with_newline_is_rejected() -> None:
    upstream = Upstream()
    env = {"Z_AI_API_KEY": KEY, "Z_AI_BIGMODEL_PROJECT": "p1\np2"}
    with pytest.raises(NotConfigured, match="Z_AI_BIGMODEL_PROJECT"):
        await fetch(context(upstream, env=env, options={"usage_scope": "team", "organization_id": "o"}))
    assert upstream.requests == []


async def test_team_data_empty_is_a_parse_error() -> None:
    upstream = Upstream({GLOBAL_QUOTA: json_response(load("quota_data_empty.json"))})
    with pytest.raises(ParseError, match=r"Failed to parse z\.ai quota data"):
        await fetch(context(upstream, options=TEAM))


# --- endpoint overrides -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "region", "expected"),
    [
        ({"Z_AI_API_HOST": "proxy.example"}, "global", "https://proxy.example/api/monitor/usage/quota/limit"),
        ({"Z_AI_API_HOST": "https://proxy.example/"}, "global",
         "https://proxy.example/api/monitor/usage/quota/limit"),
        ({"Z_AI_API_HOST": "https://proxy.example:8443/custom/quota?x=1"}, "global",
         "https://proxy.example:8443/custom/quota?x=1"),
        ({"Z_AI_API_HOST": "HTTPS://API.Z.AI"}, "global", "https://API.Z.AI/api/monitor/usage/quota/limit"),
        ({"Z_AI_API_HOST": "open.bigmodel.cn"}, "bigmodel-cn", CN_QUOTA),
        ({"Z_AI_API_HOST": "proxy.example", "Z_AI_QUOTA_URL": "https://q.example/limit"}, "global",
         "https://q.example/limit"),
        ({"Z_AI_QUOTA_URL": "q.example/v1/limit"}, "bigmodel-cn", "https://q.example/v1/limit"),
    ],
)
async def test_endpoint_overrides(env: dict[str, str], region: str, expected: str) -> None:
    upstream = Upstream({expected.split("?")[0].replace("API.Z.AI", "api.z.ai"):
                         json_response(load("quota_full.json"))})
    ctx = context(upstream, env={"Z_AI_API_KEY": KEY, **env}, options={"region": region})
    snapshot = await fetch(ctx)
    assert snapshot.primary is not None and snapshot.primary.used_percent == 40.0
    assert upstream.urls[0].lower() == expected.lower()
    assert upstream.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_balance_url_override_is_used_for_cn() -> None:
    upstream = Upstream({"https://bal.example/report": json_response(load("balance_strings.json"))})
    ctx = context(upstream, env={"Z_AI_API_KEY": KEY, "Z_AI_BALANCE_URL": "bal.example/report"}, options=CN)
    snapshot = await fetch(ctx)
    assert upstream.urls == [CN_QUOTA, "https://bal.example/report"]
    assert snapshot.credits == Credits(remaining=17.9, unit="CNY")


async def test_balance_url_override_is_ignored_for_global() -> None:
    upstream = Upstream()
    ctx = context(upstream, env={"Z_AI_API_KEY": KEY, "Z_AI_BALANCE_URL": "http://not-even-https"})
    await fetch(ctx)
    assert upstream.urls == [GLOBAL_QUOTA]


BAD_OVERRIDES: list[tuple[str, str, str, str]] = [
    ("Z_AI_API_HOST", "http://proxy.example", "global", "must be an https:// URL"),
    ("Z_AI_QUOTA_URL", "ftp://proxy.example/limit", "global", "must be an https:// URL"),
    ("Z_AI_API_HOST", "https://user:pw@proxy.example", "global", "must not carry a user name or password"),
    ("Z_AI_QUOTA_URL", "https://evil.example@api.z.ai/limit", "global", "must not carry a user name"),
    ("Z_AI_API_HOST", "https://proxy example", "global", "whitespace or control characters"),
    ("Z_AI_QUOTA_URL", "https://proxy.example\x00/limit", "global", "whitespace or control characters"),
    ("Z_AI_API_HOST", "https://evil.example%2fapi.z.ai", "global", "percent-encoded or backslash"),
    ("Z_AI_API_HOST", "https://evil.example%40api.z.ai", "global", "percent-encoded or backslash"),
    ("Z_AI_API_HOST", "https://evil.example%3A443", "global", "percent-encoded or backslash"),
    ("Z_AI_API_HOST", "https://evil.example\\api.z.ai", "global", "percent-encoded or backslash"),
    ("Z_AI_API_HOST", "https://proxy.example:https", "global", "invalid port"),
    ("Z_AI_QUOTA_URL", "https:///api/monitor/usage/quota/limit", "global", "has no host name"),
    ("Z_AI_API_HOST", "api.z.ai", "bigmodel-cn", "does not match the selected region bigmodel-cn"),
    ("Z_AI_QUOTA_URL", "https://open.bigmodel.cn/api/monitor/usage/quota/limit", "global",
     "does not match the selected region global"),
    ("Z_AI_BALANCE_URL", "http://bal.example/report", "bigmodel-cn", "must be an https:// URL"),
    ("Z_AI_BALANCE_URL", "https://api.z.ai/report", "bigmodel-cn", "does not match the selected region"),
]


@pytest.mark.parametrize(("name", "value", "region", "reason"), BAD_OVERRIDES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(BAD_OVERRIDES)])
async def test_invalid_override_fails_before_the_token_is_sent(name: str, value: str, region: str,
                                                               reason: str) -> None:
    upstream = Upstream()
    ctx = context(upstream, env={"Z_AI_API_KEY": KEY, name: value}, options={"region": region})
    with pytest.raises(NotConfigured) as info:
        await fetch(ctx)
    assert info.value.message.startswith(name)
    assert reason in info.value.message
    assert "pw" not in info.value.message and KEY not in info.value.message
    assert upstream.requests == []


async def test_blank_overrides_are_ignored() -> None:
    upstream = Upstream()
    await fetch(context(upstream, env={"Z_AI_API_KEY": KEY, "Z_AI_API_HOST": "  ", "Z_AI_QUOTA_URL": ""}))
    assert upstream.urls == [GLOBAL_QUOTA]


async def test_unknown_region_is_not_configured() -> None:
    upstream = Upstream()
    with pytest.raises(NotConfigured, match=r"providers\.zai\.region must be one of global, bigmodel-cn"):
        await fetch(context(upstream, options={"region": "mars"}))
    assert upstream.requests == []


# --- HTTP and payload failures -------------------------------------------------------------------------


# The sheet: a rejected key says where the key came from; the other rows keep the host's phrasing.
REJECTED = "z.ai rejected the credentials (HTTP {}); check the API key from env Z_AI_API_KEY"
MATRIX = kit.ErrorMatrix(
    "zai", ZaiApiStrategy, key=CANARY, env={"Z_AI_API_KEY": CANARY}, target=GLOBAL_QUOTA, service="z.ai",
    timeout=15,
    changes={
        "401": kit.Expect("auth_required", REJECTED.format(401)),
        "403": kit.Expect("auth_required", REJECTED.format(403)),
        "echoed-key": kit.Expect("auth_required", REJECTED.format(401)),
        "echoed-key-masked": kit.Expect("auth_required", REJECTED.format(401)),
        "echoed-key-upper-case": kit.Expect("auth_required", REJECTED.format(401)),
        "echoed-key-truncated": kit.Expect("auth_required", REJECTED.format(401)),
    },
)


@pytest.mark.parametrize("row", MATRIX.params())
async def test_error_matrix(row: kit.Row) -> None:
    await MATRIX.check(row)


async def test_http_403_is_auth_required_for_cn() -> None:
    upstream = Upstream({CN_QUOTA: httpx.Response(403, text="forbidden")})
    with pytest.raises(AuthRequired) as info:
        await fetch(context(upstream, options=CN))
    assert info.value.message.startswith("z.ai (BigModel CN) rejected the credentials (HTTP 403)")
    assert upstream.urls == [CN_QUOTA]  # a failed quota stops the fetch: no balance request


BODY_FAILURES: list[tuple[str, httpx.Response, type[Exception], str]] = [
    ("html", httpx.Response(200, content=fixture_bytes(__file__, "quota_html.html"),
                            headers={"content-type": "text/html"}), ParseError, "HTML instead of JSON"),
    ("truncated", httpx.Response(200, content=fixture_bytes(__file__, "quota_truncated.json")), ParseError,
     "invalid JSON"),
    ("array", json_response(load("quota_not_object.json")), ParseError, "not an object"),
    ("empty", httpx.Response(200, content=b""), ParseError, "empty body"),
    ("data-empty", json_response(load("quota_data_empty.json")), ParseError,
     "Failed to parse z.ai quota data"),
    ("float-percentage", json_response(load("quota_float_percentage.json")), ParseError,
     "Failed to parse z.ai limit entry 0"),
    ("envelope-error", json_response(load("quota_envelope_error.json")), Unavailable,
     "z.ai quota API error: bad key"),
    ("envelope-401", json_response(load("quota_envelope_auth.json")), AuthRequired,
     "z.ai rejected the API key (code 401: token expired or incorrect); "
     "check the API key from env Z_AI_API_KEY"),
]


@pytest.mark.parametrize(("name", "reply", "error", "message"), BODY_FAILURES,
                         ids=[c[0] for c in BODY_FAILURES])
async def test_body_failures(name: str, reply: httpx.Response, error: type[Exception], message: str) -> None:
    upstream = Upstream({GLOBAL_QUOTA: reply})
    with pytest.raises(error) as info:
        await fetch(context(upstream))
    assert type(info.value) is error
    assert message in str(info.value)


# --- secrets --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(401, text=f'{{"error": "invalid api key {KEY}"}}'),
        json_response({"code": 401, "success": False, "msg": f"key {KEY} is not valid"}),
        json_response({"code": 1001, "success": False, "msg": f"Authorization: Bearer {KEY} rejected"}),
        json_response({"code": 1001, "success": False, "msg": f"unknown token {KEY}"}),
    ],
    ids=["http-401-echo", "envelope-401-echo", "envelope-bearer-echo", "envelope-bare-echo"],
)
async def test_rejected_key_never_appears_in_the_error(reply: httpx.Response) -> None:
    upstream = Upstream({GLOBAL_QUOTA: reply})
    with pytest.raises((AuthRequired, Unavailable)) as info:
        await fetch(context(upstream))
    assert KEY not in info.value.message
    assert KEY not in str(info.value)
    assert KEY not in repr(info.value)


async def test_available_reason_does_not_show_the_key() -> None:
    availability = await ZaiApiStrategy().available(context(Upstream()))
    assert availability.ok
    assert availability.reason == "API key from env Z_AI_API_KEY"
    assert KEY not in availability.reason


# --- credentials ----------------------------------------------------------------------------------------


def bearer(upstream: Upstream) -> str:
    return upstream.requests[0].headers["authorization"]


async def test_env_key_wins_over_store_and_config() -> None:
    upstream = Upstream()
    ctx = context(upstream, env={"Z_AI_API_KEY": "env-key"}, secrets={"zai:api_key": "store-key"},
                  options={"api_key": "config-key"})
    await fetch(ctx)
    assert bearer(upstream) == "Bearer env-key"


async def test_store_wins_over_config() -> None:
    upstream = Upstream()
    ctx = context(upstream, env={}, secrets={"zai:api_key": "store-key"}, options={"api_key": "config-key"})
    await fetch(ctx)
    assert bearer(upstream) == "Bearer store-key"


async def test_config_key_is_used() -> None:
    upstream = Upstream()
    await fetch(context(upstream, env={}, options={"api_key": " 'config-key' "}))
    assert bearer(upstream) == "Bearer config-key"


async def test_env_key_is_cleaned() -> None:
    upstream = Upstream()
    await fetch(context(upstream, env={"Z_AI_API_KEY": '  "quoted-key"\n'}))
    assert bearer(upstream) == "Bearer quoted-key"


@pytest.mark.parametrize("name", ["BIGMODEL_API_KEY", "ZHIPU_API_KEY", "ZHIPUAI_API_KEY", "GLM_API_KEY"])
async def test_cn_env_vars(name: str) -> None:
    upstream = Upstream()
    await fetch(context(upstream, env={name: "cn-key"}, options=CN))
    assert bearer(upstream) == "Bearer cn-key"


async def test_cn_env_var_order() -> None:
    upstream = Upstream()
    env = {"GLM_API_KEY": "glm", "ZHIPUAI_API_KEY": "zhipuai", "ZHIPU_API_KEY": "zhipu",
           "BIGMODEL_API_KEY": "bm"}
    await fetch(context(upstream, env=env, options=CN))
    assert bearer(upstream) == "Bearer bm"
    upstream = Upstream()
    await fetch(context(upstream, env={**env, "Z_AI_API_KEY": "zai"}, options=CN))
    assert bearer(upstream) == "Bearer zai"


def write(home: Path, relative: str, text: str) -> None:
    path = home / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({".coding-relay/glm-api-key": "relay-key\nsecond line\n", ".config/bigmodel/api_key": "bm-key"},
         "relay-key"),
        ({".config/bigmodel/api_key": "'bm-key'\n", ".config/zhipu/api_key": "zhipu-key"}, "bm-key"),
        ({".coding-relay/glm-api-key": "\nnot-the-first-line\n", ".config/zhipu/api_key": "  zhipu-key  "},
         "zhipu-key"),
    ],
    ids=["relay-first", "bigmodel-quoted", "empty-first-line-skipped"],
)
async def test_cn_key_files(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    home = tmp_path / "zai-home"
    for relative, text in files.items():
        write(home, relative, text)
    upstream = Upstream()
    ctx = context(upstream, env={}, options=CN, home=home)
    assert (await ZaiApiStrategy().available(ctx)).reason.startswith("API key from file ~/")
    await fetch(ctx)
    assert bearer(upstream) == f"Bearer {expected}"


async def test_config_key_wins_over_cn_files(tmp_path: Path) -> None:
    home = tmp_path / "zai-home"
    write(home, ".coding-relay/glm-api-key", "file-key")
    upstream = Upstream()
    await fetch(context(upstream, env={}, options={**CN, "api_key": "config-key"}, home=home))
    assert bearer(upstream) == "Bearer config-key"


async def test_global_region_ignores_cn_env_vars_and_files(tmp_path: Path) -> None:
    home = tmp_path / "zai-home"
    write(home, ".coding-relay/glm-api-key", "file-key")
    ctx = context(Upstream(), env={"BIGMODEL_API_KEY": "bm", "GLM_API_KEY": "glm"}, home=home)
    availability = await ZaiApiStrategy().available(ctx)
    assert not availability.ok
    assert "env Z_AI_API_KEY" in availability.reason
    assert "BIGMODEL_API_KEY" not in availability.reason.split("Set")[0]
    assert "glm-api-key" not in availability.reason
    assert "codexbard config set-secret --provider zai" in availability.reason


async def test_cn_missing_key_lists_every_place(tmp_path: Path) -> None:
    ctx = context(Upstream(), env={}, options=CN, home=tmp_path / "zai-home")
    availability = await ZaiApiStrategy().available(ctx)
    assert not availability.ok
    for place in ("env Z_AI_API_KEY", "env BIGMODEL_API_KEY", "env ZHIPU_API_KEY", "env ZHIPUAI_API_KEY",
                  "env GLM_API_KEY", "entry zai:api_key", "config providers.zai.api_key",
                  "file ~/.coding-relay/glm-api-key", "file ~/.config/bigmodel/api_key",
                  "file ~/.config/zhipu/api_key"):
        assert place in availability.reason
    assert availability.reason.endswith(
        "Set Z_AI_API_KEY (or BIGMODEL_API_KEY, ZHIPU_API_KEY, ZHIPUAI_API_KEY, GLM_API_KEY) "
        "or run `codexbard config set-secret --provider zai`.")


async def test_fetch_without_key_is_not_configured() -> None:
    upstream = Upstream()
    with pytest.raises(NotConfigured, match="Z_AI_API_KEY"):
        await ZaiApiStrategy().fetch(context(upstream, env={}))
    assert upstream.requests == []


async def test_named_account_uses_its_own_key_and_ignores_env_and_files(tmp_path: Path) -> None:
    home = tmp_path / "zai-home"
    write(home, ".coding-relay/glm-api-key", "file-key")
    upstream = Upstream()
    env = {"Z_AI_API_KEY": "env-key", "Z_AI_BIGMODEL_ORGANIZATION": "env-org"}
    ctx = context(upstream, env=env, home=home, account="work",
                  options={**CN, "usage_scope": "team", "api_key": "work-key", "organization_id": "o",
                           "project_id": "p"})
    await fetch(ctx)
    assert bearer(upstream) == "Bearer work-key"
    assert upstream.requests[0].headers["bigmodel-organization"] == "o"

    ctx = context(Upstream(), env=env, home=home, account="work", options=CN)
    availability = await ZaiApiStrategy().available(ctx)
    assert not availability.ok
    assert "entry zai@work:api_key" in availability.reason
    assert "file" not in availability.reason.split("Set")[0]


async def test_named_account_does_not_take_team_ids_from_env() -> None:
    upstream = Upstream()
    env = {"Z_AI_BIGMODEL_ORGANIZATION": "org", "Z_AI_BIGMODEL_PROJECT": "proj"}
    ctx = context(upstream, env=env, account="work", options={"usage_scope": "team", "api_key": "k"})
    with pytest.raises(NotConfigured, match="missing: organization_id, project_id"):
        await fetch(ctx)
    assert upstream.requests == []


# --- regressions of issue 6 ---------------------------------------------------------------------------



def leaked(text: str, secret: str = CANARY, size: int = 8) -> list[str]:
    folded, lowered = secret.lower(), text.lower()
    return [folded[i : i + size] for i in range(len(folded) - size + 1) if folded[i : i + size] in lowered]


async def test_key_straddling_the_200_character_cut_is_scrubbed_first() -> None:
    # Bug 1: the envelope message was cut to 200 characters and only then scrubbed, so a key across
    # the cut left its first 10 characters ("0123456789") in the error message.
    message = "y" * 189 + " " + CANARY + " bad"
    upstream = Upstream({GLOBAL_QUOTA: json_response({"code": 1001, "success": False, "msg": message})})
    with pytest.raises(Unavailable) as info:
        await fetch(context(upstream, env={"Z_AI_API_KEY": CANARY}))
    assert info.value.message == "z.ai quota API error: " + "y" * 189 + " *** bad"
    assert leaked(info.value.message) == []


@pytest.mark.parametrize(
    "echo",
    [
        "key 0123…CanaryZaiSec**** is invalid",
        f"key {CANARY.upper()} is invalid",
        f"key {CANARY.lower()[:14]} is invalid",
        f"Authorization: {CANARY[3:]} refused",
    ],
    ids=["masked", "upper-case", "truncated", "partial"],
)
async def test_partly_echoed_keys_never_reach_the_message(echo: str) -> None:
    replies: dict[str, Reply] = {
        GLOBAL_QUOTA: json_response({"code": 401, "success": False, "msg": echo}),
    }
    with pytest.raises(AuthRequired) as info:
        await fetch(context(Upstream(replies), env={"Z_AI_API_KEY": CANARY}))
    assert leaked(info.value.message) == []
    assert info.value.message.startswith("z.ai rejected the API key (code 401: ")


@pytest.mark.parametrize(
    "balance",
    [
        b'{"code": 200, "success": true, "data": {"availableBalance": 1' + b"0" * 400 + b"}}",
        b'{"code": 200, "success": true, "data": {"availableBalance": "1e400"}}',
        b'{"code": 200, "success": true, "data": {"availableBalance": -1' + b"0" * 400 + b", "
        b'"balance": 1' + b"0" * 400 + b"}}",
    ],
    ids=["int-10**400", "string-1e400", "both-huge"],
)
async def test_absurd_balance_number_leaves_credits_empty_and_the_poll_ok(balance: bytes) -> None:
    # Bug 2: float(10**400) raised OverflowError, which `_balance` did not catch: the optional call
    # failed the whole poll as `internal`.
    upstream = Upstream({CN_BALANCE: httpx.Response(200, content=balance)})
    snapshot = await fetch(context(upstream, options=CN))
    assert snapshot == parse_quota(load("quota_full.json"))
    assert snapshot.credits is None
    assert upstream.urls == [CN_QUOTA, CN_BALANCE]


@pytest.mark.parametrize("field", ["percentage", "unit", "number", "usage", "nextResetTime"])
async def test_absurd_quota_number_is_a_parse_error(field: str) -> None:
    # 10**400 in a quota limit used to raise OverflowError later (float(), epoch conversion): a parse
    # problem of the upstream, not an internal error.
    entry = {"type": "TOKENS_LIMIT", "unit": 3, "number": 5, "percentage": 40, field: 10**400}
    reply = json_response({"code": 200, "success": True, "data": {"limits": [entry]}})
    with pytest.raises(ParseError) as info:
        await fetch(context(Upstream({GLOBAL_QUOTA: reply})))
    assert info.value.message.startswith(f"Failed to parse z.ai limit entry 0: '{field}' is not an integer")
