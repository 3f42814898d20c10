"""The Warp API-key strategy: one GraphQL POST (GetRequestLimitInfo)."""

from __future__ import annotations

from typing import Any

from codexbard.host.credentials import Secret
from codexbard.models import UsageSnapshot
from codexbard.providers.base import ApiKeyStrategy, FetchContext
from codexbard.providers.warp.const import (
    API_KEY,
    CLIENT_ID,
    GRAPHQL_URL,
    OPERATION,
    OS_CATEGORY,
    OS_NAME,
    OS_VERSION,
    QUERY,
    SERVICE,
    TIMEOUT,
    USER_AGENT,
)
from codexbard.providers.warp.parse import http_error, parse_usage

# The headers Warp's edge expects from its own client (the User-Agent is required), besides auth.
REQUEST_HEADERS: dict[str, str] = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "User-Agent": USER_AGENT,
    "x-warp-client-id": CLIENT_ID,
    "x-warp-os-category": OS_CATEGORY,
    "x-warp-os-name": OS_NAME,
    "x-warp-os-version": OS_VERSION,
}


def request_body() -> dict[str, Any]:
    """The GraphQL request: operation name, request context and the query text."""
    return {
        "operationName": OPERATION,
        "variables": {
            "requestContext": {
                "clientContext": {},
                "osContext": {"category": OS_CATEGORY, "name": OS_NAME, "version": OS_VERSION},
            }
        },
        "query": QUERY,
    }


class WarpApi(ApiKeyStrategy):
    """Read Warp AI credits and add-on grants with an API key."""

    key = API_KEY

    async def fetch_with_key(self, ctx: FetchContext, key: Secret) -> UsageSnapshot:
        """POST the query and parse the answer; error bodies are summarized with the key scrubbed."""
        response = await ctx.http.post(
            GRAPHQL_URL, service=SERVICE, bearer=key, headers=REQUEST_HEADERS, json_body=request_body(),
            timeout=TIMEOUT, check_status=False,
        )
        if response.status != 200:
            retry_after = response.retry_after() if response.status == 429 else None
            raise http_error(response.status, response.body, secrets=response.secrets, retry_after=retry_after)
        return parse_usage(response.json(), secrets=response.secrets)
