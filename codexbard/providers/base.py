"""The provider interface: a descriptor (`ProviderSpec`) plus ordered fetch strategies.

Providers describe; the host acts. Everything a strategy needs arrives on the `FetchContext`: its
options, credentials, the shared HTTP client, files under HOME, the process runner, the clock and
the environment. A strategy never reads `os.environ`, builds a client or spawns a process itself.
"""

from __future__ import annotations

import time
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, SecretStr, create_model
from pydantic.fields import FieldInfo

from codexbard.errors import NotConfigured, ProviderError, SpecError
from codexbard.host.clock import Clock
from codexbard.host.credentials import CredentialResolver, Secret, SecretLookup
from codexbard.host.credfile import CredentialFiles, WatchedFiles
from codexbard.host.files import HomeFiles
from codexbard.host.http import HttpClient, poll_deadline
from codexbard.host.process import ProcessRunner
from codexbard.models import UsageSnapshot
from codexbard.status.source import StatusSource

StrategyKind = Literal["oauth", "api", "web", "cli", "local"]


@dataclass(frozen=True)
class ConfigKey:
    """A provider-specific key accepted in `[providers.<id>]` (or an account table)."""

    name: str
    type: type = str
    choices: tuple[str, ...] | None = None
    default: Any = None
    secret: bool = False
    help: str = ""

    def coerce(self, value: Any) -> Any:
        """Validate a configured value; raise ValueError with a short reason."""
        if self.type is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ValueError("must be true or false")
        if self.type is int:
            if isinstance(value, bool):
                raise ValueError("must be an integer")
            try:
                return int(value)
            except (TypeError, ValueError):
                raise ValueError("must be an integer") from None
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if self.choices is not None and value not in self.choices:
            raise ValueError("must be one of " + ", ".join(repr(c) for c in self.choices))
        return value


@dataclass(frozen=True)
class EnvVar:
    """An environment variable a provider reads: its name, what it is for, and whether it holds a secret."""

    name: str
    purpose: str
    secret: bool = False


# What every context's `env` keeps besides a provider's declared variables: what the host needs to find
# files under HOME, run a child process and format text.
HOST_ENV_NAMES: frozenset[str] = frozenset({"HOME", "PATH", "USER", "LOGNAME", "LANG", "TERM", "TZ", "TMPDIR", "SHELL"})
HOST_ENV_PREFIXES: tuple[str, ...] = ("LC_", "XDG_")


class ProviderSettings(BaseModel):
    """Base of a provider's typed settings (`[providers.<id>]` or one account): unknown keys are refused.

    Every field needs a default. Mark a secret with the type `SecretStr` (or `Field(json_schema_extra=
    {"secret": True})`); `Field(description=...)` is the key's help text.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


def _field_type(annotation: Any) -> tuple[type, tuple[str, ...] | None, bool]:
    """(base type, Literal choices, secret?) of a settings field annotation, looking through Optional."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _field_type(args[0])
    if origin is Annotated:
        return _field_type(args[0])
    if origin is Literal:
        return str, tuple(str(a) for a in typing.get_args(annotation)), False
    if annotation is SecretStr:
        return str, None, True
    if annotation in (bool, int, float):
        return annotation, None, False
    return str, None, False


def field_is_secret(info: FieldInfo) -> bool:
    """Whether a settings field holds a secret (typed `SecretStr` or marked `secret` in its schema extra)."""
    extra = info.json_schema_extra
    if isinstance(extra, dict) and extra.get("secret") is True:
        return True
    return _field_type(info.annotation)[2]


def config_key_of(name: str, info: FieldInfo) -> ConfigKey:
    """Describe one settings field as a `ConfigKey` (for `config set`, `set-secret` and help text)."""
    base, choices, _ = _field_type(info.annotation)
    default = None if info.is_required() else info.get_default(call_default_factory=True)
    return ConfigKey(name, type=base, choices=choices, default=default, secret=field_is_secret(info),
                     help=info.description or "")


def settings_from_keys(name: str, keys: tuple[ConfigKey, ...]) -> type[ProviderSettings]:
    """A settings model generated from hand-written `ConfigKey`s (each value checked by `ConfigKey.coerce`)."""
    fields: dict[str, Any] = {}
    for key in keys:
        if key.name in fields:
            continue
        extra: dict[str, JsonValue] | None = {"secret": True} if key.secret else None
        fields[key.name] = (
            Annotated[Any, BeforeValidator(key.coerce)],
            Field(key.default, description=key.help or None, json_schema_extra=extra),
        )
    model: type[ProviderSettings] = create_model(name, __base__=ProviderSettings, **fields)
    return model


