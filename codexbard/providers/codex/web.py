"""The `openai-web` strategy (explicit source `web` only): chatgpt.com's `wham/usage` with a session cookie.

For now the Cookie header is entered by hand (`cookie_header`, config or `codexbard config set-secret
--field cookie_header`); importing it from browsers comes later with the cookie-based providers. After
the usage call, the signed-in email is looked up (`/backend-api/me`, then `/api/auth/session`, best effort)
and checked against the email of Codex's `auth.json`: a session of another account is refused.
"""

from __future__ import annotations

import logging
from typing import ClassVar, Final

from codexbard.errors import AuthRequired, NotConfigured, ProviderError
from codexbard.host.credentials import Secret
from codexbard.models import UsageSnapshot
from codexbard.providers.base import Availability, FetchContext, Strategy, StrategyKind
from codexbard.providers.codex.const import (
    SOURCE_WEB,
    USAGE_URL,
    WEB_ACCEPT_LANGUAGE,
    WEB_IDENTITY_TIMEOUT,
    WEB_ME_URL,
    WEB_SESSION_URL,
    WEB_USAGE_TIMEOUT,
)
from codexbard.providers.codex.home import known_email, local_zone, read_auth, resolve_home
from codexbard.providers.codex.wham import SERVICE, check

log = logging.getLogger(__name__)

COOKIE_FIELD: Final = "cookie_header"
NO_COOKIE: Final = (
    "no chatgpt.com Cookie header: set `cookie_header` in [providers.codex] (or run `codexbard config "
    "set-secret --provider codex --field cookie_header`); importing browser cookies comes later"
)
COOKIE_REJECTED: Final = "chatgpt.com did not accept the Cookie header; copy a fresh one from a signed-in browser"
LOGIN_PAGE: Final = "chatgpt.com answered with a login page: the Cookie header is not signed in"


def cookie_value(raw: str) -> str:
    """The header value: surrounding space and a leading `Cookie:` removed."""
    text = raw.strip()
    if text[:7].lower() == "cookie:":
        text = text[7:].strip()
    return text


def web_headers(cookie: str) -> dict[str, str]:
    """The headers of every chatgpt.com request of this strategy."""
    return {
        "Cookie": cookie,
        "Accept": "application/json",
        "Accept-Language": WEB_ACCEPT_LANGUAGE,
        "User-Agent": "codexbard",
    }


class CodexWeb(Strategy):
    """Read the quota with a chatgpt.com session cookie."""

    id: ClassVar[str] = "openai-web"
    kind: ClassVar[StrategyKind] = "web"
    source_label: ClassVar[str] = SOURCE_WEB

    async def _cookie(self, ctx: FetchContext) -> Secret | None:
        lookup = await ctx.credentials.lookup(COOKIE_FIELD)
        ctx.lookups[self.id] = lookup
        if lookup.secret is None or not cookie_value(lookup.secret.reveal()):
            return None
        return lookup.secret

    async def available(self, ctx: FetchContext) -> Availability:
        """Available with a manual Cookie header (config or secret store)."""
        secret = await self._cookie(ctx)
        if secret is None:
            return Availability.no(NO_COOKIE)
        return Availability.yes(f"Cookie header from {secret.origin}")

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """`wham/usage` with the cookie, then the signed-in email and the account guard."""
        from codexbard.providers.codex import parse as P

        secret = await self._cookie(ctx)
        if secret is None:
            raise NotConfigured(NO_COOKIE)
        cookie = cookie_value(secret.reveal())
        headers = web_headers(cookie)
        response = await ctx.http.get(
            USAGE_URL, service=SERVICE, headers=headers, timeout=ctx.remaining(WEB_USAGE_TIMEOUT),
            check_status=False, secrets=(cookie,),
        )
        check(response, COOKIE_REJECTED)
        if response.body.lstrip()[:1] == b"<":
            raise AuthRequired(LOGIN_PAGE)
        payload = response.json()
        email = await self._signed_in_email(ctx, headers, cookie)
        expected = known_email(await read_auth(ctx, resolve_home(ctx)))
        if email is not None and not P.same_account(expected, email):
            raise AuthRequired(
                "the chatgpt.com session belongs to a different account than Codex's auth.json; "
                "use a Cookie header of the same account"
            )
        usage = P.parse_usage(payload, email=email, now=ctx.clock.now(), tz=local_zone(ctx))
        return usage.snapshot

    async def _signed_in_email(self, ctx: FetchContext, headers: dict[str, str], cookie: str) -> str | None:
        from codexbard.providers.codex.parse import find_email

        for url in (WEB_ME_URL, WEB_SESSION_URL):
            try:
                response = await ctx.http.get(
                    url, service=SERVICE, headers=headers, timeout=ctx.remaining(WEB_IDENTITY_TIMEOUT),
                    secrets=(cookie,),
                )
                email = find_email(response.json())
            except ProviderError as exc:  # identity is best effort
                log.debug("Codex web identity lookup failed: %s", exc.kind)
                continue
            if email:
                return email
        return None
