"""Model prices for local cost: the bundled table (pricing.json), downloaded prices, user overrides, model ids.

Prices are USD per 1M tokens in the data file and in overrides, USD per token in memory. A model's long-context tier
is chosen per request from the request's total input (uncached + cache read + cache write); stored aggregates keep
that as a band (see `band_for`), so any price table whose thresholds are in `BAND_LIMITS` re-prices them exactly.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any, Final, Literal

from codexbard.errors import ConfigError

Provider = Literal["codex", "claude"]
PROVIDERS: Final[tuple[Provider, ...]] = ("codex", "claude")

# Long-context thresholds a price may use (total input tokens of one request). Band 0: <= 200k, 1: <= 272k, 2: above.
BAND_LIMITS: Final[tuple[int, ...]] = (200_000, 272_000)
SLOT_SECONDS: Final[int] = 900  # aggregates are keyed by UTC quarter hours

_PER_MILLION: Final[float] = 1_000_000.0
_DATE_SUFFIX_CODEX = re.compile(r"^(.*)-\d{4}-\d{2}-\d{2}$")
_DATE_SUFFIX_CLAUDE = re.compile(r"^(.*)-\d{8}$")
_BEDROCK_VERSION = re.compile(r"-v\d+:\d+$")


class PricingError(ConfigError):
    """A price table or a price override is malformed."""


def band_for(total_input: int) -> int:
    """Return the long-context band of a request with this many input tokens (cached and cache writes included)."""
    if total_input <= BAND_LIMITS[0]:
        return 0
    if total_input <= BAND_LIMITS[1]:
        return 1
    return 2


@dataclass(frozen=True, slots=True)
class Rates:
    """Fully resolved USD-per-token rates of one tier."""

    input: float
    output: float
    cache_read: float
    cache_write: float

    def cost(self, uncached: int, cache_read: int, cache_write: int, cache_write_1h: int, output: int) -> float:
        """Return the USD cost of these token counts (1-hour cache writes at twice the input rate)."""
        return (
            uncached * self.input
            + cache_read * self.cache_read
            + cache_write * self.cache_write
            + cache_write_1h * 2.0 * self.input
            + output * self.output
        )


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """Rates of one model at one time: the standard tier and, past `threshold`, the long-context tier."""

    base: Rates
    threshold: int | None = None
    above: Rates | None = None

    def rates(self, band: int) -> Rates:
        """Return the rates that apply to a request in this band."""
        if self.threshold is None or self.above is None:
            return self.base
        return self.above if band > BAND_LIMITS.index(self.threshold) else self.base


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """A model's current price and its earlier prices (`history`: (first slot it no longer applies, price))."""

    current: ModelPrice
    history: tuple[tuple[int, ModelPrice], ...] = ()

    def at(self, slot: int) -> ModelPrice:
        """Return the price in force at this quarter-hour slot."""
        for before, price in self.history:
            if slot < before:
                return price
        return self.current


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise PricingError(f"{where}: expected a non-negative number of USD per 1M tokens, got {value!r}")
    return float(value) / _PER_MILLION


_ALIASES: Final[dict[str, str]] = {
    "cacheRead": "cache_read",
    "cacheWrite": "cache_write",
    "cache_creation": "cache_write",
    "cacheCreation": "cache_write",
}
_RATE_FIELDS: Final[frozenset[str]] = frozenset({"input", "output", "cache_read", "cache_write"})
_OTHER_FIELDS: Final[frozenset[str]] = frozenset({"threshold", "above", "history"})


