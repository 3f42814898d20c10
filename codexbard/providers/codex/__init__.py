"""Codex (OpenAI Codex CLI, ChatGPT-plan quota): PAT → OAuth → `codex app-server` RPC; web and `/status` on request.

Importing this package stays cheap: the strategy modules load the pydantic payload models (`models`,
`parse`) on first use, and the PTY machinery only when the `/status` scrape runs.
"""

from codexbard.providers.base import ProviderSpec
from codexbard.providers.codex.const import DASHBOARD_URL, DISPLAY_NAME, PROVIDER_ID, STATUS_PAGE_URL
from codexbard.providers.codex.oauth import CodexOAuth
from codexbard.providers.codex.pat import CodexPat
from codexbard.providers.codex.rpc import CodexRpc
from codexbard.providers.codex.settings import ENV_VARS, CodexAccountSettings, CodexSettings
from codexbard.providers.codex.tui import CodexStatusPty
from codexbard.providers.codex.web import CodexWeb
from codexbard.status.source import StatusSource

PROVIDER = ProviderSpec(
    id=PROVIDER_ID,
    display_name=DISPLAY_NAME,
    strategies=(CodexPat(), CodexOAuth(), CodexRpc(), CodexWeb(), CodexStatusPty()),
    window_labels=("Session", "Weekly", None),
    source_modes={
        "auto": ("pat", "oauth", "codex-cli"),
        "api": ("pat",),
        "oauth": ("oauth",),
        "cli": ("codex-cli", "status-pty"),
        "web": ("openai-web",),
    },
    dashboard_url=DASHBOARD_URL,
    status=StatusSource(kind="link", url=STATUS_PAGE_URL),
    enable_hint="Run `codex login` (or set CODEX_HOME to a logged-in Codex home).",
    settings=CodexSettings,
    account_settings=CodexAccountSettings,
    env=ENV_VARS,
)
