"""`GET /metrics`: the Prometheus exposition of the daemon's state (integrations.md §5).

Served by the guard like `/usage` (`MetricsCache.hot`): a scrape reads the in-memory state and the
scheduler's `FetchStats`, never a provider or the database. `prometheus_client` is imported on the first
scrape only. The families come from one custom collector, so the series of an account that goes away
simply disappear. Labels: `provider` and `account` (the configured label, "" for default credentials),
`window` (`primary|secondary|tertiary` or a provider's extra window id, at most `MAX_EXTRA_WINDOWS` per
account), `kind` (the closed set of error kinds), `version`. The content type follows the `Accept`
header: the classic text format by default, OpenMetrics when asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Final

from starlette.types import Scope

from codexbard import __version__
from codexbard.errors import ERROR_KINDS
from codexbard.models import WindowValue
from codexbard.state import AccountState

if TYPE_CHECKING:
    from codexbard.api.context import ApiContext

MAX_EXTRA_WINDOWS: Final = 16
_CURRENCY: Final = re.compile(r"[A-Z]{3}")


class SnapshotCollector:
    """Builds every codexbard metric family from the state on each `collect()`."""

    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx

    def describe(self) -> list[Any]:
        """Nothing up front: the families depend on the state (the registry must not collect to learn them)."""
        return []

    def collect(self) -> Iterator[Any]:
        """Yield the metric families of integrations.md §5.2."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        window_labels = ["provider", "account", "window"]
        account_labels = ["provider", "account"]
        used = GaugeMetricFamily("codexbard_window_used_ratio", "Used fraction of the window's quota (may exceed 1)",
                                 labels=window_labels)
        reset = GaugeMetricFamily("codexbard_window_reset_timestamp_seconds", "Unix time the window resets",
                                  labels=window_labels)
        length = GaugeMetricFamily("codexbard_window_length_seconds", "Length of the window",
                                   labels=window_labels)
        credits = GaugeMetricFamily("codexbard_credits_remaining", "Credits left, in the provider's own units",
                                    labels=account_labels)
        money: dict[str, Any] = {}
        success = GaugeMetricFamily("codexbard_last_success_timestamp_seconds", "Unix time of the last good fetch",
                                    labels=account_labels)
        up = GaugeMetricFamily("codexbard_provider_up", "1 when the last fetch succeeded", labels=account_labels)
        errors = CounterMetricFamily("codexbard_fetch_errors", "Failed fetches since the daemon started, by kind",
                                     labels=["provider", "account", "kind"])
        durations = HistogramMetricFamily("codexbard_fetch_duration_seconds", "How long fetches took",
                                          labels=["provider"])
        info = GaugeMetricFamily("codexbard_build_info", "codexbard's version (always 1)", labels=["version"])
        info.add_metric([__version__], 1.0)

        stats = self._ctx.scheduler.fetch_stats
        providers: list[str] = []
        for account in self._ctx.state.enabled():
            provider, label = account.target.spec.id, account.target.account or ""
            if provider not in providers:
                providers.append(provider)
            for name, window in _windows(account):
                _add_window(used, reset, length, [provider, label, name], window)
            snapshot = account.snapshot
            if snapshot is not None and snapshot.credits is not None:
                unit = snapshot.credits.unit
                if _CURRENCY.fullmatch(unit):
                    family = money.get(unit)
                    if family is None:
                        family = money[unit] = GaugeMetricFamily(
                            f"codexbard_credits_remaining_{unit.lower()}", f"Prepaid balance left, in {unit}",
                            labels=account_labels)
                    family.add_metric([provider, label], snapshot.credits.remaining)
                else:
                    credits.add_metric([provider, label], snapshot.credits.remaining)
            if account.last_success_at is not None:
                success.add_metric([provider, label], account.last_success_at.timestamp())
            ok = account.last_attempt_at is not None and account.error is None
            up.add_metric([provider, label], 1.0 if ok else 0.0)
            for kind in ERROR_KINDS:
                errors.add_metric([provider, label, kind], float(stats.errors.get((provider, label, kind), 0)))
        for provider in providers:
            histogram = stats.durations.get(provider)
            if histogram is not None:
                durations.add_metric([provider], [(le, float(n)) for le, n in histogram.cumulative()],
                                     histogram.total)
        yield from (used, reset, length, credits, *money.values(), errors, durations, success, up, info)


def _windows(account: AccountState) -> Iterator[tuple[str, WindowValue]]:
    snapshot = account.snapshot
    if snapshot is None:
        return
    for name in ("primary", "secondary", "tertiary"):
        window = getattr(snapshot, name)
        if window is not None:
            yield name, window
    for extra in snapshot.extra_rate_windows[:MAX_EXTRA_WINDOWS]:
        yield extra.id, extra.window


def _add_window(used: Any, reset: Any, length: Any, labels: list[str], window: WindowValue) -> None:
    used.add_metric(labels, window.used_percent / 100.0)
    if window.resets_at is not None:
        reset.add_metric(labels, window.resets_at.timestamp())
    if window.window_minutes:
        length.add_metric(labels, window.window_minutes * 60.0)


class MetricsCache:
    """The rendered exposition per content type, valid for one state version, one poll count and one second."""

    def __init__(self, ctx: ApiContext) -> None:
        self._ctx = ctx
        self._registry: Any = None
        self._entries: dict[str, tuple[int, int, int, bytes, str]] = {}

    def render(self, accept: str) -> tuple[bytes, str]:
        """(body, content type) for a scrape with this `Accept` header."""
        from prometheus_client.exposition import choose_encoder

        encoder, content_type = choose_encoder(accept)
        ctx = self._ctx
        now_second = int(ctx.clock.monotonic())
        version, polls = ctx.state.version, ctx.scheduler.fetch_stats.version
        hit = self._entries.get(content_type)
        if hit is not None and hit[:3] == (version, polls, now_second):
            return hit[3], hit[4]
        if self._registry is None:
            from prometheus_client import CollectorRegistry

            self._registry = CollectorRegistry(auto_describe=False)
            self._registry.register(SnapshotCollector(ctx))
        body: bytes = encoder(self._registry)
        self._entries[content_type] = (version, polls, now_second, body, content_type)
        return body, content_type

    def hot(self, scope: Scope) -> tuple[int, bytes, str]:
        """The guard middleware's entry point (`HotRoute`)."""
        accept = ""
        for name, value in scope.get("headers", ()):
            if name == b"accept":
                accept = value.decode("latin-1")
                break
        body, content_type = self.render(accept)
        return 200, body, content_type
