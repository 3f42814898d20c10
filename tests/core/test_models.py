"""Tests for codexbard.models: the wire names and shapes of API.md, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from codexbard.errors import ERROR_KINDS, AuthRequired, ErrorKind, Timeout, error_class, exit_code_for
from codexbard.models import (
    Credits,
    FetchError,
    Identity,
    NamedWindow,
    Pace,
    PaceValue,
    ProviderCost,
    ProviderPayload,
    ProviderStatus,
    RateWindow,
    UsageBlock,
    UsageSnapshot,
    WindowValue,
    iso_z,
    redact_email,
)

FETCHED = datetime(2026, 11, 25, 18, 10, 22, tzinfo=UTC)


def snapshot() -> UsageSnapshot:
    return UsageSnapshot(
        primary=RateWindow(
            used_percent=28,
            window_minutes=300,
            resets_at=datetime(2026, 11, 25, 19, 15, tzinfo=UTC),
            label="Session",
        ),
        secondary=RateWindow(
            used_percent=59.0,
            window_minutes=10080,
            resets_at=datetime(2026, 11, 28, 12, 0, tzinfo=timezone(timedelta(hours=-5))),
            label="Weekly",
        ),
        extra_rate_windows=[
            NamedWindow(
                id="claude-weekly-scoped-opus",
                title="Opus only",
                window=WindowValue(
                    used_percent=3.0,
                    window_minutes=10080,
                    resets_at=datetime(2026, 11, 28, 17, 0, tzinfo=UTC),
                ),
            )
        ],
        identity=Identity(account_email="user@example.com", login_method="Claude Max"),
    )


def test_rate_window_wire_names() -> None:
    window = RateWindow(
        used_percent=105.5,
        window_minutes=300,
        resets_at=datetime(2026, 11, 25, 19, 15, 0, 999_999, tzinfo=UTC),
        reset_description="405/1500 credits",
        label="Session",
    )
    assert window.wire() == {
        "usedPercent": 105.5,
        "windowMinutes": 300,
        "resetsAt": "2026-11-25T19:15:00Z",
        "resetDescription": "405/1500 credits",
        "label": "Session",
    }


def test_unknown_values_are_null_not_missing() -> None:
    assert RateWindow(used_percent=0).wire() == {
        "usedPercent": 0.0,
        "windowMinutes": None,
        "resetsAt": None,
        "resetDescription": None,
        "label": None,
    }
    assert isinstance(RateWindow(used_percent=7).used_percent, float)


def test_datetimes_become_utc() -> None:
    naive = WindowValue(used_percent=1, resets_at=datetime(2026, 11, 25, 19, 15))
    eastern = timezone(timedelta(hours=-5))
    offset = WindowValue(used_percent=1, resets_at=datetime(2026, 11, 25, 14, 15, tzinfo=eastern))
    assert naive.resets_at == datetime(2026, 11, 25, 19, 15, tzinfo=UTC)
    assert offset.resets_at == datetime(2026, 11, 25, 19, 15, tzinfo=UTC)
    assert offset.wire()["resetsAt"] == "2026-11-25T19:15:00Z"
    assert iso_z(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-02T01:04:05Z"


def test_extra_windows_have_no_label() -> None:
    # Even a RateWindow put into an extra window serializes as a plain window (no label).
    named = NamedWindow(id="mcp", title="MCP calls", window=RateWindow(used_percent=1, label="ignored"))
    assert named.wire() == {
        "id": "mcp",
        "title": "MCP calls",
        "window": {"usedPercent": 1.0, "windowMinutes": None, "resetsAt": None, "resetDescription": None},
    }


def test_usage_block_matches_api_md() -> None:
    block = UsageBlock.build("claude", snapshot(), FETCHED)
    assert block.wire() == {
        "primary": {
            "usedPercent": 28.0,
            "windowMinutes": 300,
            "resetsAt": "2026-11-25T19:15:00Z",
            "resetDescription": None,
            "label": "Session",
        },
        "secondary": {
            "usedPercent": 59.0,
            "windowMinutes": 10080,
            "resetsAt": "2026-11-28T17:00:00Z",
            "resetDescription": None,
            "label": "Weekly",
        },
        "tertiary": None,
        "extraRateWindows": [
            {
                "id": "claude-weekly-scoped-opus",
                "title": "Opus only",
                "window": {
                    "usedPercent": 3.0,
                    "windowMinutes": 10080,
                    "resetsAt": "2026-11-28T17:00:00Z",
                    "resetDescription": None,
                },
            }
        ],
        "providerCost": None,
        "details": [],
        "openRouterUsage": None,
        "updatedAt": "2026-11-25T18:10:22Z",
        "identity": {
            "providerID": "claude",
            "accountEmail": "user@example.com",
            "accountOrganization": None,
            "loginMethod": "Claude Max",
        },
        "accountEmail": "user@example.com",
        "accountOrganization": None,
        "loginMethod": "Claude Max",
    }


def test_usage_block_without_identity_keeps_the_keys() -> None:
    updated = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
    block = UsageBlock.build("zai", UsageSnapshot(updated_at=updated), FETCHED).wire()
    assert block == {
        "primary": None,
        "secondary": None,
        "tertiary": None,
        "extraRateWindows": [],
        "providerCost": None,
        "details": [],
        "openRouterUsage": None,
        "updatedAt": "2026-11-25T17:00:00Z",
        "identity": None,
        "accountEmail": None,
        "accountOrganization": None,
        "loginMethod": None,
    }


def test_usage_block_redacts_the_email_everywhere() -> None:
    block = UsageBlock.build("claude", snapshot(), FETCHED, redact=True).wire()
    assert block["accountEmail"] == "***@example.com"
    assert block["identity"]["accountEmail"] == "***@example.com"
    assert "user@" not in str(block)


def test_provider_cost_and_credits_wire() -> None:
    cost = ProviderCost(used=12.5, limit=100, period="monthly", updated_at=FETCHED)
    assert cost.wire() == {
        "used": 12.5,
        "limit": 100.0,
        "currencyCode": "USD",
        "period": "monthly",
        "resetsAt": None,
        "balance": None,
        "updatedAt": "2026-11-25T18:10:22Z",
    }
    assert Credits(remaining=405, total=1500).wire() == {
        "remaining": 405.0,
        "total": 1500.0,
        "unit": "credits",
        "updatedAt": None,
    }


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("user@example.com", "***@example.com"),
        ("first.last+tag@sub.example.org", "***@sub.example.org"),
        ("a@b@c.example", "***@c.example"),
        ("no-at-sign", "no-at-sign"),
        ("", ""),
        (None, None),
    ],
)
def test_redact_email(email: str | None, expected: str | None) -> None:
    assert redact_email(email) == expected


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("cli_missing", 2),
        ("parse_error", 3),
        ("timeout", 4),
        ("not_configured", 1),
        ("auth_required", 1),
        ("rate_limited", 1),
        ("unavailable", 1),
        ("unsupported", 1),
        ("internal", 1),
    ],
)
def test_fetch_error_codes(kind: ErrorKind, code: int) -> None:
    error = FetchError.of(kind, "message")
    assert error.wire() == {"kind": kind, "message": "message", "code": code}
    assert exit_code_for(kind) == code
    assert error_class(kind).kind == kind


def test_every_kind_has_a_class() -> None:
    assert sorted(error_class(k).kind for k in ERROR_KINDS) == sorted(ERROR_KINDS)
    assert error_class("no_such_kind").kind == "internal"


def test_fetch_error_from_exception() -> None:
    timeout = FetchError.from_exception(Timeout("slow"))
    assert timeout.wire() == {"kind": "timeout", "message": "slow", "code": 4}
    error = AuthRequired("expired", retry_after=3)
    auth = FetchError.from_exception(error)
    assert auth.wire() == {"kind": "auth_required", "message": "expired", "code": 1}
    assert repr(error) == "AuthRequired('expired')"
    assert error.retry_after == 3


def test_pace_wire() -> None:
    pace = Pace(
        primary=PaceValue(
            stage="ahead",
            delta_percent=12.0,
            expected_used_percent=16.0,
            will_last_to_reset=False,
            eta_seconds=9000,
            summary="12% in deficit | Expected 16% used | Runs out in 2h 30m",
        )
    )
    assert pace.wire() == {
        "primary": {
            "stage": "ahead",
            "deltaPercent": 12.0,
            "expectedUsedPercent": 16.0,
            "willLastToReset": False,
            "etaSeconds": 9000,
            "summary": "12% in deficit | Expected 16% used | Runs out in 2h 30m",
        },
        "secondary": None,
        "tertiary": None,
    }


def payload() -> ProviderPayload:
    return ProviderPayload(
        provider="claude",
        display_name="Claude",
        account=None,
        source="oauth",
        version=None,
        status=ProviderStatus(
            kind="statuspage",
            indicator="none",
            description="All Systems Operational",
            updated_at=datetime(2026, 11, 25, 17, 55, tzinfo=UTC),
            url="https://status.claude.com",
        ),
        usage=UsageBlock.build("claude", snapshot(), FETCHED),
        credits=None,
        cost=None,
        pace=Pace(),
        error=FetchError.of("timeout", "Claude did not finish within 60 s"),
        stale=True,
        fetched_at=FETCHED,
        next_refresh_at=FETCHED + timedelta(minutes=5),
    )


def test_provider_payload_top_level_keys() -> None:
    wire = payload().wire()
    assert list(wire) == [
        "provider",
        "displayName",
        "account",
        "source",
        "version",
        "status",
        "usage",
        "credits",
        "cost",
        "pace",
        "forecast",
        "error",
        "lastError",
        "stale",
        "fetchedAt",
        "nextRefreshAt",
    ]
    assert wire["status"] == {
        "kind": "statuspage",
        "indicator": "none",
        "description": "All Systems Operational",
        "updatedAt": "2026-11-25T17:55:00Z",
        "url": "https://status.claude.com",
    }
    assert wire["error"] == {"kind": "timeout", "message": "Claude did not finish within 60 s", "code": 4}
    assert wire["pace"] == {"primary": None, "secondary": None, "tertiary": None}
    assert wire["fetchedAt"] == "2026-11-25T18:10:22Z"
    assert wire["nextRefreshAt"] == "2026-11-25T18:15:22Z"
    assert wire["stale"] is True


def test_provider_payload_round_trip() -> None:
    original = payload()
    wire: dict[str, Any] = original.wire()
    again = ProviderPayload.model_validate(wire)
    assert again == original
    assert again.wire() == wire
    assert again.usage is not None and again.usage.identity is not None
    assert again.usage.identity.provider_id == "claude"
    assert again.usage.primary is not None
    assert again.usage.primary.resets_at == datetime(2026, 11, 25, 19, 15, tzinfo=UTC)


def test_payload_of_a_provider_that_never_succeeded() -> None:
    wire = ProviderPayload(
        provider="zai",
        display_name="z.ai",
        account="work",
        source=None,
        version=None,
        status=ProviderStatus(kind="link", url="https://status.z.ai"),
        usage=None,
        credits=None,
        cost=None,
        pace=None,
        error=FetchError.of("not_configured", "no API key"),
        stale=False,
        fetched_at=None,
        next_refresh_at=None,
    ).wire()
    assert wire["usage"] is None
    assert wire["status"] == {
        "kind": "link",
        "indicator": None,
        "description": None,
        "updatedAt": None,
        "url": "https://status.z.ai",
    }
    assert wire["error"] == {"kind": "not_configured", "message": "no API key", "code": 1}


def test_models_are_frozen_and_ignore_extra_fields() -> None:
    window = RateWindow.model_validate({"usedPercent": 5, "unknownField": 1})
    assert window.used_percent == 5.0
    with pytest.raises(Exception, match="frozen"):
        window.used_percent = 6  # type: ignore[misc]
