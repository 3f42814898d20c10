"""create_app owns the lifespan: the daemon's jobs start with the app and the daemon stops with it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from codexbard.api.app import create_app
from tests.api.test_app import BASE, make_daemon


async def test_lifespan_starts_and_stops_the_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = make_daemon(tmp_path)
    stops: list[float] = []
    real_stop = daemon.stop

    async def stop(timeout: float = 5.0) -> None:
        stops.append(timeout)
        await real_stop(timeout=timeout)

    monkeypatch.setattr(daemon, "stop", stop)
    app = create_app(daemon, stop_timeout=1.5)
    assert daemon.state.get("alpha").next_run_at is None  # type: ignore[union-attr]
    async with app.router.lifespan_context(app):
        assert daemon.state.get("alpha").next_run_at is not None  # type: ignore[union-attr]
        assert daemon.state.get("gamma").next_run_at is None  # type: ignore[union-attr]  # not enabled
        assert stops == []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE,
                                     headers={"host": "127.0.0.1:8765"}) as client:
            assert (await client.get("/health")).json()["providersEnabled"] == 2
    assert stops == [1.5]


async def test_lifespan_stops_the_daemon_when_the_app_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    daemon = make_daemon(tmp_path)
    stops: list[float] = []
    real_stop = daemon.stop

    async def stop(timeout: float = 5.0) -> None:
        stops.append(timeout)
        await real_stop(timeout=timeout)

    monkeypatch.setattr(daemon, "stop", stop)
    app = create_app(daemon)
    with pytest.raises(RuntimeError, match="boom"):
        async with app.router.lifespan_context(app):
            raise RuntimeError("boom")
    assert stops == [4.0]
