"""The `web` strategy: a claude.ai `sessionKey` cookie → organizations → usage (+ spend limit, balance, account).

The cookie comes from a manual `Cookie` header (`[providers.claude] cookie_header`, env
`CODEXBARD_PROVIDERS__CLAUDE__COOKIE_HEADER`, or the secret store); only `sessionKey` is ever sent. Importing it
from browsers comes later, with the other cookie-based providers. When a 200 answer renews the session
(`Set-Cookie: sessionKey=sk-ant-…`), the new key is used for the remaining requests of that fetch.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any, ClassVar

from codexbard.errors import AuthRequired, NotConfigured, ProviderError
from codexbard.host.credentials import Secret
from codexbard.host.http import HttpResponse
from codexbard.providers.base import Availability, FetchContext, Strategy, StrategyKind
from codexbard.providers.claude.const import (
    PREPAID_TIMEOUT,
    SESSION_COOKIE,
    SESSION_KEY_PREFIX,
    SOURCE_WEB,
    WEB_ACCOUNT_URL,
    WEB_BASE,
    WEB_ORGANIZATIONS_URL,
    WEB_OVERAGE_PATH,
    WEB_PREPAID_PATH,
    WEB_TIMEOUT,
    WEB_USAGE_PATH,
)

if TYPE_CHECKING:
    from codexbard.models import UsageSnapshot

log = logging.getLogger(__name__)

SERVICE = "claude.ai"
_SET_COOKIE = re.compile(rf"(?:^|[\s,;]){SESSION_COOKIE}=({SESSION_KEY_PREFIX}[^;,\s]+)")
_NO_COOKIE = (
    "no claude.ai session cookie: set `[providers.claude] cookie_header` (or "
    "CODEXBARD_PROVIDERS__CLAUDE__COOKIE_HEADER) to `sessionKey=sk-ant-…`"
)


def session_key(header: str) -> str | None:
    """The `sessionKey` value of a manual Cookie header or bare key (`Cookie:` prefix stripped), else None."""
    text = header.strip()
    if text.lower().startswith("cookie:"):
        text = text[7:].strip()
    if "=" not in text:
        text = f"{SESSION_COOKIE}={text}"
    for part in text.split(";"):
        name, _, value = part.strip().partition("=")
        if name.strip() == SESSION_COOKIE:
            return value.strip() or None
    return None


class ClaudeWebStrategy(Strategy):
    """claude.ai with a manual session cookie."""

    id: ClassVar[str] = "web"
    kind: ClassVar[StrategyKind] = "web"
    source_label: ClassVar[str] = SOURCE_WEB

    async def _cookie(self, ctx: FetchContext) -> Secret | None:
        if ctx.option("cookie_source") == "off":
            return None
        found = await ctx.credentials.lookup("cookie_header")
        ctx.lookups[self.id] = found
        return found.secret

    async def available(self, ctx: FetchContext) -> Availability:
        """Available when a cookie header is configured (its shape is checked by `fetch`)."""
        cookie = await self._cookie(ctx)
        if cookie is None:
            return Availability.no(_NO_COOKIE)
        return Availability.yes(f"claude.ai cookie header from {cookie.origin}")

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """Organizations → usage → (spend limit) → balance → account, with one session key."""
        from codexbard.providers.claude.parse import (
            choose_organization,
            parse_account,
            parse_organizations,
            parse_overage,
            parse_prepaid,
            parse_web_usage,
            web_http_error,
        )

        lookup = ctx.lookups.get(self.id)
        header = lookup.secret if lookup is not None else await self._cookie(ctx)
        if header is None:
            raise NotConfigured(_NO_COOKIE)
        value = session_key(header.reveal())
        if value is None or not value.startswith(SESSION_KEY_PREFIX):
            raise AuthRequired(f"the claude.ai cookie header from {header.origin} has no sessionKey=sk-ant-… value")
        state = {"key": value}
        secrets = (header.reveal(), value)

        async def get(url: str, *, timeout: float = WEB_TIMEOUT, required: bool = True) -> Any:
            response = await ctx.http.get(
                url, service=SERVICE, headers={"Cookie": f"{SESSION_COOKIE}={state['key']}",
                                               "Accept": "application/json"},
                timeout=timeout, check_status=False, secrets=(*secrets, state["key"]),
            )
            if response.status != 200:
                if required:
                    raise web_http_error(response.status)
                return None
            self._renew(response, state)
            return response.json() if required else _json_or_none(response)

        orgs = parse_organizations(await get(WEB_ORGANIZATIONS_URL))
        org = choose_organization(orgs, ctx.option("organization_id"))
        usage = await get(WEB_BASE + WEB_USAGE_PATH.format(org=org.uuid))

        async def optional(url: str, timeout: float = WEB_TIMEOUT) -> Any:
            try:
                return await get(url, timeout=timeout, required=False)
            except ProviderError:
                log.debug("claude.ai optional request failed", exc_info=True)
                return None

        try:
            has_cost = parse_web_usage(usage, organization=org).provider_cost is not None
        except ProviderError:  # nothing usable yet: the spend limit may still make it a snapshot
            has_cost = False
        overage = None
        if not has_cost:
            overage = parse_overage(await optional(WEB_BASE + WEB_OVERAGE_PATH.format(org=org.uuid)))
        prepaid = parse_prepaid(await optional(WEB_BASE + WEB_PREPAID_PATH.format(org=org.uuid), PREPAID_TIMEOUT))
        account = parse_account(await optional(WEB_ACCOUNT_URL))
        return parse_web_usage(usage, organization=org, account=account, overage=overage, prepaid=prepaid)

    @staticmethod
    def _renew(response: HttpResponse, state: dict[str, str]) -> None:
        for raw in response.headers.get_list("set-cookie"):
            match = _SET_COOKIE.search(raw)
            if match is not None:
                state["key"] = match.group(1)


def _json_or_none(response: HttpResponse) -> Any:
    try:
        return response.json()
    except ProviderError:
        return None
