"""Payloads for format tests, built the way the daemon builds them (snapshot → AccountState-free payload)."""

from __future__ import annotations

from datetime import datetime, timedelta

from codexbard.models import (
    Credits,
    FetchError,
    Identity,
    LastError,
    NamedWindow,
    ProviderPayload,
    RateWindow,
    UsageBlock,
    UsageSnapshot,
    WindowValue,
)
from codexbard.pace import snapshot_pace
from tests.helpers import NOW

H = timedelta(hours=1)


def window(used: float, label: str | None = "Session", minutes: int | None = 300,
           resets_in: timedelta | None = 2 * H, description: str | None = None) -> RateWindow:
    """A main window resetting `resets_in` after NOW."""
    return RateWindow(used_percent=used, window_minutes=minutes,
                      resets_at=NOW + resets_in if resets_in is not None else None,
                      reset_description=description, label=label)


def payload(provider: str, *, display: str | None = None, account: str | None = None,
            primary: RateWindow | None = None, secondary: RateWindow | None = None,
            extras: list[NamedWindow] | None = None, credits: Credits | None = None,
            error: FetchError | None = None, stale: bool = False, login: str | None = None,
            last_error: LastError | None = None, now: datetime = NOW) -> ProviderPayload:
    """One provider payload; `usage` is None when it has no window, credits or login line."""
    snap = UsageSnapshot(primary=primary, secondary=secondary, extra_rate_windows=extras or [],
                         credits=credits, identity=Identity(login_method=login) if login else None)
    has_data = primary is not None or secondary is not None or extras or credits is not None or login
    return ProviderPayload(
        provider=provider, display_name=display or provider.capitalize(), account=account,
        source="api" if has_data else None, version=None, status=None,
        usage=UsageBlock.build(provider, snap, now) if has_data else None,
        credits=credits, cost=None, pace=snapshot_pace(snap, now) if has_data else None,
        error=error, stale=stale, fetched_at=now if has_data else None, next_refresh_at=None, last_error=last_error,
    )


def extra(used: float, title: str = "Opus only", resets_in: timedelta = 50 * H) -> NamedWindow:
    """An extra rate window."""
    return NamedWindow(id=title.lower().replace(" ", "-"), title=title,
                       window=WindowValue(used_percent=used, window_minutes=10080, resets_at=NOW + resets_in))
