"""The poll log: one row per poll with its strategy attempts, newest first."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from codexbard.errors import StoreError
from codexbard.models import FetchError
from codexbard.store import Store
from tests.store.builders import NOW, minutes


async def test_poll_log_round_trip_newest_first(store: Store) -> None:
    attempts: list[dict[str, object]] = [
        {
            "strategy": "oauth",
            "outcome": "error",
            "error": FetchError.of("auth_required", "token expired"),
            "durationMs": 120.5,
            "at": NOW,
        },
        {"strategy": "cli", "outcome": "ok", "error": None, "durationMs": 800.0},
    ]
    await store.log_poll("claude", None, NOW, 920.5, True, None, attempts)
    await store.log_poll("claude", "work", NOW + minutes(5), 30000.0, False, "timeout", [])
    await store.log_poll("codex", None, NOW + minutes(6), 5.25, False, "cli_missing", [{"strategy": "cli"}])

    entries = await store.poll_log()
    assert [(e["provider"], e["account"], e["started_at"]) for e in entries] == [
        ("codex", None, NOW + minutes(6)),
        ("claude", "work", NOW + minutes(5)),
        ("claude", None, NOW),
    ]
    oldest = entries[2]
    assert oldest["duration_ms"] == 920.5
    assert oldest["ok"] is True
    assert oldest["error_kind"] is None
    assert oldest["attempts"] == [
        {
            "strategy": "oauth",
            "outcome": "error",
            "error": {"kind": "auth_required", "message": "token expired", "code": 1},
            "durationMs": 120.5,
            "at": "2026-11-25T18:00:00Z",
        },
        {"strategy": "cli", "outcome": "ok", "error": None, "durationMs": 800.0},
    ]
    assert entries[1]["ok"] is False
    assert entries[1]["error_kind"] == "timeout"
    assert set(entries[0]) == {
        "id", "provider", "account", "started_at", "duration_ms", "ok", "error_kind", "attempts"
    }


async def test_poll_log_filters_by_provider_and_limits(store: Store) -> None:
    for i in range(7):
        await store.log_poll("codex" if i % 2 else "claude", None, NOW + minutes(i), 1.0, True, None, [])
    codex = await store.poll_log("codex")
    assert [e["started_at"] for e in codex] == [NOW + minutes(5), NOW + minutes(3), NOW + minutes(1)]
    assert [e["started_at"] for e in await store.poll_log(limit=2)] == [NOW + minutes(6), NOW + minutes(5)]
    assert [e["started_at"] for e in await store.poll_log("claude", limit=1)] == [NOW + minutes(6)]
    assert await store.poll_log("zai") == []
    assert await store.poll_log(limit=0) == []


async def test_attempts_are_made_json_safe(store: Store) -> None:
    odd: list[dict[str, object]] = [
        {"nan": float("nan"), "inf": float("inf"), "tuple": (1, 2), "obj": Path("/x"), "nested": {"at": NOW}},
    ]
    await store.log_poll("codex", None, NOW + timedelta(seconds=1), 1.0, True, None, odd)
    (entry,) = await store.poll_log()
    assert entry["attempts"] == [
        {"nan": None, "inf": None, "tuple": [1, 2], "obj": "/x", "nested": {"at": "2026-11-25T18:00:00Z"}}
    ]


async def test_poll_log_after_close_raises_store_error(store: Store) -> None:
    await store.close()
    with pytest.raises(StoreError):
        await store.log_poll("codex", None, NOW, 1.0, True, None, [])
