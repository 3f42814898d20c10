"""Settings: the TOML file, `CODEXBARD_*` env vars and defaults (API.md, "Config").

Env vars win over the file, the file over defaults. Any invalid key or value is a `ConfigError` whose
message names the key and the problem in one line; `serve` prints it and exits 2.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from codexbard.errors import ConfigError
from codexbard.host.files import HomeFiles

if TYPE_CHECKING:
    from codexbard.providers.registry import Registry

log = logging.getLogger(__name__)

ACCOUNT_LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")

# Upper bounds: a value past these is a typo or an attack, and would overflow timedelta arithmetic later.
MAX_CONFIG_BYTES: Final = 1024 * 1024  # the config file, and any one CODEXBARD_* variable
MAX_INTERVAL_SECONDS: Final = 7 * 24 * 3600  # one week
MAX_PRICE_PER_MILLION: Final = 1_000_000.0


def _no_bool(value: Any) -> Any:
    """Refuse true/false where a number is expected (pydantic would take true as 1)."""
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


IntervalSeconds = Annotated[int, BeforeValidator(_no_bool), Field(gt=0, le=MAX_INTERVAL_SECONDS)]
Price = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=MAX_PRICE_PER_MILLION, allow_inf_nan=False)]
Percent = Annotated[float, BeforeValidator(_no_bool), Field(ge=0, le=100, allow_inf_nan=False)]

# The environment `load_settings` was given; read instead of os.environ so callers (and tests) decide.
_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("codexbard_environment", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' env source over an explicit mapping instead of os.environ."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _ENVIRONMENT.get()
        if env is None:
            return super()._load_env_vars()
        for name, value in env.items():
            if name.upper().startswith("CODEXBARD_") and value is not None and len(value) > MAX_CONFIG_BYTES:
                raise ConfigError(f"environment ({name.upper()}): longer than {MAX_CONFIG_BYTES} bytes; refused")
        return {k.lower(): v for k, v in env.items() if v != "" or not self.env_ignore_empty}


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisplayConfig(_Table):
    """Thresholds for status-bar classes."""

    warning_percent: Percent = 75
    critical_percent: Percent = 90


class StatusConfig(_Table):
    """The service-status job."""

    enabled: bool = True
    interval_seconds: IntervalSeconds = 300


class CostConfig(_Table):
    """The local cost job (docs/cost.md): scan interval, the `/usage` window, time zone and price overrides."""

    enabled: bool = True
    interval_seconds: Annotated[int, BeforeValidator(_no_bool), Field(ge=10, le=MAX_INTERVAL_SECONDS)] = 300
    # The window of `cost.last30Days*` in `/usage` payloads (`GET /cost` takes `?days=`).
    history_days: Annotated[int, BeforeValidator(_no_bool), Field(gt=0, le=365)] = 30
    timezone: str | None = None  # IANA name for the days; default: the local time zone
    pricing_refresh: bool = False
    pricing: dict[str, dict[str, Price]] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from codexbard.cost.timeutil import TimeZoneError, zone

        try:
            zone(value)
        except TimeZoneError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("pricing")
    @classmethod
    def _pricing(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        from codexbard.cost.pricing import Pricing, PricingError

        try:
            Pricing(value)
        except PricingError as exc:
            raise ValueError(str(exc)) from None
        return value


class AccountConfig(BaseModel):
    """One `[[providers.<id>.accounts]]` entry; provider-specific keys are checked by the registry."""

    model_config = ConfigDict(extra="allow")

    label: str

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not ACCOUNT_LABEL.match(value):
            raise ValueError("labels use only letters, digits, '_', '.' and '-'")
        return value


class ProviderConfig(BaseModel):
    """A `[providers.<id>]` table: the common keys; provider keys are checked by the registry."""

    model_config = ConfigDict(extra="allow")

    enabled: bool | None = None
    source: str = "auto"
    interval_seconds: IntervalSeconds | None = None
    api_key: SecretStr | None = None
    cookie_header: SecretStr | None = None
    cookie_source: Literal["auto", "manual", "off"] = "auto"
    accounts: list[AccountConfig] | None = None

    def values(self) -> dict[str, Any]:
        """Common and provider-specific values as one mapping (secrets still wrapped)."""
        out: dict[str, Any] = {
            "enabled": self.enabled,
            "source": self.source,
            "interval_seconds": self.interval_seconds,
            "api_key": self.api_key,
            "cookie_header": self.cookie_header,
            "cookie_source": self.cookie_source,
        }
        out.update(self.model_extra or {})
        return out


class Settings(BaseSettings):
    """Everything configurable."""

    model_config = SettingsConfigDict(
        env_prefix="CODEXBARD_",
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
    )

    host: str = "127.0.0.1"
    port: Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=65535)] = 8765
    data_dir: Path | None = None
    default_interval_seconds: IntervalSeconds = 300
    refresh_timeout_seconds: Annotated[
        float, BeforeValidator(_no_bool), Field(gt=0, le=600, allow_inf_nan=False)] = 30
    redact_identity: bool = False
    token: SecretStr | None = None
    allowed_hosts: list[str] = Field(default_factory=list)
    max_concurrent_polls: Annotated[int, BeforeValidator(_no_bool), Field(ge=1, le=256)] = 32
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    upstream_overrides: dict[str, str] = Field(default_factory=dict)
    display: DisplayConfig = Field(default_factory=DisplayConfig)
    status: StatusConfig = Field(default_factory=StatusConfig)
    cost: CostConfig = Field(default_factory=CostConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Env vars over the TOML file (passed as init values) over defaults."""
        return (_MappingEnvSource(settings_cls), init_settings)

    @field_validator("upstream_overrides")
    @classmethod
    def _overrides(cls, value: dict[str, str]) -> dict[str, str]:
        for key, target in value.items():
            for item in (key, target):
                if not re.match(r"^https?://[^\s/]+", item):
                    raise ValueError(f"'{redact_url(item)}' is not an http(s) URL")
        return value


