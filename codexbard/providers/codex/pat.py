"""The `pat` strategy: a personal access token from `auth.json` → whoami → `wham/usage`.

Rarely present; when it is, it runs first in `auto` (and alone in the `api` source mode). The workspace
header comes from whoami only (never a stale id from the file).
"""

from __future__ import annotations

import platform
from typing import ClassVar, Final

from codexbard.errors import NotConfigured
from codexbard.models import UsageSnapshot
from codexbard.providers.base import Availability, FetchContext, Strategy, StrategyKind
from codexbard.providers.codex.const import (
    LOGIN_HINT,
    PAT_ORIGINATOR,
    SOURCE_PAT,
    USAGE_TIMEOUT,
    WHOAMI_TIMEOUT,
    WHOAMI_URL,
)
from codexbard.providers.codex.home import local_zone, read_auth, read_config_text, resolve_home
from codexbard.providers.codex.wham import get_json, with_monthly_pool

PAT_REJECTED: Final = f"OpenAI rejected the Codex personal access token in auth.json; {LOGIN_HINT}"


def pat_user_agent(version: str | None = None) -> str:
    """`codex_cli_rs/<version> (<OS> <release>; <arch>)`, the version part omitted when unknown."""
    system = platform.system()
    name = "Mac OS" if system == "Darwin" else system or "Linux"
    machine = platform.machine() or "unknown"
    arch = {"aarch64": "arm64", "amd64": "x86_64"}.get(machine.lower(), machine)
    head = f"{PAT_ORIGINATOR}/{version}" if version else PAT_ORIGINATOR
    return f"{head} ({name} {platform.release()}; {arch})"


def pat_headers(account_id: str | None = None) -> dict[str, str]:
    """Headers of both PAT requests (the workspace header only on the usage call, when whoami named one)."""
    headers = {"Accept": "application/json", "originator": PAT_ORIGINATOR, "User-Agent": pat_user_agent()}
    if account_id:
        headers["ChatGPT-Account-Id"] = account_id
    return headers


class CodexPat(Strategy):
    """Read the quota with a personal access token stored in `auth.json`."""

    id: ClassVar[str] = "pat"
    kind: ClassVar[StrategyKind] = "api"
    source_label: ClassVar[str] = SOURCE_PAT

    async def available(self, ctx: FetchContext) -> Availability:
        """Available when `auth.json` holds `personal_access_token` (or `personalAccessToken`)."""
        home = resolve_home(ctx)
        read = await read_auth(ctx, home, fresh=True)
        if read.doc is not None and read.doc.string("personal_access_token", "personalAccessToken"):
            return Availability.yes(f"personal access token in {read.path}")
        return Availability.no(f"no personal access token in {read.path}")

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """whoami, then the usage endpoint with the PAT as Bearer token."""
        from codexbard.providers.codex import parse as P
        from codexbard.providers.codex.models import Whoami

        home = resolve_home(ctx)
        read = await read_auth(ctx, home)
        doc = read.require()
        token = doc.secret("personal_access_token", "personalAccessToken")
        if token is None:
            raise NotConfigured(f"no personal access token in {read.path}")
        raw = await get_json(
            ctx, WHOAMI_URL, bearer=token, headers=pat_headers(), timeout=WHOAMI_TIMEOUT, auth_message=PAT_REJECTED
        )
        whoami = Whoami.read(raw) or Whoami()
        base = P.config_base_url(await read_config_text(ctx, home))
        headers = pat_headers(whoami.chatgpt_account_id)
        payload = await get_json(
            ctx, P.usage_url(base), bearer=token, headers=headers, timeout=USAGE_TIMEOUT, auth_message=PAT_REJECTED
        )
        usage = P.parse_usage(
            payload, email=whoami.email, fallback_plan=whoami.chatgpt_plan_type,
            now=ctx.clock.now(), tz=local_zone(ctx),
        )
        usage = await with_monthly_pool(ctx, usage, base, bearer=token, headers=headers)
        return usage.snapshot

