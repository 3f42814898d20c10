"""The `wham/usage` request shared by the PAT, OAuth and web strategies, and its error mapping.

The upstream's 401/403 means the login is gone (`auth_required`, naming what to run); 429 keeps its
Retry-After (0 included: the scheduler applies its own floor); 5xx and other statuses are `unavailable` with
a scrubbed excerpt of the body. Parsing is `parse.parse_usage`, imported when a fetch runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Final

from codexbard.errors import AuthRequired, ProviderError
from codexbard.host.credentials import Secret
from codexbard.host.http import HttpResponse
from codexbard.providers.base import FetchContext
from codexbard.providers.codex.const import MONTHLY_USAGE_TIMEOUT, USER_AGENT

if TYPE_CHECKING:
    from codexbard.providers.codex.parse import CodexUsage

log = logging.getLogger(__name__)

SERVICE: Final = "ChatGPT"
BODY_EXCERPT: Final = 200


def check(response: HttpResponse, auth_message: str) -> None:
    """Raise the typed error of a non-2xx answer (401/403 → `auth_message`)."""
    if 200 <= response.status < 300:
        return
    if response.status in (401, 403):
        raise AuthRequired(f"{auth_message} (HTTP {response.status})")
    if response.status == 429:
        raise response.error()
    raise response.error(excerpt=BODY_EXCERPT)


def usage_headers(account_id: str | None) -> dict[str, str]:
    """Accept, our User-Agent, and `ChatGPT-Account-Id` only when known (a wrong one returns another workspace)."""
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if account_id:
        headers["ChatGPT-Account-Id"] = account_id
    return headers


async def get_json(
    ctx: FetchContext,
    url: str,
    *,
    bearer: Secret | None,
    headers: Mapping[str, str],
    timeout: float,
    auth_message: str,
    secrets: tuple[str, ...] = (),
) -> object:
    """GET a JSON document; every failure is a typed ProviderError."""
    response = await ctx.http.get(
        url, service=SERVICE, bearer=bearer, headers=headers, timeout=timeout, check_status=False, secrets=secrets
    )
    check(response, auth_message)
    return response.json()


async def with_monthly_pool(
    ctx: FetchContext,
    usage: CodexUsage,
    base: str | None,
    *,
    bearer: Secret | None,
    headers: Mapping[str, str],
    secrets: tuple[str, ...] = (),
) -> CodexUsage:
    """Add the team monthly credit pool (spend-controls follow-up) when the sheet's gate holds; best effort."""
    from codexbard.providers.codex import parse as P

    account_id = headers.get("ChatGPT-Account-Id") or usage.account_id
    if not usage.wants_monthly_usage or not account_id:
        return usage
    url = P.monthly_usage_url(base, account_id)
    if url is None:
        return usage
    try:
        response = await ctx.http.get(
            url, service=SERVICE, bearer=bearer, headers={**headers, "ChatGPT-Account-Id": account_id},
            timeout=ctx.remaining(MONTHLY_USAGE_TIMEOUT), check_status=True, secrets=secrets,
        )
        limit = P.monthly_usage_limit(response.json())
    except ProviderError as exc:  # a follow-up never fails the fetch
        log.debug("Codex monthly-usage follow-up failed: %s", exc.kind)
        return usage
    return usage if limit is None else P.with_credit_limit(usage, limit)


def now_of(ctx: FetchContext) -> datetime:
    """The context clock's current time (UTC)."""
    return ctx.clock.now()
