"""The API-token strategy: quota from `/api/monitor/usage/quota/limit`, balance from BigModel (CN only)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from codexbard.errors import AuthRequired, NotConfigured, ProviderError
from codexbard.host.credentials import SecretLookup
from codexbard.models import Credits, UsageSnapshot
from codexbard.providers.base import ApiKeyStrategy, FetchContext
from codexbard.providers.zai.const import (
    BALANCE_SERVICE,
    BALANCE_TIMEOUT,
    BALANCE_URL,
    CN_ENV_API_KEYS,
    CN_KEY_FILES,
    DEADLINE_MARGIN,
    ENV_API_HOST,
    ENV_API_KEY,
    ENV_BALANCE_URL,
    ENV_ORGANIZATION,
    ENV_PROJECT,
    ENV_QUOTA_URL,
    ORG_HEADER,
    PROJECT_HEADER,
    QUOTA_PATH,
    QUOTA_TIMEOUT,
    REGION_CN,
    REGION_GLOBAL,
    REGION_HOSTS,
    REGION_SERVICES,
    REGIONS,
    SCOPE_PERSONAL,
    SCOPE_TEAM,
    SCOPES,
    TEAM_QUOTA_TYPE,
)
from codexbard.providers.zai.parse import parse_balance, parse_quota

log = logging.getLogger(__name__)

# Whitespace or control characters anywhere in an override URL.
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Team:
    """The BigModel organization and project a team-scope request names."""

    organization: str
    project: str


@dataclass(frozen=True)
class FetchSettings:
    """Region, scope and endpoints of one fetch, validated before any request."""

    region: str
    team: Team | None
    quota_url: str
    balance_url: str | None

    @property
    def service(self) -> str:
        """The name used in error messages."""
        return REGION_SERVICES[self.region]


def region_of(ctx: FetchContext) -> str:
    """The configured region; config validation has already rejected unknown values."""
    region = ctx.option("region", REGION_GLOBAL)
    if region not in REGIONS:
        raise NotConfigured(
            f"providers.zai.region must be one of {', '.join(REGIONS)} (got an unknown value)"
        )
    return str(region)


def lookup_key(ctx: FetchContext, region: str) -> SecretLookup:
    """Look the API key up: env vars, secret store, config, then (bigmodel-cn only) other tools' files."""
    env_vars: tuple[str, ...] = (ENV_API_KEY,)
    files: tuple[str, ...] = ()
    if region == REGION_CN:
        env_vars += CN_ENV_API_KEYS
        # The files belong to the default credentials, like the env vars: not to a named account.
        if ctx.account is None:
            files = CN_KEY_FILES
    return ctx.credentials.secret("api_key", env_vars=env_vars, files=files)


def _missing_key_message(lookup: SecretLookup, region: str) -> str:
    extra = " (or BIGMODEL_API_KEY)" if region == REGION_CN else ""
    return (
        f"z.ai API key not found (looked in: {lookup.where()}). "
        f"Set {ENV_API_KEY}{extra} or run `codexbard config set-secret --provider zai`."
    )


def validate_override(name: str, raw: str, region: str) -> str:
    """Normalize an endpoint override to an https URL, or raise NotConfigured naming the variable."""
    value = raw.strip()
    if _BAD_CHARS.search(value):
        raise NotConfigured(f"{name} contains whitespace or control characters; fix or unset it")
    if "://" not in value:
        value = "https://" + value
    parts = urlsplit(value)
    if parts.scheme.lower() != "https":
        raise NotConfigured(f"{name} must be an https:// URL or a bare host name; fix or unset it")
    netloc = parts.netloc
    if "@" in netloc:
        raise NotConfigured(f"{name} must not carry a user name or password; remove it")
    # Encoded delimiters (%2f, %40, %3a, ...) or a backslash in the host can smuggle another host past
    # the checks below; no real host name contains either.
    if "%" in netloc or "\\" in netloc:
        raise NotConfigured(f"{name} has percent-encoded or backslash characters in its host; fix it")
    try:
        host = (parts.hostname or "").rstrip(".")
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError:
        raise NotConfigured(f"{name} has an invalid port; fix or unset it") from None
    if not host:
        raise NotConfigured(f"{name} has no host name; fix or unset it")
    for other_region, canonical in REGION_HOSTS.items():
        if host == canonical and other_region != region:
            raise NotConfigured(
                f"{name} points at {canonical}, which does not match the selected region {region}; "
                f"fix {name} or providers.zai.region"
            )
    return urlunsplit(("https", netloc, parts.path, parts.query, ""))


def quota_url(ctx: FetchContext, region: str) -> str:
    """The quota URL: Z_AI_QUOTA_URL, else Z_AI_API_HOST (with the standard path when it has none)."""
    quota = (ctx.env.get(ENV_QUOTA_URL) or "").strip()
    if quota:
        return validate_override(ENV_QUOTA_URL, quota, region)
    host = (ctx.env.get(ENV_API_HOST) or "").strip()
    if host:
        url = validate_override(ENV_API_HOST, host, region)
        parts = urlsplit(url)
        if parts.path in ("", "/"):
            return urlunsplit((parts.scheme, parts.netloc, QUOTA_PATH, parts.query, ""))
        return url
    return f"https://{REGION_HOSTS[region]}{QUOTA_PATH}"


