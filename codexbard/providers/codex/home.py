"""Where one Codex account lives: its home directory, `auth.json`, `config.toml` and the `codex` binary.

Shared by every Codex strategy and kept light (no pydantic models at import time). Files are read through
the host: `auth.json` with `ctx.credential_files` (read once per poll, kept on `ctx.notes`), `config.toml`
with `ctx.files`; both are registered in `ctx.watched_files`, so an edited file re-enables the account and
re-polls it within a detect cycle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from codexbard.errors import AuthRequired, NotConfigured, ParseError, ProviderError
from codexbard.host.credfile import CredentialDoc, CredentialFileError
from codexbard.providers.base import FetchContext
from codexbard.providers.codex.const import (
    AUTH_FILE,
    CONFIG_FILE,
    DEFAULT_CODEX_HOME,
    ENV_CODEX_CLI_PATH,
    ENV_CODEX_HOME,
    LOGIN_HINT,
)

if TYPE_CHECKING:
    from codexbard.providers.codex.models import AuthFile

# Where npm, bun and pipx-style installs put `codex` when the daemon's PATH (a service's) lacks them.
CLI_FALLBACK_DIRS: Final = ("~/.local/bin", "~/.npm-global/bin", "~/.bun/bin")
_AUTH_NOTE: Final = "codex.auth"


@dataclass(frozen=True)
class CodexHome:
    """One account's Codex home, and whether it was chosen explicitly (then the child gets CODEX_HOME)."""

    path: Path
    explicit: bool

    @property
    def auth_file(self) -> Path:
        """`<home>/auth.json`."""
        return self.path / AUTH_FILE

    @property
    def config_file(self) -> Path:
        """`<home>/config.toml`."""
        return self.path / CONFIG_FILE

    def child_env(self) -> dict[str, str]:
        """What a spawned `codex` must see besides the scrubbed environment: this home, when not the default."""
        return {ENV_CODEX_HOME: str(self.path)} if self.explicit else {}


def resolve_home(ctx: FetchContext) -> CodexHome:
    """A named account's `codex_home`, else `$CODEX_HOME` (trimmed, literal), else `codex_home`, else `~/.codex`."""
    configured = ctx.option("codex_home")
    configured = configured.strip() if isinstance(configured, str) and configured.strip() else None
    if ctx.account is not None and configured is not None:
        return CodexHome(ctx.files.expand(configured), True)
    env = (ctx.env.get(ENV_CODEX_HOME) or "").strip()
    if env:
        return CodexHome(Path(env), True)  # the reference uses the variable literally (no `~` expansion)
    if configured is not None:
        return CodexHome(ctx.files.expand(configured), True)
    return CodexHome(ctx.files.expand(DEFAULT_CODEX_HOME), False)


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def resolve_cli(ctx: FetchContext) -> str | None:
    """The `codex` executable: `$CODEX_CLI_PATH` / `cli_path` (an executable file), PATH, then user bin dirs."""
    for raw in (ctx.env.get(ENV_CODEX_CLI_PATH), ctx.option("cli_path")):
        text = raw.strip() if isinstance(raw, str) else ""
        if text:
            candidate = ctx.files.expand(text)
            if _executable(candidate):
                return str(candidate)
    found = ctx.process.which("codex")
    if found is not None:
        return found
    for folder in CLI_FALLBACK_DIRS:
        candidate = ctx.files.expand(folder) / "codex"
        if _executable(candidate):
            return str(candidate)
    return None


@dataclass(frozen=True)
class AuthRead:
    """The outcome of reading `auth.json` once: the document, or the file problem."""

    path: Path
    doc: CredentialDoc | None
    problem: CredentialFileError | None

    @property
    def missing(self) -> bool:
        """The file does not exist (the only problem that means "not logged in")."""
        return self.problem is not None and self.problem.reason == "not_found"

    def require(self) -> CredentialDoc:
        """The document, or the error: missing → not_configured, unreadable → auth_required, bad JSON → parse_error."""
        if self.doc is not None:
            return self.doc
        problem = self.problem
        assert problem is not None
        if problem.reason == "not_found":
            raise NotConfigured(f"no Codex login: {self.path} does not exist; {LOGIN_HINT}")
        if problem.reason in ("decode_failed", "not_object"):
            raise ParseError(f"Codex {problem}")
        raise AuthRequired(f"Codex {problem}; {LOGIN_HINT}")

    def auth(self) -> AuthFile:
        """The parsed `auth.json` (raises as `require` does)."""
        from codexbard.providers.codex.parse import read_auth_file

        return read_auth_file(self.require().data)


async def read_auth(ctx: FetchContext, home: CodexHome, *, fresh: bool = False) -> AuthRead:
    """Read `auth.json` once per poll (watched); `fresh` reads it again (each `available()` starts a poll)."""
    cached = ctx.notes.get(_AUTH_NOTE)
    if not fresh and isinstance(cached, AuthRead) and cached.path == home.auth_file:
        return cached
    try:
        doc: CredentialDoc | None = await ctx.credential_files.read(home.auth_file, watch=ctx.watched_files)
        problem: CredentialFileError | None = None
    except CredentialFileError as exc:
        doc, problem = None, exc
    result = AuthRead(home.auth_file, doc, problem)
    ctx.notes[_AUTH_NOTE] = result
    return result


async def read_config_text(ctx: FetchContext, home: CodexHome) -> str:
    """The text of `<home>/config.toml` (watched), or "" when it is absent or unreadable."""
    import asyncio

    ctx.watched_files.add(home.config_file)
    text = await asyncio.to_thread(ctx.files.read_text, home.config_file)
    return text or ""


def config_table(text: str) -> dict[str, Any]:
    """`config.toml` as a table (only to explain RPC auth errors); {} when it does not parse."""
    import tomllib

    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError):
        return {}


def local_zone(ctx: FetchContext) -> tzinfo:
    """The zone for reset descriptions: the user's zone as the context's env gives it (host.clock.local_zone)."""
    from codexbard.host.clock import local_zone as user_zone

    return user_zone(ctx.env)


def known_email(read: AuthRead) -> str | None:
    """The email of the id token in `auth.json`, when the file is readable (the web strategy's account guard)."""
    if read.doc is None:
        return None
    try:
        auth = read.auth()
    except ProviderError:
        return None
    if auth.tokens is None:
        return None
    from codexbard.host.jwt import decode_claims
    from codexbard.providers.codex.parse import claims_email

    return claims_email(decode_claims(auth.tokens.id_token))
