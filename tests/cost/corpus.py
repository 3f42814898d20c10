"""A small Codex + Claude log tree with hand-computed totals, shared by the store, job, API and CLI cost tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from tests.cost.helpers import claude, meta, tokens, turn, write

NOW: Final = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TZ: Final = "Europe/Paris"


def cost_env(base: Path) -> dict[str, str]:
    """CODEX_HOME and CLAUDE_CONFIG_DIR of the tree under `base`."""
    return {"CODEX_HOME": str(base / "codex"), "CLAUDE_CONFIG_DIR": str(base / "claude")}


def write_corpus(base: Path) -> None:
    """One Codex session (two token counts) and one Claude project (two responses, one logged twice)."""
    write(base / "codex" / "sessions" / "2026" / "12" / "06" / "rollout-a.jsonl", [
        meta("2026-12-06T09:00:00.000Z", "s1"),
        turn("2026-12-06T09:00:01.000Z", "gpt-5.2-codex"),
        tokens("2026-12-06T09:01:00.000Z", (10000, 4000, 500, 100), (10000, 4000, 500, 100)),
        tokens("2026-12-06T09:05:00.000Z", (25000, 12000, 1500, 300), (15000, 8000, 1000, 200)),
    ])
    write(base / "claude" / "projects" / "p1" / "s1.jsonl", [
        # 23:30 UTC on the 5th is 00:30 on the 6th in Paris.
        claude("2026-12-05T23:30:00.000Z", "claude-sonnet-4-5-20250929", (1000, 2000, 500, 300), "m1", "r1"),
        claude("2026-12-05T23:30:00.000Z", "claude-sonnet-4-5-20250929", (1000, 2000, 500, 300), "m1", "r1"),
        claude("2026-12-04T10:00:00.000Z", "claude-haiku-4-5-20251001", (100, 0, 0, 50), "m2", "r2"),
    ])


# gpt-5.2-codex: 1.75 in, 0.175 cache read, 14 out (USD per 1M tokens).
CODEX_DAY: Final = {
    "date": "2026-12-06", "inputTokens": 13000, "outputTokens": 1500, "cacheReadTokens": 12000,
    "cacheCreationTokens": 0, "totalTokens": 26500, "reasoningTokens": 300, "unpricedTokens": 0,
    "totalCost": 0.04585, "modelsUsed": ["gpt-5.2-codex"],
    "modelBreakdowns": [{"modelName": "gpt-5.2-codex", "cost": 0.04585, "inputTokens": 13000, "outputTokens": 1500,
                         "cacheReadTokens": 12000, "cacheCreationTokens": 0, "totalTokens": 26500}],
}
# claude-sonnet-4-5: 3 in, 0.3 cache read, 3.75 cache write, 15 out; claude-haiku-4-5: 1 in, 5 out.
CLAUDE_DAYS: Final = [
    {"date": "2026-12-04", "inputTokens": 100, "outputTokens": 50, "cacheReadTokens": 0, "cacheCreationTokens": 0,
     "totalTokens": 150, "reasoningTokens": 0, "unpricedTokens": 0, "totalCost": 0.00035,
     "modelsUsed": ["claude-haiku-4-5"],
     "modelBreakdowns": [{"modelName": "claude-haiku-4-5", "cost": 0.00035, "inputTokens": 100, "outputTokens": 50,
                          "cacheReadTokens": 0, "cacheCreationTokens": 0, "totalTokens": 150}]},
    {"date": "2026-12-06", "inputTokens": 1000, "outputTokens": 300, "cacheReadTokens": 2000,
     "cacheCreationTokens": 500, "totalTokens": 3800, "reasoningTokens": 0, "unpricedTokens": 0,
     "totalCost": 0.009975, "modelsUsed": ["claude-sonnet-4-5"],
     "modelBreakdowns": [{"modelName": "claude-sonnet-4-5", "cost": 0.009975, "inputTokens": 1000,
                          "outputTokens": 300, "cacheReadTokens": 2000, "cacheCreationTokens": 500,
                          "totalTokens": 3800}]},
]


def _totals(days: list[dict[str, object]], cost: float) -> dict[str, object]:
    keys = ("inputTokens", "outputTokens", "cacheReadTokens", "cacheCreationTokens", "totalTokens",
            "reasoningTokens", "unpricedTokens")
    out: dict[str, object] = {k: sum(int(d[k]) for d in days) for k in keys}  # type: ignore[call-overload]
    out["totalCost"] = cost
    return out


def expected_blocks(updated_at: str | None) -> list[dict[str, object]]:
    """The `GET /cost` array (default window: 30 days) at NOW in Paris."""
    return [
        {"provider": "codex", "source": "local", "updatedAt": updated_at, "sessionTokens": 26500,
         "sessionCostUSD": 0.04585, "last30DaysTokens": 26500, "last30DaysCostUSD": 0.04585,
         "daily": [CODEX_DAY], "totals": _totals([CODEX_DAY], 0.04585)},
        {"provider": "claude", "source": "local", "updatedAt": updated_at, "sessionTokens": 3800,
         "sessionCostUSD": 0.009975, "last30DaysTokens": 3950, "last30DaysCostUSD": 0.010325,
         "daily": CLAUDE_DAYS, "totals": _totals(CLAUDE_DAYS, 0.010325)},
    ]