def _team_id(ctx: FetchContext, key: str, env_name: str) -> str | None:
    value = ctx.option(key)
    if value is None and ctx.account is None:
        value = ctx.env.get(env_name)
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    # A second line or a second value makes the upstream answer `data: {}`; refuse it here instead.
    if _BAD_CHARS.search(text) or "," in text:
        raise NotConfigured(
            f"providers.zai.{key} (or {env_name}) must be a single value on one line; fix it"
        )
    return text


def team_of(ctx: FetchContext) -> Team | None:
    """The team to report on, None for personal scope; NotConfigured when an id is missing."""
    scope = ctx.option("usage_scope", SCOPE_PERSONAL)
    if scope not in SCOPES:
        raise NotConfigured("providers.zai.usage_scope must be personal or team (got an unknown value)")
    if scope != SCOPE_TEAM:
        return None
    organization = _team_id(ctx, "organization_id", ENV_ORGANIZATION)
    project = _team_id(ctx, "project_id", ENV_PROJECT)
    if organization is None or project is None:
        missing = [n for n, v in (("organization_id", organization), ("project_id", project)) if v is None]
        raise NotConfigured(
            "z.ai team usage needs both the Organization ID and the Project ID: set "
            f"providers.zai.organization_id and providers.zai.project_id (or {ENV_ORGANIZATION} and "
            f"{ENV_PROJECT}); missing: {', '.join(missing)}"
        )
    return Team(organization, project)


def with_team_type(url: str) -> str:
    """Replace any `type=` query parameter with `type=2`, keeping the others in order."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "type"]
    query.append(("type", TEAM_QUOTA_TYPE))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def settings_of(ctx: FetchContext) -> FetchSettings:
    """Validate region, scope and overrides (no network); NotConfigured names the bad setting."""
    region = region_of(ctx)
    team = team_of(ctx)
    url = quota_url(ctx, region)
    if team is not None:
        url = with_team_type(url)
    balance: str | None = None
    if region == REGION_CN:
        override = (ctx.env.get(ENV_BALANCE_URL) or "").strip()
        balance = validate_override(ENV_BALANCE_URL, override, region) if override else BALANCE_URL
    return FetchSettings(region=region, team=team, quota_url=url, balance_url=balance)


class ZaiApiStrategy(ApiKeyStrategy):
    """Read the GLM Coding Plan quota with an API key."""

    def _region_for_lookup(self, ctx: FetchContext) -> str:
        region = ctx.option("region", REGION_GLOBAL)
        return region if region in REGIONS else REGION_GLOBAL

    def lookup(self, ctx: FetchContext) -> SecretLookup:
        """The key for the configured region (bigmodel-cn also reads other tools' key files)."""
        return lookup_key(ctx, self._region_for_lookup(ctx))

    def missing_message(self, ctx: FetchContext, lookup: SecretLookup) -> str:
        """Where the lookup searched and how to enable z.ai."""
        return _missing_key_message(lookup, self._region_for_lookup(ctx))

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """Fetch the quota (required) and, for bigmodel-cn, the account balance (optional)."""
        settings = settings_of(ctx)
        secret = self.require_key(ctx)
        token = secret.reveal()
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if settings.team is not None:
            headers[ORG_HEADER] = settings.team.organization
            headers[PROJECT_HEADER] = settings.team.project
        hint = f"; check the API key from {secret.origin}"
        try:
            response = await ctx.http.get(
                settings.quota_url,
                service=settings.service,
                headers=headers,
                timeout=ctx.remaining(QUOTA_TIMEOUT),
            )
            snapshot = parse_quota(response.json_object(), service=settings.service, secrets=(token,))
        except AuthRequired as exc:
            raise AuthRequired(exc.message + hint) from None
        if settings.balance_url is not None:
            credits = await self._balance(ctx, settings.balance_url, headers)
            if credits is not None:
                snapshot = snapshot.model_copy(update={"credits": credits})
        return snapshot

    async def _balance(self, ctx: FetchContext, url: str, headers: dict[str, str]) -> Credits | None:
        """The BigModel account balance; any failure only means no credits."""
        timeout = ctx.remaining(BALANCE_TIMEOUT + DEADLINE_MARGIN) - DEADLINE_MARGIN
        if timeout < DEADLINE_MARGIN:
            log.debug("zai: skipping the balance request, the poll deadline is near")
            return None
        # The balance belongs to the account, not to a team: send only the bearer header.
        plain: dict[str, str] = {k: v for k, v in headers.items() if k not in (ORG_HEADER, PROJECT_HEADER)}
        try:
            response = await ctx.http.get(url, service=BALANCE_SERVICE, headers=plain, timeout=timeout)
            return parse_balance(response.json_object())
        except ProviderError as exc:
            log.debug("zai: balance request failed (%s); leaving credits empty", exc.kind)
            return None
