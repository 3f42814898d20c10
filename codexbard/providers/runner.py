"""The fetch pipeline: try a provider's strategies in order and apply the fallback policy.

A strategy that is not available counts as an attempt failed with `not_configured` (or
`cli_missing`). When nothing succeeds, the reported error is that of the last attempt whose kind is
not soft (errors.KIND_POLICIES: neither `not_configured` nor `cli_missing`); if every attempt has a
soft kind, the last one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from pydantic import ValidationError

from codexbard.errors import (
    Internal,
    NotConfigured,
    ParseError,
    ProviderError,
    Timeout,
    error_class,
)
from codexbard.host.http import reset_poll_deadline, set_poll_deadline
from codexbard.models import UsageSnapshot
from codexbard.providers.base import FetchContext, ProviderSpec, Strategy

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Attempt:
    """One strategy's try during a fetch."""

    strategy: str
    kind: str
    source_label: str
    ok: bool
    error_kind: str | None
    message: str | None
    duration_ms: float

    def wire(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "strategy": self.strategy,
            "kind": self.kind,
            "sourceLabel": self.source_label,
            "ok": self.ok,
            "errorKind": self.error_kind,
            "message": self.message,
            "durationMs": round(self.duration_ms, 1),
        }


@dataclass
class FetchOutcome:
    """The result of one pipeline run."""

    snapshot: UsageSnapshot | None
    source: str | None
    error: ProviderError | None
    attempts: list[Attempt] = field(default_factory=list)
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether a strategy produced a snapshot."""
        return self.snapshot is not None


def _pick_error(errors: list[ProviderError]) -> ProviderError:
    for error in reversed(errors):
        if not error.soft:
            return error
    return errors[-1]


async def _try(strategy: Strategy, ctx: FetchContext) -> UsageSnapshot:
    availability = await strategy.available(ctx)
    if not availability.ok:
        raise error_class(availability.kind)(availability.reason)  # not_configured or cli_missing
    return await strategy.fetch(ctx)


async def _try_web(strategy: Strategy, ctx: FetchContext, limit: float) -> UsageSnapshot:
    # Only this strategy's own timer turns into a Timeout; the poll deadline around it still cancels.
    try:
        async with asyncio.timeout(limit):
            return await _try(strategy, ctx)
    except TimeoutError:
        raise Timeout(f"{strategy.source_label} source did not answer within {limit:g} s (--web-timeout)") from None


async def run_pipeline(spec: ProviderSpec, ctx: FetchContext, mode: str = "auto", *,
                       web_timeout: float | None = None) -> FetchOutcome:
    """Run the strategies of `mode` within the provider's poll deadline.

    `web_timeout` (the CLI's `--web-timeout`) bounds each web strategy on its own, within that deadline.
    """
    strategies = spec.strategies_for(mode)
    outcome = FetchOutcome(snapshot=None, source=None, error=None)
    errors: list[ProviderError] = []
    started = time.monotonic()
    ctx.deadline = started + spec.poll_deadline_seconds
    current: Strategy | None = None
    t0 = started
    deadline_token = set_poll_deadline(ctx.deadline)  # every HTTP timeout is clipped to it
    try:
        async with asyncio.timeout(spec.poll_deadline_seconds):
            for strategy in strategies:
                current = strategy
                t0 = time.monotonic()
                try:
                    if web_timeout is not None and strategy.kind == "web":
                        snapshot = await _try_web(strategy, ctx, web_timeout)
                    else:
                        snapshot = await _try(strategy, ctx)
                except ProviderError as exc:
                    error: ProviderError = exc
                except (TimeoutError, asyncio.CancelledError):
                    raise
                except ValidationError:
                    # The strategy built a model from values it cannot hold (NaN, wrong types): the
                    # upstream sent something we cannot read.
                    log.debug("%s/%s produced an invalid snapshot", spec.id, strategy.id, exc_info=True)
                    error = ParseError(f"{spec.display_name} answered with values codexbard cannot read")
                except Exception as exc:  # a bug in a strategy must not take the daemon down
                    log.debug("%s/%s raised unexpectedly", spec.id, strategy.id, exc_info=True)
                    error = Internal(f"unexpected error in {spec.id} {strategy.id}: {type(exc).__name__}")
                else:
                    outcome.attempts.append(
                        Attempt(strategy.id, strategy.kind, strategy.source_label, True, None, None,
                                (time.monotonic() - t0) * 1000)
                    )
                    outcome.snapshot = snapshot
                    outcome.source = strategy.source_label
                    break
                outcome.attempts.append(
                    Attempt(strategy.id, strategy.kind, strategy.source_label, False, error.kind,
                            error.message, (time.monotonic() - t0) * 1000)
                )
                errors.append(error)
                current = None
                if not strategy.should_fall_back(error):
                    break
    except TimeoutError:
        late = Timeout(f"{spec.display_name} did not finish within {spec.poll_deadline_seconds:g} s")
        if current is not None:  # the strategy the deadline cut off is an attempt too
            outcome.attempts.append(
                Attempt(current.id, current.kind, current.source_label, False, late.kind, late.message,
                        (time.monotonic() - t0) * 1000)
            )
        errors.append(late)
    finally:
        reset_poll_deadline(deadline_token)
    outcome.duration_ms = (time.monotonic() - started) * 1000
    if outcome.snapshot is None:
        outcome.error = _pick_error(errors) if errors else NotConfigured(
            f"{spec.display_name} has no strategy for source '{mode}'"
        )
    return outcome
