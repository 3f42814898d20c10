"""The API-token strategy: quota from `/api/monitor/usage/quota/limit`, balance from BigModel (CN only)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from codexbard.errors import AuthRequired, NotConfigured, ProviderError
from codexbard.host.credentials import Secret
from codexbard.host.http import validate_endpoint
from codexbard.models import DetailSection, UsageSnapshot
from codexbard.providers.base import ApiKey, ApiKeyStrategy, FetchContext
from codexbard.providers.zai.const import (
    BALANCE_SERVICE,
    BALANCE_TIMEOUT,
    BALANCE_URL,
    CN_ENV_API_KEYS,
    CN_KEY_FILES,
    DEADLINE_MARGIN,
    DISPLAY_NAME,
    ENV_API_HOST,
    ENV_API_KEY,
    ENV_BALANCE_URL,
    ENV_ORGANIZATION,
    ENV_PROJECT,
    ENV_QUOTA_URL,
    MODEL_USAGE_PATH,
    MODEL_USAGE_RANGES,
    MODEL_USAGE_TIMEOUT,
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
    TEAM_MODEL_USAGE_TYPE,
    TEAM_QUOTA_TYPE,
)
from codexbard.providers.zai.parse import balance_row, model_usage_section, parse_balance, parse_quota

log = logging.getLogger(__name__)

# Whitespace or control characters anywhere in a team id.
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")

GLOBAL_KEY: Final = ApiKey(DISPLAY_NAME, env_vars=(ENV_API_KEY,))
# bigmodel-cn also reads the variables and key files other GLM tools use.
CN_KEY: Final = ApiKey(DISPLAY_NAME, env_vars=(ENV_API_KEY, *CN_ENV_API_KEYS), files=CN_KEY_FILES)


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
    model_usage_url: str

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


def validate_override(name: str, raw: str, region: str) -> str:
    """The shared endpoint validation, plus: a canonical host of the other region is refused."""
    url = validate_endpoint(name, raw)
    host = (urlsplit(url).hostname or "").rstrip(".")
    for other_region, canonical in REGION_HOSTS.items():
        if host == canonical and other_region != region:
            raise NotConfigured(
                f"{name} points at {canonical}, which does not match the selected region {region}; "
                f"fix {name} or providers.zai.region"
            )
    return url


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


def model_usage_url(ctx: FetchContext, region: str) -> str:
    """The model-usage URL: Z_AI_API_HOST (as given when it has a path), else the region's host."""
    host = (ctx.env.get(ENV_API_HOST) or "").strip()
    if host:
        parts = urlsplit(validate_override(ENV_API_HOST, host, region))
        path = parts.path if parts.path not in ("", "/") else MODEL_USAGE_PATH
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))  # its own query is dropped
    return f"https://{REGION_HOSTS[region]}{MODEL_USAGE_PATH}"


def model_usage_query(now: datetime, days_back: int, team: bool) -> str:
    """`startTime`/`endTime` in local time (local midnight `days_back` days ago .. this hour's 59:59)."""
    local = now.astimezone()
    start = local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=max(1, days_back))
    end = local.replace(minute=59, second=59, microsecond=0)
    query = [("startTime", start.strftime("%Y-%m-%d %H:%M:%S")), ("endTime", end.strftime("%Y-%m-%d %H:%M:%S"))]
    if team:
        query.append(("type", TEAM_MODEL_USAGE_TYPE))
    return urlencode(query, quote_via=quote)  # `%20`, as the sheet shows, not `+`


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
    return FetchSettings(region=region, team=team, quota_url=url, balance_url=balance,
                         model_usage_url=model_usage_url(ctx, region))


