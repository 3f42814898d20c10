"""Pure parsing of the Kimi K2 credits payload into a UsageSnapshot (no I/O).

The relay never documented one shape, so values are searched in several nested objects ("contexts")
under several key spellings. For each key path the first context where the path is present at all
decides (a JSON null counts as present); a value there that is not a finite number sends the search on
to the next key path, never to the same path in a later context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, TypeVar

from codexbard.errors import ParseError
from codexbard.host.clock import parse_timestamp
from codexbard.models import Credits, Identity, UsageSnapshot
from codexbard.providers.coerce import number
from codexbard.providers.kimik2.const import CREDITS_UNIT, REMAINING_HEADER

T = TypeVar("T")

# Where values may live, in search order (root first).
_CONTEXT_PATHS: Final[tuple[tuple[str, ...], ...]] = (
    (),
    ("data",),
    ("data", "usage"),
    ("data", "credits"),
    ("result",),
    ("result", "usage"),
    ("result", "credits"),
    ("usage",),
    ("credits",),
)

CONSUMED_KEYS: Final = (
    "total_credits_consumed",
    "totalCreditsConsumed",
    "total_credits_used",
    "totalCreditsUsed",
    "credits_consumed",
    "creditsConsumed",
    "consumedCredits",
    "usedCredits",
    "total",
    "usage.total",
    "usage.consumed",
)
REMAINING_KEYS: Final = (
    "credits_remaining",
    "creditsRemaining",
    "remaining_credits",
    "remainingCredits",
    "available_credits",
    "availableCredits",
    "credits_left",
    "creditsLeft",
    "usage.credits_remaining",
    "usage.remaining",
)
UPDATED_AT_KEYS: Final = ("updated_at", "updatedAt", "timestamp", "time", "last_update", "lastUpdated")

_MISSING: Final = object()


def _walk(obj: object, path: tuple[str, ...]) -> object:
    """Follow `path` through nested objects; return _MISSING when a step is absent or not an object."""
    current = obj
    for key in path:
        if not isinstance(current, dict) or key not in current:
            return _MISSING
        current = current[key]
    return current


def contexts(root: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the objects to search, in order (contexts that are absent or not objects are left out)."""
    found: list[dict[str, Any]] = []
    for path in _CONTEXT_PATHS:
        value = _walk(root, path)
        if isinstance(value, dict):
            found.append(value)
    return found


def lookup(
    ctxs: list[dict[str, Any]], keys: tuple[str, ...], convert: Callable[[object], T | None]
) -> T | None:
    """Apply the path-then-first-present-context rule and return the first converted value."""
    for key in keys:
        path = tuple(key.split("."))
        for ctx in ctxs:
            raw = _walk(ctx, path)
            if raw is _MISSING:
                continue
            converted = convert(raw)
            if converted is not None:
                return converted
            break  # present but unusable: the next key path, not the same path in a later context
    return None


def to_updated_at(value: object) -> datetime | None:
    """Read epoch seconds, epoch ms (>= 1e12), or ISO 8601; <= 0, non-finite or past year 4000 is None."""
    if isinstance(value, str) and not value.strip():
        return None
    return parse_timestamp(value)


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """Return a header's value, matching the name case-insensitively."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def format_credits(value: float) -> str:
    """Format with at most two decimals and no grouping (160, 12.5, 0.25)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def parse_credits(data: object, headers: Mapping[str, str] | None = None) -> UsageSnapshot:
    """Turn the decoded credits response (and its headers) into a snapshot without windows."""
    if not isinstance(data, dict):
        raise ParseError("Kimi K2: root JSON is not an object.")
    ctxs = contexts(data)
    consumed = lookup(ctxs, CONSUMED_KEYS, number)
    remaining = lookup(ctxs, REMAINING_KEYS, number)
    if remaining is None:
        remaining = number(header_value(headers or {}, REMAINING_HEADER))
    consumed_value = consumed if consumed is not None else 0.0
    remaining_value = max(0.0, remaining if remaining is not None else 0.0)
    updated_at = lookup(ctxs, UPDATED_AT_KEYS, to_updated_at)
    return UsageSnapshot(
        credits=Credits(
            remaining=remaining_value,
            total=consumed_value + remaining_value,
            unit=CREDITS_UNIT,
            updated_at=updated_at,
        ),
        identity=Identity(login_method=f"Credits: {format_credits(remaining_value)} left"),
        updated_at=updated_at,
    )
