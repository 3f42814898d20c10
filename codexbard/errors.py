"""The exception tree every layer of codexbard raises and the runner interprets.

    CodexbardError
    ├── ConfigError            bad settings: startup fails fast with one clear line
    ├── SpecError              a provider descriptor that cannot work (also a ValueError)
    ├── StoreError             the database cannot be opened or migrated
    └── ProviderError          .kind, .retry_after, and the policy of its kind (below)
        ├── NotConfigured      not_configured   → try next strategy
        ├── AuthRequired       auth_required    → try next strategy; back off until credentials change
        ├── Unsupported        unsupported      → try next strategy
        ├── RateLimited        rate_limited     → stop; next run at max(retry_after, interval)
        ├── Unavailable        unavailable      → stop; keep last good, stale
        │   ├── ConnectionFailed  unavailable   → the network is down (DNS, refused): short fixed retries
        │   └── Timeout        timeout
        ├── CliMissing         cli_missing      → try next strategy
        ├── ParseError         parse_error      → stop
        └── Internal           internal         → stop; an unexpected exception (a bug)

What each kind means to the runner and the scheduler is one table, `KIND_POLICIES`: whether the runner
falls through to the next strategy, which backoff class the scheduler applies, and whether the kind is
"soft" (a setup gap, reported only when no other attempt failed harder). Every class carries its kind's
policy as class attributes; a subclass may override one (ConnectionFailed keeps `unavailable` on the
wire but backs off as `connection`).

Messages are for people and must never contain a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
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

BackoffClass = Literal["rate", "exponential", "connection", "credential"]
"""How the scheduler waits after a failure (scheduler/backoff.py):

rate         max(Retry-After clamped to a day, interval, the provider's floor)
exponential  interval × 2^failures, at most ×8 and an hour (the upstream is failing)
connection   a short fixed schedule (the network is down, not the upstream)
credential   re-check hourly, or at once when the credentials change
"""


@dataclass(frozen=True)
class KindPolicy:
    """What one error kind means to the runner and the scheduler."""

    falls_through: bool  # the runner tries the next strategy
    backoff: BackoffClass  # how the scheduler waits before the next poll
    soft: bool  # a setup gap: reported only when no other attempt failed with a hard kind


# The one table. Tested once (tests/scheduler/test_policy.py); nothing else lists kinds by behaviour.
KIND_POLICIES: Final[dict[ErrorKind, KindPolicy]] = {
    "not_configured": KindPolicy(falls_through=True, backoff="credential", soft=True),
    "auth_required": KindPolicy(falls_through=True, backoff="credential", soft=False),
    "unsupported": KindPolicy(falls_through=True, backoff="credential", soft=False),
    "cli_missing": KindPolicy(falls_through=True, backoff="credential", soft=True),
    "rate_limited": KindPolicy(falls_through=False, backoff="rate", soft=False),
    "unavailable": KindPolicy(falls_through=False, backoff="exponential", soft=False),
    "timeout": KindPolicy(falls_through=False, backoff="exponential", soft=False),
    "parse_error": KindPolicy(falls_through=False, backoff="exponential", soft=False),
    "internal": KindPolicy(falls_through=False, backoff="exponential", soft=False),
}


def policy_for(kind: str) -> KindPolicy:
    """The policy of an error kind (that of `internal` for an unknown one, e.g. from an old database)."""
    for known, policy in KIND_POLICIES.items():
        if known == kind:
            return policy
    return KIND_POLICIES["internal"]


# The reference CLI's exit codes, carried in the payload's error.code (API.md).
_EXIT_CODES: Final[dict[str, int]] = {"cli_missing": 2, "parse_error": 3, "timeout": 4}


def exit_code_for(kind: str) -> int:
    """Return the reference CLI exit code for an error kind."""
    return _EXIT_CODES.get(kind, 1)


class CodexbardError(Exception):
    """Base of every error codexbard raises on purpose."""


class ConfigError(CodexbardError):
    """Invalid settings; `serve` prints the message and exits 2."""


class SpecError(CodexbardError, ValueError):
    """A provider descriptor (ProviderSpec) that cannot work: a bug in that provider's module."""


class StoreError(CodexbardError):
    """The database cannot be opened, read or migrated."""


class ProviderError(CodexbardError):
    """A typed failure of one fetch strategy."""

    kind: ClassVar[ErrorKind] = "internal"
    falls_through: ClassVar[bool] = KIND_POLICIES["internal"].falls_through
    backoff: ClassVar[BackoffClass] = KIND_POLICIES["internal"].backoff
    soft: ClassVar[bool] = KIND_POLICIES["internal"].soft

    def __init_subclass__(cls, **kwargs: object) -> None:
        """Give a subclass its kind's policy, unless it sets an attribute itself."""
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__:  # same kind as the parent: inherit its (possibly overridden) policy
            return
        policy = KIND_POLICIES[cls.kind]
        if "falls_through" not in cls.__dict__:
            cls.falls_through = policy.falls_through
        if "backoff" not in cls.__dict__:
            cls.backoff = policy.backoff
        if "soft" not in cls.__dict__:
            cls.soft = policy.soft

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class NotConfigured(ProviderError):
    """No credentials (or a required setting) were found."""

    kind: ClassVar[ErrorKind] = "not_configured"


class AuthRequired(ProviderError):
    """Credentials were found but rejected or expired beyond refresh."""

    kind: ClassVar[ErrorKind] = "auth_required"


class Unsupported(ProviderError):
    """This account or plan has no such data, or uses an auth mode we cannot read."""

    kind: ClassVar[ErrorKind] = "unsupported"


class RateLimited(ProviderError):
    """The upstream asked us to slow down (HTTP 429)."""

    kind: ClassVar[ErrorKind] = "rate_limited"


class Unavailable(ProviderError):
    """The upstream failed: 5xx, connection refused, DNS, an error envelope."""

    kind: ClassVar[ErrorKind] = "unavailable"


class ConnectionFailed(Unavailable):
    """No connection to the upstream at all (DNS failure, refused, unreachable): the network is down.

    On the wire it is `unavailable`; the scheduler retries it on a short fixed schedule instead of the
    exponential backoff meant for an upstream that answers with errors.
    """

    kind: ClassVar[ErrorKind] = "unavailable"
    backoff: ClassVar[BackoffClass] = "connection"


class Timeout(Unavailable):
    """The upstream (or a process) did not answer in time."""

    kind: ClassVar[ErrorKind] = "timeout"


class CliMissing(ProviderError):
    """A program the strategy needs is not installed."""

    kind: ClassVar[ErrorKind] = "cli_missing"


class ParseError(ProviderError):
    """The upstream answered something we cannot read."""

    kind: ClassVar[ErrorKind] = "parse_error"


class Internal(ProviderError):
    """An unexpected exception inside codexbard (a bug)."""

    kind: ClassVar[ErrorKind] = "internal"


# One class per wire kind (ConnectionFailed travels as `unavailable` and comes back as Unavailable).
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
