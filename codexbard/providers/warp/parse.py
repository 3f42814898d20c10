"""Pure parsing of Warp's GetRequestLimitInfo answer (and its error bodies); no I/O."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from codexbard.errors import AuthRequired, ParseError, ProviderError, Unavailable
from codexbard.host.clock import parse_iso
from codexbard.host.http import error_for_status
from codexbard.host.redact import excerpt
from codexbard.models import Credits, RateWindow, UsageSnapshot
from codexbard.providers.coerce import flag, number, percent
from codexbard.providers.warp.const import CREDITS_UNIT, PRIMARY_LABEL, SECONDARY_LABEL

_AUTH_WORDS: Final = ("unauthenticated", "unauthorized")
_MAX_MESSAGES: Final = 3
_USER_OUTPUT: Final = "UserOutput"


def format_count(value: float) -> str:
    """Format a credit count: whole numbers without a fraction, others as Python's shortest repr."""
    return str(int(value)) if value.is_integer() else repr(value)


def format_expiry(when: datetime) -> str:
    """Format a grant expiry unambiguously, e.g. `2026-04-10 00:00 UTC`."""
    return when.strftime("%Y-%m-%d %H:%M UTC")


def graphql_messages(errors: object) -> list[str]:
    """Return the non-empty messages of a GraphQL `errors` value (entries `{message}` or strings)."""
    entries = errors if isinstance(errors, list) else [errors]
    messages: list[str] = []
    for entry in entries:
        text = entry.get("message") if isinstance(entry, dict) else entry
        if isinstance(text, str) and text.strip():
            messages.append(text.strip())
    return messages


def _has_errors(errors: object) -> bool:
    # A well-formed `errors` is a list; a bare object or string is taken as one error.
    if isinstance(errors, list | dict | str):
        return bool(errors)
    return False


def _clean(text: str, secrets: Iterable[str | None]) -> str:
    # Scrub before cutting, so a key that straddles the cut cannot survive half-hidden.
    return excerpt(text, secrets)


def error_summary(status: int, body: bytes, secrets: Iterable[str | None] = ()) -> str:
    """Summarize an error body: GraphQL messages, else `error`, else `message`, else the plain text."""
    secrets = tuple(secrets)
    size = len(body)
    try:
        data: object = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        messages = graphql_messages(data.get("errors")) if _has_errors(data.get("errors")) else []
        if messages:
            return _clean(" | ".join(messages[:_MAX_MESSAGES]), secrets)
        for name in ("error", "message"):
            text = data.get(name)
            if isinstance(text, str) and text.strip():
                return _clean(text, secrets)
        return f"HTTP {status} ({size} bytes)."
    text = body.decode("utf-8", errors="replace")
    if not text.strip():
        return f"Unexpected response body ({size} bytes)."
    return _clean(text, secrets)


def http_error(
    status: int, body: bytes, *, secrets: Iterable[str | None] = (), retry_after: float | None = None
) -> ProviderError:
    """Build the typed error for a non-200 answer: 401/403 auth, 429 rate limit, else unavailable."""
    message = f"Warp API error ({status}): {error_summary(status, body, secrets)}"
    return error_for_status(status, message, retry_after=retry_after)


def _graphql_error(errors: object, secrets: Iterable[str | None]) -> ProviderError:
    messages = graphql_messages(errors)
    summary = " | ".join(messages[:_MAX_MESSAGES]) or "GraphQL error without a message"
    message = f"Warp API error (200): {_clean(summary, secrets)}"
    if any(word in text.lower() for text in messages for word in _AUTH_WORDS):
        return AuthRequired(message)
    return Unavailable(message)


@dataclass(frozen=True)
class Grant:
    """One bonus (add-on) credit grant."""

    granted: float
    remaining: float
    expiration: datetime | None


@dataclass(frozen=True)
class BonusSummary:
    """User and workspace bonus grants added up."""

    total: float
    remaining: float
    next_expiration: datetime | None
    next_expiration_remaining: float


def _grant(raw: object) -> Grant | None:
    if not isinstance(raw, dict):
        return None
    expiration = raw.get("expiration")
    return Grant(
        granted=number(raw.get("requestCreditsGranted"), default=0.0),
        remaining=number(raw.get("requestCreditsRemaining"), default=0.0),
        expiration=parse_iso(expiration) if isinstance(expiration, str) else None,
    )


