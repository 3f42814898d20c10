"""Claude (Claude.ai subscription limits via Claude Code): OAuth → `claude` CLI PTY → claude.ai web.

Kept light: the strategy modules import the raw models, the parsers and the PTY session on first use, so
loading the registry does not load them.
"""

from __future__ import annotations

from codexbard.providers.base import ProviderSpec
from codexbard.providers.claude.cli import ClaudeCliStrategy
from codexbard.providers.claude.const import (
    DASHBOARD_URL,
    DEFAULT_INTERVAL_SECONDS,
    DISPLAY_NAME,
    MODEL_LABEL,
    POLL_DEADLINE,
    PROVIDER_ID,
    SESSION_LABEL,
    STATUS_PAGE_URL,
    USAGE_FLOOR_SECONDS,
    WEEKLY_LABEL,
)
from codexbard.providers.claude.oauth import ClaudeOAuthStrategy
from codexbard.providers.claude.settings import ENV_VARS, ClaudeAccountSettings, ClaudeSettings
from codexbard.providers.claude.web import ClaudeWebStrategy
from codexbard.status.source import StatusSource

OAUTH = ClaudeOAuthStrategy()
CLI = ClaudeCliStrategy()
WEB = ClaudeWebStrategy()

PROVIDER = ProviderSpec(
    id=PROVIDER_ID,
    display_name=DISPLAY_NAME,
    strategies=(OAUTH, CLI, WEB),
    window_labels=(SESSION_LABEL, WEEKLY_LABEL, MODEL_LABEL),
    source_modes={"auto": ("oauth", "cli", "web"), "oauth": ("oauth",), "cli": ("cli",), "web": ("web",)},
    default_interval_seconds=DEFAULT_INTERVAL_SECONDS,
    min_interval_seconds=int(USAGE_FLOOR_SECONDS),
    poll_deadline_seconds=POLL_DEADLINE,
    refresh_floor_seconds=int(USAGE_FLOOR_SECONDS),
    dashboard_url=DASHBOARD_URL,
    status=StatusSource(kind="statuspage", url=STATUS_PAGE_URL),
    enable_hint="Run `claude` and log in (Claude Code's credentials are found on their own), or set "
                "`[providers.claude] oauth_token` / `cookie_header`.",
    settings=ClaudeSettings,
    account_settings=ClaudeAccountSettings,
    env=ENV_VARS,
)