@dataclass(frozen=True)
class Paths:
    """Where codexbard keeps its files."""

    config_file: Path
    config_dir: Path
    data_dir: Path

    @property
    def database(self) -> Path:
        """The SQLite database."""
        return self.data_dir / "codexbard.db"


def config_path(env: Mapping[str, str]) -> Path:
    """$CODEXBARD_CONFIG, else $XDG_CONFIG_HOME/codexbard/config.toml, else ~/.config/codexbard/config.toml."""
    explicit = env.get("CODEXBARD_CONFIG")
    files = HomeFiles(env)
    if explicit:
        return files.expand(explicit)
    return files.config_home / "codexbard" / "config.toml"


def default_data_dir(env: Mapping[str, str]) -> Path:
    """$XDG_DATA_HOME/codexbard (macOS: ~/Library/Application Support/codexbard unless XDG is set)."""
    files = HomeFiles(env)
    if sys.platform == "darwin" and not env.get("XDG_DATA_HOME"):
        return files.home / "Library" / "Application Support" / "codexbard"
    return files.data_home / "codexbard"


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(item)
    return ".".join(parts)


def _in_file(data: Mapping[str, Any] | None, loc: tuple[int | str, ...]) -> bool:
    node: Any = data
    for part in loc:
        by_key = isinstance(node, Mapping) and isinstance(part, str) and part in node
        by_index = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if not (by_key or by_index):
            return False
        node = node[part]
    return True


def format_validation(error: ValidationError, origin: str, data: Mapping[str, Any] | None = None) -> str:
    """One line for the first validation error: where (file or env var), the key, the problem, the value."""
    return _format_item(error.errors()[0], origin, data)


