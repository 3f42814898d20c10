"""Pure parsing of a Statuspage.io `api/v2/status.json` answer, and the indicator ranking."""

from __future__ import annotations

from typing import Final

from codexbard.errors import ParseError
from codexbard.host.clock import parse_iso
from codexbard.models import ProviderStatus, StatusIndicator

INDICATORS: Final[frozenset[str]] = frozenset({"none", "minor", "major", "critical", "maintenance"})

# providers/status-pages.md: none 0 < maintenance = unknown 1 < minor 2 < major 3 < critical 4.
_RANK: Final[dict[str, int]] = {
    "none": 0,
    "maintenance": 1,
    "unknown": 1,
    "minor": 2,
    "major": 3,
    "critical": 4,
}


def indicator_rank(indicator: str | None) -> int:
    """Rank an indicator for comparisons; an unrecognized one ranks like `unknown`, None like `none`."""
    if indicator is None:
        return 0
    return _RANK.get(indicator, _RANK["unknown"])


def normalize_indicator(value: str) -> StatusIndicator:
    """Map a Statuspage indicator to ours; anything unrecognized becomes `unknown`."""
    text = value.strip().lower()
    if text == "none":
        return "none"
    if text == "minor":
        return "minor"
    if text == "major":
        return "major"
    if text == "critical":
        return "critical"
    if text == "maintenance":
        return "maintenance"
    return "unknown"


def parse_statuspage(data: object, page_url: str) -> ProviderStatus:
    """Turn a decoded `status.json` into a status; ParseError without `status.indicator`."""
    if not isinstance(data, dict):
        raise ParseError("status page answered with JSON that is not an object")
    status = data.get("status")
    if not isinstance(status, dict):
        raise ParseError("status page answer has no `status` object")
    indicator = status.get("indicator")
    if not isinstance(indicator, str):
        raise ParseError("status page answer has no `status.indicator`")
    description = status.get("description")
    text = description.strip() if isinstance(description, str) else ""
    page = data.get("page")
    updated = page.get("updated_at") if isinstance(page, dict) else None
    # An unreadable page time is dropped rather than failing the poll: the indicator is what matters.
    updated_at = parse_iso(updated) if isinstance(updated, str) else None
    return ProviderStatus(
        kind="statuspage",
        indicator=normalize_indicator(indicator),
        description=text or None,
        updated_at=updated_at,
        url=page_url,
    )
