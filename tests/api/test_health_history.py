"""`GET /health` reporting a store that cannot write, and `GET /history` refusing out-of-range input (issue 6, 12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codexbard import __version__
from codexbard.daemon import Daemon
from codexbard.host.clock import FixedClock
from codexbard.state import AccountState, State
from codexbard.store import Store, opening
from tests.api.test_app import client, make_daemon
from tests.fakes import ScriptedStrategy, fake_spec, make_runtime, snapshot
from tests.helpers import NOW


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("provider=alpha&until=0001-01-01", "'until' is out of range"),
        ("provider=alpha&since=9999-12-31T23:59:59-01:00", "'since' is out of range"),
        ("provider=alpha&until=9999-12-31T23:59:59-01:00", "'until' is out of range"),
        ("provider=alpha&since=0001-01-01T00:00:00%2B01:00", "'since' is out of range"),
        ("provider=alpha&step=99999999999999999999999999", "'step' must be between 1 and 31536000 seconds"),
        ("provider=alpha&step=" + "9" * 5000, "'step' must be a whole number of seconds"),
    ],
)
async def test_history_out_of_range_values_are_400_json(tmp_path: Path, query: str, message: str) -> None:
    daemon = make_daemon(tmp_path)
    async with client(daemon) as c:
        r = await c.get(f"/history?{query}")
    assert r.status_code == 400
    assert r.json() == {"error": message}
    await daemon.stop(timeout=1)


async def store_daemon(tmp_path: Path) -> tuple[Daemon, Path]:
    runtime = make_runtime(tmp_path, [fake_spec("alpha", ScriptedStrategy([snapshot(40.0)]))])
    path = tmp_path / "data" / "codexbard.db"
    store = await Store.open(path, clock=FixedClock(NOW))
    state = State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)
    return Daemon(runtime, store, state), path


async def test_health_is_ok_with_a_writable_store(tmp_path: Path) -> None:
    daemon, _ = await store_daemon(tmp_path)
    async with client(daemon) as c:
        body = (await c.get("/health")).json()
    assert body == {"status": "ok", "version": __version__, "uptimeSeconds": body["uptimeSeconds"],
                    "providersEnabled": 1}
    await daemon.stop(timeout=1)


@pytest.mark.parametrize(
    ("unwritable", "reason"),
    [("file", "the database file is read-only"), ("dir", "the data directory is not writable")],
)
async def test_health_is_degraded_when_the_store_cannot_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              unwritable: str, reason: str) -> None:
    daemon, path = await store_daemon(tmp_path)
    blocked = path if unwritable == "file" else path.parent
    monkeypatch.setattr(opening, "writable", lambda p: p != blocked)
    async with client(daemon) as c:
        r = await c.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body == {"status": "degraded", "version": __version__, "uptimeSeconds": body["uptimeSeconds"],
                    "providersEnabled": 1, "store": {"writable": False, "reason": reason}}
    assert str(path) not in r.text  # /health is open to anyone who may connect: no file paths
    await daemon.stop(timeout=1)