class ZaiApiStrategy(ApiKeyStrategy):
    """Read the GLM Coding Plan quota with an API key."""

    key = GLOBAL_KEY

    def declared_keys(self) -> tuple[ApiKey, ...]:
        """Both regions' key specs."""
        return (GLOBAL_KEY, CN_KEY)

    def api_key(self, ctx: FetchContext) -> ApiKey:
        """The key for the configured region (bigmodel-cn also reads other tools' variables and files)."""
        return CN_KEY if ctx.option("region", REGION_GLOBAL) == REGION_CN else GLOBAL_KEY

    async def fetch_with_key(self, ctx: FetchContext, key: Secret) -> UsageSnapshot:
        """Fetch the quota (required) and, for bigmodel-cn, the account balance (optional)."""
        settings = settings_of(ctx)
        headers = {"Accept": "application/json"}
        if settings.team is not None:
            headers[ORG_HEADER] = settings.team.organization
            headers[PROJECT_HEADER] = settings.team.project
        now = ctx.clock.now()
        try:
            response = await ctx.http.get(
                settings.quota_url, service=settings.service, bearer=key, headers=headers, timeout=QUOTA_TIMEOUT
            )
            raw = response.json_object()
            snapshot = parse_quota(raw, service=settings.service, secrets=response.secrets, now=now)
        except AuthRequired as exc:
            raise AuthRequired(f"{exc.message}; check the API key from {key.origin}") from None
        if settings.balance_url is not None:
            balance = await self._balance(ctx, settings.balance_url, key)
            credits, row = (parse_balance(balance), balance_row(balance)) if balance is not None else (None, None)
            if row is not None:  # parsed again (pure, and valid: it just parsed) to end "Quota details" with it
                snapshot = parse_quota(raw, service=settings.service, now=now, balance=row)
            if credits is not None:
                snapshot = snapshot.model_copy(update={"credits": credits})
        details = list(snapshot.details)
        for days_back, title in MODEL_USAGE_RANGES:
            section = await self._model_usage(ctx, settings, key, headers, days_back, title, now)
            if section is not None:
                details.append(section)
        return snapshot.model_copy(update={"details": details})

    async def _optional_json(self, ctx: FetchContext, url: str, key: Secret, service: str,
                             headers: dict[str, str], cap: float) -> dict[str, Any] | None:
        """GET an optional JSON object within `cap` s of the poll deadline; any failure is None, never an error."""
        timeout = ctx.remaining(cap + DEADLINE_MARGIN) - DEADLINE_MARGIN
        if timeout < DEADLINE_MARGIN:
            log.debug("zai: skipping an optional request to %s, the poll deadline is near", service)
            return None
        try:
            response = await ctx.http.get(url, service=service, bearer=key, headers=headers, timeout=timeout)
            return response.json_object()
        except ProviderError as exc:
            log.debug("zai: optional request to %s failed (%s)", service, exc.kind)
        except Exception as exc:  # an optional call must never fail the poll
            log.debug("zai: optional reply from %s could not be read (%s)", service, type(exc).__name__)
        return None

    async def _balance(self, ctx: FetchContext, url: str, key: Secret) -> dict[str, Any] | None:
        """The BigModel account report; any failure only means no balance, never a failed poll."""
        # The balance belongs to the account, not to a team: no team headers.
        return await self._optional_json(ctx, url, key, BALANCE_SERVICE, {"Accept": "application/json"},
                                         BALANCE_TIMEOUT)

    async def _model_usage(self, ctx: FetchContext, settings: FetchSettings, key: Secret, headers: dict[str, str],
                           days_back: int, title: str, now: datetime) -> DetailSection | None:
        """One optional model-usage chart section; None when it failed or has no tokens."""
        url = f"{settings.model_usage_url}?{model_usage_query(now, days_back, settings.team is not None)}"
        payload = await self._optional_json(ctx, url, key, f"{settings.service} model usage", headers,
                                            MODEL_USAGE_TIMEOUT)
        if payload is None:
            return None
        try:
            return model_usage_section(payload, title)
        except ProviderError as exc:
            log.debug("zai: model usage %s ignored (%s)", title, exc.kind)
            return None
