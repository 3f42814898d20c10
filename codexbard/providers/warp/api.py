"""The Warp API-key strategy: one GraphQL POST (GetRequestLimitInfo)."""

from __future__ import annotations

from typing import Any

from codexbard.host.credentials import Secret, SecretLookup
from codexbard.models import UsageSnapshot
from codexbard.providers.base import ApiKeyStrategy, FetchContext
from codexbard.providers.warp.const import (
    CLIENT_ID,
    ENABLE_HINT,
    ENV_API_KEY,
    ENV_TOKEN,
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


def request_headers(key: Secret) -> dict[str, str]:
    """The headers Warp's edge expects from its own client (the User-Agent is required)."""
    return {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "Authorization": f"Bearer {key.reveal()}",
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

    def lookup(self, ctx: FetchContext) -> SecretLookup:
        """WARP_API_KEY, WARP_TOKEN, the secret store, then config `api_key`."""
        return ctx.credentials.secret("api_key", env_vars=(ENV_API_KEY, ENV_TOKEN))

    def missing_message(self, ctx: FetchContext, lookup: SecretLookup) -> str:
        """Where the lookup searched and how to enable Warp."""
        return f"Missing Warp API key (looked in {lookup.where()}). {ENABLE_HINT}"

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """POST the query and parse the answer; error bodies are summarized with the key scrubbed."""
        key = self.require_key(ctx)
        response = await ctx.http.post(
            GRAPHQL_URL,
            service=SERVICE,
            headers=request_headers(key),
            json_body=request_body(),
            timeout=ctx.remaining(TIMEOUT),
            check_status=False,
        )
        if response.status != 200:
            raise http_error(
                response.status,
                response.body,
                secrets=(key.reveal(),),
                retry_after=response.retry_after(ctx.clock) if response.status == 429 else None,
            )
        return parse_usage(response.json(), secrets=(key.reveal(),))
