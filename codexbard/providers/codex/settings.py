"""The Codex provider's declarations: its `[providers.codex]` keys, its account keys and its env vars."""

from __future__ import annotations

from typing import Final

from pydantic import Field, SecretStr

from codexbard.providers.base import EnvVar, ProviderSettings
from codexbard.providers.codex.const import ENV_CODEX_CLI_PATH, ENV_CODEX_HOME


class CodexSettings(ProviderSettings):
    """`[providers.codex]` keys besides the common ones (`source`, `cookie_header`, ...)."""

    codex_home: str | None = Field(
        None, description="Codex home (auth.json, config.toml) of the default account; $CODEX_HOME wins"
    )
    cli_path: str | None = Field(None, description="path of the `codex` executable; $CODEX_CLI_PATH wins")
    external_sources: bool = Field(
        False,
        description="also read ~/.config/codex/auth.json and OpenCode's auth.json (read-only) when "
        "CODEX_HOME is unset and the native auth.json is missing",
    )


class CodexAccountSettings(ProviderSettings):
    """One `[[providers.codex.accounts]]` entry besides `label`."""

    codex_home: str | None = Field(None, description="this account's Codex home (its own auth.json and config.toml)")
    cli_path: str | None = Field(None, description="path of the `codex` executable for this account")
    cookie_header: SecretStr | None = Field(
        None, description="a chatgpt.com Cookie header for this account (source `web`)"
    )


ENV_VARS: Final = (
    EnvVar(ENV_CODEX_HOME, "Codex home of the default account (auth.json, config.toml); passed to a spawned codex"),
    EnvVar(ENV_CODEX_CLI_PATH, "path of the `codex` executable (used when it is an executable file)"),
)
