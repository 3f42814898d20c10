"""Optional price refresh from the public models.dev catalog (`[cost] pricing_refresh = true`).

At most once a day the cost job downloads `https://models.dev/api.json` through the shared `HttpClient` (bounded
timeout and size), keeps the prices of the models the bundled table knows (USD per 1M tokens, the pricing.json
layout), and writes them atomically to `pricing-refresh.json` in the data dir. Prices then resolve as user overrides
> downloaded > bundled. Any failure (offline, bad JSON, an unexpected shape) is logged once and the previous prices
stay; the refresh is never required and never an error for the user.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from codexbard.cost.pricing import (
    BAND_LIMITS,
    PROVIDERS,
    PricingError,
    Provider,
    bundled_models,
    bundled_spec,
    downloaded_entries,
)
from codexbard.errors import CodexbardError, ParseError
from codexbard.host.clock import Clock
from codexbard.host.http import HttpClient

log = logging.getLogger(__name__)

CATALOG_URL: Final = "https://models.dev/api.json"
SERVICE: Final = "models.dev"
PRICES_FILE: Final = "pricing-refresh.json"
REFRESH_SECONDS: Final = 24 * 3600
TIMEOUT_SECONDS: Final = 20.0
MAX_CATALOG_BYTES: Final = 8 * 1024 * 1024
FILE_VERSION: Final = 1

# The catalog's provider id for each local-cost provider.
CATALOG_PROVIDER: Final[dict[Provider, str]] = {"codex": "openai", "claude": "anthropic"}
# Bundled rates are used directly for these (local-cost.md: models.dev is skipped for them).
BUNDLED_ONLY: Final[frozenset[str]] = frozenset({"claude-opus-4-6", "claude-sonnet-4-6"})
_CATALOG_THRESHOLD: Final = 200_000
_FIELDS: Final = ("input", "output", "cache_read", "cache_write")

Prices = dict[str, dict[str, dict[str, Any]]]


class CatalogError(CodexbardError):
    """The pricing catalog (or the stored copy of it) is not what the refresh expects."""


def _rate(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _rates(raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, float] = {}
    for name in _FIELDS:
        number = _rate(raw.get(name))
        if number is not None:
            out[name] = number
    return out


def _catalog_models(data: Mapping[str, Any], provider_id: str) -> Mapping[str, Any] | None:
    provider = data.get(provider_id)
    if not isinstance(provider, Mapping):
        return None
    models = provider.get("models")
    return models if isinstance(models, Mapping) else None


def _model_spec(provider: Provider, model: str, raw: Any) -> dict[str, Any] | None:
    """The pricing.json spec of one catalog model, or None when the catalog does not fully price it."""
    if not isinstance(raw, Mapping):
        return None
    cost = raw.get("cost")
    base = _rates(cost)
    if "input" not in base or "output" not in base:
        return None
    assert isinstance(cost, Mapping)
    bundled = bundled_spec(provider, model) or {}
    spec: dict[str, Any] = dict(base)
    if provider == "codex":  # missing cache rates come from the bundled entry (Claude's default to input)
        for name in ("cache_read", "cache_write"):
            if name not in spec and name in bundled:
                spec[name] = bundled[name]
    above = _rates(cost.get("context_over_200k"))
    if above:
        threshold = bundled.get("threshold") if provider == "codex" else None
        spec["threshold"] = threshold if threshold in BAND_LIMITS else _CATALOG_THRESHOLD
        spec["above"] = above
    elif provider == "codex" and "threshold" in bundled:  # keep the bundled long-context tier
        spec["threshold"] = bundled["threshold"]
        spec["above"] = bundled["above"]
    return spec


def map_catalog(data: Any) -> Prices:
    """Map a models.dev catalog to `{provider: {model: spec}}` for the bundled models; raise CatalogError."""
    if not isinstance(data, Mapping):
        raise CatalogError("the pricing catalog is not a JSON object")
    wrapped = data.get("providers")
    if isinstance(wrapped, Mapping):
        data = wrapped
    prices: Prices = {}
    found_provider = False
    for provider in PROVIDERS:
        models = _catalog_models(data, CATALOG_PROVIDER[provider])
        if models is None:
            continue
        found_provider = True
        mapped: dict[str, dict[str, Any]] = {}
        for model in bundled_models(provider):
            if model in BUNDLED_ONLY:
                continue
            spec = _model_spec(provider, model, models.get(model))
            if spec is not None:
                mapped[model] = spec
        if mapped:
            prices[provider] = mapped
    if not found_provider:
        raise CatalogError("the pricing catalog has neither an 'openai' nor an 'anthropic' provider with models")
    if not prices:
        raise CatalogError("the pricing catalog prices none of the known models")
    try:
        downloaded_entries(prices)
    except PricingError as exc:  # a defensive check: the mapping above only produces valid specs
        raise CatalogError(f"the pricing catalog has unusable prices: {exc}") from None
    return prices


def write_prices(path: Path, prices: Prices, fetched_at: datetime) -> None:
    """Store downloaded prices atomically (a temporary file in the same directory, then a rename)."""
    payload = {"version": FILE_VERSION, "source": CATALOG_URL, "fetched_at": fetched_at.isoformat(),
               "prices": prices}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(payload, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_prices(path: Path) -> tuple[Prices, datetime] | None:
    """Load stored prices and when they were fetched; None when there is no file; CatalogError when it is bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CatalogError(f"cannot read {path.name}: {exc.strerror or type(exc).__name__}") from None
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):
        raise CatalogError(f"{path.name} is not valid JSON") from None
    if not isinstance(raw, Mapping) or raw.get("version") != FILE_VERSION or not isinstance(raw.get("prices"), dict):
        raise CatalogError(f"{path.name} has an unexpected layout")
    try:
        fetched_at = datetime.fromisoformat(str(raw.get("fetched_at")))
    except ValueError:
        raise CatalogError(f"{path.name} has a bad 'fetched_at'") from None
    if fetched_at.tzinfo is None:
        raise CatalogError(f"{path.name} has a 'fetched_at' without a UTC offset")
    prices: Prices = raw["prices"]
    try:
        downloaded_entries(prices)
    except PricingError as exc:
        raise CatalogError(f"{path.name}: {exc}") from None
    return prices, fetched_at


