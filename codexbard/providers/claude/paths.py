"""Where Claude Code keeps things for one account: its config root, credentials file, binary, probe folder."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from codexbard.providers.base import FetchContext
from codexbard.providers.claude.const import (
    CLI_NAME,
    CLI_WELL_KNOWN_PATHS,
    CREDENTIALS_FILE,
    DEFAULT_CONFIG_DIR,
    ENV_CLI_PATH,
    ENV_CONFIG_DIR,
    ENV_SECURE_STORAGE_DIR,
    PROBE_DIR_NAME,
    PROJECT_NAME_MAX,
)

# The platform the Claude provider believes it runs on: the one seam tests set ("darwin" turns on the
# keychain fallback). Read only through `on_macos()`.
PLATFORM: str = sys.platform


def on_macos() -> bool:
    """Whether Claude Code's macOS keychain item may hold the credentials."""
    return PLATFORM == "darwin"


def configured_dir(ctx: FetchContext) -> str | None:
    """The account's `claude_config_dir` (`~` expanded), else CLAUDE_CONFIG_DIR for the default account."""
    option = ctx.option("claude_config_dir")
    if isinstance(option, str) and option.strip():
        return str(ctx.files.expand(option.strip()))
    if ctx.account is None:
        value = ctx.env.get(ENV_CONFIG_DIR, "").strip()
        if value:
            return value  # used literally, as Claude Code does
    return None


def config_root(ctx: FetchContext) -> Path:
    """Claude Code's config root of this account (projects/, settings.json)."""
    chosen = configured_dir(ctx)
    return Path(chosen) if chosen else ctx.files.expand(DEFAULT_CONFIG_DIR)


def credentials_path(ctx: FetchContext) -> Path:
    """The account's `.credentials.json` (CLAUDE_SECURESTORAGE_CONFIG_DIR wins for the default account)."""
    if ctx.account is None and ctx.option("claude_config_dir") is None:
        secure = ctx.env.get(ENV_SECURE_STORAGE_DIR, "").strip()
        if secure:
            return Path(secure) / CREDENTIALS_FILE
    return config_root(ctx) / CREDENTIALS_FILE


def child_env(ctx: FetchContext) -> dict[str, str]:
    """What a `claude` child gets on top of the scrubbed environment: its config dir, when one is set."""
    chosen = configured_dir(ctx)
    return {ENV_CONFIG_DIR: chosen} if chosen else {}


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_cli(ctx: FetchContext) -> str | None:
    """The `claude` binary: `cli_path` → CLAUDE_CLI_PATH (if executable) → PATH → well-known paths (blocking)."""
    for candidate in (ctx.option("cli_path"), ctx.env.get(ENV_CLI_PATH)):
        if isinstance(candidate, str) and candidate.strip():
            path = ctx.files.expand(candidate.strip())
            if _executable(path):
                return str(path)
    found = ctx.process.which(CLI_NAME)
    if found:
        return found
    for known in (*CLI_WELL_KNOWN_PATHS, "~/.claude/bin/claude", "/opt/homebrew/bin/claude", "/usr/local/bin/claude"):
        path = ctx.files.expand(known)
        if _executable(path):
            return str(path)
    return None


def probe_dir(ctx: FetchContext) -> Path:
    """The folder `claude` runs in for a probe: `$XDG_STATE_HOME/codexbard/claude-probe[-<account>]`."""
    name = PROBE_DIR_NAME if ctx.account is None else f"{PROBE_DIR_NAME}-{ctx.account}"
    return ctx.files.state_home / "codexbard" / name


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
        if value == 0:
            return out


def project_folder_name(path: str) -> str:
    """Claude Code's project folder name of a working directory: non-alphanumerics → `-`, long names hashed."""
    name = "".join(c if c.isascii() and c.isalnum() else "-" for c in path)
    if len(name) <= PROJECT_NAME_MAX:
        return name
    digest = 0
    for char in path:  # a small stable string hash (Java-style), only to keep long names apart
        digest = (digest * 31 + ord(char)) & 0xFFFFFFFF
    return f"{name[:PROJECT_NAME_MAX]}-{_base36(digest)}"
