"""Settings: the TOML file, `CODEXBARD_*` env vars and defaults (API.md, "Config").

Env vars win over the file, the file over defaults. Any invalid key or value is a `ConfigError` whose
message names the key and the problem in one line; `serve` prints it and exits 2. The variables are read
by `env_settings` (the rules pydantic-settings had, without importing it: it cost 1.5 MB resident).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tomllib
from collections import deque
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, is_dataclass
from pathlib import Path
from types import NoneType, UnionType
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic.types import Secret

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


class Settings(BaseModel):
    """Everything configurable; `load_settings` fills it from the file and the `CODEXBARD_*` variables."""

    # validate_default: defaults go through the same validators as given values (as under pydantic-settings).
    model_config = ConfigDict(extra="forbid", validate_default=True)

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

    @field_validator("upstream_overrides")
    @classmethod
    def _overrides(cls, value: dict[str, str]) -> dict[str, str]:
        for key, target in value.items():
            for item in (key, target):
                if not re.match(r"^https?://[^\s/]+", item):
                    raise ValueError(f"'{redact_url(item)}' is not an http(s) URL")
        return value


# The `CODEXBARD_*` variables, read the way pydantic-settings 2.x read them for this model (env_prefix
# "CODEXBARD_", env_nested_delimiter "__", case-insensitive names, empty values kept), without importing it.
ENV_PREFIX: Final = "CODEXBARD_"
_NESTING: Final = "__"


class _BadVariable(ConfigError):
    """A `CODEXBARD_*` variable refused before validation: too long, or not JSON where JSON is expected."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"environment ({name.upper()}): {reason}")
        self.name = name.upper()


def _subclass(candidate: Any, classes: type | tuple[type, ...]) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, classes)


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, UnionType)


def _is_model(annotation: Any) -> bool:
    return _subclass(annotation, BaseModel) and annotation is not BaseModel


def _complex_class(annotation: Any) -> bool:
    if _subclass(annotation, (str, bytes)):
        return False
    collections = (BaseModel, Mapping, Sequence, Set, tuple, set, frozenset, deque)
    return _subclass(annotation, collections) or (isinstance(annotation, type) and is_dataclass(annotation))


def _is_complex(annotation: Any) -> bool:
    """Whether a variable for this type holds JSON: a model, mapping, sequence or set (never text or a secret)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_complex(get_args(annotation)[0])
    if _subclass(origin, Secret):
        return False
    return (_complex_class(annotation) or _complex_class(origin) or hasattr(origin, "__pydantic_core_schema__")
            or hasattr(origin, "__get_pydantic_core_schema__"))


def _union_is_complex(annotation: Any) -> bool:
    """Whether any member of a union (looking through Annotated and nested unions) is complex."""
    for member in get_args(annotation):
        while get_origin(member) is Annotated:
            member = get_args(member)[0]
        if _is_complex(member) or (_is_union(member) and _union_is_complex(member)):
            return True
    return False


def _json_mode(field: FieldInfo) -> tuple[bool, bool]:
    """(whether a variable for this field is JSON, whether a value that is not JSON is kept as text)."""
    if _is_complex(field.annotation):
        return True, False
    if _is_union(field.annotation) and _union_is_complex(field.annotation):
        return True, True
    return False, False


def _member(node: Any, key: str) -> Any:
    """What `key` names inside `node` (a field or a type): a dict's value type, a model's field, else None."""
    if not node:
        return None
    annotation: Any = node.annotation if isinstance(node, FieldInfo) else node
    if _subclass(get_origin(annotation), dict):
        args = get_args(annotation)
        return args[-1] if args else None
    for argument in get_args(annotation):
        found = _member(argument, key)
        if found:
            return found
    if _is_model(annotation):
        for name, field in annotation.model_fields.items():
            if name.lower() == key.lower():
                return field
    return None


def _decode(name: str, value: str) -> Any:
    """JSON of one variable; ValueError when it is not JSON, `_BadVariable` when it nests too deeply."""
    try:
        return json.loads(value)
    except RecursionError:
        raise _BadVariable(name, "nested too deeply for this setting") from None


def _nested_value(name: str, target: Any, value: str, under_dict: bool) -> Any:
    """A `CODEXBARD_<field>__<key>...` value: JSON-decoded when its target is complex, else the text."""
    if not value or not (target or under_dict):
        return value
    if isinstance(target, FieldInfo):
        wanted, keep_text = _json_mode(target)
    elif target:  # a bare type (a dict's value type): JSON when complex; a union takes only an array or object
        wanted, keep_text = _is_complex(target), True
        if not wanted and _is_union(target) and _union_is_complex(target):
            try:
                decoded = _decode(name, value)
            except ValueError:
                return value
            return decoded if isinstance(decoded, list | dict) else value
    else:  # a key the model does not declare, inside a dict field
        wanted, keep_text = True, True
    if not wanted:
        return value
    try:
        return _decode(name, value)
    except ValueError:
        if keep_text:
            return value
        raise _BadVariable(name, "not valid JSON for this setting") from None


def _nested(field_name: str, field: FieldInfo, variables: Mapping[str, str]) -> dict[str, Any]:
    """The `CODEXBARD_<field>__a__b=v` variables of one field as {"a": {"b": v}} (names lower-cased)."""
    prefix = f"{ENV_PREFIX.lower()}{field_name}{_NESTING}"
    under_dict = field.annotation is dict or _subclass(get_origin(field.annotation), dict)
    result: dict[str, Any] = {}
    for name, value in variables.items():
        if not name.startswith(prefix):
            continue
        *keys, last = name[len(prefix):].split(_NESTING)
        node: Any = result
        target: Any = field
        for key in keys:
            target = _member(target, key)
            if isinstance(node, dict):
                node = node.setdefault(key, {})
        target = _member(target, last)
        parsed = _nested_value(name, target, value, under_dict)
        if isinstance(node, dict):
            node[last] = parsed
    return result


def _model_of(annotation: Any) -> Any:
    """The model class behind `Model`, `Model | None` or `Annotated[Model, ...]`, else None."""
    if _is_union(annotation):
        args = get_args(annotation)
        if len(args) == 2 and NoneType in args:
            annotation = next(arg for arg in args if arg is not NoneType)
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation if _is_model(annotation) else None


def _field_names(annotation: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Keys of a model-typed value renamed to the model's field names regardless of case (nested models too)."""
    model = _model_of(annotation)
    if model is None:
        return values
    out: dict[str, Any] = {}
    for key, value in values.items():
        name = next((n for n in model.model_fields if n.lower() == str(key).lower()), None)
        if name is None:
            out[key] = value
            continue
        sub = model.model_fields[name].annotation
        out[name] = _field_names(sub, value) if isinstance(value, dict) and _model_of(sub) is not None else value
    return out


