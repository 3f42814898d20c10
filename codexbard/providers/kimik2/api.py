"""The Kimi K2 API-key strategy: one GET of the credit counter."""

from __future__ import annotations

from codexbard.errors import AuthRequired, ProviderError, RateLimited, Unavailable
from codexbard.host.credentials import SecretLookup
from codexbard.host.http import HttpResponse
from codexbard.host.redact import scrub, summarize
from codexbard.models import UsageSnapshot
from codexbard.providers.base import ApiKeyStrategy, FetchContext
from codexbard.providers.kimik2.const import (
    CREDITS_URL,
    ENABLE_HINT,
    FALLBACK_ENV_VARS,
    OWN_ENV_VARS,
    REQUEST_TIMEOUT,
    SERVICE,
)
from codexbard.providers.kimik2.parse import parse_credits


def find_key(ctx: FetchContext) -> SecretLookup:
    """Find the API key; the lookup says where the search looked.

    Order: env KIMI_K2_API_KEY → secret store → config `api_key`; then, only when the provider was
    enabled explicitly, the generic env KIMI_API_KEY and KIMI_KEY (a default account only, like every
    provider env var).
    """
    own: SecretLookup = ctx.credentials.secret("api_key", env_vars=OWN_ENV_VARS)
    if own.secret is not None or not ctx.explicitly_enabled or ctx.account is not None:
        return own
    for name in FALLBACK_ENV_VARS:
        own.searched.append(f"env {name}")
        # The resolver re-checks the config key too; it was found empty above, so only env can answer.
        generic = ctx.credentials.secret("api_key", env_vars=(name,), use_store=False)
        if generic.secret is not None:
            own.secret = generic.secret
            return own
    return own


class KimiK2ApiStrategy(ApiKeyStrategy):
    """Read the credit balance with an API key (`Authorization: Bearer`)."""

    def lookup(self, ctx: FetchContext) -> SecretLookup:
        """Its own key first; the generic Kimi variables only when enabled explicitly."""
        return find_key(ctx)

    def missing_message(self, ctx: FetchContext, lookup: SecretLookup) -> str:
        """Where the lookup searched and how to enable Kimi K2."""
        return f"Missing Kimi K2 API key (looked in {lookup.where()}). {ENABLE_HINT}."

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """GET the credits endpoint and parse it."""
        key = self.require_key(ctx).reveal().strip()
        response = await ctx.http.get(
            CREDITS_URL,
            service=SERVICE,
            headers={"Authorization": f"Bearer {key}", "Accept": "application/json"},
            timeout=ctx.remaining(REQUEST_TIMEOUT),
            check_status=False,
        )
        if response.status != 200:
            raise _status_error(response, ctx, key)
        return parse_credits(response.json(), response.headers)


def _status_error(response: HttpResponse, ctx: FetchContext, key: str) -> ProviderError:
    """Map a non-200 answer to a typed error whose message carries a scrubbed excerpt of the body."""
    status = response.status
    if status == 401:
        return AuthRequired("Kimi K2 API key is invalid or expired.")
    excerpt = summarize(scrub(response.text(), [key]), limit=160)
    if key in excerpt:  # scrub() leaves keys shorter than 4 characters alone: drop the body instead
        excerpt = ""
    detail = f": {excerpt}" if excerpt else ""
    message = f"Kimi K2 API error (HTTP {status}){detail}"
    if status == 403:
        return AuthRequired(message)
    if status == 429:
        return RateLimited(message, retry_after=response.retry_after(ctx.clock))
    return Unavailable(message)
