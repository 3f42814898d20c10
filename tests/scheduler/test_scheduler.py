"""The poll scheduler: state updates, backoff, single flight, concurrency cap, refresh, shutdown."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from codexbard.errors import AuthRequired, RateLimited, Unavailable
from codexbard.models import FetchError, ProviderStatus
from codexbard.scheduler import PollScheduler
from codexbard.state import AccountState, State
from codexbard.status.source import StatusSource
from codexbard.store import PollRecord
from tests.fakes import ScriptedStrategy, fake_spec, make_runtime, snapshot


def build(tmp_path: Path, strategies: dict[str, ScriptedStrategy], toml: str = "", **kwargs: Any
          ) -> tuple[PollScheduler, State]:
    specs = [fake_spec(pid, s, **kwargs) for pid, s in strategies.items()]
    runtime = make_runtime(tmp_path, specs, toml)
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    return PollScheduler(runtime, state, None, max_concurrent=runtime.settings.max_concurrent_polls), state


class RecordingStore:
    """Records writes; can be told to fail like a full disk."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    async def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))
        if self.fail:
            raise OSError("database or disk is full")

    async def record_poll(self, poll: PollRecord) -> int:
        await self._record("record_poll", poll)
        return 0 if poll.ok else 1

    async def save_status(self, *args: Any) -> None:
        await self._record("save_status", *args)

    async def run_retention(self, now: datetime | None = None) -> dict[str, int]:
        return {}


async def test_success_then_failure_keeps_last_good_and_marks_stale(tmp_path: Path) -> None:
    strategy = ScriptedStrategy([snapshot(40.0), Unavailable("upstream down (HTTP 503)")])
    scheduler, state = build(tmp_path, {"alpha": strategy})
    account = state.get("alpha")
    assert account is not None
    await scheduler.poll("alpha")
    assert account.snapshot is not None and account.snapshot.primary is not None
    assert account.snapshot.primary.used_percent == 40.0
    assert account.stale is False and account.error is None and account.source == "api"
    version = state.version
    await scheduler.poll("alpha")
    assert account.snapshot.primary.used_percent == 40.0
    assert account.stale is True
    assert account.error == FetchError(kind="unavailable", message="upstream down (HTTP 503)", code=1)
    assert account.consecutive_failures == 1
    assert state.version == version + 1
    assert account.next_run_at is not None and account.last_attempt_at is not None
    # 300 s default interval, first failure doubles it
    assert (account.next_run_at - account.last_attempt_at) == timedelta(seconds=600)


async def test_rate_limit_moves_next_run_and_blocks_refresh(tmp_path: Path) -> None:
    strategy = ScriptedStrategy([RateLimited("slow down", retry_after=1200.0), snapshot(1.0)])
    scheduler, state = build(tmp_path, {"alpha": strategy})
    await scheduler.poll("alpha")
    account = state.get("alpha")
    assert account is not None and account.error is not None
    assert account.error.kind == "rate_limited"
    assert account.rate_limited_until is not None and account.last_attempt_at is not None
    assert (account.rate_limited_until - account.last_attempt_at) == timedelta(seconds=1200)
    await scheduler.refresh(["alpha"], timeout=1)
    assert strategy.calls == 1  # inside the back-off: not polled again


async def test_refresh_debounces_recent_success(tmp_path: Path) -> None:
    strategy = ScriptedStrategy([snapshot(5.0)])
    scheduler, _ = build(tmp_path, {"alpha": strategy})
    await scheduler.refresh(["alpha"], timeout=1)
    await scheduler.refresh(["alpha"], timeout=1)
    assert strategy.calls == 1


async def test_refresh_floor_blocks_a_second_attempt(tmp_path: Path) -> None:
    strategy = ScriptedStrategy([AuthRequired("expired")])
    scheduler, _ = build(tmp_path, {"alpha": strategy}, refresh_floor=300)
    await scheduler.refresh(["alpha"], timeout=1)
    await scheduler.refresh(["alpha"], timeout=1)
    assert strategy.calls == 1


async def test_refresh_after_auth_failure_waits_for_changed_credentials(tmp_path: Path) -> None:
    # Changed deliberately (issue 6): a refresh no longer skips the credential back-off; it polls again
    # only once the credentials change.
    strategy = ScriptedStrategy([AuthRequired("expired"), snapshot(3.0)])
    scheduler, state = build(tmp_path, {"alpha": strategy})
    await scheduler.refresh(["alpha"], timeout=1)
    await scheduler.refresh(["alpha"], timeout=1)
    assert strategy.calls == 1
    (scheduler.runtime.paths.config_dir / "secrets.toml").write_text('"alpha:api_key" = "new"\n')
    await scheduler.refresh(["alpha"], timeout=1)
    account = state.get("alpha")
    assert strategy.calls == 2 and account is not None and account.error is None


async def test_concurrent_polls_of_one_account_share_one_fetch(tmp_path: Path) -> None:
    strategy = ScriptedStrategy([snapshot(1.0)], delay=0.2)
    scheduler, _ = build(tmp_path, {"alpha": strategy})
    await asyncio.gather(scheduler.poll("alpha"), scheduler.poll("alpha"), scheduler.refresh(["alpha"], 1))
    assert strategy.calls == 1


async def test_concurrency_cap(tmp_path: Path) -> None:
    strategies = {f"p{i}": ScriptedStrategy([snapshot(1.0)], delay=0.1) for i in range(6)}
    specs_toml = "max_concurrent_polls = 2\n"
    scheduler, _ = build(tmp_path, strategies, specs_toml)
    started = time.monotonic()
    await asyncio.gather(*(scheduler.poll(k) for k in strategies))
    elapsed = time.monotonic() - started
    assert all(s.calls == 1 for s in strategies.values())
    assert elapsed >= 0.29  # 6 polls of 0.1 s, two at a time


