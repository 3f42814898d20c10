"""Strict readers of the z.ai quota payload's limit entries.

The upstream decodes its JSON with a typed decoder, so a limit entry with a non-integral `unit`,
`number` or `percentage` fails the whole fetch. JSON numbers such as `25.0` still count as integers;
numbers outside the signed 64-bit range do not (see `codexbard.providers.coerce.integral`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codexbard.errors import ParseError
from codexbard.providers.coerce import integral

_REQUIRED_INTS = ("unit", "number", "percentage")
_OPTIONAL_INTS = (("usage", "usage"), ("currentValue", "current_value"), ("remaining", "remaining"),
                  ("nextResetTime", "next_reset_time"))


@dataclass(frozen=True)
class LimitEntry:
    """One validated element of `data.limits`."""

    type: str | None
    unit: int
    number: int
    percentage: int
    usage: int | None = None
    current_value: int | None = None
    remaining: int | None = None
    next_reset_time: int | None = None
    usage_details: tuple[tuple[str, int], ...] = ()


def _fail(index: int, reason: str) -> ParseError:
    return ParseError(f"Failed to parse z.ai limit entry {index}: {reason}")


def read_limit_entry(raw: Any, index: int) -> LimitEntry:
    """Validate one limit entry (whatever its type) or raise ParseError."""
    if not isinstance(raw, dict):
        raise _fail(index, "not an object")
    required: dict[str, int] = {}
    for name in _REQUIRED_INTS:
        value = integral(raw.get(name))
        if value is None:
            what = "missing" if raw.get(name) is None else "not an integer"
            raise _fail(index, f"'{name}' is {what}")
        required[name] = value
    optional: dict[str, int | None] = {}
    for wire, attr in _OPTIONAL_INTS:
        value = raw.get(wire)
        if value is None:
            optional[attr] = None
            continue
        number = integral(value)
        if number is None:
            raise _fail(index, f"'{wire}' is not an integer or null")
        optional[attr] = number
    details = raw.get("usageDetails")
    if details is not None and not isinstance(details, list):
        raise _fail(index, "'usageDetails' is not an array or null")
    kind = raw.get("type")
    # Per-tool MCP counts are only a detail: entries that are not {modelCode: str, usage: int} are skipped.
    tools: list[tuple[str, int]] = []
    for item in details or ():
        if isinstance(item, dict) and isinstance(item.get("modelCode"), str):
            count = integral(item.get("usage"))
            if count is not None:
                tools.append((item["modelCode"], count))
    return LimitEntry(
        type=kind if isinstance(kind, str) else None,
        unit=required["unit"],
        number=required["number"],
        percentage=required["percentage"],
        usage=optional["usage"],
        current_value=optional["current_value"],
        remaining=optional["remaining"],
        next_reset_time=optional["next_reset_time"],
        usage_details=tuple(tools),
    )
