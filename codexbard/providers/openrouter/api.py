"""The OpenRouter API-key strategy: `/credits` (required) plus `/key` (optional, 1 s budget)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from codexbard.errors import NotConfigured, ParseError, ProviderError, Timeout
from codexbard.host.credentials import Secret
from codexbard.host.http import validate_endpoint
from codexbard.models import UsageSnapshot
from codexbard.providers.base import ApiKeyStrategy, FetchContext
from codexbard.providers.openrouter.const import (
    API_KEY,
    CREDITS_PATH,
    CREDITS_TIMEOUT,
    DEFAULT_BASE_URL,
    DEFAULT_X_TITLE,
    ENV_API_URL,
    ENV_HTTP_REFERER,
    ENV_X_TITLE,
    KEY_PATH,
    KEY_TIMEOUT,
    OVERRIDE_HINT,
    SERVICE,
)
from codexbard.providers.openrouter.parse import (
    KEY_INVALID,
    KEY_TIMED_OUT,
    KeyResult,
    build_snapshot,
    parse_credits,
    parse_key,
)

log = logging.getLogger(__name__)


def resolve_base_url(env: Mapping[str, str]) -> str:
    """Return the API base from OPENROUTER_API_URL (HTTPS or a bare host) or the default."""
    raw = (env.get(ENV_API_URL) or "").strip()
    if not raw:
        return DEFAULT_BASE_URL
    return validate_endpoint(ENV_API_URL, raw, base=True, hint=OVERRIDE_HINT)


def _header_value(env: Mapping[str, str], name: str, default: str | None) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    if not value.isascii() or not value.isprintable():
        raise NotConfigured(f"{name} must be printable ASCII text (it is sent as an HTTP header)")
    return value


def credits_headers(env: Mapping[str, str]) -> dict[str, str]:
    """Headers of the `/credits` request besides auth: app title and, when set, the referer."""
    headers = {
        "Accept": "application/json",
        "X-Title": _header_value(env, ENV_X_TITLE, DEFAULT_X_TITLE) or DEFAULT_X_TITLE,
    }
    referer = _header_value(env, ENV_HTTP_REFERER, None)
    if referer:
        headers["HTTP-Referer"] = referer
    return headers


# The `/key` request carries no X-Title or HTTP-Referer, as the sheet says.
KEY_HEADERS = {"Accept": "application/json"}


async def fetch_key(ctx: FetchContext, base: str, key: Secret) -> KeyResult:
    """Fetch `/key` within the 1 s budget; every failure becomes a KeyResult with a reason."""
    try:
        # httpx's timeout is per network operation; asyncio.timeout bounds the whole exchange.
        async with asyncio.timeout(ctx.remaining(KEY_TIMEOUT)):
            response = await ctx.http.get(
                base + KEY_PATH, service=SERVICE, bearer=key, headers=KEY_HEADERS, timeout=KEY_TIMEOUT,
                check_status=False,
            )
    except (TimeoutError, Timeout):
        return KeyResult(None, KEY_TIMED_OUT)
    except ProviderError as exc:
        return KeyResult(None, f"Request failed ({exc.kind})")
    if not 200 <= response.status < 300:
        return KeyResult(None, f"Request returned HTTP {response.status}")
    try:
        payload = response.json()
    except ParseError:
        return KeyResult(None, KEY_INVALID)
    return parse_key(payload)


class OpenRouterApi(ApiKeyStrategy):
    """Read the credit balance and, when available, the key's spending cap with an API key."""

    key = API_KEY

    async def fetch_with_key(self, ctx: FetchContext, key: Secret) -> UsageSnapshot:
        """Fetch `/credits` and `/key` concurrently; only `/credits` can fail the fetch."""
        base = resolve_base_url(ctx.env)
        headers = credits_headers(ctx.env)
        key_task = asyncio.create_task(fetch_key(ctx, base, key))
        try:
            response = await ctx.http.get(
                base + CREDITS_PATH, service=SERVICE, bearer=key, headers=headers, timeout=CREDITS_TIMEOUT
            )
            credits = parse_credits(response.json_object())
        except BaseException:
            # The credits failure decides the outcome; do not wait for the enrichment.
            key_task.cancel()
            await asyncio.gather(key_task, return_exceptions=True)
            raise
        key_result = await key_task
        if key_result.info is None:
            log.debug("OpenRouter /key section unavailable: %s", key_result.reason)
        return build_snapshot(credits, key_result.info, key_reason=key_result.reason)
