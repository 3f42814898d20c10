"""Fixtures for the store tests: a database path in tmp_path and an open Store on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codexbard.host.clock import FixedClock
from codexbard.store import Store
from tests.store.builders import NOW


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where the database goes (its directory does not exist yet)."""
    return tmp_path / "data" / "codexbard" / "codexbard.db"


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing at NOW."""
    return FixedClock(NOW)


@pytest.fixture
async def store(db_path: Path, clock: FixedClock) -> AsyncIterator[Store]:
    """An open Store, closed after the test."""
    opened = await Store.open(db_path, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
