"""Pure parsing of the Google Workspace incidents feed, filtered to one product id.

The feed is a JSON array of incidents. An incident counts when it is active (`end` is null or absent)
and names the product in `currently_affected_products` (when that key holds a list, even an empty one)
or else in `affected_products`. The most severe such incident decides the indicator; on a tie the
earlier one in feed order wins. As in the reference, an unparseable date anywhere in the feed fails the
whole decode, so the poller keeps the last good status.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from codexbard.errors import ParseError
from codexbard.host.clock import parse_iso
from codexbard.models import ProviderStatus, StatusIndicator
from codexbard.status.statuspage import indicator_rank

_STATUS_MAP: Final[dict[str, StatusIndicator]] = {
    "AVAILABLE": "none",
    "SERVICE_INFORMATION": "minor",
    "SERVICE_DISRUPTION": "major",
    "SERVICE_OUTAGE": "critical",
    "SERVICE_MAINTENANCE": "maintenance",
    "SCHEDULED_MAINTENANCE": "maintenance",
}
_SEVERITY_MAP: Final[dict[str, StatusIndicator]] = {"low": "minor", "medium": "major", "high": "critical"}

_INCIDENT_DATES: Final = ("begin", "end", "modified")
_LINK: Final = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_NEWLINES: Final = re.compile(r"\r\n|\r|\n")


def _date(value: object, where: str) -> datetime | None:
    """Parse an ISO 8601 date; null is None; anything else unreadable is a ParseError."""
    if value is None:
        return None
    parsed = parse_iso(value) if isinstance(value, str) else None
    if parsed is None:
        raise ParseError(f"Google Workspace feed has an unreadable date in {where}")
    return parsed


def _updates(incident: dict[str, Any]) -> list[dict[str, Any]]:
    updates = incident.get("updates")
    if not isinstance(updates, list):
        return []
    return [u for u in updates if isinstance(u, dict)]


def _check_dates(feed: list[Any]) -> None:
    """Validate every date in the feed, the way the reference's typed decode does."""
    for index, incident in enumerate(feed):
        if not isinstance(incident, dict):
            raise ParseError(f"Google Workspace feed entry {index} is not an object")
        for name in _INCIDENT_DATES:
            _date(incident.get(name), f"incident {index} `{name}`")
        latest = incident.get("most_recent_update")
        if isinstance(latest, dict):
            _date(latest.get("when"), f"incident {index} `most_recent_update.when`")
        for number, update in enumerate(_updates(incident)):
            _date(update.get("when"), f"incident {index} `updates[{number}].when`")


def _product_ids(products: object) -> Iterable[object]:
    if not isinstance(products, list):
        return ()
    return (p.get("id") for p in products if isinstance(p, dict))


def is_relevant(incident: dict[str, Any], product_id: str) -> bool:
    """Whether the incident names the product (current list first, even when empty; exact id only)."""
    current = incident.get("currently_affected_products")
    if isinstance(current, list):
        return product_id in _product_ids(current)
    return product_id in _product_ids(incident.get("affected_products"))


def latest_update(incident: dict[str, Any]) -> dict[str, Any] | None:
    """`most_recent_update`, else the last element of `updates`."""
    latest = incident.get("most_recent_update")
    if isinstance(latest, dict):
        return latest
    updates = _updates(incident)
    return updates[-1] if updates else None


def incident_indicator(incident: dict[str, Any], update: dict[str, Any] | None) -> StatusIndicator:
    """Map the update's status (else `status_impact`), falling back to `severity`."""
    status = update.get("status") if update is not None else None
    if status is None:
        status = incident.get("status_impact")
    if isinstance(status, str):
        mapped = _STATUS_MAP.get(status.strip().upper())
        if mapped is not None:
            return mapped
    severity = incident.get("severity")
    if isinstance(severity, str):
        return _SEVERITY_MAP.get(severity.strip().lower(), "minor")
    return "minor"


def first_meaningful_line(text: str) -> str | None:
    """Return the first line worth showing, with Markdown emphasis, links and a list dash removed."""
    for raw in _NEWLINES.split(text):
        line = raw.strip()
        if not line:
            continue
        lowered = line.lower()
        if lowered.startswith(("**summary", "**description")) or lowered == "summary":
            continue
        cleaned = _LINK.sub(r"\1", line.replace("**", "")).strip()
        if cleaned.startswith("- "):
            cleaned = cleaned[2:].strip()
        if cleaned:
            return cleaned
    return None


def incident_description(incident: dict[str, Any], update: dict[str, Any] | None) -> str | None:
    """The first meaningful line of the update's text, else of `external_desc`."""
    candidates = (update.get("text") if update is not None else None, incident.get("external_desc"))
    for candidate in candidates:
        if isinstance(candidate, str):
            line = first_meaningful_line(candidate)
            if line:
                return line
    return None


def incident_updated_at(incident: dict[str, Any], update: dict[str, Any] | None) -> datetime | None:
    """`update.when`, else `modified`, else `begin`."""
    candidates = (
        ("update.when", update.get("when") if update is not None else None),
        ("modified", incident.get("modified")),
        ("begin", incident.get("begin")),
    )
    for where, value in candidates:
        parsed = _date(value, where)
        if parsed is not None:
            return parsed
    return None


def parse_workspace_feed(data: object, product_id: str, page_url: str) -> ProviderStatus:
    """Turn the decoded incidents feed into one product's status."""
    if not isinstance(data, list):
        raise ParseError("Google Workspace feed is not a JSON array")
    _check_dates(data)
    chosen: tuple[dict[str, Any], dict[str, Any] | None, StatusIndicator] | None = None
    for incident in data:
        if incident.get("end") is not None or not is_relevant(incident, product_id):
            continue
        update = latest_update(incident)
        indicator = incident_indicator(incident, update)
        # Strictly greater: on a tie the earlier incident in feed order stays.
        if chosen is None or indicator_rank(indicator) > indicator_rank(chosen[2]):
            chosen = (incident, update, indicator)
    if chosen is None:
        return ProviderStatus(kind="google-workspace", indicator="none", url=page_url)
    incident, update, indicator = chosen
    return ProviderStatus(
        kind="google-workspace",
        indicator=indicator,
        description=incident_description(incident, update),
        updated_at=incident_updated_at(incident, update),
        url=page_url,
    )