def _format_item(item: Any, origin: str, data: Mapping[str, Any] | None) -> str:
    key = _location(tuple(item["loc"]))
    where = tuple(item["loc"])[:-1] if item["type"] == "missing" else tuple(item["loc"])
    if data is not None and not _in_file(data, where):
        origin = "environment (CODEXBARD_" + "__".join(str(p).upper() for p in item["loc"]) + ")"
    if item["type"] == "extra_forbidden":
        return f"{origin}: unknown key '{key}'"
    value = item.get("input")
    secret = any(word in key for word in ("key", "token", "cookie_header", "secret", "password"))
    shown = ""
    if not (isinstance(value, dict | list) or secret):
        text = repr(value)
        shown = f" (got {text if len(text) <= 60 else text[:57] + '...'})"
    return f"{origin}: {key}: {item['msg']}{shown}"


def _parse_toml(text: str, origin: str) -> dict[str, Any]:
    """tomllib with a leading UTF-8 byte-order mark accepted and runaway nesting turned into a ConfigError."""
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{origin}: invalid TOML: values nested too deeply") from None


def read_config_text(path: Path) -> str | None:
    """The config file's text (None when there is none), refusing a file over MAX_CONFIG_BYTES unread."""
    try:
        with path.open("rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_size > MAX_CONFIG_BYTES:
                raise ConfigError(f"{path}: the config file is larger than {MAX_CONFIG_BYTES} bytes; refused")
            raw = handle.read(MAX_CONFIG_BYTES + 1)  # a FIFO or /dev/zero reports no size
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: the config file is larger than {MAX_CONFIG_BYTES} bytes; refused")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not UTF-8") from None


_REASONS: dict[str, str] = {
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
}


def _choices(annotation: Any) -> tuple[Any, ...]:
    """The Literal values of a field annotation (looking through Optional), else ()."""
    if get_origin(annotation) is Literal:
        return get_args(annotation)
    for arg in get_args(annotation):
        found = _choices(arg)
        if found:
            return found
    return ()


