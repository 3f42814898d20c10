"""Tests for codexbard.providers.runner: order, fall-through, the reported error, and the poll deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
import pytest

from codexbard.errors import (
    AuthRequired,
    CliMissing,
    NotConfigured,
    ParseError,
    ProviderError,
    RateLimited,
    Timeout,
    Unavailable,
    Unsupported,
)
from codexbard.models import RateWindow, UsageSnapshot
from codexbard.providers.base import Availability, FetchContext, ProviderSpec, Strategy, StrategyKind
from codexbard.providers.runner import Attempt, run_pipeline
from tests.helpers import make_context

Behaviour = Callable[[FetchContext], UsageSnapshot] | ProviderError | Exception | UsageSnapshot


class Fake(Strategy):
    """A strategy whose availability and result are set by the test."""

    def __init__(
        self,
        sid: str,
        result: Behaviour,
        *,
        kind: StrategyKind = "api",
        label: str | None = None,
        availability: Availability | None = None,
        falls_back: bool | None = None,
        sleep: float = 0.0,
    ) -> None:
        self.id = sid  # type: ignore[misc]
        self.kind = kind  # type: ignore[misc]
        self.source_label = label or kind  # type: ignore[misc]
        self.result = result
        self.availability = availability or Availability.yes("found")
        self.falls_back = falls_back
        self.sleep = sleep
        self.calls = 0
        self.seen_remaining: float | None = None

    async def available(self, ctx: FetchContext) -> Availability:
        return self.availability

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        self.calls += 1
        self.seen_remaining = ctx.remaining(30.0)
        if self.sleep:
            await asyncio.sleep(self.sleep)
        if isinstance(self.result, BaseException):
            raise self.result
        if isinstance(self.result, UsageSnapshot):
            return self.result
        return self.result(ctx)

    def should_fall_back(self, error: ProviderError) -> bool:
        if self.falls_back is None:
            return super().should_fall_back(error)
        return self.falls_back


def snap(used: float) -> UsageSnapshot:
    return UsageSnapshot(primary=RateWindow(used_percent=used, label="Session"))


def spec(*strategies: Strategy, deadline: float = 60.0, **kwargs: object) -> ProviderSpec:
    return ProviderSpec(
        id="fake",
        display_name="Fake",
        strategies=strategies,
        poll_deadline_seconds=deadline,
        **kwargs,  # type: ignore[arg-type]
    )


def unreachable(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no strategy in these tests uses HTTP")


@pytest.fixture
def ctx() -> FetchContext:
    return make_context("fake", unreachable)


def summary(attempts: list[Attempt]) -> list[tuple[str, str, str, bool, str | None]]:
    return [(a.strategy, a.kind, a.source_label, a.ok, a.error_kind) for a in attempts]


async def test_first_success_wins(ctx: FetchContext) -> None:
    first = Fake("oauth", snap(10), kind="oauth")
    second = Fake("cli", snap(20), kind="cli")
    outcome = await run_pipeline(spec(first, second), ctx)
    assert outcome.ok
    assert outcome.snapshot == snap(10)
    assert outcome.source == "oauth"
    assert outcome.error is None
    assert second.calls == 0
    assert summary(outcome.attempts) == [("oauth", "oauth", "oauth", True, None)]
    assert outcome.duration_ms >= 0


async def test_strategies_run_in_order_with_fall_through(ctx: FetchContext) -> None:
    order: list[str] = []

    def record(name: str, result: Behaviour) -> Callable[[FetchContext], UsageSnapshot]:
        def run(_: FetchContext) -> UsageSnapshot:
            order.append(name)
            if isinstance(result, BaseException):
                raise result
            assert isinstance(result, UsageSnapshot)
            return result

        return run

    strategies = (
        Fake("pat", record("pat", NotConfigured("no PAT")), label="pat"),
        Fake("oauth", record("oauth", AuthRequired("token expired")), kind="oauth"),
        Fake("plan", record("plan", Unsupported("no such plan data")), kind="api"),
        Fake("app", record("app", snap(42)), kind="cli", label="codex-cli"),
        Fake("web", record("web", snap(1)), kind="web"),
    )
    outcome = await run_pipeline(spec(*strategies), ctx)
    assert order == ["pat", "oauth", "plan", "app"]
    assert outcome.snapshot == snap(42)
    assert outcome.source == "codex-cli"
    assert outcome.error is None
    assert summary(outcome.attempts) == [
        ("pat", "api", "pat", False, "not_configured"),
        ("oauth", "oauth", "oauth", False, "auth_required"),
        ("plan", "api", "api", False, "unsupported"),
        ("app", "cli", "codex-cli", True, None),
    ]
    assert [a.message for a in outcome.attempts] == ["no PAT", "token expired", "no such plan data", None]


@pytest.mark.parametrize(
    "error",
    [
        RateLimited("slow down", retry_after=120),
        Unavailable("HTTP 503"),
        Timeout("no answer"),
        ParseError("HTML instead of JSON"),
    ],
)
async def test_hard_errors_stop_the_pipeline(ctx: FetchContext, error: ProviderError) -> None:
    later = Fake("cli", snap(5), kind="cli")
    outcome = await run_pipeline(spec(Fake("api", error), later), ctx)
    assert not outcome.ok
    assert outcome.error is error
    assert later.calls == 0
    assert len(outcome.attempts) == 1
    assert outcome.attempts[0].error_kind == error.kind


async def test_rate_limit_keeps_retry_after(ctx: FetchContext) -> None:
    outcome = await run_pipeline(spec(Fake("api", RateLimited("slow down", retry_after=120))), ctx)
    assert outcome.error is not None
    assert outcome.error.kind == "rate_limited"
    assert outcome.error.retry_after == 120


async def test_should_fall_back_override_is_applied(ctx: FetchContext) -> None:
    # A sheet may make a strategy fall through on errors that normally stop (Kimi, Amp, Augment) ...
    eager = Fake("api", Unavailable("HTTP 500"), falls_back=True)
    outcome = await run_pipeline(spec(eager, Fake("web", snap(7), kind="web")), ctx)
    assert outcome.snapshot == snap(7)
    assert outcome.source == "web"
    # ... or stop on errors that normally fall through.
    strict = Fake("api", AuthRequired("rejected"), falls_back=False)
    later = Fake("web", snap(7), kind="web")
    outcome = await run_pipeline(spec(strict, later), ctx)
    assert outcome.error is not None and outcome.error.kind == "auth_required"
    assert later.calls == 0


async def test_reported_error_skips_soft_kinds(ctx: FetchContext) -> None:
    # An expired OAuth token, then a missing CLI, then no cookie: the user must hear about the token.
    missing_cli = Availability.no("`claude` not on PATH", kind="cli_missing")
    outcome = await run_pipeline(
        spec(
            Fake("oauth", AuthRequired("Claude OAuth token expired"), kind="oauth"),
            Fake("cli", snap(1), kind="cli", availability=missing_cli),
            Fake("web", snap(1), kind="web", availability=Availability.no("no claude.ai cookie")),
        ),
        ctx,
    )
    assert outcome.error is not None
    assert outcome.error.kind == "auth_required"
    assert outcome.error.message == "Claude OAuth token expired"
    assert summary(outcome.attempts) == [
        ("oauth", "oauth", "oauth", False, "auth_required"),
        ("cli", "cli", "cli", False, "cli_missing"),
        ("web", "web", "web", False, "not_configured"),
    ]
    assert [a.message for a in outcome.attempts] == [
        "Claude OAuth token expired",
        "`claude` not on PATH",
        "no claude.ai cookie",
    ]


async def test_reported_error_is_the_last_hard_one(ctx: FetchContext) -> None:
    outcome = await run_pipeline(
        spec(
            Fake("a", AuthRequired("first")),
            Fake("b", Unsupported("second")),
            Fake("c", NotConfigured("third")),
        ),
        ctx,
    )
    assert outcome.error is not None
    assert outcome.error.message == "second"


async def test_all_soft_reports_the_last(ctx: FetchContext) -> None:
    outcome = await run_pipeline(
        spec(
            Fake("a", snap(1), availability=Availability.no("no key")),
            Fake("b", CliMissing("`b` is not installed")),
            Fake("c", snap(1), availability=Availability.no("`c` missing", kind="cli_missing")),
        ),
        ctx,
    )
    assert outcome.error is not None
    assert type(outcome.error) is CliMissing
    assert outcome.error.message == "`c` missing"
    outcome = await run_pipeline(
        spec(Fake("a", CliMissing("missing")), Fake("b", snap(1), availability=Availability.no("no key"))),
        ctx,
    )
    assert outcome.error is not None
    assert type(outcome.error) is NotConfigured
    assert outcome.error.message == "no key"


async def test_unavailable_strategy_is_not_fetched(ctx: FetchContext) -> None:
    skipped = Fake("api", snap(1), availability=Availability.no("no API key in Z_AI_API_KEY"))
    outcome = await run_pipeline(spec(skipped), ctx)
    assert skipped.calls == 0
    assert outcome.error is not None
    assert outcome.error.kind == "not_configured"
    assert outcome.attempts[0].wire() == {
        "strategy": "api",
        "kind": "api",
        "sourceLabel": "api",
        "ok": False,
        "errorKind": "not_configured",
        "message": "no API key in Z_AI_API_KEY",
        "durationMs": outcome.attempts[0].wire()["durationMs"],
    }


async def test_unexpected_exception_is_internal(
    ctx: FetchContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="codexbard.providers.runner")
    later = Fake("web", snap(3), kind="web")
    outcome = await run_pipeline(spec(Fake("api", KeyError("limits")), later), ctx)
    assert outcome.error is not None
    assert outcome.error.kind == "internal"
    assert outcome.error.message == "unexpected error in fake api: KeyError"
    assert later.calls == 0
    assert outcome.attempts[0].error_kind == "internal"
    assert "fake/api raised unexpectedly" in caplog.text


async def test_exception_in_available_is_internal(ctx: FetchContext) -> None:
    class Broken(Fake):
        async def available(self, ctx: FetchContext) -> Availability:
            raise RuntimeError("bug")

    outcome = await run_pipeline(spec(Broken("api", snap(1))), ctx)
    assert outcome.error is not None
    assert outcome.error.kind == "internal"
    assert outcome.error.message == "unexpected error in fake api: RuntimeError"


async def test_poll_deadline(ctx: FetchContext) -> None:
    fast = Fake("oauth", NotConfigured("no token"), kind="oauth")
    slow = Fake("cli", snap(1), kind="cli", sleep=5)
    never = Fake("web", snap(2), kind="web")
    started = time.monotonic()
    outcome = await run_pipeline(spec(fast, slow, never, deadline=0.2), ctx)
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 1.0
    assert not outcome.ok
    assert outcome.error is not None
    assert outcome.error.kind == "timeout"
    assert outcome.error.message == "Fake did not finish within 0.2 s"
    assert never.calls == 0
    assert summary(outcome.attempts) == [
        ("oauth", "oauth", "oauth", False, "not_configured"),
        ("cli", "cli", "cli", False, "timeout"),
    ]
    assert outcome.attempts[1].message == "Fake did not finish within 0.2 s"
    assert 150 <= outcome.attempts[1].duration_ms < 1000
    # The strategy saw the deadline through ctx.remaining().
    assert slow.seen_remaining is not None and 0.1 <= slow.seen_remaining <= 0.2
    assert ctx.deadline is not None


async def test_deadline_is_a_cap_not_a_delay(ctx: FetchContext) -> None:
    outcome = await run_pipeline(spec(Fake("api", snap(1), sleep=0.05), deadline=5), ctx)
    assert outcome.ok
    assert outcome.attempts[0].duration_ms >= 40


async def test_source_modes(ctx: FetchContext) -> None:
    oauth = Fake("oauth", snap(1), kind="oauth")
    api = Fake("api", snap(2), kind="api")
    web = Fake("web", snap(3), kind="web")
    modes = {"auto": ("oauth", "web"), "api": ("api",), "web": ("web",)}
    provider = spec(oauth, api, web, source_modes=modes)
    assert provider.modes() == {"auto": ("oauth", "web"), "api": ("api",), "web": ("web",)}
    outcome = await run_pipeline(provider, ctx, "api")
    assert outcome.source == "api" and outcome.snapshot == snap(2)
    outcome = await run_pipeline(provider, ctx, "web")
    assert outcome.source == "web"
    with pytest.raises(KeyError):
        await run_pipeline(provider, ctx, "cli")


async def test_default_modes_group_by_kind(ctx: FetchContext) -> None:
    provider = spec(
        Fake("a", snap(1), kind="api"), Fake("b", snap(2), kind="api"), Fake("c", snap(3), kind="cli")
    )
    assert provider.modes() == {"auto": ("a", "b", "c"), "api": ("a", "b"), "cli": ("c",)}
    assert [s.id for s in provider.strategies_for("api")] == ["a", "b"]


async def test_mode_without_strategies(ctx: FetchContext) -> None:
    provider = spec(Fake("a", snap(1)), source_modes={"auto": ("a",), "local": ()})
    outcome = await run_pipeline(provider, ctx, "local")
    assert outcome.error is not None
    assert type(outcome.error) is NotConfigured
    assert outcome.error.message == "Fake has no strategy for source 'local'"
    assert outcome.attempts == []


async def test_cancellation_propagates(ctx: FetchContext) -> None:
    task = asyncio.create_task(run_pipeline(spec(Fake("a", snap(1), sleep=5)), ctx))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
