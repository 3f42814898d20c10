"""Snapshot builders and fixed instants for the store tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from codexbard.models import (
    Credits,
    Identity,
    NamedWindow,
    ProviderCost,
    RateWindow,
    UsageSnapshot,
    WindowValue,
)

# An hour boundary, so 5-minute and hourly buckets start exactly on it.
NOW = datetime(2026, 11, 25, 18, 0, 0, tzinfo=UTC)
RESET = datetime(2026, 11, 25, 23, 0, 0, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    """A shorthand for timedelta(minutes=n)."""
    return timedelta(minutes=n)


def full_snapshot() -> UsageSnapshot:
    """A snapshot using every field the model has."""
    return UsageSnapshot(
        primary=RateWindow(
            used_percent=28.5, window_minutes=300, resets_at=RESET, reset_description=None, label="Session"
        ),
        secondary=RateWindow(
            used_percent=59.0,
            window_minutes=10080,
            resets_at=datetime(2026, 11, 28, 17, 0, tzinfo=UTC),
            reset_description="resets Friday",
            label="Weekly",
        ),
        tertiary=RateWindow(used_percent=101.25, window_minutes=None, resets_at=None, label="Premium"),
        extra_rate_windows=[
            NamedWindow(
                id="claude-weekly-scoped-opus",
                title="Opus only",
                window=WindowValue(used_percent=3.0, window_minutes=10080, resets_at=RESET),
            ),
            NamedWindow(
                id="zai-mcp",
                title="MCP calls",
                window=WindowValue(used_percent=40.0, reset_description="405/1500 credits"),
            ),
        ],
        provider_cost=ProviderCost(
            used=12.5,
            limit=100.0,
            currency_code="EUR",
            period="monthly",
            resets_at=datetime(2026, 12, 1, tzinfo=UTC),
            balance=87.5,
            updated_at=NOW,
        ),
        credits=Credits(remaining=405.0, total=1500.0, unit="credits", updated_at=NOW),
        identity=Identity(
            account_email="user@example.com", account_organization="Example Org", login_method="Claude Max"
        ),
        updated_at=NOW - minutes(1),
        version="2.0.14",
    )


def primary_only(used: float, resets_at: datetime | None = RESET) -> UsageSnapshot:
    """A snapshot with one primary window."""
    return UsageSnapshot(primary=RateWindow(used_percent=used, window_minutes=300, resets_at=resets_at))
