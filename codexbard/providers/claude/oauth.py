"""The `oauth` strategy: Claude Code's OAuth token → `GET /api/oauth/usage` (+ `/api/oauth/profile`).

Credentials: the `oauth_token` setting or secret (env `CODEXBAR_CLAUDE_OAUTH_TOKEN` for the default account)
wins; else Claude Code's `.credentials.json` of the account's config dir; else, on macOS only, Claude Code's
keychain item (`keychain.py`). Expired Claude Code credentials are refreshed only by delegation: `claude` is
launched in a PTY (it refreshes and rewrites its own file or keychain item) and they are read again the same
way. codexbard never redeems Claude Code's refresh token (that logs the user out of Claude Code).

The endpoint rate-limits hard: `UsageGate` allows one call per token per 5 minutes (a caller inside the floor
gets the token's last snapshot, so accounts sharing a token never double-poll) and after a 429 none until the
ladder's wait (5 → 10 → 20 → 40 → 60 min, Retry-After 0 or absent = 5 min) has passed.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, ClassVar, Final

from codexbard.errors import AuthRequired, NotConfigured, ProviderError, RateLimited
from codexbard.host.credfile import CredentialFileError
from codexbard.providers.base import Availability, FetchContext, Strategy, StrategyKind
from codexbard.providers.claude.backoff import token_key
from codexbard.providers.claude.const import (
    ACCESS_TOKEN_PREFIX,
    FALLBACK_CLI_VERSION,
    OAUTH_BETA_HEADER,
    PROFILE_TIMEOUT,
    PROFILE_URL,
    REF_ENV_OAUTH_SCOPES,
    REF_ENV_OAUTH_TOKEN,
    SOURCE_OAUTH,
    USAGE_TIMEOUT,
    USAGE_URL,
    USER_AGENT_PREFIX,
)
from codexbard.providers.claude.gate import DelegationCooldowns, UsageGate
from codexbard.providers.claude.keychain import KEYCHAIN_ORIGIN, KEYCHAIN_PROFILE, read_keychain
from codexbard.providers.claude.paths import credentials_path, on_macos

if TYPE_CHECKING:
    from pathlib import Path

    from codexbard.models import UsageSnapshot
    from codexbard.providers.claude.models import RawProfile
    from codexbard.providers.claude.parse import OAuthCredentials

log = logging.getLogger(__name__)

SERVICE = "Claude OAuth"
_RELOGIN = "run `claude` and log in again"
_KEYCHAIN_NOTE: Final = "claude.keychain"  # ctx.notes key: this poll's keychain outcome (read once per poll)


def _not_found(path: Path) -> str:
    """Where Claude Code's credentials were looked for (the keychain item too, on macOS)."""
    where = f"{path} or {KEYCHAIN_ORIGIN}" if on_macos() else str(path)
    return f"Claude Code credentials not found ({where}); run `claude` and log in"


