"""Daemon.open: stored data is served at once after a restart, marked stale until re-polled."""

from __future__ import annotations

from pathlib import Path

from codexbard.daemon import Daemon
from codexbard.errors import Unavailable
from tests.fakes import ScriptedStrategy, fake_spec, make_runtime, snapshot


async def test_restart_serves_stored_data_as_stale(tmp_path: Path) -> None:
    first = make_runtime(tmp_path, [fake_spec("alpha", ScriptedStrategy([snapshot(33.0)]))])
    daemon = await Daemon.open(first)
    await daemon.scheduler.poll("alpha")
    fetched_at = daemon.state.get("alpha").fetched_at  # type: ignore[union-attr]
    await daemon.stop(timeout=2)

    strategy = ScriptedStrategy([Unavailable("down (HTTP 503)")])
    second = make_runtime(tmp_path, [fake_spec("alpha", strategy)])
    restarted = await Daemon.open(second)
    payload = restarted.payloads(restarted.state.enabled())[0]
    assert payload.stale is True and payload.error is None
    assert payload.usage is not None and payload.usage.primary is not None
    assert payload.usage.primary.used_percent == 33.0
    assert payload.fetched_at == fetched_at
    await restarted.scheduler.poll("alpha")
    payload = restarted.payloads(restarted.state.enabled())[0]
    # Stale data beside a failure: `error` stays null (API.md), `lastError` says why.
    assert payload.stale is True and payload.error is None
    assert payload.last_error is not None and payload.last_error.kind == "unavailable"
    assert payload.usage is not None and payload.usage.primary is not None
    assert payload.usage.primary.used_percent == 33.0
    assert restarted.state.get("alpha").consecutive_failures == 1  # type: ignore[union-attr]
    await restarted.stop(timeout=2)
    assert strategy.calls == 1
