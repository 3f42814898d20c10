"""Statuspage.io `status.json` parsing and the indicator rank."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from codexbard.errors import ParseError
from codexbard.status.statuspage import indicator_rank, parse_statuspage
from tests.helpers import fixture_bytes

PAGE = "https://status.example.test/"


def load(name: str) -> Any:
    return json.loads(fixture_bytes(__file__, f"statuspage/{name}"))


CASES: list[tuple[str, str, str | None, datetime | None]] = [
    (
        "none_fractions.json", "none", "All Systems Operational",
        datetime(2026, 3, 4, 9, 41, 7, 512000, tzinfo=UTC),
    ),
    ("minor.json", "minor", "Minor Service Outage", datetime(2026, 3, 4, 9, 41, 7, tzinfo=UTC)),
    ("major_offset.json", "major", "Partial System Outage", datetime(2026, 3, 4, 15, 2, tzinfo=UTC)),
    ("critical_no_page.json", "critical", "Major Service Outage", None),
    (
        "maintenance.json", "maintenance", "Service Under Maintenance",
        datetime(2026, 3, 4, 5, 30, 0, 123456, tzinfo=UTC),
    ),
    ("degraded.json", "unknown", "Degraded Performance", datetime(2026, 3, 4, 9, 41, 7, tzinfo=UTC)),
    ("no_description.json", "none", None, None),
    ("blank_description_bad_date.json", "minor", None, None),
    ("page_not_object.json", "none", "All Systems Operational", None),
]


@pytest.mark.parametrize(("fixture", "indicator", "description", "updated_at"), CASES)
def test_fixture(fixture: str, indicator: str, description: str | None, updated_at: datetime | None) -> None:
    status = parse_statuspage(load(fixture), PAGE)
    assert status.kind == "statuspage"
    assert status.indicator == indicator
    assert status.description == description
    assert status.updated_at == updated_at
    assert status.url == PAGE


def test_wire_form() -> None:
    status = parse_statuspage(load("none_fractions.json"), "https://status.claude.com/")
    assert status.wire() == {
        "kind": "statuspage",
        "indicator": "none",
        "description": "All Systems Operational",
        "updatedAt": "2026-03-04T09:41:07Z",
        "url": "https://status.claude.com/",
    }


def test_indicator_case_is_ignored() -> None:
    status = parse_statuspage({"status": {"indicator": " Critical "}}, PAGE)
    assert status.indicator == "critical"
    assert status.description is None


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("missing_indicator.json", "no `status.indicator`"),
        ("indicator_null.json", "no `status.indicator`"),
        ("indicator_number.json", "no `status.indicator`"),
        ("missing_status.json", "no `status` object"),
        ("status_array.json", "no `status` object"),
        ("root_array.json", "not an object"),
    ],
)
def test_unreadable_answers(fixture: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_statuspage(load(fixture), PAGE)


@pytest.mark.parametrize(
    ("indicator", "rank"),
    [("none", 0), ("maintenance", 1), ("unknown", 1), ("minor", 2), ("major", 3), ("critical", 4),
     ("degraded", 1), (None, 0)],
)
def test_indicator_rank(indicator: str | None, rank: int) -> None:
    assert indicator_rank(indicator) == rank
