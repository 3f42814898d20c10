"""Scrub secrets out of text that came from an upstream before it reaches a message or a log.

`scrub` removes known secrets (and any long-enough fragment of one, in any letter case, together
with the masked token around it such as `0123…CanaryZaiSec****`) and anything shaped like a key or
token. `excerpt` is the one way to turn an upstream body or message into a short message part:
scrub first, then cut, so a secret that straddles the cut cannot survive half-hidden.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Final

# A known secret shorter than this is replaced only as a whole; one at least this long also loses
# every fragment of this length or more that an upstream quotes (masked, truncated or case-changed).
MIN_FRAGMENT: Final = 8
# Below this length a known secret is not replaced at all: it would shred ordinary words.
MIN_SECRET: Final = 4
DEFAULT_LIMIT: Final = 200

# Each pattern keeps its first group (a label such as "Bearer ") and replaces the rest.
_LABELLED: Final = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:api[_-]?key|token|secret|password|cookie)\"?\s*[:=]\s*\"?)[^\s\",}]+"),
)
_BARE: Final = (
    re.compile(r"\b(?:sk|wk|pk|rk)-[A-Za-z0-9_-]{6,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),  # JWTs
)
# Marks upstreams use where they hide part of a key: `0123…CanaryZaiSec****`, `abcd1234...`.
_MASK_CHARS: Final = frozenset("*.\u2026\u2022\u00b7#")
_KEY_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_MASK: Final = "***"


@lru_cache(maxsize=64)
def _fragment_pattern(secret: str) -> re.Pattern[str]:
    """A lookahead matching, at every position, any MIN_FRAGMENT-long piece of `secret` (any case)."""
    folded = secret.lower()
    grams = sorted({folded[i : i + MIN_FRAGMENT] for i in range(len(folded) - MIN_FRAGMENT + 1)})
    return re.compile("(?=(" + "|".join(re.escape(g) for g in grams) + "))", re.IGNORECASE)


def _secret_spans(text: str, secret: str) -> list[tuple[int, int]]:
    """Where `secret` or a long-enough fragment of it occurs in `text` (unmerged spans)."""
    if len(secret) < MIN_FRAGMENT:
        return [(m.start(), m.end()) for m in re.finditer(re.escape(secret), text, re.IGNORECASE)]
    return [(m.start(), m.start() + MIN_FRAGMENT) for m in _fragment_pattern(secret).finditer(text)]


def _widen(text: str, start: int, end: int, folded: str) -> tuple[int, int]:
    """Grow a fragment's span over adjacent masks (`…`, `****`) and the short key pieces beyond them.

    `0123…CanaryZaiSec****` goes as a whole: a `0123` that a mask separates from the fragment is a
    piece of the same key. Ordinary text right next to a bare fragment stays.
    """
    while True:
        new_start, new_end = start, end
        mask = start
        while mask > 0 and text[mask - 1] in _MASK_CHARS:
            mask -= 1
        if mask < start:
            new_start = mask
            while new_start > 0 and text[new_start - 1] in _KEY_CHARS and text[new_start - 1 : mask].lower() in folded:
                new_start -= 1
        mask = end
        while mask < len(text) and text[mask] in _MASK_CHARS:
            mask += 1
        if mask > end:
            new_end = mask
            while new_end < len(text) and text[new_end] in _KEY_CHARS and text[mask : new_end + 1].lower() in folded:
                new_end += 1
        if (new_start, new_end) == (start, end):
            return start, end
        start, end = new_start, new_end


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def scrub_known(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every known secret, and every token holding a long-enough fragment of one, with `***`."""
    spans: list[tuple[int, int]] = []
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET:
            folded = secret.lower()
            spans.extend(_widen(text, start, end, folded) for start, end in _merge(_secret_spans(text, secret)))
    if not spans:
        return text
    spans.sort()
    parts: list[str] = []
    cursor = 0
    for start, end in spans:
        if end <= cursor:
            continue
        if start >= cursor:
            parts.append(text[cursor:start])
            parts.append(_MASK)
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Replace known secrets (and their fragments) and anything shaped like a key or token with `***`."""
    out = scrub_known(text, secrets)
    for pattern in _LABELLED:
        out = pattern.sub(lambda m: m.group(1) + _MASK, out)
    for pattern in _BARE:
        out = pattern.sub(_MASK, out)
    return out


def summarize(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """Collapse whitespace and cut to `limit` characters (plus `...`)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


def excerpt(text: str, secrets: Iterable[str | None] = (), limit: int = DEFAULT_LIMIT) -> str:
    """Upstream text made safe for a message: whitespace collapsed, scrubbed, THEN cut to `limit`.

    Returns "" when a known secret too short for `scrub` to replace would still show.
    """
    known = [s for s in secrets if s]
    flat = " ".join(text.split())
    # Scrubbing a whole 5 MiB body for a 200-character excerpt is wasted work: keep a prefix long
    # enough that no secret visible in the result can straddle this first cut.
    margin = limit + 2 * max((len(s) for s in known), default=0) + 64
    clean = summarize(scrub(flat[:margin], known), limit)
    if len(flat) > margin and not clean.endswith("..."):
        clean += "..."
    if any(s in clean for s in known if len(s) < MIN_SECRET):
        return ""
    return clean
