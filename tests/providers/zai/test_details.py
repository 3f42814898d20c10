"""z.ai `usage.details`: the "Quota details" rows, the quota-rate row, the balance row and the token charts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from codexbard.models import MAX_CHART_POINTS, MAX_DETAIL_ROWS
from codexbard.providers.zai.parse import balance_row, model_usage_section, parse_quota, quota_rate_row
from tests.providers.zai.test_parse import load

NOW = datetime(2026, 11, 25, 18, 10, tzinfo=UTC)  # a Wednesday


def test_quota_details_rows_of_the_full_fixture() -> None:
    details = parse_quota(load("quota_full.json"), now=NOW).wire()["details"]
    assert details == [{"title": "Quota details", "chart": None, "rows": [
        {"label": "Token quota", "value": "12% used", "secondaryValue": None},
        {"label": "Session token quota", "value": "40% used", "secondaryValue": None},
        {"label": "MCP quota", "value": "12% used", "secondaryValue": "500 limit \u00b7 440 remaining"},
        {"label": "web-search", "value": "55", "secondaryValue": None},
        {"label": "reader", "value": "5", "secondaryValue": None},
    ]}]


def credit_plan(tools: int) -> dict[str, Any]:
    return {"code": 200, "success": True, "data": {"limits": [
        {"type": "CREDIT_LIMIT", "unit": 1, "number": 30, "percentage": 25, "usage": 1000, "remaining": 750},
        {"type": "TIME_LIMIT", "unit": 5, "number": 1, "percentage": 1,
         "usageDetails": [{"modelCode": f"tool-{i:02d}", "usage": i} for i in range(tools)]},
    ]}}


def test_credit_plans_get_the_quota_rate_row_and_the_balance_row_always_fits() -> None:
    row = balance_row({"code": 200, "success": True, "data": {
        "balance": 18.4, "availableBalance": 17.9, "rechargeAmount": 50, "giveAmount": 0, "totalSpendAmount": 32.1}})
    assert row is not None
    section = parse_quota(credit_plan(30), now=NOW, balance=row).details[0]
    labels = [r.label for r in section.rows]
    assert len(section.rows) == MAX_DETAIL_ROWS
    assert labels[:3] == ["Credit quota", "Quota rate", "MCP quota"]
    assert labels[3:-1] == [f"tool-{i:02d}" for i in range(20)]  # at most 20 tool rows
    assert section.rows[0].wire() == {"label": "Credit quota", "value": "25% used",
                                      "secondaryValue": "1000 limit \u00b7 750 remaining"}
    assert section.rows[-1].wire() == {"label": "Account balance", "value": "\u00a517.90",
                                       "secondaryValue": "recharged \u00a550.00 \u00b7 spent \u00a532.10"}


@pytest.mark.parametrize(("now", "value", "secondary"), [
    (datetime(2026, 11, 25, 18, 10, tzinfo=UTC), "Off-peak", "peak in 11h 50m"),   # Wed evening
    (datetime(2026, 11, 25, 7, 30, tzinfo=UTC), "Peak", "off-peak in 2h 30m"),      # Wed morning
    (datetime(2026, 11, 27, 12, 0, tzinfo=UTC), "Off-peak", "peak in 2d 18h"),      # Fri noon -> Mon 06:00
    # Sat -> Mon 06:00 (minutes are dropped past a day)
    (datetime(2026, 11, 28, 6, 30, tzinfo=UTC), "Off-peak", "peak in 1d 23h"),
])
def test_quota_rate_row(now: datetime, value: str, secondary: str) -> None:
    row = quota_rate_row(now)
    assert (row.value, row.secondary_value) == (value, secondary)


def test_model_usage_sums_buckets_and_ranks_models() -> None:
    payload = {"code": 200, "success": True, "data": {
        "x_time": ["2026-03-04 10:00", "2026-03-04 11:00", "2026-03-04 12:00"],
        "modelDataList": [{"modelName": "glm-4.6", "tokensUsage": [1200, None, 0]},
                          {"modelName": "glm-4.5-air", "tokensUsage": [300, 800, -5]}]}}
    section = model_usage_section(payload, "Hourly tokens")
    assert section is not None
    assert section.wire() == {"title": "Hourly tokens", "rows": [
        {"label": "glm-4.6", "value": "1200", "secondaryValue": None},
        {"label": "glm-4.5-air", "value": "1100", "secondaryValue": None},
    ], "chart": {"kind": "bars", "title": "Hourly tokens", "unit": "tokens", "points": [
        {"label": "2026-03-04 10:00", "value": 1500.0}, {"label": "2026-03-04 11:00", "value": 800.0}]}}


def test_model_usage_without_tokens_adds_no_section_and_long_charts_keep_the_newest_points() -> None:
    empty = {"code": 200, "success": True, "data": {"x_time": [], "modelDataList": []}}
    assert model_usage_section(empty, "Daily tokens") is None
    many = {"code": 200, "success": True, "data": {
        "x_time": [f"t{i}" for i in range(150)], "modelDataList": [{"modelName": "m", "tokensUsage": [1] * 150}]}}
    section = model_usage_section(many, "Daily tokens")
    assert section is not None and section.chart is not None
    assert len(section.chart.points) == MAX_CHART_POINTS
    assert (section.chart.points[0].label, section.chart.points[-1].label) == ("t30", "t149")
