"""Google Workspace incidents feed parsing for one product id."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from codexbard.errors import ParseError
from codexbard.status.workspace import first_meaningful_line, incident_indicator, parse_workspace_feed
from tests.helpers import fixture_bytes

GEMINI = "npdyhgECDJ6tB66MxXyo"
PAGE = f"https://www.google.com/appsstatus/dashboard/products/{GEMINI}/history"


def load(name: str) -> Any:
    return json.loads(fixture_bytes(__file__, f"workspace/{name}"))


def at(hour: int, minute: int, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2026, 3, 4, hour, minute, second, micro, tzinfo=UTC)


CASES: list[tuple[str, str, str | None, datetime | None]] = [
    ("synthetic.json", "critical", "Requests to the Gemini API fail.", at(9, 30)),
    ("empty.json", "none", None, None),
    ("ended_only.json", "none", None, None),
    ("other_product.json", "none", None, None),
    ("two_active.json", "critical", "Gemini is not answering.", at(8, 45, 30, 250000)),
    ("currently_empty.json", "none", None, None),
    ("currently_decides.json", "major", "Spread to Gemini.", at(8, 30)),
    ("currently_null.json", "minor", "Informational.", at(8, 30)),
    ("updates_fallback.json", "major", "Errors for many users.", at(8, 40)),
    ("severity_medium.json", "major", "Elevated error rates for Gemini", at(8, 25)),
    ("all_available.json", "none", "The issue is mitigated; monitoring.", at(6, 30)),
    ("tie.json", "major", "Earlier.", at(6, 30)),
    ("maintenance_then_minor.json", "minor", "Minor hiccup.", at(7, 30)),
    ("description_rules.json", "major", "Gemini app and API are slow", at(6, 30)),
    ("description_external_fallback.json", "minor", "Elevated latency for Gemini", at(6, 0)),
    ("updated_at_begin.json", "critical", None, at(5, 59, 59, 999000)),
]


@pytest.mark.parametrize(("fixture", "indicator", "description", "updated_at"), CASES)
def test_fixture(fixture: str, indicator: str, description: str | None, updated_at: datetime | None) -> None:
    status = parse_workspace_feed(load(fixture), GEMINI, PAGE)
    assert status.kind == "google-workspace"
    assert status.indicator == indicator
    assert status.description == description
    assert status.updated_at == updated_at
    assert status.url == PAGE


def test_synthetic_wire_form() -> None:
    status = parse_workspace_feed(load("synthetic.json"), GEMINI, PAGE)
    assert status.wire() == {
        "kind": "google-workspace",
        "indicator": "critical",
        "description": "Requests to the Gemini API fail.",
        "updatedAt": "2026-03-04T09:30:00Z",
        "url": PAGE,
    }


def test_other_product_id_sees_its_own_incident() -> None:
    status = parse_workspace_feed(load("other_product.json"), "synthGmailId", "https://example.test/gmail")
    assert status.indicator == "critical"
    assert status.description == "Gmail down."
    assert status.url == "https://example.test/gmail"


def test_currently_affected_products_empty_hides_product_for_others_too() -> None:
    status = parse_workspace_feed(load("currently_empty.json"), "synthGmailId", PAGE)
    assert status.indicator == "none"


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("bad_date.json", "unreadable date in incident 0 `most_recent_update.when`"),
        ("bad_date_elsewhere.json", "unreadable date in incident 1 `end`"),
        ("date_wrong_type.json", "unreadable date in incident 0 `begin`"),
        ("not_array.json", "not a JSON array"),
        ("entry_not_object.json", "entry 0 is not an object"),
    ],
)
def test_unreadable_feeds(fixture: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_workspace_feed(load(fixture), GEMINI, PAGE)


@pytest.mark.parametrize("data", [None, "[]", 3, {"0": {}}])
def test_non_array_roots(data: object) -> None:
    with pytest.raises(ParseError):
        parse_workspace_feed(data, GEMINI, PAGE)


@pytest.mark.parametrize(
    ("incident", "update", "indicator"),
    [
        ({}, {"status": "AVAILABLE"}, "none"),
        ({}, {"status": "SERVICE_INFORMATION"}, "minor"),
        ({}, {"status": "SERVICE_DISRUPTION"}, "major"),
        ({}, {"status": "SERVICE_OUTAGE"}, "critical"),
        ({}, {"status": "SERVICE_MAINTENANCE"}, "maintenance"),
        ({}, {"status": "SCHEDULED_MAINTENANCE"}, "maintenance"),
        ({}, {"status": "service_outage"}, "critical"),
        ({"status_impact": "SERVICE_OUTAGE"}, None, "critical"),
        ({"status_impact": "SERVICE_OUTAGE"}, {"status": None}, "critical"),
        ({"status_impact": "SERVICE_OUTAGE"}, {"text": "no status key"}, "critical"),
        # A present but unknown update status does not fall back to status_impact, only to severity.
        ({"status_impact": "SERVICE_OUTAGE", "severity": "low"}, {"status": "WEIRD"}, "minor"),
        ({"severity": "low"}, None, "minor"),
        ({"severity": "medium"}, None, "major"),
        ({"severity": "high"}, None, "critical"),
        ({"severity": "HIGH"}, None, "critical"),
        ({"severity": "urgent"}, None, "minor"),
        ({"severity": 3}, None, "minor"),
        ({}, None, "minor"),
    ],
)
def test_incident_indicator(incident: dict[str, Any], update: dict[str, Any] | None, indicator: str) -> None:
    assert incident_indicator(incident, update) == indicator


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("**Summary**\nSome users see slow responses.\n", "Some users see slow responses."),
        ("**Description**\n- Requests to the [Gemini API](https://example.test) fail.\n",
         "Requests to the Gemini API fail."),
        ("summary\r\nFirst\r\nSecond", "First"),
        ("SUMMARY\rFirst", "First"),
        ("Summary: the API is slow", "Summary: the API is slow"),
        ("  **Bold** start  ", "Bold start"),
        ("- - nested dash", "- nested dash"),
        ("-no space dash", "-no space dash"),
        ("[only a link](https://x.test)", "only a link"),
        ("**\n  \n**Summary of impact**\n", None),
        ("", None),
    ],
)
def test_first_meaningful_line(text: str, line: str | None) -> None:
    assert first_meaningful_line(text) == line
