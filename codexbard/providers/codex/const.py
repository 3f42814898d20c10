"""Constants of the Codex provider: URLs, env vars, files, labels, window ids, timeouts, RPC and PTY commands."""

from __future__ import annotations

from typing import Final

PROVIDER_ID: Final = "codex"
DISPLAY_NAME: Final = "Codex"
USER_AGENT: Final = "codexbard"

# Source labels (DESIGN.md / the sheet's strategy list).
SOURCE_PAT: Final = "pat"
SOURCE_OAUTH: Final = "oauth"
SOURCE_CLI: Final = "codex-cli"
SOURCE_WEB: Final = "openai-web"

# --- Codex home and the files in it ------------------------------------------------------------------
ENV_CODEX_HOME: Final = "CODEX_HOME"
ENV_CODEX_CLI_PATH: Final = "CODEX_CLI_PATH"
ENV_TMPDIR: Final = "TMPDIR"
ENV_XDG_DATA_HOME: Final = "XDG_DATA_HOME"
DEFAULT_CODEX_HOME: Final = "~/.codex"
AUTH_FILE: Final = "auth.json"
CONFIG_FILE: Final = "config.toml"
# External OAuth files (opt-in; only when CODEX_HOME is unset and the native auth.json is missing).
LEGACY_AUTH_FILE: Final = "~/.config/codex/auth.json"
OPENCODE_AUTH_DEFAULT_DATA_HOME: Final = "~/.local/share"
OPENCODE_AUTH_RELATIVE: Final = "opencode/auth.json"
OPENCODE_AUTH_KEY: Final = "openai"
CLI_NAME: Final = "codex"
CLI_INSTALL_HINT: Final = "npm i -g @openai/codex"

# --- Usage endpoint -----------------------------------------------------------------------------------
DEFAULT_BASE_URL: Final = "https://chatgpt.com/backend-api/"
CHATGPT_ORIGINS: Final = ("https://chatgpt.com", "https://chat.openai.com")
BACKEND_API_SEGMENT: Final = "/backend-api"
BACKEND_USAGE_PATH: Final = "/wham/usage"
CODEX_API_USAGE_PATH: Final = "/api/codex/usage"
USAGE_URL: Final = "https://chatgpt.com/backend-api/wham/usage"
RESET_CREDITS_PATH: Final = "/wham/rate-limit-reset-credits"
MONTHLY_USAGE_PATH: Final = "/accounts/{account_id}/spend-controls/current-user/monthly-usage"
ACCOUNT_ID_HEADER: Final = "ChatGPT-Account-Id"
CONFIG_BASE_URL_KEY: Final = "chatgpt_base_url"

# --- PAT ----------------------------------------------------------------------------------------------
WHOAMI_URL: Final = "https://auth.openai.com/api/accounts/v1/user-auth-credential/whoami"
PAT_ORIGINATOR: Final = "codex_cli_rs"

# --- Token refresh ------------------------------------------------------------------------------------
REFRESH_URL: Final = "https://auth.openai.com/oauth/token"
REFRESH_CLIENT_ID: Final = "app_EMoamEEZ73f0CkXaXp7hrann"
REFRESH_SCOPE: Final = "openid profile email"
LOGIN_HINT: Final = "run `codex login`"

# --- Web dashboard (opt-in) ---------------------------------------------------------------------------
WEB_ME_URL: Final = "https://chatgpt.com/backend-api/me"
WEB_SESSION_URL: Final = "https://chatgpt.com/api/auth/session"
WEB_SUBSCRIPTIONS_URL: Final = "https://chatgpt.com/backend-api/subscriptions"
WEB_COOKIE_DOMAIN: Final = "chatgpt.com"
WEB_ACCEPT_LANGUAGE: Final = "en-US,en;q=0.9"
# A cookie jar "looks signed in" when a name contains one of these, or equals `_account`.
WEB_SESSION_COOKIE_MARKERS: Final = ("session-token", "authjs", "next-auth")
WEB_ACCOUNT_COOKIE: Final = "_account"
# Breadth-first search limit when looking for the signed-in email in `/api/auth/session`.
WEB_EMAIL_SEARCH_NODES: Final = 2000

DASHBOARD_URL: Final = "https://chatgpt.com/codex/settings/usage"
STATUS_URL: Final = "https://status.openai.com/api/v2/status.json"
STATUS_PAGE_URL: Final = "https://status.openai.com/"

# --- Timeouts and intervals (seconds) -----------------------------------------------------------------
USAGE_TIMEOUT: Final = 30.0
WHOAMI_TIMEOUT: Final = 30.0
REFRESH_TIMEOUT: Final = 30.0
RESET_CREDITS_TIMEOUT: Final = 4.0
MONTHLY_USAGE_TIMEOUT: Final = 4.0
WEB_USAGE_TIMEOUT: Final = 4.0
WEB_IDENTITY_TIMEOUT: Final = 2.0
STATUS_TIMEOUT: Final = 10.0
# Native tokens count as stale this long after `last_refresh` (the Codex CLI's own refresh interval).
STALE_AFTER_SECONDS: Final = 8 * 24 * 3600
# An explicit expiry (OpenCode's epoch-ms `expires`) is stale when at most this far away.
EXPIRY_MARGIN_SECONDS: Final = 60

