"""Constants of the Claude provider: URLs, env vars, credential paths, labels, intervals and back-off data."""

from __future__ import annotations

from typing import Final

PROVIDER_ID: Final = "claude"
DISPLAY_NAME: Final = "Claude"

# --- Source labels (DESIGN.md "The provider interface"; the sheet's strategy table) ---------------------------
SOURCE_OAUTH: Final = "oauth"
SOURCE_CLI: Final = "claude"
SOURCE_WEB: Final = "web"
SOURCE_STATUSLINE: Final = "statusline"

# --- Upstream URLs (canonical; tests reach fakes through the shared `upstream_overrides` table) ---------------
API_BASE: Final = "https://api.anthropic.com"
USAGE_URL: Final = f"{API_BASE}/api/oauth/usage"
PROFILE_URL: Final = f"{API_BASE}/api/oauth/profile"
PLATFORM_BASE: Final = "https://platform.claude.com"
TOKEN_URL: Final = f"{PLATFORM_BASE}/v1/oauth/token"
WEB_BASE: Final = "https://claude.ai"
WEB_ORGANIZATIONS_URL: Final = f"{WEB_BASE}/api/organizations"
WEB_ACCOUNT_URL: Final = f"{WEB_BASE}/api/account"
WEB_USAGE_PATH: Final = "/api/organizations/{org}/usage"
WEB_OVERAGE_PATH: Final = "/api/organizations/{org}/overage_spend_limit"
WEB_PREPAID_PATH: Final = "/api/organizations/{org}/prepaid/credits"
DASHBOARD_URL: Final = "https://claude.ai/settings/usage"
STATUS_PAGE_URL: Final = "https://status.claude.com/"
STATUS_API_URL: Final = "https://status.claude.com/api/v2/status.json"
STATUS_COMPONENTS_URL: Final = "https://status.claude.com/api/v2/components.json"

# --- Request details -----------------------------------------------------------------------------------------
OAUTH_BETA_HEADER: Final = "oauth-2025-04-20"
# `User-Agent: claude-code/<version>`; the version is the first token of `claude --version`, else this.
USER_AGENT_PREFIX: Final = "claude-code/"
FALLBACK_CLI_VERSION: Final = "2.1.0"
OAUTH_CLIENT_ID: Final = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
PROFILE_SCOPE: Final = "user:profile"
INVALID_GRANT: Final = "invalid_grant"
SESSION_COOKIE: Final = "sessionKey"
SESSION_KEY_PREFIX: Final = "sk-ant-"
ACCESS_TOKEN_PREFIX: Final = "sk-ant-oat"
REFRESH_TOKEN_PREFIX: Final = "sk-ant-ort"
ADMIN_KEY_PREFIX: Final = "sk-ant-admin"

USAGE_TIMEOUT: Final = 30.0
PROFILE_TIMEOUT: Final = 15.0
TOKEN_TIMEOUT: Final = 30.0
WEB_TIMEOUT: Final = 15.0
PREPAID_TIMEOUT: Final = 2.0
STATUS_TIMEOUT: Final = 10.0
# An upstream error body is quoted in a message up to this many characters (after scrubbing).
ERROR_BODY_CHARS: Final = 400

# --- Environment variables ---------------------------------------------------------------------------------
ENV_CONFIG_DIR: Final = "CLAUDE_CONFIG_DIR"
ENV_SECURE_STORAGE_DIR: Final = "CLAUDE_SECURESTORAGE_CONFIG_DIR"
ENV_CLI_PATH: Final = "CLAUDE_CLI_PATH"
# codexbard's own names win; the reference app's names are read too, so a shared shell setup keeps working.
ENV_OAUTH_TOKEN: Final = "CODEXBARD_CLAUDE_OAUTH_TOKEN"
ENV_OAUTH_SCOPES: Final = "CODEXBARD_CLAUDE_OAUTH_SCOPES"
ENV_OAUTH_CLIENT_ID: Final = "CODEXBARD_CLAUDE_OAUTH_CLIENT_ID"
REF_ENV_OAUTH_TOKEN: Final = "CODEXBAR_CLAUDE_OAUTH_TOKEN"
REF_ENV_OAUTH_SCOPES: Final = "CODEXBAR_CLAUDE_OAUTH_SCOPES"
REF_ENV_OAUTH_CLIENT_ID: Final = "CODEXBAR_CLAUDE_OAUTH_CLIENT_ID"
ENV_OAUTH_TOKENS: Final = (ENV_OAUTH_TOKEN, REF_ENV_OAUTH_TOKEN)
ENV_OAUTH_SCOPE_VARS: Final = (ENV_OAUTH_SCOPES, REF_ENV_OAUTH_SCOPES)
ENV_OAUTH_CLIENT_IDS: Final = (ENV_OAUTH_CLIENT_ID, REF_ENV_OAUTH_CLIENT_ID)
DEFAULT_ENV_TOKEN_SCOPES: Final = (PROFILE_SCOPE,)
ENV_ADMIN_KEYS: Final = ("ANTHROPIC_ADMIN_KEY", "ANTHROPIC_ADMIN_API_KEY")
# Removed from the environment of every `claude` child: its own API keys would switch it to API mode.
CHILD_ENV_DROP_PREFIXES: Final = ("ANTHROPIC_",)
CHILD_ENV_DROP: Final = (*ENV_OAUTH_TOKENS, *ENV_OAUTH_SCOPE_VARS)

