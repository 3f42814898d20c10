"""Settings: the TOML file, `CODEXBARD_*` env vars and defaults (API.md, "Config").

Env vars win over the file, the file over defaults. Any invalid key or value is a `ConfigError` whose
message names the key and the problem in one line; `serve` prints it and exits 2.
"""

from __future__ import annotations

import logging
import re
import sys
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from codexbard.errors import ConfigError
from codexbard.host.files import HomeFiles

log = logging.getLogger(__name__)

ACCOUNT_LABEL = re.compile(r"^[A-Za-z0-9_.-]+$")

# The environment `load_settings` was given; read instead of os.environ so callers (and tests) decide.
_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("codexbard_environment", default=None)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' env source over an explicit mapping instead of os.environ."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        env = _ENVIRONMENT.get()
        if env is None:
            return super()._load_env_vars()
        return {k.lower(): v for k, v in env.items() if v != "" or not self.env_ignore_empty}


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisplayConfig(_Table):
    """Thresholds for status-bar classes."""

    warning_percent: float = Field(75, ge=0, le=100)
    critical_percent: float = Field(90, ge=0, le=100)


class StatusConfig(_Table):
    """The service-status job."""

    enabled: bool = True
    interval_seconds: int = Field(300, gt=0)


class CostConfig(_Table):
    """The local cost job (accepted now, used by the cost issue)."""

    enabled: bool = True
    interval_seconds: int = Field(300, gt=0)
    history_days: int = Field(30, gt=0, le=400)
    pricing_refresh: bool = False
    pricing: dict[str, dict[str, float]] = Field(default_factory=dict)


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
    interval_seconds: int | None = Field(None, gt=0)
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
    port: int = Field(8765, ge=1, le=65535)
    data_dir: Path | None = None
    default_interval_seconds: int = Field(300, gt=0)
    refresh_timeout_seconds: float = Field(30, gt=0, le=600)
    redact_identity: bool = False
    token: SecretStr | None = None
    allowed_hosts: list[str] = Field(default_factory=list)
    max_concurrent_polls: int = Field(32, ge=1, le=256)
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
                    raise ValueError(f"'{item}' is not an http(s) URL")
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
    first = error.errors()[0]
    key = _location(tuple(first["loc"]))
    where = tuple(first["loc"])[:-1] if first["type"] == "missing" else tuple(first["loc"])
    if data is not None and not _in_file(data, where):
        origin = "environment (CODEXBARD_" + "__".join(str(p).upper() for p in first["loc"]) + ")"
    if first["type"] == "extra_forbidden":
        return f"{origin}: unknown key '{key}'"
    value = first.get("input")
    secret = any(word in key for word in ("key", "token", "cookie_header", "secret", "password"))
    shown = "" if isinstance(value, dict | list) or secret else f" (got {value!r})"
    return f"{origin}: {key}: {first['msg']}{shown}"


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except UnicodeDecodeError:  # raised by read_text, not by tomllib
        raise ConfigError(f"{path}: the config file is not UTF-8") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def parse_config_text(text: str, origin: str) -> Settings:
    """Validate config file text on its own (no environment variables), as `config set` must."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: invalid TOML: {exc}") from None
    token = _ENVIRONMENT.set({})
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation(exc, origin, data)) from None
    finally:
        _ENVIRONMENT.reset(token)


def load_settings(env: Mapping[str, str], path: Path | None = None) -> tuple[Settings, Paths]:
    """Load settings from the file at `path` (default location if None) and the environment."""
    file_path = path or config_path(env)
    data = read_config_file(file_path)
    token = _ENVIRONMENT.set(env)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(format_validation(exc, str(file_path), data)) from None
    except SettingsError as exc:  # a CODEXBARD_* variable that is not valid JSON where JSON is expected
        match = re.search(r'field "(\w+)"', str(exc))
        name = f"CODEXBARD_{match.group(1).upper()}" if match else "a CODEXBARD_* variable"
        raise ConfigError(f"environment ({name}): not valid JSON for this setting") from None
    finally:
        _ENVIRONMENT.reset(token)
    data_dir = HomeFiles(env).expand(settings.data_dir) if settings.data_dir else default_data_dir(env)
    return settings, Paths(config_file=file_path, config_dir=file_path.parent, data_dir=data_dir)