def merge_settings(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """`over` deep-merged onto `base`: tables merge key by key, anything else in `over` replaces."""
    merged = dict(base)
    for key, value in over.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = merge_settings(current, value)
        else:
            merged[key] = value
    return merged


def env_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """The `CODEXBARD_*` variables of `env` as nested settings data (unknown names ignored).

    `CODEXBARD_<field>` sets a field, case-insensitively; a dict, list or model field takes JSON and also
    `CODEXBARD_<field>__<key>__...` paths, whose leaf is JSON-decoded only where its target is complex.
    A variable over MAX_CONFIG_BYTES, or not JSON where JSON is required, is a ConfigError naming it.
    """
    for name, text in env.items():
        if name.upper().startswith(ENV_PREFIX) and text is not None and len(text) > MAX_CONFIG_BYTES:
            raise _BadVariable(name, f"longer than {MAX_CONFIG_BYTES} bytes; refused")
    prefix = ENV_PREFIX.lower()
    variables = {k.lower(): v for k, v in env.items() if v is not None and k.lower().startswith(prefix)}
    if not variables:
        return {}
    values: dict[str, Any] = {}
    for field_name, field in Settings.model_fields.items():
        name = prefix + field_name
        raw = variables.get(name)
        wanted, keep_text = _json_mode(field)
        value: Any = raw
        if wanted and raw is None:
            value = _nested(field_name, field, variables) or None
        elif wanted and raw is not None:
            try:
                value = _decode(name, raw)
            except ValueError:
                if not keep_text:
                    raise _BadVariable(name, "not valid JSON for this setting") from None
            if isinstance(value, dict):
                value = merge_settings(value, _nested(field_name, field, variables))
        if value is None:
            continue
        values[field_name] = _field_names(field.annotation, value) if isinstance(value, dict) else value
    return values


def _file_keys(data: Mapping[str, Any]) -> dict[str, Any]:
    """The file's top-level keys matched to field names regardless of case (the first spelling wins)."""
    fields = {name.lower(): name for name in Settings.model_fields}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = fields.get(key.lower())
        if name is None:
            out[key] = value
        elif name not in out:
            out[name] = value
    return out


def build_settings(data: Mapping[str, Any], env: Mapping[str, str]) -> Settings:
    """Validate file data with the `CODEXBARD_*` variables of `env` merged over it (env wins)."""
    return Settings.model_validate(merge_settings(_file_keys(data), env_settings(env)))


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
    data = _file_keys(_parse_toml(text, origin))
    settings = _settings(data, {}, origin)
    if registry is not None:
        check_intervals(settings, registry, origin, data)
    return settings


def _settings(data: Mapping[str, Any], env: Mapping[str, str], origin: str) -> Settings:
    try:
        return build_settings(data, env)
    except ValidationError as exc:
        raise ConfigError(format_validation(exc, origin, data)) from None
    except RecursionError:
        raise ConfigError(f"{origin}: values nested too deeply") from None


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
    data = _file_keys(read_config_file(file_path))
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
    data = _file_keys(data)
    environment = dict(env)
    settings: Settings | None = None
    for _ in range(64):  # each round drops at least one bad key or variable
        try:
            settings = build_settings(data, environment)
            break
        except ValidationError as exc:
            problems.extend(_format_item(item, str(file_path), data) for item in exc.errors())
            if not _drop(exc, data, environment):
                break
        except _BadVariable as exc:
            problems.append(str(exc))
            environment = {k: v for k, v in environment.items() if k.upper() != exc.name}
        except RecursionError:
            problems.append(f"{file_path}: values nested too deeply")
            break
    if settings is None:
        settings = Settings()
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
