"""The `oauth` strategy: the Codex CLI's `auth.json` tokens → `GET {base}/wham/usage`.

Staleness and refresh follow the sheet's codexbard choice: tokens whose `last_refresh` is missing or older
than 8 days are stale. Stale and the `codex` binary resolves → this strategy steps aside (not available) and
`codex-cli` runs, because the CLI owns `auth.json` and refreshes it itself. Stale and no binary → refresh
in-process once per (file, account) through `CredentialFiles.refresh_once`, write the tokens back with
`CredentialFiles.write_back` (re-read first, atomic, 0600, unknown keys kept; a login that happened
meanwhile wins), then call the usage endpoint. A 401/403 from the usage call is `auth_required` and triggers
no refresh. External OAuth files (opt-in) are never refreshed: stale ones fail closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from codexbard.errors import AuthRequired, NotConfigured, ProviderError, Unavailable
from codexbard.host.credentials import Secret
from codexbard.host.credfile import CredentialConflict, CredentialDoc, CredentialFileError
from codexbard.models import UsageSnapshot
from codexbard.providers.base import Availability, FetchContext, Strategy, StrategyKind
from codexbard.providers.codex.const import (
    ENV_CODEX_HOME,
    LEGACY_AUTH_FILE,
    LOGIN_HINT,
    OPENCODE_AUTH_DEFAULT_DATA_HOME,
    OPENCODE_AUTH_RELATIVE,
    REFRESH_TIMEOUT,
    REFRESH_URL,
    SOURCE_OAUTH,
    USAGE_TIMEOUT,
)
from codexbard.providers.codex.home import (
    AuthRead,
    CodexHome,
    local_zone,
    read_auth,
    read_config_text,
    resolve_cli,
    resolve_home,
)
from codexbard.providers.codex.wham import get_json, usage_headers, with_monthly_pool

if TYPE_CHECKING:
    from codexbard.providers.codex.parse import CodexCredentials

log = logging.getLogger(__name__)

REFRESH_SERVICE: Final = "OpenAI token refresh"
STALE_REASON: Final = (
    "Codex tokens in {path} are stale (last refreshed over 8 days ago, or never recorded); "
    "the Codex CLI refreshes them itself, so the codex-cli strategy runs instead"
)
_EXTERNAL_NOTE: Final = "codex.external"


@dataclass(frozen=True)
class External:
    """Credentials from an external, read-only OAuth file (legacy Codex or OpenCode)."""

    path: Path
    credentials: CodexCredentials


def _iso_utc(ctx: FetchContext) -> str:
    """Now as ISO 8601 UTC with a `Z` (what the Codex CLI writes in `last_refresh`)."""
    return ctx.clock.now().isoformat().replace("+00:00", "Z")


def credentials_of(doc: CredentialDoc) -> CodexCredentials:
    """The OAuth credentials of an `auth.json` document (account id from the JWTs when the file has none)."""
    from codexbard.host.jwt import decode_claims
    from codexbard.providers.codex import parse as P

    auth = P.read_auth_file(doc.data)
    tokens = auth.tokens
    return P.oauth_credentials(
        auth,
        id_claims=decode_claims(tokens.id_token) if tokens else None,
        access_claims=decode_claims(tokens.access_token) if tokens else None,
    )


async def external_credentials(ctx: FetchContext) -> External | None:
    """Opt-in external sources, only when CODEX_HOME is unset: legacy `~/.config/codex/auth.json`, then OpenCode."""
    if not ctx.option("external_sources", False) or (ctx.env.get(ENV_CODEX_HOME) or "").strip():
        return None
    if ctx.account is not None and ctx.option("codex_home"):
        return None
    from codexbard.providers.codex import parse as P

    legacy = ctx.files.expand(LEGACY_AUTH_FILE)
    try:
        doc = await ctx.credential_files.read(legacy, watch=ctx.watched_files)
        auth = P.read_auth_file(doc.data)
        if auth.tokens is not None and auth.tokens.usable and auth.tokens.access_token is not None:
            creds = credentials_of(doc)
            from dataclasses import replace

            return External(legacy, replace(creds, external=True))
    except (CredentialFileError, ProviderError):
        pass
    data_home = (ctx.env.get("XDG_DATA_HOME") or "").strip() or OPENCODE_AUTH_DEFAULT_DATA_HOME
    opencode = ctx.files.expand(data_home) / OPENCODE_AUTH_RELATIVE
    try:
        doc = await ctx.credential_files.read(opencode, watch=ctx.watched_files)
    except CredentialFileError:
        return None
    found = P.opencode_credentials(doc.data)
    return None if found is None else External(opencode, found)


class CodexOAuth(Strategy):
    """Read the ChatGPT-plan quota with the Codex CLI's OAuth tokens."""

    id: ClassVar[str] = "oauth"
    kind: ClassVar[StrategyKind] = "oauth"
    source_label: ClassVar[str] = SOURCE_OAUTH

    async def available(self, ctx: FetchContext) -> Availability:
        """Available with `auth.json` present, unless its tokens are stale and the `codex` CLI can refresh them."""
        from codexbard.providers.codex import parse as P

        home = resolve_home(ctx)
        read = await read_auth(ctx, home, fresh=True)
        if read.missing:
            external = await external_credentials(ctx)
            ctx.notes[_EXTERNAL_NOTE] = external
            if external is not None:
                return Availability.yes(f"external Codex login in {external.path}")
            return Availability.no(f"no Codex login: {read.path} does not exist; {LOGIN_HINT}")
        if read.doc is None:
            return Availability.yes(f"{read.path} (it cannot be used: the fetch says why)")
        try:
            creds = credentials_of(read.doc)
        except ProviderError:
            return Availability.yes(f"{read.path} (no ChatGPT tokens: the fetch says why)")
        if P.needs_refresh(creds, ctx.clock.now()) and resolve_cli(ctx) is not None:
            return Availability.no(STALE_REASON.format(path=read.path))
        return Availability.yes(f"ChatGPT login in {read.path}")

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """Refresh when stale and the CLI is absent, then fetch and parse `wham/usage`."""
        from codexbard.providers.codex import parse as P

        home = resolve_home(ctx)
        read = await read_auth(ctx, home)
        if read.missing:
            external = ctx.notes.get(_EXTERNAL_NOTE) or await external_credentials(ctx)
            if isinstance(external, External):
                return await self._fetch_external(ctx, home, external)
        creds = credentials_of(read.require())
        if P.needs_refresh(creds, ctx.clock.now()):
            if resolve_cli(ctx) is not None:
                raise NotConfigured(STALE_REASON.format(path=read.path))
            creds = await self._refresh(ctx, read)
        return await self._usage(ctx, home, creds)

    async def _fetch_external(self, ctx: FetchContext, home: CodexHome, external: External) -> UsageSnapshot:
        from codexbard.providers.codex import parse as P

        if P.needs_refresh(external.credentials, ctx.clock.now()):
            raise AuthRequired(
                f"the external Codex login in {external.path} is stale and codexbard never refreshes it; "
                f"{LOGIN_HINT}"
            )
        return await self._usage(ctx, home, external.credentials)

    async def _usage(self, ctx: FetchContext, home: CodexHome, creds: CodexCredentials) -> UsageSnapshot:
        from codexbard.host.jwt import decode_claims
        from codexbard.providers.codex import parse as P

        base = P.config_base_url(await read_config_text(ctx, home))
        bearer = Secret(creds.access_token, "Codex auth.json")
        headers = usage_headers(creds.account_id)
        secrets = tuple(t for t in (creds.refresh_token, creds.id_token) if t)
        payload = await get_json(
            ctx, P.usage_url(base), bearer=bearer, headers=headers, timeout=USAGE_TIMEOUT,
            auth_message=f"ChatGPT rejected the Codex login; {LOGIN_HINT}", secrets=secrets,
        )
        claims = decode_claims(creds.id_token)
        usage = P.parse_usage(
            payload, email=P.claims_email(claims), fallback_plan=P.claims_plan(claims),
            now=ctx.clock.now(), tz=local_zone(ctx),
        )
        usage = await with_monthly_pool(ctx, usage, base, bearer=bearer, headers=headers, secrets=secrets)
        return usage.snapshot

    async def _refresh(self, ctx: FetchContext, read: AuthRead) -> CodexCredentials:
        """Redeem the refresh token once per (file, account) and write the new tokens back."""
        path = read.path

        async def refresh() -> CredentialDoc:
            from codexbard.providers.codex import parse as P

            try:
                current = await ctx.credential_files.read(path, watch=ctx.watched_files)
            except CredentialFileError as exc:
                raise AuthRequired(f"Codex {exc}; {LOGIN_HINT}") from None
            creds = credentials_of(current)
            if not P.needs_refresh(creds, ctx.clock.now()) or creds.refresh_token is None:
                return current  # the CLI (or another poll) refreshed meanwhile
            secrets = tuple(t for t in (creds.access_token, creds.id_token) if t)
            response = await ctx.http.post(
                REFRESH_URL, service=REFRESH_SERVICE, json_body=P.refresh_request_body(creds.refresh_token),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
                timeout=REFRESH_TIMEOUT, check_status=False, secrets=(creds.refresh_token, *secrets),
            )
            if response.status != 200:
                try:
                    payload: object = response.json()
                except ProviderError:
                    payload = None
                raise P.refresh_failure(response.status, payload)
            fresh = P.refreshed_credentials(creds, response.json(), ctx.clock.now())
            changes: dict[str, str] = {
                "tokens.access_token": fresh.access_token,
                "last_refresh": _iso_utc(ctx),
            }
            for key, value in (
                ("tokens.refresh_token", fresh.refresh_token),
                ("tokens.id_token", fresh.id_token),
                ("tokens.account_id", fresh.account_id),
            ):
                if value:
                    changes[key] = value
            try:
                written = await ctx.credential_files.write_back(current, changes)
            except CredentialConflict as conflict:
                if conflict.current is None:
                    raise AuthRequired(f"Codex {path} was removed during a token refresh; {LOGIN_HINT}") from None
                return conflict.current  # someone else refreshed: theirs wins
            except (CredentialFileError, OSError) as exc:
                raise Unavailable(f"cannot write the refreshed Codex tokens to {path}: {exc}") from None
            log.info("refreshed the Codex tokens in %s", path)
            return written

        doc = await ctx.credential_files.refresh_once(path, ctx.account, refresh)
        return credentials_of(doc)
