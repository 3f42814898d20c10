"""Pricing: bundled tiers and history, overrides, unknown models, and the /cost report shape."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from codexbard.cost import CostReportError, Pricing, PricingError, TimeZoneError, cost_report, normalise_model
from codexbard.cost.pricing import band_for
from codexbard.cost.timeutil import slot_of, zone
from tests.cost.helpers import Env, claude, tokens, turn, write


def _cost(provider: str, model: str, ts: str, c: list[int], pricing: Pricing | None = None) -> float | None:
    slot = slot_of(ts)
    assert slot is not None
    return (pricing or Pricing()).cost(provider, model, slot, band_for(c[0] + c[1] + c[2] + c[3]), c)  # type: ignore[arg-type]


def test_long_context_tiers() -> None:
    # Claude: input 150000 + cache read 60000 > 200k, output 2000
    assert _cost("claude", "claude-sonnet-4-5", "2026-03-02T10:00:00Z", [150000, 60000, 0, 0, 2000, 0]) == \
        pytest.approx(0.981)
    # gpt-5.4: input 300000 of which 200000 cached, output 5000
    assert _cost("codex", "gpt-5.4", "2026-03-02T10:00:00Z", [100000, 200000, 0, 0, 5000, 0]) == \
        pytest.approx(0.7125)
    assert _cost("codex", "gpt-5.4", "2026-03-02T10:00:00Z", [100000, 100000, 0, 0, 5000, 0]) == \
        pytest.approx(100000 * 2.5e-6 + 100000 * 2.5e-7 + 5000 * 1.5e-5)


def test_one_hour_cache_write_is_twice_input() -> None:
    assert _cost("claude", "claude-haiku-4-5", "2026-03-02T10:00:00Z", [0, 0, 0, 1_000_000, 0, 0]) == \
        pytest.approx(2.0)


def test_history_rates_before_change() -> None:
    before = _cost("codex", "gpt-5.6-terra", "2026-07-29T23:59:00Z", [100_000, 0, 0, 0, 0, 0])
    after = _cost("codex", "gpt-5.6-terra", "2026-07-30T00:00:00Z", [100_000, 0, 0, 0, 0, 0])
    assert (before, after) == (pytest.approx(0.25), pytest.approx(0.2))
    old_long = _cost("claude", "claude-opus-4-6", "2026-03-12T10:00:00Z", [150000, 60000, 0, 0, 0, 0])
    new_long = _cost("claude", "claude-opus-4-6", "2026-03-13T10:00:00Z", [150000, 60000, 0, 0, 0, 0])
    assert (old_long, new_long) == (pytest.approx(1.56), pytest.approx(0.78))


def test_overrides_replace_bundled_and_price_unknown_models() -> None:
    pricing = Pricing({"gpt-5.2-codex": {"input": 1, "output": 2}, "my-model": {"input": 3, "output": 4,
                                                                                "cache_read": 0.5}})
    assert _cost("codex", "gpt-5.2-codex", "2026-03-02T10:00:00Z", [1_000_000, 1_000_000, 0, 0, 1_000_000, 0],
                 pricing) == pytest.approx(1 + 1 + 2)
    assert _cost("claude", "my-model", "2026-03-02T10:00:00Z", [0, 1_000_000, 0, 0, 0, 0], pricing) == \
        pytest.approx(0.5)
    assert _cost("claude", "other", "2026-03-02T10:00:00Z", [1, 0, 0, 0, 0, 0], pricing) is None


@pytest.mark.parametrize("bad", [{"input": -1, "output": 1}, {"output": 1}, {"input": "x", "output": 1},
                                 {"input": 1, "output": 1, "surprise": 1}, {"input": float("nan"), "output": 1}])
def test_bad_override_is_a_typed_error(bad: dict[str, object]) -> None:
    with pytest.raises(PricingError):
        Pricing({"m": bad})


def test_normalisation() -> None:
    assert normalise_model("claude", "us.anthropic.claude-sonnet-4-5-20250929-v1:0") == "claude-sonnet-4-5"
    assert normalise_model("claude", "claude-opus-4-5-20251101") == "claude-opus-4-5"
    assert normalise_model("codex", "openai/gpt-5.2-codex") == "gpt-5.2-codex"
    assert normalise_model("codex", "gpt-5.6") == "gpt-5.6-sol"
    assert normalise_model("codex", "gpt-5-2025-08-07") == "gpt-5"


def test_report_shape_today_window_and_unknown_model(tmp_path: Path) -> None:
    env = Env(tmp_path)
    write(env.claude / "p/s.jsonl", [
        claude("2026-03-01T10:00:00Z", "claude-opus-4-5", (1000, 0, 0, 100)),
        claude("2026-03-02T10:00:00Z", "claude-new-9", (500, 0, 0, 50)),
    ])
    write(env.codex / "r.jsonl", [turn("2026-01-01T09:00:00Z", "gpt-5"),
                                  tokens("2026-01-01T09:00:01Z", (10, 0, 1), (10, 0, 1))])
    env.scan()
    now = datetime(2026, 3, 3, 12, tzinfo=UTC)
    report = cost_report(env.state, "claude", pricing=Pricing(), now=now, days=7)
    assert report == {
        "provider": "claude",
        "source": "local",
        "updatedAt": "2027-01-15T08:00:00Z",
        "sessionTokens": 0,
        "sessionCostUSD": 0.0,
        "last30DaysTokens": 1650,
        "last30DaysCostUSD": 0.0075,
        "daily": [
            {"date": "2026-03-01", "inputTokens": 1000, "outputTokens": 100, "cacheReadTokens": 0,
             "cacheCreationTokens": 0, "totalTokens": 1100, "reasoningTokens": 0, "unpricedTokens": 0,
             "totalCost": 0.0075, "modelsUsed": ["claude-opus-4-5"],
             "modelBreakdowns": [{"modelName": "claude-opus-4-5", "cost": 0.0075, "inputTokens": 1000,
                                  "outputTokens": 100, "cacheReadTokens": 0, "cacheCreationTokens": 0,
                                  "totalTokens": 1100}]},
            {"date": "2026-03-02", "inputTokens": 500, "outputTokens": 50, "cacheReadTokens": 0,
             "cacheCreationTokens": 0, "totalTokens": 550, "reasoningTokens": 0, "unpricedTokens": 550,
             "totalCost": None, "modelsUsed": ["claude-new-9"],
             "modelBreakdowns": [{"modelName": "claude-new-9", "cost": None, "inputTokens": 500,
                                  "outputTokens": 50, "cacheReadTokens": 0, "cacheCreationTokens": 0,
                                  "totalTokens": 550}]},
        ],
        "totals": {"inputTokens": 1500, "outputTokens": 150, "cacheReadTokens": 0, "cacheCreationTokens": 0,
                   "totalTokens": 1650, "reasoningTokens": 0, "unpricedTokens": 550, "totalCost": 0.0075},
    }
    codex = cost_report(env.state, "codex", pricing=Pricing(), now=now, days=30)
    assert (codex["daily"], codex["last30DaysTokens"]) == ([], 0)
    assert cost_report(env.state, "codex", pricing=Pricing(), now=now, period="all")["totals"]["totalTokens"] == 11
    month = cost_report(env.state, "claude", pricing=Pricing(), now=now, period="month")
    assert [r["date"] for r in month["daily"]] == ["2026-03-01", "2026-03-02"]
    never = cost_report(None, "claude", pricing=Pricing(), now=now)
    assert (never["sessionTokens"], never["last30DaysCostUSD"], never["updatedAt"]) == (None, None, None)


@pytest.mark.parametrize("kwargs", [{"days": 0}, {"days": 366}, {"period": "week"}])
def test_report_rejects_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(CostReportError):
        cost_report(None, "claude", pricing=Pricing(), **kwargs)  # type: ignore[arg-type]


def test_unknown_time_zone_is_a_typed_error() -> None:
    with pytest.raises(TimeZoneError):
        zone("Mars/Olympus")