@dataclass(frozen=True)
class Availability:
    """Whether a strategy can run now (decided without network), and why not."""

    ok: bool
    reason: str = ""
    kind: Literal["not_configured", "cli_missing"] = "not_configured"

    @classmethod
    def yes(cls, reason: str = "") -> Availability:
        """An available strategy (reason says which credential it will use)."""
        return cls(True, reason)

    @classmethod
    def no(cls, reason: str, *, kind: Literal["not_configured", "cli_missing"] = "not_configured") -> Availability:
        """An unavailable strategy."""
        return cls(False, reason, kind)


@dataclass
class FetchContext:
    """Everything one fetch of one provider account may use."""

    provider_id: str
    account: str | None
    options: Mapping[str, Any]
    explicitly_enabled: bool
    http: HttpClient
    credentials: CredentialResolver
    files: HomeFiles
    env: Mapping[str, str]
    process: ProcessRunner
    clock: Clock
    deadline: float | None = None  # time.monotonic() value
    notes: dict[str, Any] = field(default_factory=dict)
    # What each strategy's `available()` found, by strategy id, so `fetch()` does not look again.
    lookups: dict[str, SecretLookup] = field(default_factory=dict)
    # Structured credential files (read, write back, single-flight refresh), shared by the whole runtime.
    credential_files: CredentialFiles = field(default_factory=CredentialFiles)
    # The files this account's strategies read (`credential_files.read(path, watch=ctx.watched_files)` adds
    # them, `watched_files.add(path)` for others): a change to any changes the credential fingerprint.
    watched_files: WatchedFiles = field(default_factory=WatchedFiles)

    def option(self, name: str, default: Any = None) -> Any:
        """Return a configured option (account value over provider value over `default`)."""
        value = self.options.get(name)
        return default if value is None else value

    def remaining(self, cap: float) -> float:
        """Seconds left before the poll deadline, at most `cap` (HTTP requests are clipped already)."""
        if self.deadline is None:
            return cap
        return max(0.1, min(cap, self.deadline - time.monotonic()))


class Strategy(ABC):
    """One way of fetching a provider's usage; subclasses set the class attributes."""

    id: ClassVar[str]
    kind: ClassVar[StrategyKind]
    source_label: ClassVar[str]

    @abstractmethod
    async def available(self, ctx: FetchContext) -> Availability:
        """Decide without network whether this strategy can run (blocking reads go through host/)."""

    @abstractmethod
    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """Fetch and normalize usage, or raise a ProviderError."""

    def should_fall_back(self, error: ProviderError) -> bool:
        """Whether the runner should try the next strategy after `error` (STYLE.md defaults)."""
        return error.falls_through


@dataclass(frozen=True)
class ApiKey:
    """Where an API-key strategy looks its key up, as data; the not_configured message is built from it.

    Lookup order: `env_vars` → secret store → config `<field>` → `opt_in_env_vars` (only when the
    provider is enabled explicitly, for keys meant for another product) → `files` (other tools' key
    files, first line). Env vars and files belong to the default account only.
    """

    name: str  # how the message names the key's owner: "<name> API key not found ..."
    env_vars: tuple[str, ...] = ()
    field: str = "api_key"
    opt_in_env_vars: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    note: str = ""  # an aside after the env var names in the hint, e.g. "a Warp API key, `wk-…`"

    def hint(self, provider_id: str, account: str | None = None) -> str:
        """How to set the key: the spec's `enable_hint` and the second half of the missing-key message."""
        command = f"codexbard config set-secret --provider {provider_id}"
        if account is not None:
            return f"Run `{command} --account {account}`."
        if not self.env_vars:
            return f"Run `{command}`."
        first, *others = self.env_vars
        asides = ([f"or {', '.join(others)}"] if others else []) + ([self.note] if self.note else [])
        alternatives = f" ({'; '.join(asides)})" if asides else ""
        opt_in = ""
        if self.opt_in_env_vars:
            opt_in = (
                f" ({' and '.join(self.opt_in_env_vars)} count only with "
                f"`[providers.{provider_id}] enabled = true`)"
            )
        return f"Set {first}{alternatives} or run `{command}`{opt_in}."

    def missing(self, provider_id: str, account: str | None, lookup: SecretLookup) -> str:
        """The one phrasing of a missing key: where the lookup searched and how to fix it."""
        return f"{self.name} API key not found (looked in {lookup.where()}). {self.hint(provider_id, account)}"