async def test_refresh_waits_at_most_the_timeout(tmp_path: Path) -> None:
    strategy = ScriptedStrategy([snapshot(1.0)], delay=2.0)
    scheduler, state = build(tmp_path, {"alpha": strategy})
    started = time.monotonic()
    await scheduler.refresh(["alpha"], timeout=0.2)
    assert time.monotonic() - started < 1.0
    account = state.get("alpha")
    assert account is not None and account.snapshot is None  # still running in the background
    await scheduler.shutdown(timeout=1)


async def test_store_failures_do_not_break_polling(tmp_path: Path) -> None:
    strategy = ScriptedStrategy([snapshot(12.0)])
    specs = [fake_spec("alpha", strategy)]
    runtime = make_runtime(tmp_path, specs)
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    store = RecordingStore(fail=True)
    scheduler = PollScheduler(runtime, state, store)
    await scheduler.poll("alpha")
    account = state.get("alpha")
    assert account is not None and account.snapshot is not None and account.error is None
    assert [c[0] for c in store.calls] == ["record_poll"]  # one transaction per poll


async def test_poll_log_records_attempts(tmp_path: Path) -> None:
    strategy = ScriptedStrategy([Unavailable("boom (HTTP 500)")])
    runtime = make_runtime(tmp_path, [fake_spec("alpha", strategy)])
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    store = RecordingStore()
    scheduler = PollScheduler(runtime, state, store)
    await scheduler.poll("alpha")
    names = [c[0] for c in store.calls]
    assert names == ["record_poll"]
    poll = store.calls[0][1][0]
    assert (poll.provider, poll.account, poll.ok, poll.snapshot) == ("alpha", None, False, None)
    assert poll.error == FetchError(kind="unavailable", message="boom (HTTP 500)", code=1)
    assert poll.consecutive_failures == 1
    assert poll.attempts[0]["strategy"] == "api" and poll.attempts[0]["errorKind"] == "unavailable"


async def test_start_staggers_first_runs_and_shutdown_is_prompt(tmp_path: Path) -> None:
    strategies = {f"p{i}": ScriptedStrategy([snapshot(1.0)], delay=30) for i in range(3)}
    scheduler, state = build(tmp_path, strategies)
    scheduler.start()
    runs = [state.get(k).next_run_at for k in strategies]  # type: ignore[union-attr]
    assert all(r is not None for r in runs)
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(runs)]  # type: ignore[operator]
    assert gaps == [pytest.approx(0.25, abs=0.01)] * 2
    await asyncio.sleep(0.7)  # all three polls are now in flight, each sleeping 30 s
    assert sum(s.running for s in strategies.values()) == 3
    started = time.monotonic()
    await scheduler.shutdown(timeout=3)
    assert time.monotonic() - started < 3.5
    assert sum(s.running for s in strategies.values()) == 0


async def test_disabled_accounts_get_no_job_until_detected(tmp_path: Path) -> None:
    strategy = ScriptedStrategy([snapshot(1.0)], available=False)
    scheduler, state = build(tmp_path, {"alpha": strategy})
    account = state.get("alpha")
    assert account is not None and not account.enabled
    scheduler.start()
    assert account.next_run_at is None
    strategy.is_available = True
    await scheduler.jobs.detect_job()
    assert account.enabled and account.next_run_at is not None
    await scheduler.shutdown(timeout=1)


async def test_status_job_stores_results(tmp_path: Path) -> None:
    status = ProviderStatus(kind="statuspage", indicator="minor", description="Degraded", url="https://s.example")

    class Poller:
        def __init__(self) -> None:
            self.seen: dict[str, StatusSource] = {}

        async def poll(self, sources: dict[str, StatusSource]) -> dict[str, ProviderStatus]:
            self.seen = sources
            return {"alpha": status}

    source = StatusSource(kind="statuspage", url="https://s.example")
    runtime = make_runtime(tmp_path, [fake_spec("alpha", ScriptedStrategy([snapshot(1.0)]), status=source),
                                      fake_spec("beta", ScriptedStrategy([snapshot(1.0)]),
                                                status=StatusSource(kind="link", url="https://l.example"))])
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    store = RecordingStore()
    poller = Poller()
    scheduler = PollScheduler(runtime, state, store, status_poller=poller)
    await scheduler.jobs.status_job()
    assert list(poller.seen) == ["alpha"]  # link-only sources are never polled
    assert state.statuses == {"alpha": status}
    assert store.calls[0][0] == "save_status"


async def test_changed_credentials_end_an_auth_backoff_at_once(tmp_path: Path) -> None:
    strategy = ScriptedStrategy([AuthRequired("key rejected (HTTP 401)"), snapshot(9.0)])
    scheduler, state = build(tmp_path, {"alpha": strategy})
    scheduler.start()
    await scheduler.poll("alpha")
    account = state.get("alpha")
    assert account is not None and account.error is not None and account.next_run_at is not None
    assert account.last_attempt_at is not None
    assert (account.next_run_at - account.last_attempt_at) == timedelta(seconds=3600)
    await scheduler.jobs.detect_job()  # nothing changed: the hour-long wait stands
    assert (account.next_run_at - account.last_attempt_at) == timedelta(seconds=3600)
    secrets = scheduler.runtime.paths.config_dir / "secrets.toml"
    secrets.write_text('"alpha:api_key" = "new"\n')  # what `codexbard config set-secret` rewrites
    await scheduler.jobs.detect_job()
    assert account.next_run_at <= datetime.now(account.next_run_at.tzinfo) + timedelta(seconds=1)
    await scheduler.shutdown(timeout=1)
