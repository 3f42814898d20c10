"""`GET /providers` and `codexbard providers --format json`: what is registered, enabled and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from codexbard.models import iso_z
from codexbard.providers.base import ProviderSpec
from codexbard.state import AccountState


def _iso(value: datetime | None) -> str | None:
    return iso_z(value) if value else None


def provider_info(spec: ProviderSpec, accounts: list[AccountState]) -> dict[str, Any]:
    """One element of `GET /providers` (and `codexbard providers --format json`)."""
    if not accounts:  # `accounts = []` in its table: exactly no account is polled
        return {
            "id": spec.id, "displayName": spec.display_name, "enabled": False,
            "enabledReason": f"no accounts are configured ([providers.{spec.id}] accounts is empty)",
            "enableHint": spec.enable_hint or None, "configuredSource": None,
            "strategies": [{"id": s.id, "kind": s.kind, "sourceLabel": s.source_label, "available": False,
                            "reason": "no account to check"} for s in spec.strategies],
            "intervalSeconds": None, "lastAttemptAt": None, "lastSuccessAt": None, "nextRunAt": None,
            "consecutiveFailures": 0, "lastError": None, "lastAttempts": [], "dashboardUrl": spec.dashboard_url,
            "statusUrl": spec.status.page_url if spec.status else None, "accounts": [],
        }
    first = accounts[0]
    detected = dict(first.detection.strategies)
    strategies = []
    for strategy in spec.strategies:
        availability = detected.get(strategy.id)
        strategies.append({
            "id": strategy.id,
            "kind": strategy.kind,
            "sourceLabel": strategy.source_label,
            "available": bool(availability and availability.ok),
            "reason": availability.reason if availability else None,
        })
    return {
        "id": spec.id,
        "displayName": spec.display_name,
        "enabled": any(a.enabled for a in accounts),
        "enabledReason": first.detection.reason(),
        "enableHint": spec.enable_hint or None,
        "configuredSource": first.target.mode,
        "strategies": strategies,
        "intervalSeconds": first.target.interval_seconds,
        "lastAttemptAt": _iso(first.last_attempt_at),
        "lastSuccessAt": _iso(first.last_success_at),
        "nextRunAt": _iso(first.next_run_at) if first.enabled else None,
        "consecutiveFailures": first.consecutive_failures,
        "lastError": first.error.wire() if first.error else None,
        "lastAttempts": [a.wire() for a in first.attempts],
        "dashboardUrl": spec.dashboard_url,
        "statusUrl": spec.status.page_url if spec.status else None,
        "accounts": [a.target.account for a in accounts if a.target.account is not None],
    }