class ApiKeyStrategy(Strategy):
    """A strategy that needs one API key, declared as `key`; subclasses write `fetch_with_key`.

    `available()` looks the key up (off the event loop) and leaves what it found on the context;
    `fetch()` reuses it and hands the key to `fetch_with_key`: the request shape and one parse call.
    """

    id: ClassVar[str] = "api"
    kind: ClassVar[StrategyKind] = "api"
    source_label: ClassVar[str] = "api"
    key: ClassVar[ApiKey]

    def api_key(self, ctx: FetchContext) -> ApiKey:
        """The key spec for this context (override when it depends on an option, such as a region)."""
        return self.key

    async def lookup(self, ctx: FetchContext) -> SecretLookup:
        """Look the key up as the spec says (no network); the result is kept on `ctx`."""
        spec = self.api_key(ctx)
        found = await ctx.credentials.lookup(
            spec.field,
            env_vars=spec.env_vars,
            late_env_vars=spec.opt_in_env_vars if ctx.explicitly_enabled else (),
            files=spec.files if ctx.account is None else (),
        )
        ctx.lookups[self.id] = found
        return found

    def missing_message(self, ctx: FetchContext, lookup: SecretLookup) -> str:
        """The not_configured message: where the lookup searched and how to fix it."""
        return self.api_key(ctx).missing(ctx.provider_id, ctx.account, lookup)

    def declared_keys(self) -> tuple[ApiKey, ...]:
        """Every key spec this strategy may use (override with `api_key`): its env vars are declared from them."""
        return (self.key,)

    async def available(self, ctx: FetchContext) -> Availability:
        """Available when the key is found; the reason names where (never the value)."""
        lookup = await self.lookup(ctx)
        if lookup.secret is None:
            return Availability.no(self.missing_message(ctx, lookup))
        return Availability.yes(f"API key from {lookup.secret.origin}")

    async def require_key(self, ctx: FetchContext) -> Secret:
        """The key `available()` found (looked up now only if it did not run), or NotConfigured."""
        lookup = ctx.lookups.get(self.id)
        if lookup is None:
            lookup = await self.lookup(ctx)
        if lookup.secret is None:
            raise NotConfigured(self.missing_message(ctx, lookup))
        return lookup.secret

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """Find the key, then `fetch_with_key` with every request clipped to `ctx.deadline`."""
        key = await self.require_key(ctx)
        if ctx.deadline is None:  # the runner's deadline (if any) stands
            return await self.fetch_with_key(ctx, key)
        with poll_deadline(ctx.deadline):
            return await self.fetch_with_key(ctx, key)

    @abstractmethod
    async def fetch_with_key(self, ctx: FetchContext, key: Secret) -> UsageSnapshot:
        """Request and parse the usage with `key` (send it with `ctx.http.get(..., bearer=key)`)."""


