"""The exception tree every layer of codexbard raises and the runner interprets.

    CodexbardError
    ├── ConfigError            bad settings: startup fails fast with one clear line
    ├── StoreError             the database cannot be opened or migrated
    └── ProviderError          .kind, .retry_after, .falls_through
        ├── NotConfigured      not_configured   → try next strategy
        ├── AuthRequired       auth_required    → try next strategy; back off until credentials change
        ├── Unsupported        unsupported      → try next strategy
        ├── RateLimited        rate_limited     → stop; next run at max(retry_after, interval)
        ├── Unavailable        unavailable      → stop; keep last good, stale
        │   └── Timeout        timeout
        ├── CliMissing         cli_missing      → try next strategy
        ├── ParseError         parse_error      → stop
        └── Internal           internal         → stop; an unexpected exception (a bug)

Messages are for people and must never contain a secret.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

ErrorKind = Literal[
    "not_configured",
    "auth_required",
    "rate_limited",
    "unavailable",
    "timeout",
    "parse_error",
    "cli_missing",
    "unsupported",
    "internal",
]

ERROR_KINDS: Final[tuple[ErrorKind, ...]] = (
    "not_configured",
    "auth_required",
    "rate_limited",
    "unavailable",
    "timeout",
    "parse_error",
    "cli_missing",
    "unsupported",
    "internal",
)

# The reference CLI's exit codes, carried in the payload's error.code (API.md).
_EXIT_CODES: Final[dict[str, int]] = {"cli_missing": 2, "parse_error": 3, "timeout": 4}


def exit_code_for(kind: str) -> int:
    """Return the reference CLI exit code for an error kind."""
    return _EXIT_CODES.get(kind, 1)


class CodexbardError(Exception):
    """Base of every error codexbard raises on purpose."""


class ConfigError(CodexbardError):
    """Invalid settings; `serve` prints the message and exits 2."""


class StoreError(CodexbardError):
    """The database cannot be opened, read or migrated."""


class ProviderError(CodexbardError):
    """A typed failure of one fetch strategy."""

    kind: ClassVar[ErrorKind] = "internal"
    falls_through: ClassVar[bool] = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class NotConfigured(ProviderError):
    """No credentials (or a required setting) were found."""

    kind: ClassVar[ErrorKind] = "not_configured"
    falls_through = True


class AuthRequired(ProviderError):
    """Credentials were found but rejected or expired beyond refresh."""

    kind: ClassVar[ErrorKind] = "auth_required"
    falls_through = True


class Unsupported(ProviderError):
    """This account or plan has no such data, or uses an auth mode we cannot read."""

    kind: ClassVar[ErrorKind] = "unsupported"
    falls_through = True


class RateLimited(ProviderError):
    """The upstream asked us to slow down (HTTP 429)."""

    kind: ClassVar[ErrorKind] = "rate_limited"


class Unavailable(ProviderError):
    """The upstream failed: 5xx, connection refused, DNS, an error envelope."""

    kind: ClassVar[ErrorKind] = "unavailable"


class Timeout(Unavailable):
    """The upstream (or a process) did not answer in time."""

    kind: ClassVar[ErrorKind] = "timeout"


class CliMissing(ProviderError):
    """A program the strategy needs is not installed."""

    kind: ClassVar[ErrorKind] = "cli_missing"
    falls_through = True


class ParseError(ProviderError):
    """The upstream answered something we cannot read."""

    kind: ClassVar[ErrorKind] = "parse_error"


class Internal(ProviderError):
    """An unexpected exception inside codexbard (a bug)."""

    kind: ClassVar[ErrorKind] = "internal"


_BY_KIND: Final[dict[str, type[ProviderError]]] = {
    cls.kind: cls
    for cls in (
        NotConfigured,
        AuthRequired,
        Unsupported,
        RateLimited,
        Unavailable,
        Timeout,
        CliMissing,
        ParseError,
        Internal,
    )
}


def error_class(kind: str) -> type[ProviderError]:
    """Return the exception class for an error kind (Internal for an unknown one)."""
    return _BY_KIND.get(kind, Internal)
