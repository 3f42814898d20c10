"""The app `codexbard serve` runs: hot routes without the router, the router on first need, one lifespan."""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from codexbard.api.entry import DaemonApp
from codexbard.daemon import Daemon
from tests.api.test_app import BASE, make_daemon


def client(app: DaemonApp, host: str = "127.0.0.1:8765") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE, headers={"host": host})


@pytest.fixture
async def daemon(tmp_path: Path) -> Any:
    d = make_daemon(tmp_path)
    yield d
    await d.stop(timeout=1)


async def test_usage_and_health_never_load_the_router(daemon: Daemon) -> None:
    app = DaemonApp(daemon)
    async with client(app) as c:
        usage = await c.get("/usage")
        health = await c.get("/health")
        flat = await c.get("/usage?format=flat")
    assert usage.status_code == 200 and [p["provider"] for p in usage.json()] == ["alpha", "beta"]
    assert health.json()["status"] == "ok"
    assert flat.status_code == 200 and set(flat.json()) == {"alpha", "beta"}
    assert app.router_loaded is False


async def test_other_routes_load_the_router_once_and_are_served(daemon: Daemon) -> None:
    app = DaemonApp(daemon)
    async with client(app) as c:
        first, second = await asyncio.gather(c.get("/providers"), c.get("/status"))
        one = await c.get("/usage/alpha")
        missing = await c.get("/nowhere")
    assert app.router_loaded is True
    assert first.status_code == 200 and [p["id"] for p in first.json()] == ["alpha", "beta", "gamma"]
    assert second.status_code == 200 and [s["provider"] for s in second.json()] == ["alpha"]
    assert one.json()["provider"] == "alpha"
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}


async def test_the_router_is_built_off_the_event_loop(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    builders: list[str] = []
    original = DaemonApp._build_router

    def recording(self: DaemonApp) -> Any:
        builders.append(threading.current_thread().name)
        return original(self)

    monkeypatch.setattr(DaemonApp, "_build_router", recording)
    app = DaemonApp(daemon)
    async with client(app) as c:
        response = await c.get("/providers")
    assert response.status_code == 200
    assert len(builders) == 1 and builders[0] != threading.current_thread().name


async def test_the_real_server_freezes_its_long_lived_heap_after_startup_and_the_router_build(
    daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append("router" if app.router_loaded else "startup"))
    sent: list[dict[str, Any]] = []
    messages = [{"type": "lifespan.startup"}]
    shutdown = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await shutdown.wait()
        return {"type": "lifespan.shutdown"}

    started = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        started.set()

    app = DaemonApp(daemon, freeze_heap=True)
    lifespan = asyncio.create_task(app({"type": "lifespan"}, receive, send))
    await asyncio.wait_for(started.wait(), 10)
    assert frozen == ["startup"]
    async with client(app) as c:
        await c.get("/usage")
        assert frozen == ["startup"]  # hot routes build nothing
        await c.get("/providers")
    shutdown.set()
    await lifespan
    assert frozen == ["startup", "router"]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    plain: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: plain.append("frozen"))
    async with client(DaemonApp(daemon)) as c:
        await c.get("/providers")
    assert plain == []  # tests and embedders build DaemonApp without freezing their heap


async def test_the_guard_stands_before_the_router(daemon: Daemon) -> None:
    app = DaemonApp(daemon)
    async with client(app, host="evil.example") as c:
        refused = await c.get("/providers")
    assert refused.status_code == 403
    assert app.router_loaded is False


async def test_lifespan_runs_the_daemon_and_reports_a_failed_start(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = make_daemon(tmp_path)
    calls: list[str] = []

    def boom() -> None:
        calls.append("start")
        raise RuntimeError("the scheduler could not start")

    async def stop(timeout: float) -> None:
        calls.append(f"stop {timeout}")

    monkeypatch.setattr(daemon, "start", boom)
    monkeypatch.setattr(daemon, "stop", stop)
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "lifespan.startup"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with pytest.raises(RuntimeError, match="could not start"):
        await DaemonApp(daemon, stop_timeout=1.5)({"type": "lifespan"}, receive, send)
    assert calls == ["start", "stop 1.5"]
    assert [m["type"] for m in sent] == ["lifespan.startup.failed"]
    assert "the scheduler could not start" in sent[0]["message"]


async def test_lifespan_starts_then_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = make_daemon(tmp_path)
    calls: list[str] = []
    monkeypatch.setattr(daemon, "start", lambda: calls.append("start"))

    async def stop(timeout: float) -> None:
        calls.append("stop")

    monkeypatch.setattr(daemon, "stop", stop)
    sent: list[str] = []
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await DaemonApp(daemon)({"type": "lifespan"}, receive, send)
    assert calls == ["start", "stop"]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_serving_usage_does_not_import_fastapi() -> None:
    # The hot path's modules, imported alone, leave FastAPI out (about 7 MB the idle daemon never needs).
    code = "import sys, codexbard.api.entry, codexbard.serve; print('fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