@dataclass(frozen=True)
class ProviderSpec:
    """A provider's descriptor."""

    id: str
    display_name: str
    strategies: tuple[Strategy, ...]
    window_labels: tuple[str | None, str | None, str | None] = (None, None, None)
    source_modes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_interval_seconds: int | None = None
    min_interval_seconds: int = 60
    poll_deadline_seconds: float = 60.0
    refresh_floor_seconds: int = 0  # e.g. Claude's usage endpoint allows one call per 5 minutes per token
    dashboard_url: str | None = None
    status: StatusSource | None = None
    # Hand-written key lists (kept for small or ad-hoc specs); a provider declares `settings` instead.
    config_keys: tuple[ConfigKey, ...] = ()
    account_keys: tuple[ConfigKey, ...] = ()
    enable_hint: str = ""
    # What the provider reads: its typed `[providers.<id>]` keys, its account keys (None: no accounts),
    # and the env vars besides those its API keys name (see `env_vars`).
    settings: type[ProviderSettings] | None = None
    account_settings: type[ProviderSettings] | None = None
    env: tuple[EnvVar, ...] = ()

    def __post_init__(self) -> None:
        """Refuse a descriptor that cannot work, naming the provider and the field (a ValueError)."""
        problems = _spec_problems(self)
        if problems:
            raise SpecError(f"provider spec {self.id!r} is invalid: {'; '.join(problems)}")

    def modes(self) -> dict[str, tuple[str, ...]]:
        """Source modes and the strategy ids each runs; `auto` runs every strategy in order."""
        if self.source_modes:
            return dict(self.source_modes)
        modes: dict[str, tuple[str, ...]] = {"auto": tuple(s.id for s in self.strategies)}
        for strategy in self.strategies:
            modes.setdefault(strategy.kind, ())
            modes[strategy.kind] = (*modes[strategy.kind], strategy.id)
        return modes

    def strategies_for(self, mode: str) -> tuple[Strategy, ...]:
        """Return the strategies a source mode runs, in order; KeyError for an unknown mode."""
        wanted = self.modes()[mode]
        by_id = {s.id: s for s in self.strategies}
        return tuple(by_id[i] for i in wanted)

    def config_key(self, name: str) -> ConfigKey | None:
        """Return a declared provider-specific key."""
        return next((k for k in self.setting_keys() if k.name == name), None)

    def account_key(self, name: str) -> ConfigKey | None:
        """Return a declared account key."""
        return next((k for k in self.account_setting_keys() if k.name == name), None)

    def settings_model(self) -> type[ProviderSettings]:
        """The model validating `[providers.<id>]`'s own keys (declared, or generated from `config_keys`)."""
        if self.settings is not None:
            return self.settings
        return settings_from_keys(f"{self.id}_settings", self.config_keys)

    def account_settings_model(self) -> type[ProviderSettings] | None:
        """The model validating one account's own keys, or None when the provider has no accounts."""
        if self.account_settings is not None:
            return self.account_settings
        if not self.account_keys:
            return None
        return settings_from_keys(f"{self.id}_account_settings", (*self.account_keys, *self.config_keys))

    def setting_keys(self) -> tuple[ConfigKey, ...]:
        """Every provider-specific key of `[providers.<id>]`, described (from the model when declared)."""
        if self.settings is None:
            return self.config_keys
        return tuple(config_key_of(n, f) for n, f in self.settings.model_fields.items())

    def account_setting_keys(self) -> tuple[ConfigKey, ...]:
        """Every key an account table accepts besides `label`, described."""
        if self.account_settings is None:
            return self.account_keys
        return tuple(config_key_of(n, f) for n, f in self.account_settings.model_fields.items())

    def api_keys(self) -> tuple[ApiKey, ...]:
        """The API key specs of every API-key strategy, in strategy order."""
        found: list[ApiKey] = []
        for strategy in self.strategies:
            if isinstance(strategy, ApiKeyStrategy):
                found.extend(k for k in strategy.declared_keys() if k not in found)
        return tuple(found)

    @property
    def env_vars(self) -> tuple[EnvVar, ...]:
        """Every env var the provider reads: `env` as declared, then those its API key specs name."""
        out = {v.name: v for v in self.env}
        for key in self.api_keys():
            for name in key.env_vars:
                out.setdefault(name, EnvVar(name, f"{key.name} API key", secret=True))
            for name in key.opt_in_env_vars:
                out.setdefault(name, EnvVar(
                    name, f"{key.name} API key, read only with `[providers.{self.id}] enabled = true`", secret=True))
        return tuple(out.values())

    def env_names(self) -> frozenset[str]:
        """The names of `env_vars`."""
        return frozenset(v.name for v in self.env_vars)

    def visible_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """What `ctx.env` shows this provider: its declared variables plus the ones the host needs."""
        names = self.env_names()
        return {k: v for k, v in env.items() if k in names or k in HOST_ENV_NAMES or k.startswith(HOST_ENV_PREFIXES)}

    def secret_fields(self) -> tuple[str, ...]:
        """Config fields holding secrets (what `set-secret` accepts and `config show`/`doctor` mask)."""
        names: list[str] = [k.field for k in self.api_keys()]
        for key in (*self.setting_keys(), *self.account_setting_keys()):
            if key.secret:
                names.append(key.name)
        return tuple(dict.fromkeys(names))


def _spec_problems(spec: ProviderSpec) -> list[str]:
    """Every reason a descriptor is unusable (empty when it is fine)."""
    problems: list[str] = []
    if not spec.id or spec.id != spec.id.strip() or ":" in spec.id:
        problems.append("id must be a non-empty name without spaces or ':'")
    if not spec.strategies:
        problems.append("it has no strategies")
    ids = [s.id for s in spec.strategies]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"duplicate strategy ids: {', '.join(duplicates)}")
    if spec.source_modes:
        if "auto" not in spec.source_modes:
            problems.append("source_modes has no 'auto' mode")
        known = set(ids)
        for mode, wanted in spec.source_modes.items():
            unknown = [i for i in wanted if i not in known]
            if unknown:  # an empty mode is allowed: polling it reports "no strategy for source …"
                problems.append(f"source mode {mode!r} names unknown strategies: {', '.join(unknown)}")
    if not _positive(spec.min_interval_seconds):
        problems.append("min_interval_seconds must be a positive integer")
    if spec.default_interval_seconds is not None and not (
        _positive(spec.default_interval_seconds) and spec.default_interval_seconds >= spec.min_interval_seconds
    ):
        problems.append("default_interval_seconds must be an integer at least min_interval_seconds")
    if not (_number(spec.poll_deadline_seconds) and 0 < spec.poll_deadline_seconds <= 3600):
        problems.append("poll_deadline_seconds must be above 0 and at most 3600")
    floor = spec.refresh_floor_seconds
    if not (_number(floor) and isinstance(floor, int) and 0 <= floor <= 86400):
        problems.append("refresh_floor_seconds must be an integer from 0 to 86400")
    return problems


def _number(value: object) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _positive(value: object) -> bool:
    """An int (not a bool) above zero and at most a day."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 86400
