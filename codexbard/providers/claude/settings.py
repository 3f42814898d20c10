"""Claude's config keys (`[providers.claude]` and `[[providers.claude.accounts]]`) and the env vars it reads."""

from __future__ import annotations

from pydantic import Field, SecretStr

from codexbard.providers.base import EnvVar, ProviderSettings
from codexbard.providers.claude.const import (
    ENV_CLI_PATH,
    ENV_CONFIG_DIR,
    ENV_SECURE_STORAGE_DIR,
    REF_ENV_OAUTH_SCOPES,
    REF_ENV_OAUTH_TOKEN,
)


class ClaudeAccountSettings(ProviderSettings):
    """One Claude account: its Claude Code config dir or its own OAuth access token."""

    claude_config_dir: str | None = Field(
        None, description="Claude Code config dir of this account (its .credentials.json; `~` is expanded)"
    )
    oauth_token: SecretStr | None = Field(
        None, description="an OAuth access token (sk-ant-oat…) with the user:profile scope; prefer set-secret"
    )
    oauth_scopes: str | None = Field(None, description="comma-separated scopes of oauth_token (default user:profile)")


class ClaudeSettings(ClaudeAccountSettings):
    """`[providers.claude]`: the default account's keys plus the provider-wide ones."""

    cli_path: str | None = Field(None, description="the `claude` executable (else CLAUDE_CLI_PATH, PATH, well-known)")
    organization_id: str | None = Field(None, description="claude.ai organization uuid for the web strategy")
    delegated_refresh: bool = Field(
        True, description="launch `claude` to refresh expired Claude Code credentials (it rewrites its own file)"
    )


ENV_VARS: tuple[EnvVar, ...] = (
    EnvVar(ENV_CONFIG_DIR, "Claude Code config dir (credentials, projects/); used literally"),
    EnvVar(ENV_SECURE_STORAGE_DIR, "directory holding .credentials.json (empty: the default)"),
    EnvVar(ENV_CLI_PATH, "the `claude` executable"),
    EnvVar(REF_ENV_OAUTH_TOKEN, "OAuth access-token override (the reference app's name)", secret=True),
    EnvVar(REF_ENV_OAUTH_SCOPES, "scopes of the override token (comma-separated)"),
)