class PriceRefresher:
    """Downloads the catalog at most once a day and keeps the last good prices (`prices`), never raising."""

    def __init__(
        self,
        http: HttpClient,
        path: Path,
        clock: Clock,
        *,
        url: str = CATALOG_URL,
        interval: float = REFRESH_SECONDS,
        timeout: float = TIMEOUT_SECONDS,
        max_bytes: int = MAX_CATALOG_BYTES,
    ) -> None:
        self.http = http
        self.path = path
        self.clock = clock
        self.url = url
        self.interval = timedelta(seconds=interval)
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.prices: Prices = {}
        self.fetched_at: datetime | None = None  # of the prices in use
        self.attempted_at: datetime | None = None  # of the last download attempt (this process)
        self.attempts = 0
        self.last_error: str | None = None
        try:
            stored = read_prices(path)
        except CatalogError as exc:
            self._failed(f"ignoring the stored prices: {exc}")
            stored = None
        if stored is not None:
            self.prices, self.fetched_at = stored

    def due(self) -> bool:
        """Whether a download may run now: none in the last `interval`, and the stored prices are that old."""
        now = self.clock.now()
        for last in (self.attempted_at, self.fetched_at):
            if last is not None and now - last < self.interval:
                return False
        return True

    async def refresh(self) -> bool:
        """Download and store the prices when due; True when `prices` changed. Failures are logged, never raised."""
        if not self.due():
            return False
        now = self.clock.now()
        self.attempted_at = now
        self.attempts += 1
        try:
            response = await self.http.get(self.url, service=SERVICE, timeout=self.timeout,
                                           headers={"Accept": "application/json"}, max_body_bytes=self.max_bytes)
            prices = map_catalog(response.json())
            await asyncio.to_thread(write_prices, self.path, prices, now)
        except (CodexbardError, OSError) as exc:
            self._failed(f"price refresh failed, keeping the previous prices: {_describe(exc)}")
            return False
        except Exception as exc:  # never an error for the user: a refresh is optional
            self._failed(f"price refresh failed, keeping the previous prices: {type(exc).__name__}")
            return False
        if self.last_error is not None:
            log.info("price refresh works again")
        self.last_error = None
        changed = prices != self.prices
        self.prices, self.fetched_at = prices, now
        log.info("prices refreshed from %s: %d models", SERVICE, sum(len(m) for m in prices.values()))
        return changed

    def _failed(self, message: str) -> None:
        if message != self.last_error:
            log.warning("%s", message)
        self.last_error = message


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and not isinstance(exc, ParseError):
        return f"cannot write the prices ({exc.strerror or type(exc).__name__})"
    return str(exc) or type(exc).__name__
