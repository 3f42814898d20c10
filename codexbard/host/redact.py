"""Scrub secrets out of text that came from an upstream before it reaches a message or a log."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

# Each pattern keeps its first group (a label such as "Bearer ") and replaces the rest.
_LABELLED: Final = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:api[_-]?key|token|secret|password|cookie)\"?\s*[:=]\s*\"?)[^\s\",}]+"),
)
_BARE: Final = (
    re.compile(r"\b(?:sk|wk|pk|rk)-[A-Za-z0-9_-]{6,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),  # JWTs
)


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace known secrets and anything shaped like a key or token with `***`."""
    out = text
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, "***")
    for pattern in _LABELLED:
        out = pattern.sub(lambda m: m.group(1) + "***", out)
    for pattern in _BARE:
        out = pattern.sub("***", out)
    return out


def summarize(text: str, limit: int = 200) -> str:
    """Collapse whitespace and cut to `limit` characters (plus `...`)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."