# --- Files ---------------------------------------------------------------------------------------------------
DEFAULT_CONFIG_DIR: Final = "~/.claude"
CREDENTIALS_FILE: Final = ".credentials.json"
SETTINGS_FILE: Final = "settings.json"
PROJECTS_DIR: Final = "projects"
KEYCHAIN_SERVICE: Final = "Claude Code-credentials"
PROBE_DIR_NAME: Final = "claude-probe"
PROBE_SETTINGS: Final = ".claude/settings.local.json"
PROBE_SESSION_ID_FILE: Final = "session-id"
# Probe project folders longer than this are cut and suffixed with `-<base36 hash>` by Claude Code.
PROJECT_NAME_MAX: Final = 200

# --- Credentials JSON keys (camelCase as Claude Code writes them; snake_case accepted too) ---------------------
CREDENTIALS_ROOT_KEYS: Final = ("claudeAiOauth", "claude_ai_oauth")
MCP_ROOT_KEYS: Final = ("mcpOAuth", "mcp_oauth")

# --- Labels, window lengths, extra window ids -------------------------------------------------------------
SESSION_LABEL: Final = "Session"
WEEKLY_LABEL: Final = "Weekly"
MODEL_LABEL: Final = "Sonnet"
SESSION_MINUTES: Final = 300
WEEKLY_MINUTES: Final = 10080
SCOPED_WINDOW_PREFIX: Final = "claude-weekly-scoped-"
ROUTINES_ID: Final = "claude-routines"
ROUTINES_TITLE: Final = "Daily Routines"
PERIOD_SPEND_LIMIT: Final = "Spend limit"
PERIOD_MONTHLY_CAP: Final = "Monthly cap"
PERIOD_EXTRA_USAGE: Final = "Extra usage"
DEFAULT_CURRENCY: Final = "USD"
# Reference format of an OAuth window's reset (local time): `MMM d 'at' h:mma`, e.g. `Mar 6 at 3:00AM`.
RESET_DESCRIPTION_FORMAT: Final = "{month} {day} at {hour}:{minute:02d}{ampm}"

# --- Raw usage keys ------------------------------------------------------------------------------------------
FIVE_HOUR: Final = "five_hour"
SEVEN_DAY: Final = "seven_day"
SEVEN_DAY_OAUTH_APPS: Final = "seven_day_oauth_apps"
SEVEN_DAY_SONNET: Final = "seven_day_sonnet"
SEVEN_DAY_OPUS: Final = "seven_day_opus"
# The "Daily Routines" window under every name the upstream has used; the first that is an object wins.
ROUTINE_ALIASES: Final = (
    "seven_day_routines",
    "seven_day_claude_routines",
    "claude_routines",
    "routines",
    "routine",
    "seven_day_cowork",
    "cowork",
)
# Windows that share the main limit and are never shown.
IGNORED_WINDOWS: Final = ("seven_day_design", "seven_day_omelette", "iguana_necktie")
# Primary falls back to these, in order, when `five_hour` has no utilization.
PRIMARY_FALLBACKS: Final = (SEVEN_DAY, SEVEN_DAY_OAUTH_APPS, SEVEN_DAY_SONNET, SEVEN_DAY_OPUS)
SCOPED_KIND: Final = "weekly_scoped"
WEEKLY_GROUP: Final = "weekly"
ALL_MODELS_SLUG: Final = "all-models"

# --- Plans -----------------------------------------------------------------------------------------------------
# Order matters: the first word found wins (`subscriptionType`, CLI text).
PLAN_WORDS: Final = ("max", "pro", "team", "enterprise", "ultra")
# `rateLimitTier` substrings, in order (no `ultra` tier exists).
TIER_PLANS: Final = ("max", "pro", "team", "enterprise")
PLAN_LABELS: Final[dict[str, str]] = {
    "max": "Claude Max",
    "pro": "Claude Pro",
    "team": "Claude Team",
    "enterprise": "Claude Enterprise",
    "ultra": "Claude Ultra",
}
COMPACT_PLAN_LABELS: Final[dict[str, str]] = {
    "max": "Max",
    "pro": "Pro",
    "team": "Team",
    "enterprise": "Enterprise",
    "ultra": "Ultra",
}
TEAM_SEAT_LABELS: Final[dict[str, str]] = {
    "team_standard": "Claude Team Standard",
    "team_tier_1": "Claude Team Premium",
}

