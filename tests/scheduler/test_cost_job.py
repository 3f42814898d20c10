"""The cost job: scans one at a time, keeps errors without crashing, is scheduled at start and every interval."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import pytest

from codexbard.config import CostConfig
from codexbard.cost.roots import discover_roots
from codexbard.cost.service import STANDARD_QUERIES, render_query, snapshot_of
from codexbard.cost.worker import WORKER_NICENESS, ProcessScanRunner, ScanReply, ScanRequest, ThreadScanRunner
from codexbard.host.clock import FixedClock
from codexbard.models import CostSummary
from codexbard.scheduler.cost import CostJob
from codexbard.scheduler.jobs import Jobs
from codexbard.state import State
from codexbard.store import Store
from tests.cost.corpus import NOW, TZ, cost_env, expected_blocks, write_corpus
from tests.fakes import make_runtime


class GatedRunner:
    """A runner that waits for a gate and answers from a script (replies or exceptions)."""

    def __init__(self, answers: list[ScanReply | Exception]) -> None:
        self.answers = answers
        self.calls = 0
        self.gate = asyncio.Event()
        self.closed = False

    async def __call__(self, request: ScanRequest) -> ScanReply:
        self.calls += 1
        await self.gate.wait()
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def close(self) -> None:
        self.closed = True


def _job(tmp_path: Path, runner: object, state: State | None = None, **config: object) -> CostJob:
    roots = discover_roots(cost_env(tmp_path / "logs"), tmp_path)
    (tmp_path / "logs" / "claude" / "projects").mkdir(parents=True, exist_ok=True)  # a log root: the job scans
    return CostJob(CostConfig(**config), state or State([]), FixedClock(NOW), db_path=tmp_path / "codexbard.db",
                   roots=roots, tz=TZ, runner=runner)  # type: ignore[arg-type]


async def _db(tmp_path: Path) -> Store:
    return await Store.open(tmp_path / "codexbard.db")


async def test_a_second_trigger_joins_the_scan_in_flight(tmp_path: Path) -> None:
    from codexbard.cost.state import ScanState

    runner = GatedRunner([ScanReply(ScanState(), generation=1)])
    job = _job(tmp_path, runner)
    first = asyncio.create_task(job.run())
    second = asyncio.create_task(job.run())
    await asyncio.sleep(0.05)
    assert runner.calls == 1
    runner.gate.set()
    await asyncio.gather(first, second)
    assert runner.calls == 1 and job.scans == 1 and job.generation == 1
    await job.stop()
    assert runner.closed


async def test_errors_are_logged_and_kept_and_the_last_good_aggregate_stays(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_corpus(tmp_path / "logs")
    state = State([])
    store = await _db(tmp_path)
    good = ThreadScanRunner()
    job = _job(tmp_path, good, state)
    await job.run()
    assert job.scans == 1 and job.last_error is None
    summary = state.costs["codex"]
    assert summary.session_tokens == 26500 and summary.last30_days_cost_usd == 0.04585

    bad = GatedRunner([ScanReply(None, error="StoreError: database is locked"), RuntimeError("boom")])
    bad.gate.set()
    job.runner = bad
    with caplog.at_level(logging.ERROR, logger="codexbard.scheduler.cost"):
        await job.run()
        assert job.last_error is not None and job.last_error.message == "StoreError: database is locked"
        assert job.last_error.at == NOW
        await job.run()  # an exception from the runner is kept too, never raised
    assert job.last_error is not None and job.last_error.message == "RuntimeError: boom"
    assert "cost scan failed: StoreError: database is locked" in caplog.text
    assert "cost scan failed: RuntimeError: boom" in caplog.text
    assert state.costs["codex"] == summary  # still served
    status, body, _ = job.response(b"")
    assert status == 200 and b'"sessionTokens":26500' in body
    await job.stop()
    await store.close()


async def test_summaries_are_published_into_the_state_by_provider_id(tmp_path: Path) -> None:
    write_corpus(tmp_path / "logs")
    state = State([])
    store = await _db(tmp_path)
    job = _job(tmp_path, ThreadScanRunner(), state, history_days=2)
    before = state.version
    assert state.costs == {}
    await job.run()
    assert state.version == before + 1
    updated = state.costs["claude"].updated_at
    assert updated is not None
    assert state.costs == {
        "codex": CostSummary(session_tokens=26500, session_cost_usd=0.04585, last30_days_tokens=26500,
                             last30_days_cost_usd=0.04585, updated_at=updated),
        # history_days = 2: the 5th and 6th (Paris); the haiku response on the 4th is outside.
        "claude": CostSummary(session_tokens=3800, session_cost_usd=0.009975, last30_days_tokens=3800,
                              last30_days_cost_usd=0.009975, updated_at=updated),
    }
    await job.stop()
    await store.close()


async def test_restore_serves_the_stored_aggregate_before_the_first_scan(tmp_path: Path) -> None:
    write_corpus(tmp_path / "logs")
    store = await _db(tmp_path)
    first = _job(tmp_path, ThreadScanRunner())
    await first.run()
    _, scanned, _ = first.response(b"provider=codex")
    later = _job(tmp_path, GatedRunner([]))
    await later.restore(store)
    assert later.generation == 1 and later.scans == 0
    assert later.response(b"provider=codex") == (200, scanned, "application/json")
    await first.stop()
    await later.stop()
    await store.close()


async def test_restore_takes_the_time_of_the_last_scan_even_when_it_found_nothing_new(tmp_path: Path) -> None:
    write_corpus(tmp_path / "logs")
    store = await _db(tmp_path)
    first = _job(tmp_path, ThreadScanRunner())
    later = _job(tmp_path, GatedRunner([]))
    try:
        await first.run()
        assert first.snapshot is not None
        found_at = first.snapshot.last_scan_epoch
        await asyncio.sleep(0.01)
        await first.run()  # nothing new: the database gets only the scan time
        assert first.snapshot is not None and first.generation == 1
        rescanned_at = first.snapshot.last_scan_epoch
        assert rescanned_at is not None and found_at is not None and rescanned_at > found_at
        await later.restore(store)
        assert later.snapshot is not None and later.snapshot.last_scan_epoch == rescanned_at
    finally:
        await first.stop()
        await later.stop()
        await store.close()


async def test_the_job_runs_at_start_and_every_interval(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path, [], "[cost]\ninterval_seconds = 120\n")
    clock = FixedClock(NOW)
    job = _job(tmp_path, GatedRunner([]), interval_seconds=120)

    async def poll(key: str) -> None:
        return None

    jobs = Jobs(runtime, State([]), None, clock, poll, None, job)
    jobs.start()
    try:
        aps = jobs.aps.get_job("cost")
        assert aps is not None
        assert aps.func == job.run
        assert aps.trigger.interval.total_seconds() == 120
        assert aps.next_run_time == NOW
        assert aps.max_instances == 1
    finally:
        jobs.stop()
    runtime_off = make_runtime(tmp_path, [], "")
    plain = Jobs(runtime_off, State([]), None, clock, poll)
    plain.start()
    try:
        assert plain.aps.get_job("cost") is None
    finally:
        plain.stop()
    await job.stop()


async def test_a_stopped_job_does_not_scan(tmp_path: Path) -> None:
    runner = GatedRunner([])
    job = _job(tmp_path, runner)
    await job.stop()
    await job.run()
    assert runner.calls == 0


def test_snapshot_is_independent_of_the_state(tmp_path: Path) -> None:
    from codexbard.cost import CostScanner

    write_corpus(tmp_path / "logs")
    roots = discover_roots(cost_env(tmp_path / "logs"), tmp_path)
    state, _ = CostScanner(roots, TZ).scan(None)
    snap = snapshot_of(state)
    assert snap.files == {} and snap.totals == state.totals
    next(iter(state.totals["codex"].values()))[0] += 1
    assert snap.totals != state.totals


async def test_the_worker_renders_the_standard_queries_and_summaries(tmp_path: Path) -> None:
    from codexbard.cost import Pricing
    from codexbard.cost.timeutil import zone

    write_corpus(tmp_path / "logs")
    state = State([])
    store = await _db(tmp_path)
    runner = ThreadScanRunner()
    job = _job(tmp_path, runner, state)
    await job.run()
    reply = job.last_reply
    assert reply is not None and reply.error is None and reply.day == "2026-12-06"
    assert set(reply.rendered) == set(STANDARD_QUERIES)
    for query, body in reply.rendered.items():
        assert job.response(query.encode()) == (200, body, "application/json")
        assert render_query(job.snapshot, query, pricing=Pricing(), tz=zone(TZ), now=NOW) == (200, body)
    assert reply.summaries["codex"]["sessionTokens"] == 26500
    await job.stop()
    await store.close()


async def test_the_process_runner_scans_in_a_child_and_stops_it(tmp_path: Path) -> None:
    write_corpus(tmp_path / "logs")
    store = await _db(tmp_path)
    roots = discover_roots(cost_env(tmp_path / "logs"), tmp_path)
    request = ScanRequest(str(tmp_path / "codexbard.db"), roots, TZ, NOW.timestamp(), {}, 30, STANDARD_QUERIES)
    runner = ProcessScanRunner()
    try:
        first = await runner(request)
        pid = runner.pid
        assert pid is not None
        niceness = os.getpriority(os.PRIO_PROCESS, pid)
        second = await runner(request)
        assert runner.pid == pid  # one long-lived worker
    finally:
        await runner.close()
    assert runner.pid is None
    # background work: the scan gives way to the daemon's API and polls
    assert niceness == min(19, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICENESS)
    assert first.error is None and (first.generation, first.changed_days, first.files) == (1, 3, 2)
    assert (second.generation, second.changed_days) == (1, 0)  # the worker kept the state: nothing read again
    assert [{**b, "updatedAt": None} for b in json.loads(second.rendered[""])] == expected_blocks(None)
    assert second.summaries["claude"]["last30DaysTokens"] == 3950
    assert (await runner(request)).error == "the cost worker is stopped"
    await store.close()


async def test_stopping_during_a_scan_is_quiet(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    runner = GatedRunner([ScanReply(None, error="the cost worker process ended during the scan")])
    job = _job(tmp_path, runner)
    scheduled = asyncio.create_task(job.run())  # as APScheduler runs it
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.DEBUG):
        await job.stop()
        await scheduled  # returns: an abandoned scan is not an error of the job
    assert runner.closed and job.last_error is None and job.scans == 0
    assert "cost scan failed" not in caplog.text


async def test_no_log_directory_means_no_scan_and_no_worker(tmp_path: Path) -> None:
    runner = GatedRunner([])
    roots = discover_roots(cost_env(tmp_path / "nowhere"), tmp_path)
    job = CostJob(CostConfig(), State([]), FixedClock(NOW), db_path=tmp_path / "codexbard.db", roots=roots, tz=TZ,
                  runner=runner)  # type: ignore[arg-type]
    await job.run()
    assert runner.calls == 0
