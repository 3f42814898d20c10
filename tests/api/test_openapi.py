"""/openapi.json describes every route's payload, and the payloads served match those descriptions."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codexbard.api.app import create_app
from codexbard.daemon import Daemon
from codexbard.models import ProviderStatus
from tests.api.test_app import BASE, make_daemon
from tests.fakes import ScriptedStrategy, fake_spec, make_runtime, snapshot

PAYLOAD = {"provider", "displayName", "account", "source", "version", "status", "usage", "credits", "cost", "pace",
           "forecast", "error", "lastError", "stale", "fetchedAt", "nextRefreshAt"}
USAGE_BLOCK = {"primary", "secondary", "tertiary", "extraRateWindows", "providerCost", "details", "openRouterUsage",
               "updatedAt", "identity",
               "accountEmail", "accountOrganization", "loginMethod"}
RATE_WINDOW = {"usedPercent", "windowMinutes", "resetsAt", "resetDescription", "label"}
PROVIDER_INFO = {"id", "displayName", "enabled", "enabledReason", "enableHint", "configuredSource", "strategies",
                 "intervalSeconds", "lastAttemptAt", "lastSuccessAt", "nextRunAt", "consecutiveFailures", "lastError",
                 "lastAttempts", "dashboardUrl", "statusUrl", "accounts"}
STRATEGY = {"id", "kind", "sourceLabel", "available", "reason"}
STATUS_ENTRY = {"provider", "kind", "indicator", "description", "updatedAt", "url"}
HEALTH = {"status", "version", "uptimeSeconds", "providersEnabled", "store"}
HISTORY = {"provider", "account", "window", "points"}
HISTORY_POINT = {"t", "usedPercent", "resetsAt"}
FLAT_ENTRY = {"displayName", "primary", "secondary", "tertiary", "credits", "stale", "error", "lastError",
              "updatedAt"}
ERROR_BODY = {"error", "known"}
COST_BLOCK = {"provider", "source", "updatedAt", "sessionTokens", "sessionCostUSD", "last30DaysTokens",
              "last30DaysCostUSD", "daily", "totals"}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Daemon, httpx.AsyncClient, dict[str, Any]]]:
    daemon = make_daemon(tmp_path)
    await daemon.scheduler.poll("alpha")
    await daemon.scheduler.poll("beta")
    daemon.state.statuses["alpha"] = ProviderStatus(kind="statuspage", indicator="minor", description="Degraded",
                                                    url="https://status.alpha.example")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(daemon)), base_url=BASE,
                                 headers={"host": "127.0.0.1:8765"}) as client:
        spec = (await client.get("/openapi.json")).json()
        yield daemon, client, spec
    await daemon.stop(timeout=1)


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """Follow a `$ref` into components."""
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = spec["components"]["schemas"][name]
    return schema


def body_schema(spec: dict[str, Any], path: str, method: str = "get", status: str = "200",
                media: str = "application/json") -> dict[str, Any]:
    return resolve(spec, spec["paths"][path][method]["responses"][status]["content"][media]["schema"])


def fields(spec: dict[str, Any], schema: dict[str, Any]) -> set[str]:
    """The property names of an object schema (through `$ref` and a nullable `anyOf`)."""
    schema = resolve(spec, schema)
    if "anyOf" in schema:
        objects = [resolve(spec, s) for s in schema["anyOf"] if s.get("type") != "null"]
        assert len(objects) == 1, schema
        schema = objects[0]
    return set(schema["properties"])


def conforms(spec: dict[str, Any], value: Any, schema: dict[str, Any]) -> bool:
    """Whether a JSON value fits a schema: every required key present, no undeclared key."""
    schema = resolve(spec, schema)
    if "anyOf" in schema:
        return any(conforms(spec, value, s) for s in schema["anyOf"])
    if "enum" in schema and value not in schema["enum"]:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    kind = schema.get("type")
    if kind == "null":
        return value is None
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list) and all(conforms(spec, v, schema["items"]) for v in value)
    if kind == "object":
        if not isinstance(value, dict):
            return False
        if "properties" in schema:
            props = schema["properties"]
            required = set(schema.get("required", props))
            return (required <= set(value) <= set(props)
                    and all(conforms(spec, value[k], props[k]) for k in value))
        extra = schema.get("additionalProperties", True)
        return extra is True or all(conforms(spec, v, extra) for v in value.values())
    raise AssertionError(f"unhandled schema {schema}")


async def test_every_route_has_a_described_payload(served: tuple[Daemon, httpx.AsyncClient, dict[str, Any]]) -> None:
    _, _, spec = served
    assert sorted((path, method) for path, ops in spec["paths"].items() for method in ops) == [
        ("/", "get"), ("/auth", "post"), ("/cost", "get"), ("/events", "get"), ("/health", "get"), ("/history", "get"),
        ("/ingest/claude-statusline", "post"), ("/metrics", "get"), ("/providers", "get"), ("/refresh", "post"),
        ("/status", "get"), ("/usage", "get"), ("/usage/{provider_id}", "get")]
    for path, media in (("/events", "text/event-stream"), ("/metrics", "text/plain")):
        assert spec["paths"][path]["get"]["responses"]["200"]["content"][media]["schema"] == {"type": "string"}
    assert fields(spec, body_schema(spec, "/ingest/claude-statusline", "post")) == {"accepted", "reason"}
    usage = body_schema(spec, "/usage")
    array, flat = usage["anyOf"]
    assert array["type"] == "array" and fields(spec, array["items"]) == PAYLOAD
    assert flat["type"] == "object" and fields(spec, flat["additionalProperties"]) == FLAT_ENTRY
    assert spec["paths"]["/usage"]["get"]["responses"]["200"]["content"]["text/plain"]["schema"] == {"type": "string"}
    assert fields(spec, body_schema(spec, "/usage/{provider_id}")) == PAYLOAD
    cost = body_schema(spec, "/cost")
    assert cost["type"] == "array" and fields(spec, cost["items"]) == COST_BLOCK
    refresh = body_schema(spec, "/refresh", "post")
    assert refresh["type"] == "array" and fields(spec, refresh["items"]) == PAYLOAD
    providers = body_schema(spec, "/providers")
    assert providers["type"] == "array" and fields(spec, providers["items"]) == PROVIDER_INFO
    info = resolve(spec, providers["items"])
    assert fields(spec, info["properties"]["strategies"]["items"]) == STRATEGY
    assert fields(spec, info["properties"]["lastError"]) == {"kind", "message", "code"}
    status = body_schema(spec, "/status")
    assert status["type"] == "array" and fields(spec, status["items"]) == STATUS_ENTRY
    assert fields(spec, body_schema(spec, "/health")) == HEALTH
    history = body_schema(spec, "/history")
    assert fields(spec, history) == HISTORY
    assert fields(spec, history["properties"]["points"]["items"]) == HISTORY_POINT
    assert fields(spec, body_schema(spec, "/auth", "post")) == {"authenticated", "expiresInSeconds"}
    assert spec["paths"]["/"]["get"]["responses"]["200"]["content"]["text/html"]["schema"] == {"type": "string"}


async def test_payload_schema_spells_the_nested_blocks(
        served: tuple[Daemon, httpx.AsyncClient, dict[str, Any]]) -> None:
    _, _, spec = served
    payload = resolve(spec, spec["components"]["schemas"]["ProviderPayload"])
    usage = payload["properties"]["usage"]
    assert fields(spec, usage) == USAGE_BLOCK
    block = resolve(spec, usage["anyOf"][0])
    for slot in ("primary", "secondary", "tertiary"):
        assert fields(spec, block["properties"][slot]) == RATE_WINDOW
    assert fields(spec, block["properties"]["extraRateWindows"]["items"]) == {"id", "title", "window"}
    assert fields(spec, block["properties"]["identity"]) == {"providerID", "accountEmail", "accountOrganization",
                                                             "loginMethod"}
    assert fields(spec, payload["properties"]["error"]) == {"kind", "message", "code"}
    assert fields(spec, payload["properties"]["credits"]) == {"remaining", "total", "unit", "updatedAt"}
    assert fields(spec, payload["properties"]["status"]) == {"kind", "indicator", "description", "updatedAt", "url"}
    pace = resolve(spec, payload["properties"]["pace"]["anyOf"][0])
    assert fields(spec, pace["properties"]["primary"]) == {"stage", "deltaPercent", "expectedUsedPercent",
                                                           "willLastToReset", "etaSeconds", "summary"}
    kinds = resolve(spec, resolve(spec, payload["properties"]["error"]["anyOf"][0])["properties"]["kind"])
    assert {"auth_required", "not_configured", "timeout"} <= set(kinds["enum"])


async def test_client_errors_are_described_as_error_bodies_never_422(
        served: tuple[Daemon, httpx.AsyncClient, dict[str, Any]]) -> None:
    _, _, spec = served
    assert fields(spec, spec["components"]["schemas"]["ErrorBody"]) == ERROR_BODY
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert "422" not in op["responses"], (path, method)
            if op.get("parameters"):
                assert body_schema(spec, path, method, "4XX") == spec["components"]["schemas"]["ErrorBody"]
    assert set(spec["paths"]["/usage/{provider_id}"]["get"]["responses"]) == {"200", "404", "4XX"}
    assert set(spec["paths"]["/refresh"]["post"]["responses"]) == {"200", "503", "4XX"}
    formats = [p for p in spec["paths"]["/usage"]["get"]["parameters"] if p["name"] == "format"]
    assert formats[0]["schema"]["enum"] == ["json", "flat", "text", "waybar", "swiftbar"]  # issue 9 added two


@pytest.mark.parametrize(
    ("method", "path", "schema_path"),
    [
        ("get", "/usage", "/usage"),
        ("get", "/usage?provider=all", "/usage"),
        ("get", "/usage?format=flat&provider=all", "/usage"),
        ("get", "/usage/alpha", "/usage/{provider_id}"),
        ("get", "/usage/gamma", "/usage/{provider_id}"),
        ("get", "/providers", "/providers"),
        ("get", "/status", "/status"),
        ("get", "/health", "/health"),
        ("get", "/history?provider=alpha", "/history"),
        ("post", "/refresh?provider=alpha", "/refresh"),
    ],
)
async def test_served_payloads_fit_their_schema_exactly(
        served: tuple[Daemon, httpx.AsyncClient, dict[str, Any]], method: str, path: str, schema_path: str) -> None:
    _, client, spec = served
    response = await client.request(method.upper(), path)
    assert response.status_code == 200
    schema = spec["paths"][schema_path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    body = response.json()
    assert body not in ([], {})
    assert conforms(spec, body, schema), body


@pytest.mark.parametrize("path", ["/usage?provider=nope", "/usage?format=xml", "/usage/nope", "/history",
                                  "/history?provider=alpha&step=0", "/history?provider=alpha&since=x"])
async def test_error_answers_fit_the_error_schema(
        served: tuple[Daemon, httpx.AsyncClient, dict[str, Any]], path: str) -> None:
    _, client, spec = served
    response = await client.get(path)
    assert 400 <= response.status_code < 500
    body = response.json()
    schema = spec["components"]["schemas"]["ErrorBody"]
    assert conforms(spec, {"known": None, **body}, schema), body


async def test_schema_fit_is_strict(served: tuple[Daemon, httpx.AsyncClient, dict[str, Any]]) -> None:
    _, client, spec = served
    schema = spec["paths"]["/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    body = (await client.get("/health")).json()
    assert conforms(spec, body, schema)
    assert not conforms(spec, {**body, "extra": 1}, schema)
    assert not conforms(spec, {k: v for k, v in body.items() if k != "version"}, schema)
    assert not conforms(spec, {**body, "providersEnabled": "2"}, schema)


async def test_docs_pages_load_their_assets_from_this_server(
        served: tuple[Daemon, httpx.AsyncClient, dict[str, Any]]) -> None:
    _, client, _ = served
    for page, assets in (("/docs", ["swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"]),
                         ("/redoc", ["redoc.standalone.js", "favicon.png"])):
        html = await client.get(page)
        assert html.status_code == 200 and html.headers["content-type"] == "text/html; charset=utf-8"
        assert re.findall(r"https?://", html.text) == []
        assert sorted(re.findall(r'"/docs/assets/([^"]+)"', html.text)) == sorted(assets)
        assert "'/openapi.json'" in html.text or '"/openapi.json"' in html.text
    for name, media in (("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css"),
                        ("redoc.standalone.js", "javascript"), ("favicon.png", "image/png")):
        asset = await client.get(f"/docs/assets/{name}")
        assert asset.status_code == 200 and media in asset.headers["content-type"]
        assert len(asset.content) > 1000
    missing = await client.get("/docs/assets/nope.js")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    for path in ("/docs/assets/..%2F..%2F__init__.py", "/docs/assets/%2e%2e/core.py", "/docs/assets/"):
        outside = await client.get(path)
        assert outside.status_code == 404 and outside.json() == {"error": "Not Found"}, path
    post = await client.post("/docs/assets/favicon.png")
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"


async def test_docs_need_the_token_on_a_protected_bind(tmp_path: Path) -> None:
    daemon = make_daemon(tmp_path, 'host = "0.0.0.0"\ntoken = "s3cret-token"\nallowed_hosts = ["box.lan"]\n')
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(daemon)), base_url=BASE,
                                 headers={"host": "box.lan"}) as client:
        assert (await client.get("/docs")).status_code == 401
        assert (await client.get("/docs/assets/swagger-ui.css")).status_code == 401
        ok = await client.get("/docs", headers={"authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
    await daemon.stop(timeout=1)


async def test_stored_history_fits_its_schema(tmp_path: Path) -> None:
    daemon = await Daemon.open(make_runtime(tmp_path, [fake_spec("alpha", ScriptedStrategy([snapshot(40.0)]))]))
    await daemon.scheduler.poll("alpha")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(daemon)), base_url=BASE,
                                 headers={"host": "127.0.0.1:8765"}) as client:
        spec = (await client.get("/openapi.json")).json()
        body = (await client.get("/history?provider=alpha")).json()
    await daemon.stop(timeout=2)
    assert [p["usedPercent"] for p in body["points"]] == [40.0]
    assert body["points"][0]["resetsAt"] is None and body["points"][0]["t"].endswith("Z")
    assert conforms(spec, body, body_schema(spec, "/history"))
