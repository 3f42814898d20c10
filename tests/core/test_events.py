"""The event hub: fan-out, bounded queues that drop the oldest, unsubscribe, many subscribers, the log."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from codexbard.events import AccountFacts, Event, EventHub, describe, log_events
from codexbard.models import FetchError, ProviderStatus

AT = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)


def facts(error: FetchError | None = None, *, enabled: bool = True, next_run_at: datetime | None = None
          ) -> AccountFacts:
    return AccountFacts(enabled=enabled, snapshot=None, source=None, fetched_at=None, error=error, stale=False,
                        last_attempt_at=None, last_success_at=None, consecutive_failures=0,
                        next_run_at=next_run_at, rate_limited_until=None)


def event(n: int, kind: str = "success") -> Event:
    return Event(kind=kind, key=f"p{n}", before=None, after=facts(), at=AT, version=n)  # type: ignore[arg-type]


def test_every_subscriber_gets_every_event_in_order() -> None:
    hub = EventHub()
    first, second = hub.subscribe("a"), hub.subscribe("b")
    for n in range(3):
        hub.publish(event(n))
    assert [e.version for e in first.drain()] == [0, 1, 2]
    assert [e.version for e in second.drain()] == [0, 1, 2]
    assert hub.published == 3 and first.dropped == 0


def test_a_slow_subscriber_loses_the_oldest_events_and_counts_them() -> None:
    hub = EventHub()
    slow = hub.subscribe("slow", maxsize=3)
    fast = hub.subscribe("fast", maxsize=100)
    for n in range(10):
        hub.publish(event(n))
    assert [e.version for e in slow.drain()] == [7, 8, 9]
    assert slow.dropped == 7
    assert len(fast) == 10 and fast.dropped == 0


def test_unsubscribed_queues_get_nothing_more() -> None:
    hub = EventHub()
    gone, kept = hub.subscribe("gone"), hub.subscribe("kept")
    hub.publish(event(1))
    gone.close()
    gone.close()  # twice is harmless
    hub.publish(event(2))
    assert hub.subscribers == 1
    assert [e.version for e in gone.drain()] == [1]
    assert [e.version for e in kept.drain()] == [1, 2]


def test_many_subscribers() -> None:
    hub = EventHub()
    subscriptions = [hub.subscribe(f"s{i}", maxsize=5) for i in range(500)]
    for n in range(8):
        hub.publish(event(n))
    assert {tuple(e.version for e in s.drain()) for s in subscriptions} == {(3, 4, 5, 6, 7)}
    assert {s.dropped for s in subscriptions} == {3}


def test_a_queue_holds_at_least_one_event() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        EventHub().subscribe("none", maxsize=0)


async def test_get_waits_for_the_next_event_and_ends_on_close() -> None:
    hub = EventHub()
    subscription = hub.subscribe("waiter")
    waiter = asyncio.create_task(subscription.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    hub.publish(event(4))
    received = await asyncio.wait_for(waiter, 1)
    assert received is not None and received.version == 4
    hub.publish(event(5))
    hub.close()
    assert [e.version async for e in subscription] == [5]
    assert await subscription.get() is None


def test_publish_never_blocks_on_a_subscriber_that_never_reads() -> None:
    hub = EventHub()
    hub.subscribe("never-reads", maxsize=1)
    for n in range(10_000):
        hub.publish(event(n))
    assert hub.published == 10_000


def test_describe_logs_changes_at_info_and_repeats_at_debug() -> None:
    down = FetchError.of("unavailable", "Alpha is down (HTTP 503)")
    later = AT + timedelta(seconds=600)
    first = Event("failure", "alpha", facts(), facts(down, next_run_at=later), AT, 1)
    again = Event("failure", "alpha", facts(down), facts(down, next_run_at=later), AT, 2, manual=True)
    back = Event("success", "alpha", facts(down), facts(), AT, 3)
    quiet = Event("success", "alpha", facts(), facts(), AT, 4)
    enabled = Event("enable", "alpha", facts(enabled=False), facts(), AT, 5)
    status = Event("status", "alpha", None, ProviderStatus(kind="statuspage", indicator="major", url="https://s"),
                   AT, 6)
    assert [describe(e) for e in (first, again, back, quiet, enabled, status)] == [
        (logging.INFO, "alpha: unavailable: Alpha is down (HTTP 503) (next try in 600 s)"),
        (logging.DEBUG, "alpha: unavailable: Alpha is down (HTTP 503) (next try in 600 s) [refresh]"),
        (logging.INFO, "alpha: recovered (was unavailable)"),
        (logging.DEBUG, "alpha: polled"),
        (logging.INFO, "alpha: credentials detected; polling from now on"),
        (logging.INFO, "alpha: service status major"),
    ]


async def test_the_log_subscriber_writes_state_changes_at_info(caplog: pytest.LogCaptureFixture) -> None:
    hub = EventHub()
    task = asyncio.create_task(log_events(hub.subscribe("log")))
    down = FetchError.of("auth_required", "Alpha key rejected (HTTP 401)")
    hub.publish(Event("failure", "alpha", facts(), facts(down), AT, 1))
    hub.publish(Event("success", "alpha", facts(down), facts(), AT, 2))
    with caplog.at_level(logging.INFO, logger="codexbard.events"):
        await asyncio.sleep(0.01)
        hub.close()
        await asyncio.wait_for(task, 1)
    assert [r.getMessage() for r in caplog.records] == [
        "alpha: auth_required: Alpha key rejected (HTTP 401)",
        "alpha: recovered (was auth_required)",
    ]
