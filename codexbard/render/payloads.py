"""The machine formats of provider payloads: the `GET /usage` JSON array and the flat object."""

from __future__ import annotations

import json
from typing import Any

from codexbard.models import ProviderPayload


def payloads_json(payloads: list[ProviderPayload], *, pretty: bool = False) -> str:
    """The `GET /usage` JSON array."""
    data = [p.wire() for p in payloads]
    if pretty:
        return json.dumps(data, indent=2, ensure_ascii=False)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def flat(payloads: list[ProviderPayload]) -> dict[str, Any]:
    """One object keyed by `<id>` or `<id>:<account>`, for Home Assistant and Homepage."""
    out: dict[str, Any] = {}
    for p in payloads:
        wire = p.wire()
        usage = wire["usage"] or {}
        key = p.provider if p.account is None else f"{p.provider}:{p.account}"
        out[key] = {
            "displayName": p.display_name,
            "primary": usage.get("primary"),
            "secondary": usage.get("secondary"),
            "tertiary": usage.get("tertiary"),
            "credits": wire["credits"],
            "stale": p.stale,
            # As in the payload: `error` only when there is no data; a failure beside stale data is `lastError`.
            "error": p.error.message if p.error else None,
            "lastError": p.last_error.message if p.last_error else None,
            "updatedAt": usage.get("updatedAt"),
        }
    return out
