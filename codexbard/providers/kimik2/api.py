"""The Kimi K2 API-key strategy: one GET of the credit counter."""

from __future__ import annotations

from codexbard.host.credentials import Secret
from codexbard.models import UsageSnapshot
from codexbard.providers.base import ApiKeyStrategy, FetchContext
from codexbard.providers.kimik2.const import API_KEY, CREDITS_URL, EXCERPT_LIMIT, REQUEST_TIMEOUT, SERVICE
from codexbard.providers.kimik2.parse import parse_credits


class KimiK2ApiStrategy(ApiKeyStrategy):
    """Read the credit balance with an API key (`Authorization: Bearer`).

    The key: env KIMI_K2_API_KEY → secret store → config `api_key`; then, only when the provider was
    enabled explicitly, the generic env KIMI_API_KEY and KIMI_KEY (see `const.API_KEY`).
    """

    key = API_KEY

    async def fetch_with_key(self, ctx: FetchContext, key: Secret) -> UsageSnapshot:
        """GET the credits endpoint and parse it; an error status carries a scrubbed body excerpt."""
        response = await ctx.http.get(
            CREDITS_URL, service=SERVICE, bearer=key, headers={"Accept": "application/json"},
            timeout=REQUEST_TIMEOUT, check_status=False,
        )
        if response.status == 401:
            raise response.error("Kimi K2 API key is invalid or expired.")
        if response.status != 200:
            raise response.error(f"Kimi K2 API error (HTTP {response.status})", excerpt=EXCERPT_LIMIT)
        return parse_credits(response.json(), response.headers)