class ClaudeOAuthStrategy(Strategy):
    """Claude Code's OAuth credentials → the usage endpoint, under the per-token gate."""

    id: ClassVar[str] = "oauth"
    kind: ClassVar[StrategyKind] = "oauth"
    source_label: ClassVar[str] = SOURCE_OAUTH

    def __init__(self) -> None:
        self.gate = UsageGate()
        self.delegations = DelegationCooldowns()

    # -- credentials ---------------------------------------------------------------------------

    async def _token_lookup(self, ctx: FetchContext) -> str | None:
        found = await ctx.credentials.lookup("oauth_token", env_vars=(REF_ENV_OAUTH_TOKEN,), use_store=True)
        ctx.lookups[self.id] = found
        return found.secret.reveal() if found.secret is not None else None

    async def available(self, ctx: FetchContext) -> Availability:
        """Available with a configured token or an existing credentials file (no network)."""
        if await self._token_lookup(ctx) is not None:
            found = ctx.lookups[self.id].secret
            return Availability.yes(f"OAuth token from {found.origin if found else 'config'}")
        path = credentials_path(ctx)
        ctx.watched_files.add(path)
        if await ctx.files.stat_identity_async(path) is None:
            outcome = await self._keychain(ctx) if on_macos() else None
            if isinstance(outcome, NotConfigured):
                return Availability.no(outcome.message)
            if outcome is None:
                return Availability.no(_not_found(path))
            return Availability.yes(f"Claude Code credentials in {KEYCHAIN_ORIGIN}")  # unreadable: fetch says why
        return Availability.yes(f"Claude Code credentials {path}")

    async def _keychain(self, ctx: FetchContext) -> OAuthCredentials | ProviderError | None:
        """The keychain item's credentials, its typed error, or None (absent); read once per poll."""
        if _KEYCHAIN_NOTE not in ctx.notes:
            try:
                ctx.notes[_KEYCHAIN_NOTE] = await read_keychain(ctx)
            except ProviderError as exc:
                ctx.notes[_KEYCHAIN_NOTE] = exc
        outcome: OAuthCredentials | ProviderError | None = ctx.notes[_KEYCHAIN_NOTE]
        return outcome

    async def load(self, ctx: FetchContext) -> OAuthCredentials:
        """The credentials to use now (token setting/env, else the file); typed errors, never a token."""
        from codexbard.providers.claude.parse import credentials_from_env, parse_credentials

        lookup = ctx.lookups.get(self.id)
        token = lookup.secret if lookup is not None else None
        if lookup is None:
            await self._token_lookup(ctx)
            token = ctx.lookups[self.id].secret
        if token is not None:
            scopes = ctx.option("oauth_scopes") or (ctx.env.get(REF_ENV_OAUTH_SCOPES) if ctx.account is None else None)
            creds = credentials_from_env(token.reveal(), scopes, origin=token.origin)
            if creds is not None:
                return creds
        path = credentials_path(ctx)
        try:
            doc = await ctx.credential_files.read(path, watch=ctx.watched_files)
        except CredentialFileError as exc:
            if exc.reason == "not_found":
                outcome = await self._keychain(ctx) if on_macos() else None
                if isinstance(outcome, ProviderError):
                    raise outcome from None
                if outcome is not None:
                    return outcome
                raise NotConfigured(_not_found(path)) from None
            raise AuthRequired(f"Claude Code credentials {path} cannot be used ({exc.reason}); {_RELOGIN}") from None
        return parse_credentials(json.dumps(doc.data), origin=str(path), source="file")

    async def _delegate(self, ctx: FetchContext, creds: OAuthCredentials) -> OAuthCredentials:
        """Let `claude` refresh its own expired credentials, then read them again (cooldowns apply)."""
        from codexbard.providers.claude.cli import delegate_refresh

        path = credentials_path(ctx)
        in_keychain = creds.source == "keychain"
        profile = KEYCHAIN_PROFILE if in_keychain else str(path)
        now = ctx.clock.now()
        expired = f"Claude Code credentials in {creds.access_token.origin} have expired"
        if ctx.option("delegated_refresh", True) is False:
            raise AuthRequired(f"{expired}; run `claude` once to refresh them (delegated_refresh is off)")
        if creds.refresh_token is None:
            raise AuthRequired(f"{expired} and hold no refresh token; {_RELOGIN}")
        wait = self.delegations.remaining(profile, now)
        if wait > 0:
            raise AuthRequired(f"{expired}; `claude` was asked to refresh them {int(wait)} s ago without effect "
                               f"(next try in {int(wait)} s); run `claude` to refresh them")

        async def keychain_changed() -> bool:
            try:
                again = await read_keychain(ctx)
            except ProviderError:
                return False
            return again is not None and again.access_token != creds.access_token

        ok = await delegate_refresh(ctx, path, changed=keychain_changed if in_keychain else None)
        self.delegations.note(profile, ctx.clock.now(), success=ok)
        ctx.notes.pop(_KEYCHAIN_NOTE, None)  # read the keychain item again, as the file is
        fresh = await self.load(ctx)
        if fresh.is_expired(ctx.clock.now()):
            self.delegations.note(profile, ctx.clock.now(), success=False)
            raise AuthRequired(f"{expired} and `claude` did not refresh them; run `claude` to log in again")
        return fresh

    # -- fetch ---------------------------------------------------------------------------------

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """Load (and if needed delegate-refresh) the credentials, then read usage under the gate."""
        creds = await self.load(ctx)
        if not creds.can_read_usage:
            raise AuthRequired(
                "Claude OAuth token lacks the user:profile scope (tokens from `claude setup-token` cannot read "
                "usage); log in with `claude` to re-generate the credentials"
            )
        if creds.is_expired(ctx.clock.now()):
            if creds.source == "env":
                raise AuthRequired("Claude OAuth token has expired and has no refresh token; set a new one")
            creds = await self._delegate(ctx, creds)
        return await self.read_usage(ctx, creds)

    async def read_usage(self, ctx: FetchContext, creds: OAuthCredentials) -> UsageSnapshot:
        """One gated call of the usage endpoint (plus the best-effort profile) → a snapshot."""
        from codexbard.providers.claude.parse import oauth_http_error, parse_oauth_usage

        token = creds.access_token.reveal()
        key = token_key(token)
        now = ctx.clock.now()
        blocked = self.gate.blocked_for(key, now)
        if blocked > 0:
            raise RateLimited(
                f"Claude usage endpoint is rate limited; next attempt in {int(blocked // 60)} min "
                "(no request sent)", retry_after=blocked)
        floor = self.gate.floor_for(key, now)
        if floor > 0:
            record = self.gate.record(key)
            if record.snapshot is not None:
                return record.snapshot  # same token, inside the 5-minute floor: no second call
            raise RateLimited(
                f"Claude usage endpoint allows one call per 5 minutes per token; next in {int(floor)} s "
                "(no request sent)", retry_after=floor)
        headers = {
            "anthropic-beta": OAUTH_BETA_HEADER,
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT_PREFIX + FALLBACK_CLI_VERSION,
        }
        self.gate.note_call(key, now)
        try:
            response = await ctx.http.get(USAGE_URL, service=SERVICE, bearer=creds.access_token, headers=headers,
                                          timeout=USAGE_TIMEOUT, check_status=False)
        except ProviderError:
            self.gate.note_other_failure(key)
            raise
        if response.status == 429:
            count, _ = self.gate.note_429(key, now, response.headers.get("retry-after"))
            raise oauth_http_error(429, response.body, retry_after=response.headers.get("retry-after"),
                                   consecutive_429=count, now=now, secrets=(token,))
        if response.status != 200:
            self.gate.note_other_failure(key)
            raise oauth_http_error(response.status, response.body, secrets=(token,))
        try:
            payload = response.json_object()
            snapshot = parse_oauth_usage(payload, subscription_type=creds.subscription_type,
                                         rate_limit_tier=creds.rate_limit_tier, profile=await self._profile(ctx, creds))
        except ProviderError:
            self.gate.note_other_failure(key)
            raise
        self.gate.note_success(key, now, snapshot)
        return snapshot

    async def _profile(self, ctx: FetchContext, creds: OAuthCredentials) -> RawProfile | None:
        """`/api/oauth/profile` for the e-mail (best effort: any failure leaves the identity without it)."""
        from codexbard.providers.claude.parse import parse_profile

        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        try:
            response = await ctx.http.get(PROFILE_URL, service="Claude profile", bearer=creds.access_token,
                                          headers=headers, timeout=PROFILE_TIMEOUT, check_status=False)
            if response.status != 200:
                return None
            return parse_profile(response.json())
        except ProviderError:
            log.debug("Claude profile lookup failed", exc_info=True)
            return None

    def should_fall_back(self, error: ProviderError) -> bool:
        """Any failure falls through to the CLI except a rate limit (its panel reads the same endpoint)."""
        return not isinstance(error, RateLimited)


def looks_like_access_token(value: str) -> bool:
    """Whether a pasted value is an OAuth access token (`sk-ant-oat…`, optionally after `Bearer `)."""
    text = value.strip()
    if text.lower().startswith("bearer "):
        text = text[7:].strip()
    return text.startswith(ACCESS_TOKEN_PREFIX) and "=" not in text and "cookie:" not in text.lower()