def _setting_reason(model: type[BaseModel], name: str, error: Mapping[str, Any]) -> str:
    kind = str(error["type"])
    if kind == "literal_error":
        field_info = model.model_fields.get(name)
        choices = _choices(field_info.annotation) if field_info is not None else ()
        if choices:
            return "must be one of " + ", ".join(repr(c) for c in choices)
    if kind in _REASONS:
        return _REASONS[kind]
    message = str(error["msg"]).removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def validate_provider_table(
    model: type[BaseModel], values: Mapping[str, Any], where: str, owner: str, *, only_set: bool = False
) -> dict[str, Any]:
    """Validate a provider's (or one account's) own keys with its settings model.

    Returns the values (defaults filled in unless `only_set`); a `ConfigError` names the key as
    `<where>.<key>` and says what is wrong in one line, never echoing the value (it may be a secret).
    """
    try:
        parsed = model.model_validate(dict(values))
    except ValidationError as exc:
        first = exc.errors()[0]
        name = _location(tuple(first["loc"])) if first["loc"] else "?"
        if first["type"] == "extra_forbidden":
            raise ConfigError(f"unknown key '{where}.{name}' (provider {owner} does not declare it)") from None
        raise ConfigError(f"{where}.{name}: {_setting_reason(model, str(first['loc'][0]), first)}") from None
    except RecursionError:
        raise ConfigError(f"{where}: a value is nested too deeply") from None
    dumped = parsed.model_dump(exclude_unset=only_set)
    return {name: getattr(parsed, name) for name in dumped}


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse the TOML file; a missing file is an empty config."""
    text = read_config_text(path)
    return {} if text is None else _parse_toml(text, str(path))


def parse_config_text(text: str, origin: str, registry: Registry | None = None) -> Settings:
    """Validate config file text on its own (no environment variables), as `config set` must."""
    if len(text.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{origin}: the config file would be larger than {MAX_CONFIG_BYTES} bytes")
    data = _parse_toml(text, origin)
    token = _ENVIRONMENT.set({})
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation(exc, origin, data)) from None
    except RecursionError:
        raise ConfigError(f"{origin}: values nested too deeply") from None
    finally:
        _ENVIRONMENT.reset(token)
    if registry is not None:
        check_intervals(settings, registry, origin, data)
    return settings


def _settings(data: Mapping[str, Any], env: Mapping[str, str], origin: str) -> Settings:
    token = _ENVIRONMENT.set(env)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation(exc, origin, data)) from None
    except SettingsError as exc:  # a CODEXBARD_* variable that is not valid JSON where JSON is expected
        match = re.search(r'field "(\w+)"', str(exc))
        name = f"CODEXBARD_{match.group(1).upper()}" if match else "a CODEXBARD_* variable"
        reason = "nested too deeply" if isinstance(exc.__cause__, RecursionError) else "not valid JSON"
        raise ConfigError(f"environment ({name}): {reason} for this setting") from None
    except RecursionError:
        raise ConfigError(f"environment ({_deep_variable(env)}): nested too deeply for this setting") from None
    finally:
        _ENVIRONMENT.reset(token)


def _deep_variable(env: Mapping[str, str]) -> str:
    """The CODEXBARD_* variable whose JSON value nests too deeply to parse."""
    for name, value in env.items():
        if name.upper().startswith("CODEXBARD_") and value.lstrip()[:1] in ("[", "{"):
            try:
                json.loads(value)
            except RecursionError:
                return name.upper()
            except ValueError:
                continue
    return "a CODEXBARD_* variable"


def _paths(settings: Settings, env: Mapping[str, str], file_path: Path) -> Paths:
    data_dir = HomeFiles(env).expand(settings.data_dir) if settings.data_dir else default_data_dir(env)
    return Paths(config_file=file_path, config_dir=file_path.parent, data_dir=data_dir)


def load_settings(
    env: Mapping[str, str], path: Path | None = None, registry: Registry | None = None
) -> tuple[Settings, Paths]:
    """Load settings from the file at `path` (default location if None) and the environment.

    With a registry, intervals are also checked against each provider's minimum (`check_intervals`).
    """
    file_path = path or config_path(env)
    data = read_config_file(file_path)
    settings = _settings(data, env, str(file_path))
    if registry is not None:
        check_intervals(settings, registry, str(file_path), data)
    return settings, _paths(settings, env, file_path)


def _origin(origin: str, data: Mapping[str, Any] | None, loc: tuple[str, ...]) -> str:
    if data is not None and not _in_file(data, loc):
        return "environment (CODEXBARD_" + "__".join(p.upper() for p in loc) + ")"
    return origin


def check_intervals(
    settings: Settings, registry: Registry, origin: str, data: Mapping[str, Any] | None = None
) -> None:
    """Refuse an interval below a provider's minimum where it is set; the ConfigError names the minimum.

    `[providers.<id>] interval_seconds` must reach that provider's minimum. `default_interval_seconds` must
    reach the lowest minimum of the providers that fall back to it; a provider with a higher minimum then
    uses its minimum (API.md, "Intervals": raised, never refused, since the user did not set it there).
    """
    inheriting: list[int] = []
    for spec in registry:
        table = settings.providers.get(spec.id)
        value = table.interval_seconds if table is not None else None
        if value is None:
            if spec.default_interval_seconds is None:
                inheriting.append(spec.min_interval_seconds)
            continue
        if value < spec.min_interval_seconds:
            loc = ("providers", spec.id, "interval_seconds")
            raise ConfigError(
                f"{_origin(origin, data, loc)}: {'.'.join(loc)}: {value} s is below the minimum for "
                f"{spec.display_name} ({spec.min_interval_seconds} s)"
            )
    lowest = min(inheriting, default=0)
    if settings.default_interval_seconds < lowest:
        where = _origin(origin, data, ("default_interval_seconds",))
        raise ConfigError(
            f"{where}: default_interval_seconds: {settings.default_interval_seconds} s is "
            f"below the lowest provider minimum ({lowest} s)"
        )


@dataclass(frozen=True)
class LoadedConfig:
    """Settings loaded as far as they could be: what `doctor` and `config show` print from a broken config."""

    settings: Settings
    paths: Paths
    problems: list[str]


def load_settings_tolerant(
    env: Mapping[str, str], path: Path | None = None, registry: Registry | None = None
) -> LoadedConfig:
    """Like `load_settings`, but a bad key is dropped (and reported) instead of stopping everything.

    The file's other keys and the other variables still apply; an unreadable or unparsable file counts
    as empty. Each problem is the one line `load_settings` would have raised.
    """
    file_path = path or config_path(env)
    problems: list[str] = []
    try:
        data: dict[str, Any] = read_config_file(file_path)
    except ConfigError as exc:
        problems.append(str(exc))
        data = {}
    environment = dict(env)
    settings: Settings | None = None
    for _ in range(64):  # each round drops at least one bad key
        token = _ENVIRONMENT.set(environment)
        try:
            settings = Settings(**data)
            break
        except ValidationError as exc:
            problems.extend(_format_item(item, str(file_path), data) for item in exc.errors())
            if not _drop(exc, data, environment):
                break
        except (SettingsError, ConfigError, RecursionError) as exc:
            try:
                _settings(data, environment, str(file_path))
            except ConfigError as again:
                problems.append(str(again))
            else:  # pragma: no cover - the same input failed a moment ago
                problems.append(str(exc))
            environment = {k: v for k, v in environment.items() if not k.upper().startswith("CODEXBARD_")}
        finally:
            _ENVIRONMENT.reset(token)
    if settings is None:
        token = _ENVIRONMENT.set({})
        try:
            settings = Settings()
        finally:
            _ENVIRONMENT.reset(token)
    if registry is not None:
        settings = _drop_bad_providers(settings, registry, str(file_path), data, problems)
    return LoadedConfig(settings, _paths(settings, env, file_path), problems)


def _drop(error: ValidationError, data: dict[str, Any], environment: dict[str, str]) -> bool:
    """Remove what each error points at, from the file data or the environment; whether anything went."""
    removed = False
    for item in error.errors():
        loc = tuple(item["loc"])
        where = loc[:-1] if item["type"] == "missing" else loc
        while where:
            if _in_file(data, where):
                node: Any = data
                for part in where[:-1]:
                    node = node[part]
                del node[where[-1]]
                removed = True
                break
            prefix = "CODEXBARD_" + "__".join(str(p).upper() for p in where)
            names = [k for k in environment if k.upper() == prefix or k.upper().startswith(prefix + "__")]
            if names:
                for name in names:
                    del environment[name]
                removed = True
                break
            where = where[:-1]
    return removed


def _drop_bad_providers(
    settings: Settings, registry: Registry, origin: str, data: Mapping[str, Any], problems: list[str]
) -> Settings:
    """Drop each `[providers.<id>]` table the registry refuses, and an out-of-range default interval."""
    from codexbard.providers.registry import poll_targets

    tables = dict(settings.providers)
    for provider_id in list(tables):
        alone = settings.model_copy(update={"providers": {provider_id: tables[provider_id]}})
        try:
            poll_targets(alone, registry)
            check_intervals(alone, registry, origin, data)
        except ConfigError as exc:
            if "default_interval_seconds" in str(exc):
                continue  # reported once below
            problems.append(str(exc) if str(exc).startswith(origin) else f"{origin}: {exc}")
            del tables[provider_id]
    settings = settings.model_copy(update={"providers": tables})
    try:
        check_intervals(settings, registry, origin, data)
    except ConfigError as exc:
        problems.append(str(exc))
        settings = settings.model_copy(update={"default_interval_seconds": Settings.model_fields[
            "default_interval_seconds"].default})
    return settings


def redact_url(url: str) -> str:
    """A URL with the password of its userinfo (`user:password@`) replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if parts.password is None and "@" not in parts.netloc:
        return url
    user = parts.username or ""
    host = parts.netloc.rsplit("@", 1)[1]
    userinfo = f"{user}:***" if parts.password is not None else "***"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))
