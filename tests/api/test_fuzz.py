"""Property test: no request a client can make gets a 500 or a non-JSON error."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codexbard.api.app import create_app
from tests.api.test_app import make_daemon

PATHS = ["/usage", "/usage/alpha", "/usage/nope", "/providers", "/status", "/health", "/history", "/refresh",
         "/docs", "/openapi.json", "/", "/auth"]
NAMES = ["provider", "account", "format", "since", "until", "step", "window", "stream", "token", ""]
values = st.one_of(
    st.sampled_from(["all", "alpha", "beta", "gamma", "json", "flat", "text", "-1", "0", "1e400", "nan",
                     "2026-11-25T10:00:00Z", "9" * 40, ""]),
    st.text(max_size=30),
)
queries = st.lists(st.tuples(st.sampled_from(NAMES), values), max_size=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), path=st.sampled_from(PATHS), query=queries)
def test_no_request_gets_a_500(tmp_path: Path, method: str, path: str, query: list[tuple[str, str]]) -> None:
    daemon = make_daemon(tmp_path)
    app = create_app(daemon)
    raw = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)

    async def call() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765",
                                     headers={"host": "127.0.0.1:8765"}) as client:
            return await client.request(method, f"{path}?{raw}" if raw else path)

    response = asyncio.run(call())
    assert response.status_code < 500, (method, path, raw, response.text)
    if response.status_code >= 400 and path not in ("/docs",):
        assert response.headers["content-type"].startswith("application/json")
        assert isinstance(response.json()["error"], str)