def collect_grants(user: Mapping[str, Any]) -> list[Grant]:
    """Gather the user-level grants and every workspace's grants, skipping malformed entries."""
    raws: list[object] = []
    own = user.get("bonusGrants")
    if isinstance(own, list):
        raws.extend(own)
    workspaces = user.get("workspaces")
    if isinstance(workspaces, list):
        for workspace in workspaces:
            info = workspace.get("bonusGrantsInfo") if isinstance(workspace, dict) else None
            grants = info.get("grants") if isinstance(info, dict) else None
            if isinstance(grants, list):
                raws.extend(grants)
    return [grant for grant in map(_grant, raws) if grant is not None]


def aggregate_bonus(grants: Iterable[Grant]) -> BonusSummary:
    """Sum the grants and find the earliest expiry that still has credits left."""
    grants = list(grants)
    live = [g for g in grants if g.remaining > 0 and g.expiration is not None]
    next_expiration: datetime | None = None
    next_remaining = 0.0
    if live:
        # Grants count as expiring together when they expire within the same second.
        seconds = [(g, g.expiration.replace(microsecond=0)) for g in live if g.expiration is not None]
        next_expiration = min(second for _, second in seconds)
        next_remaining = sum(g.remaining for g, second in seconds if second == next_expiration)
    return BonusSummary(
        total=sum(g.granted for g in grants),
        remaining=sum(g.remaining for g in grants),
        next_expiration=next_expiration,
        next_expiration_remaining=next_remaining,
    )


def secondary_window(bonus: BonusSummary) -> RateWindow | None:
    """Return the "Add-on credits" window, or None when there are no bonus credits at all."""
    has_expiry = bonus.remaining > 0 and bonus.next_expiration is not None
    if not (bonus.total > 0 or bonus.remaining > 0 or has_expiry):
        return None
    if bonus.total > 0:
        used = percent((bonus.total - bonus.remaining) * 100.0 / bonus.total)
    elif bonus.remaining > 0:
        used = 0.0
    else:
        used = 100.0
    description = None
    if has_expiry and bonus.next_expiration is not None:
        description = (
            f"{format_count(bonus.next_expiration_remaining)} credits expires on "
            f"{format_expiry(bonus.next_expiration)}"
        )
    return RateWindow(used_percent=used, reset_description=description, label=SECONDARY_LABEL)


def _request_limit_info(
    payload: Mapping[str, Any], secrets: Iterable[str | None]
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    data = payload.get("data")
    user = data.get("user") if isinstance(data, dict) else None
    if not isinstance(user, dict):
        raise ParseError("Warp response has no `data.user` object")
    inner = user.get("user")
    info = inner.get("requestLimitInfo") if isinstance(inner, dict) else None
    if isinstance(inner, dict) and isinstance(info, dict):
        return inner, info
    typename = user.get("__typename")
    if isinstance(typename, str) and typename.strip() and typename != _USER_OUTPUT:
        # Warp answers an auth problem with another member of the union (e.g. UserFacingError).
        name = excerpt(typename, secrets, 80)
        raise AuthRequired(f"Unexpected user type '{name}' from Warp; check that the API key is valid.")
    raise ParseError("Unable to extract requestLimitInfo from the Warp response")


def parse_usage(payload: object, secrets: Iterable[str | None] = ()) -> UsageSnapshot:
    """Turn a decoded HTTP 200 body into a snapshot, or raise the error it describes."""
    secrets = tuple(secrets)
    if not isinstance(payload, dict):
        raise ParseError("Warp: Root JSON is not an object.")
    errors = payload.get("errors")
    if _has_errors(errors):
        raise _graphql_error(errors, secrets)
    user, info = _request_limit_info(payload, secrets)

    unlimited = flag(info.get("isUnlimited"))
    # Null, bools, junk and numbers that do not fit a float count as 0, as in Warp's own client.
    limit = number(info.get("requestLimit"), default=0.0)
    used = number(info.get("requestsUsedSinceLastRefresh"), default=0.0)
    refresh = info.get("nextRefreshTime")
    if unlimited:
        primary = RateWindow(used_percent=0.0, reset_description="Unlimited", label=PRIMARY_LABEL)
        credits = None
    else:
        primary = RateWindow(
            used_percent=percent(used * 100.0 / limit) if limit > 0 else 0.0,
            resets_at=parse_iso(refresh) if isinstance(refresh, str) else None,
            reset_description=f"{format_count(used)}/{format_count(limit)} credits",
            label=PRIMARY_LABEL,
        )
        credits = Credits(remaining=max(0.0, limit - used), total=limit, unit=CREDITS_UNIT)
    return UsageSnapshot(
        primary=primary,
        secondary=secondary_window(aggregate_bonus(collect_grants(user))),
        credits=credits,
    )
