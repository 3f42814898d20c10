"""Read a JWT's claims without verifying it (identity only: email, plan, account ids from id tokens).

Nothing here trusts a token: claims are display data. Any malformed token gives None, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

MAX_TOKEN_CHARS: Final = 64 * 1024


def decode_claims(token: object) -> dict[str, Any] | None:
    """The payload (middle segment) of a JWT as a dict, or None when it is not a readable JWT.

    base64url with or without padding; `Bearer ` prefixes and surrounding space are ignored. A JSON
    value that is not an object, bad base64, bad UTF-8, too few segments or an over-long token give None.
    """
    if not isinstance(token, str):
        return None
    text = token.strip()
    if text[:7].lower() == "bearer ":
        text = text[7:].strip()
    if not text or len(text) > MAX_TOKEN_CHARS:
        return None
    parts = text.split(".")
    if len(parts) < 2 or not parts[1]:
        return None
    segment = parts[1]
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        return None
    try:
        claims = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None


def claim(claims: Mapping[str, Any] | None, *paths: Sequence[str]) -> str | None:
    """The first non-blank string among `paths` (each a sequence of keys, e.g. `("https://x/auth", "plan")`)."""
    if claims is None:
        return None
    for path in paths:
        value: Any = claims
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