# --- Polling: the usage endpoint rate-limits hard (sometimes for hours) and sends `Retry-After: 0` ----------------
DEFAULT_INTERVAL_SECONDS: Final = 300
# Never call /api/oauth/usage more than once per this many seconds per token.
USAGE_FLOOR_SECONDS: Final = 300.0
# Back-off over consecutive 429s: 5 -> 10 -> 20 -> 40 -> 60 minutes (then stays at 60).
RATE_LIMIT_LADDER_SECONDS: Final = (300.0, 600.0, 1200.0, 2400.0, 3600.0)
# A Retry-After beyond this is treated as this (a bogus header must not park the provider for days).
RETRY_AFTER_CAP_SECONDS: Final = 86400.0
POLL_DEADLINE: Final = 75.0

# --- Token refresh ------------------------------------------------------------------------------------------------
# Delegated refresh (launch `claude`, let it rewrite its own file) cooldowns per credentials profile.
DELEGATED_SUCCESS_COOLDOWN: Final = 300.0
DELEGATED_FAILURE_COOLDOWN: Final = 20.0
DELEGATED_TIMEOUT: Final = 15.0
DELEGATED_ENTER_INTERVAL: Final = 0.8
DELEGATED_SETTLE: Final = 0.8
# Direct refresh (only for tokens codexbard obtained itself): transient failures back off 5 min, doubling, <= 6 h.
REFRESH_BACKOFF_BASE: Final = 300.0
REFRESH_BACKOFF_CAP: Final = 21600.0

# --- CLI PTY --------------------------------------------------------------------------------------------------
CLI_NAME: Final = "claude"
CLI_WELL_KNOWN_PATHS: Final = ("~/.local/bin/claude", "~/.claude/local/claude", "~/.npm-global/bin/claude")
CLI_ARGS: Final = ("--allowed-tools", "", "--strict-mcp-config", "--session-id")
PTY_ROWS: Final = 50
PTY_COLS: Final = 160
CLI_STARTUP_DELAY: Final = 2.0
CLI_READ_INTERVAL: Final = 0.06
CLI_ENTER_INTERVAL: Final = 0.8
CLI_AFTER_STOP_READ: Final = 2.0
CLI_STATUS_IDLE: Final = 3.0
CLI_STATUS_SETTLE: Final = 0.25
CLI_TIMEOUT_EXPLICIT: Final = 24.0
CLI_TIMEOUT_AUTO: Final = 12.0
CLI_TIMEOUT_RETRY: Final = 60.0
CLI_RECAPTURE_MIN_TIMEOUT: Final = 14.0
CLI_STATUS_MAX_TIMEOUT: Final = 12.0
CLI_OUTPUT_CAP: Final = 1024 * 1024
CLI_REUSE_SECONDS: Final = 900.0
CLI_RATE_LIMIT_BLOCK: Final = 300.0
CLI_USAGE_COMMAND: Final = "/usage"
CLI_STATUS_COMMAND: Final = "/status"
CLI_EXIT_COMMAND: Final = "/exit"
CURSOR_POSITION_QUERY: Final = "\x1b[6n"
CURSOR_POSITION_REPLY: Final = "\x1b[1;1R"
CHILD_ENV_DEFAULTS: Final[dict[str, str]] = {
    "TERM": "xterm-256color",
    "COLORTERM": "truecolor",
    "LANG": "en_US.UTF-8",
    "CI": "0",
}
CHILD_ENV_FORCED: Final[dict[str, str]] = {"DISABLE_AUTOUPDATER": "1"}
# Prompts answered once per capture, matched on normalised text (lower-case, no whitespace): (prompt, keys).
AUTO_ANSWERS: Final = (
    ("Do you trust the files in this folder?", "y\r"),
    ("Quick safety check:", "\r"),
    ("Yes, I trust this folder", "\r"),
    ("Ready to code here?", "\r"),
    ("Press Enter to continue", "\r"),
)
USAGE_AUTO_ANSWERS: Final = (("Show plan usage limits", "\r"), ("Show plan", "\r"))
STATUS_AUTO_ANSWERS: Final = (("Show Claude Code status", "\r"), ("Show Claude Code", "\r"))

# --- Status line ------------------------------------------------------------------------------------------------
INGEST_PATH: Final = "/ingest/claude-statusline"
STATUSLINE_FIVE_HOUR: Final = "five_hour"
STATUSLINE_SEVEN_DAY: Final = "seven_day"
