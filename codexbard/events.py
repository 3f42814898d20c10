"""State-change events and the hub that fans them out to subscribers.

Every account transition of `State` (success, failure, restore, enable/disable) and every service-status
change produces one `Event` with the payload-relevant facts before and after. `EventHub.publish` hands it to
each subscriber's bounded queue and never blocks or fails: a subscriber that does not keep up loses its
oldest events, and its `dropped` counter says how many. Subscribers: the log (state changes at info), and
later the SSE stream, alerts and MQTT. The API's response cache keys on `State.version`, bumped by the
same transitions.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from codexbard.models import FetchError, ProviderStatus, UsageSnapshot

log = logging.getLogger(__name__)

EventKind = Literal["success", "failure", "restore", "enable", "disable", "status", "ingest"]

DEFAULT_QUEUE_SIZE: Final = 256


@dataclass(frozen=True)
class AccountFacts:
    """What a payload shows of one account at one instant (no secrets: snapshots and messages are clean)."""

    enabled: bool
    snapshot: UsageSnapshot | None
    source: str | None
    fetched_at: datetime | None
    error: FetchError | None
    stale: bool
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    next_run_at: datetime | None
    rate_limited_until: datetime | None

    @property
    def error_kind(self) -> str | None:
        """The error's kind, or None when the last poll succeeded."""
        return self.error.kind if self.error is not None else None


Facts = AccountFacts | ProviderStatus


@dataclass(frozen=True)
class Event:
    """One state transition: `key` is `<provider>[:<account>]` (a provider id for `status`)."""

    kind: EventKind
    key: str
    before: Facts | None
    after: Facts | None
    at: datetime
    version: int  # State.version after the transition
    manual: bool = False  # the transition came from a user-initiated refresh

    def changed(self) -> bool:
        """Whether before and after differ."""
        return self.before != self.after


class Subscription:
    """One subscriber's bounded queue; the oldest event goes when it is full (counted in `dropped`)."""

    def __init__(self, hub: EventHub, maxsize: int, name: str) -> None:
        if maxsize < 1:
            raise ValueError("a subscription queue holds at least one event")
        self.name = name
        self.maxsize = maxsize
        self.dropped = 0
        self.closed = False
        self._hub = hub
        self._queue: deque[Event] = deque()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queue)

    def offer(self, event: Event) -> None:
        """Queue an event without blocking; drop the oldest one when full."""
        if self.closed:
            return
        if len(self._queue) >= self.maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._ready.set()

    def get_nowait(self) -> Event | None:
        """The oldest queued event, or None when the queue is empty."""
        if not self._queue:
            self._ready.clear()
            return None
        event = self._queue.popleft()
        if not self._queue:
            self._ready.clear()
        return event

    def drain(self) -> list[Event]:
        """Every queued event, oldest first, emptying the queue."""
        events = list(self._queue)
        self._queue.clear()
        self._ready.clear()
        return events

    async def get(self) -> Event | None:
        """Wait for the next event; None once the subscription is closed and empty."""
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self.closed:
                return None
            await self._ready.wait()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while (event := await self.get()) is not None:
            yield event

    def close(self) -> None:
        """Unsubscribe: no further events arrive; a waiting `get` returns what is queued, then None."""
        self._hub.unsubscribe(self)

    def _closed_by_hub(self) -> None:
        self.closed = True
        self._ready.set()


class EventHub:
    """Fans each published event out to every subscription; publishing never blocks."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.published = 0

    def subscribe(self, name: str = "", maxsize: int = DEFAULT_QUEUE_SIZE) -> Subscription:
        """Add a subscriber with a queue of at most `maxsize` events."""
        subscription = Subscription(self, maxsize, name)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Remove a subscriber (doing it twice is harmless)."""
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
        subscription._closed_by_hub()

    @property
    def subscribers(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscriptions)

    def publish(self, event: Event) -> None:
        """Offer the event to every subscriber; never raises, never waits."""
        self.published += 1
        for subscription in tuple(self._subscriptions):
            try:
                subscription.offer(event)
            except Exception:  # a subscriber must never break a transition
                log.exception("event subscriber %s failed", subscription.name or "?")

    def close(self) -> None:
        """Close every subscription (at shutdown)."""
        for subscription in tuple(self._subscriptions):
            self.unsubscribe(subscription)


def describe(event: Event) -> tuple[int, str] | None:
    """The log level and line for an event, or None when it is not worth a line."""
    before, after = event.before, event.after
    if event.kind == "status":
        if not isinstance(after, ProviderStatus):
            return None
        if isinstance(before, ProviderStatus) and before.indicator == after.indicator:
            return None
        return logging.INFO, f"{event.key}: service status {after.indicator or 'unknown'}"
    if not isinstance(after, AccountFacts):
        return None
    previous = before if isinstance(before, AccountFacts) else None
    if event.kind == "enable":
        return logging.INFO, f"{event.key}: credentials detected; polling from now on"
    if event.kind == "disable":
        return logging.INFO, f"{event.key}: disabled"
    if event.kind == "restore":
        return logging.DEBUG, f"{event.key}: restored from the database"
    if event.kind == "ingest":
        return logging.DEBUG, f"{event.key}: updated from a pushed source ({after.source})"
    was = previous.error_kind if previous is not None else None
    if event.kind == "success":
        if was is not None:
            return logging.INFO, f"{event.key}: recovered (was {was})"
        return logging.DEBUG, f"{event.key}: polled"
    if after.error is None:
        return None
    level = logging.INFO if after.error.kind != was else logging.DEBUG
    wait = ""
    if after.next_run_at is not None:
        wait = f" (next try in {max(0.0, (after.next_run_at - event.at).total_seconds()):.0f} s)"
    manual = " [refresh]" if event.manual else ""
    return level, f"{event.key}: {after.error.kind}: {after.error.message}{wait}{manual}"


async def log_events(subscription: Subscription, logger: logging.Logger | None = None) -> None:
    """Write each event worth a line to the log until the subscription closes (a daemon task)."""
    target = logger or log
    async for event in subscription:
        line = describe(event)
        if line is not None:
            target.log(line[0], "%s", line[1])
    if subscription.dropped:
        target.warning("event log fell behind; %d event(s) were not logged", subscription.dropped)
