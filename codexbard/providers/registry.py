"""The list of providers, and the resolution of `[providers.*]` config into what gets polled."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from codexbard.config import ProviderConfig, Settings, validate_provider_table
from codexbard.errors import ConfigError
from codexbard.providers.base import ProviderSpec

log = logging.getLogger(__name__)

_COMMON_ACCOUNT_KEYS = frozenset({"label"})


class Registry:
    """An ordered, immutable set of provider descriptors."""

    def __init__(self, specs: Iterable[ProviderSpec], broken: dict[str, str] | None = None) -> None:
        self._specs: dict[str, ProviderSpec] = {}
        # Provider modules that could not be loaded: module name → one-line reason (for `doctor` and logs).
        self.broken: dict[str, str] = dict(broken or {})
        for spec in specs:
            if spec.id in self._specs:
                raise ValueError(f"duplicate provider id {spec.id!r}")
            self._specs[spec.id] = spec

    def __iter__(self) -> Iterator[ProviderSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in self._specs

    def get(self, provider_id: str) -> ProviderSpec:
        """Return a descriptor; KeyError for an unknown id."""
        return self._specs[provider_id]

    def ids(self) -> list[str]:
        """Provider ids in registry order."""
        return list(self._specs)


# The built-in provider modules, in the order `/usage` lists them; each exports `PROVIDER`.
PROVIDER_MODULES: Final[tuple[str, ...]] = (
    "codexbard.providers.codex",
    "codexbard.providers.claude",
    "codexbard.providers.zai",
    "codexbard.providers.kimik2",
    "codexbard.providers.warp",
    "codexbard.providers.openrouter",
)


def load_registry(modules: Sequence[str]) -> Registry:
    """Import each provider module and take its `PROVIDER`.

    A module that fails to import, has no valid `PROVIDER`, or repeats an id is logged and left out
    (recorded in `Registry.broken`): one broken provider never stops the daemon or the other providers.
    """
    specs: list[ProviderSpec] = []
    seen: set[str] = set()
    broken: dict[str, str] = {}
    for name in modules:
        try:
            module = importlib.import_module(name)
            spec = getattr(module, "PROVIDER", None)
            if not isinstance(spec, ProviderSpec):
                raise TypeError(f"{name}.PROVIDER is not a ProviderSpec")
            if spec.id in seen:
                raise ValueError(f"duplicate provider id {spec.id!r}")
        except Exception as exc:  # any failure of a provider's own code: that provider is disabled
            reason = str(exc).splitlines()[0] if str(exc) else ""
            broken[name] = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__
            log.error("provider module %s could not be loaded and is disabled (%s)", name, broken[name])
            log.debug("loading %s failed", name, exc_info=True)
            continue
        seen.add(spec.id)
        specs.append(spec)
    return Registry(specs, broken)


def default_registry() -> Registry:
    """The built-in providers, in the order `/usage` lists them (broken ones left out, logged)."""
    return load_registry(PROVIDER_MODULES)


@dataclass(frozen=True)
class PollTarget:
    """One provider account as configured: what to poll, how often, with which options."""

    spec: ProviderSpec
    account: str | None
    options: dict[str, Any]
    mode: str
    interval_seconds: int
    enabled_setting: bool | None

    @property
    def key(self) -> str:
        """`<provider>` or `<provider>:<account>`."""
        return self.spec.id if self.account is None else f"{self.spec.id}:{self.account}"


def poll_targets(settings: Settings, registry: Registry) -> list[PollTarget]:
    """Validate provider tables against the registry and list every account to consider."""
    for provider_id in settings.providers:
        if provider_id not in registry:
            raise ConfigError(
                f"unknown provider 'providers.{provider_id}' (known: {', '.join(registry.ids())})"
            )
    targets: list[PollTarget] = []
    for spec in registry:
        table = settings.providers.get(spec.id) or ProviderConfig()
        where = f"providers.{spec.id}"
        if table.source not in spec.modes():
            raise ConfigError(
                f"{where}.source: '{table.source}' is not accepted by {spec.display_name} "
                f"(one of: {', '.join(spec.modes())})"
            )
        base = validate_provider_table(spec.settings_model(), table.model_extra or {}, where, spec.id)
        for name, value in table.values().items():
            if name not in (table.model_extra or {}):
                base[name] = value
        interval = table.interval_seconds or spec.default_interval_seconds or settings.default_interval_seconds
        if interval < spec.min_interval_seconds:
            log.warning(
                "%s.interval_seconds = %d is below the minimum for %s; using %d s",
                where, interval, spec.display_name, spec.min_interval_seconds,
            )
            interval = spec.min_interval_seconds
        if table.accounts is None:
            targets.append(PollTarget(spec, None, base, table.source, interval, table.enabled))
            continue
        account_model = spec.account_settings_model()
        if account_model is None:
            raise ConfigError(f"{where}.accounts: {spec.display_name} does not support several accounts")
        seen: set[str] = set()
        for index, entry in enumerate(table.accounts):
            if entry.label in seen:
                raise ConfigError(f"{where}.accounts[{index}].label: duplicate label '{entry.label}'")
            seen.add(entry.label)
            options = dict(base)
            own = {k: v for k, v in (entry.model_extra or {}).items() if k not in _COMMON_ACCOUNT_KEYS}
            options.update(
                validate_provider_table(account_model, own, f"{where}.accounts[{index}]", spec.id, only_set=True)
            )
            targets.append(PollTarget(spec, entry.label, options, table.source, interval, table.enabled))
    return targets