def _fields(raw: Mapping[str, Any], where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in raw.items():
        name = _ALIASES.get(key, key)
        if name in _RATE_FIELDS:
            out[name] = _number(value, f"{where}.{name}")
        elif name not in _OTHER_FIELDS:
            raise PricingError(f"{where}: unknown price field {key!r}")
    return out


def _model_price(raw: Any, where: str) -> ModelPrice:
    if not isinstance(raw, Mapping):
        raise PricingError(f"{where}: expected a table of prices")
    f = _fields(raw, where)
    if "input" not in f or "output" not in f:
        raise PricingError(f"{where}: 'input' and 'output' are required")
    inp, out = f["input"], f["output"]
    # A missing cache rate bills those tokens at the (selected tier's) input rate.
    base = Rates(inp, out, f.get("cache_read", inp), f.get("cache_write", inp))
    threshold = raw.get("threshold")
    above_raw = raw.get("above")
    if threshold is None and above_raw is None:
        return ModelPrice(base)
    if isinstance(threshold, bool) or threshold not in BAND_LIMITS or not isinstance(above_raw, Mapping):
        raise PricingError(f"{where}: a long-context tier needs 'threshold' in {list(BAND_LIMITS)} and 'above'")
    a = _fields(above_raw, f"{where}.above")
    a_in = a.get("input", inp)
    above = Rates(
        a_in,
        a.get("output", out),
        a.get("cache_read", f.get("cache_read", a_in)),
        a.get("cache_write", f.get("cache_write", a_in)),
    )
    return ModelPrice(base, int(threshold), above)


def _slot_of_iso(text: Any, where: str) -> int:
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError as exc:
        raise PricingError(f"{where}: bad 'before' instant {text!r}") from exc
    if when.tzinfo is None:
        raise PricingError(f"{where}: 'before' needs a UTC offset")
    return int(when.timestamp()) // SLOT_SECONDS


def _entry(raw: Any, where: str) -> PriceEntry:
    current = _model_price(raw, where)
    history: list[tuple[int, ModelPrice]] = []
    for i, item in enumerate(raw.get("history", ()) if isinstance(raw, Mapping) else ()):
        if not isinstance(item, Mapping) or "before" not in item:
            raise PricingError(f"{where}.history[{i}]: needs 'before'")
        rest = {k: v for k, v in item.items() if k != "before"}
        history.append((_slot_of_iso(item["before"], f"{where}.history[{i}]"), _model_price(rest, where)))
    history.sort(key=lambda pair: pair[0])
    return PriceEntry(current, tuple(history))


def _load_bundled() -> dict[Provider, dict[str, PriceEntry]]:
    text = resources.files("codexbard.cost").joinpath("pricing.json").read_text(encoding="utf-8")
    raw = json.loads(text)
    table: dict[Provider, dict[str, PriceEntry]] = {}
    for provider in PROVIDERS:
        models = raw.get(provider, {})
        table[provider] = {name: _entry(spec, f"pricing.json {provider}.{name}") for name, spec in models.items()}
    return table


_BUNDLED: Final[dict[Provider, dict[str, PriceEntry]]] = _load_bundled()
_NORMALISED: dict[tuple[Provider, str], str] = {}


def normalise_model(provider: Provider, raw: str) -> str:
    """Return the model id prices and reports use for a raw log model id (memoised)."""
    key = (provider, raw)
    hit = _NORMALISED.get(key)
    if hit is not None:
        return hit
    model = raw.strip()
    table = _BUNDLED[provider]
    if provider == "codex":
        if model.lower().startswith("openai/"):
            model = model[len("openai/") :]
        if model == "gpt-5.6":
            model = "gpt-5.6-sol"
        if model not in table:
            match = _DATE_SUFFIX_CODEX.match(model)
            if match and match.group(1) in table:
                model = match.group(1)
    else:
        if model.startswith("anthropic."):
            model = model[len("anthropic.") :]
        if "claude-" in model and "." in model:
            tail = model.rsplit(".", 1)[1]
            if tail.startswith("claude-"):
                model = tail
        model = _BEDROCK_VERSION.sub("", model)
        if model not in table:
            match = _DATE_SUFFIX_CLAUDE.match(model)
            if match and match.group(1) in table:
                model = match.group(1)
    if len(_NORMALISED) < 10_000:
        _NORMALISED[key] = model
    return model


def bundled_models(provider: Provider) -> tuple[str, ...]:
    """Return the model ids the bundled table prices for a provider."""
    return tuple(_BUNDLED[provider])


def bundled_spec(provider: Provider, model: str) -> dict[str, Any] | None:
    """Return a bundled model's current price as USD per 1M tokens (the pricing.json layout), or None."""
    entry = _BUNDLED[provider].get(model)
    if entry is None:
        return None
    price = entry.current

    def fields(rates: Rates) -> dict[str, float]:
        return {
            "input": rates.input * _PER_MILLION,
            "output": rates.output * _PER_MILLION,
            "cache_read": rates.cache_read * _PER_MILLION,
            "cache_write": rates.cache_write * _PER_MILLION,
        }

    spec: dict[str, Any] = fields(price.base)
    if price.threshold is not None and price.above is not None:
        spec["threshold"] = price.threshold
        spec["above"] = fields(price.above)
    return spec


def downloaded_entries(
    downloaded: Mapping[str, Mapping[str, Any]] | None,
) -> dict[Provider, dict[str, PriceEntry]]:
    """Parse downloaded prices (`{provider: {model: spec}}`, USD per 1M tokens) for models the bundled table knows.

    A downloaded price replaces a model's current bundled price only: the bundled earlier prices (`history`) still
    apply to rows from before each change. Raises PricingError for a malformed spec.
    """
    out: dict[Provider, dict[str, PriceEntry]] = {p: {} for p in PROVIDERS}
    for provider in PROVIDERS:
        models = (downloaded or {}).get(provider) or {}
        if not isinstance(models, Mapping):
            raise PricingError(f"downloaded prices {provider}: expected a table of models")
        for name, spec in models.items():
            bundled = _BUNDLED[provider].get(name) if isinstance(name, str) else None
            if bundled is None:
                continue
            price = _model_price(spec, f"downloaded prices {provider}.{name}")
            out[provider][name] = PriceEntry(price, bundled.history)
    return out


class Pricing:
    """Prices with precedence user overrides > downloaded > bundled (USD per 1M tokens, `{model: {input, …}}`).

    `downloaded` is `{provider: {model: spec}}` as `codexbard.cost.refresh` stores it (bundled models only).
    """

    def __init__(
        self,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        downloaded: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._overrides: dict[Provider, dict[str, PriceEntry]] = {p: {} for p in PROVIDERS}
        for name, spec in (overrides or {}).items():
            if not isinstance(name, str) or not name.strip():
                raise PricingError(f"price override: bad model name {name!r}")
            if not isinstance(spec, Mapping):
                raise PricingError(f"price override {name!r}: expected a table of prices")
            entry = PriceEntry(_model_price(spec, f"price override {name!r}"))
            for provider in PROVIDERS:
                self._overrides[provider][name.strip().lower()] = entry
                self._overrides[provider][normalise_model(provider, name).lower()] = entry
        self._downloaded = downloaded_entries(downloaded)

    def entry(self, provider: Provider, model: str) -> PriceEntry | None:
        """Return the price entry for a normalised model, or None when it has no known price."""
        override = self._overrides[provider].get(model.lower())
        if override is not None:
            return override
        fetched = self._downloaded[provider].get(model)
        if fetched is not None:
            return fetched
        return _BUNDLED[provider].get(model)

    def cost(self, provider: Provider, model: str, slot: int, band: int, counters: list[int]) -> float | None:
        """Return the USD cost of aggregated counters (`Counters` layout), or None for an unpriced model."""
        entry = self.entry(provider, model)
        if entry is None:
            return None
        rates = entry.at(slot).rates(band)
        return rates.cost(counters[0], counters[1], counters[2], counters[3], counters[4])