# --- CLI RPC (`codex app-server`) ---------------------------------------------------------------------
RPC_ARGS: Final = ("-s", "read-only", "-a", "never", "app-server")
RPC_INITIALIZE: Final = "initialize"
RPC_INITIALIZED: Final = "initialized"
RPC_RATE_LIMITS: Final = "account/rateLimits/read"
RPC_ACCOUNT: Final = "account/read"
RPC_CLIENT_NAME: Final = "codexbard"
RPC_INITIALIZE_TIMEOUT: Final = 8.0
RPC_REQUEST_TIMEOUT: Final = 3.0
RPC_KILL_GRACE: Final = 0.4
RPC_MAX_LINE_BYTES: Final = 1024 * 1024
# After an exec failure, background launches are suppressed this long (manual refresh retries at once).
RPC_LAUNCH_SUPPRESS_SECONDS: Final = 30 * 60
# Substrings (lower-case) of an RPC error that means "ChatGPT auth required" (explained via config.toml).
RPC_AUTH_REQUIRED_MARKERS: Final = (
    "codex account authentication required",
    "account authentication required to read rate limits",
    "requiresopenaiauth",
)
OPENAI_PROVIDER_IDS: Final = ("openai", "chatgpt")
BEDROCK_PROVIDER_IDS: Final = ("amazon-bedrock", "amazon-bedrock-runtime")

# --- `/status` PTY scrape (manual / diagnostic) --------------------------------------------------------
PTY_STATUS_COMMAND: Final = "/status"
PTY_EXIT_COMMAND: Final = "/exit"
PTY_ROWS: Final = 60
PTY_COLS: Final = 200
PTY_TIMEOUT: Final = 8.0
PTY_RETRY_ROWS: Final = 70
PTY_RETRY_COLS: Final = 220
PTY_RETRY_TIMEOUT: Final = 4.0
PTY_STATE_DIR: Final = "CodexBar/CodexStatusProbe"
PTY_STATUS_MARKERS: Final = ("Credits:", "5h limit", "5-hour limit", "Weekly limit")
PTY_UPDATE_MARKERS: Final = ("update available!", "run bun install -g @openai/codex", "0.60.1 ->")
PTY_ENV_DEFAULTS: Final[dict[str, str]] = {
    "TERM": "xterm-256color",
    "COLORTERM": "truecolor",
    "LANG": "en_US.UTF-8",
    "CI": "0",
}

# --- Windows ------------------------------------------------------------------------------------------
SESSION_MINUTES: Final = 300
WEEKLY_MINUTES: Final = 10080
MONTHLY_MINUTES: Final = 43200
SESSION_LABEL: Final = "Session"
WEEKLY_LABEL: Final = "Weekly"
MONTHLY_LABEL: Final = "Monthly"

# Extra named windows.
SPARK_ID: Final = "codex-spark"
SPARK_TITLE: Final = "Codex Spark 5-hour"
SPARK_WEEKLY_ID: Final = "codex-spark-weekly"
SPARK_WEEKLY_TITLE: Final = "Codex Spark Weekly"
SPARK_MARKER: Final = "spark"
# A Spark window of at most this many minutes is the 5-hour one; at least SPARK_WEEKLY_MIN the weekly one.
SPARK_SESSION_MAX: Final = 6 * 60
SPARK_WEEKLY_MIN: Final = 6 * 24 * 60
EXTRA_ID_PREFIX: Final = "codex-"
EXTRA_DEFAULT_TITLE: Final = "Codex extra limit"
CREDIT_LIMIT_ID: Final = "codex-monthly-credit-limit"
CREDIT_LIMIT_TITLE: Final = "Monthly credit limit"
CREDITS_UNIT: Final = "credits"

# Plans for which the spend-controls monthly-usage endpoint is never asked.
NO_MONTHLY_POOL_PLANS: Final = frozenset({"guest", "free", "go", "plus", "pro"})
# `enforcement_mode` values that mean "no monthly limit" (compared case-insensitively).
NO_LIMIT_ENFORCEMENT: Final = frozenset({"none", "off", "disabled", "no_limit"})

# Plan display names (keys lower-case).
PLAN_EXACT_NAMES: Final[dict[str, str]] = {
    "pro": "Pro 20x",
    "prolite": "Pro 5x",
    "pro_lite": "Pro 5x",
    "pro-lite": "Pro 5x",
    "pro lite": "Pro 5x",
}
PLAN_UPPERCASE_WORDS: Final = frozenset({"cbp", "k12"})

# RPC `account/read` defaults for a ChatGPT account without email or plan.
RPC_UNKNOWN: Final = "unknown"
