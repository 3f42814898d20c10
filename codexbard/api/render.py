"""Output formats shared by the HTTP API and the CLI: json, flat and text."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final

from codexbard.models import ProviderPayload, RateWindow, iso_z
from codexbard.pace import format_duration
from codexbard.providers.base import ProviderSpec
from codexbard.state import AccountState

FORMATS: Final = ("json", "flat", "text")


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
            "error": p.error.message if p.error else None,
            "updatedAt": usage.get("updatedAt"),
        }
    return out


def _window_line(name: str, window: RateWindow | Any, now: datetime) -> str:
    used = window.used_percent
    parts = [f"{name}: {max(0.0, 100.0 - used):.0f}% left ({used:.0f}% used)"]
    if window.resets_at is not None:
        seconds = (window.resets_at - now).total_seconds()
        when = window.resets_at.strftime("%Y-%m-%d %H:%M UTC")
        parts.append(f"resets {when}" + (f" (in {format_duration(seconds)})" if seconds > 0 else ""))
    if window.reset_description:
        parts.append(window.reset_description)
    return ", ".join(parts)


def text(payloads: list[ProviderPayload], now: datetime) -> str:
    """A human-readable summary, one block per provider account."""
    blocks: list[str] = []
    for p in payloads:
        title = p.display_name + (f" [{p.account}]" if p.account else "")
        tags = [t for t in (p.source, "stale" if p.stale else None) if t]
        lines = [title + (f" ({', '.join(tags)})" if tags else "")]
        if p.usage is not None:
            for slot, window in (("primary", p.usage.primary), ("secondary", p.usage.secondary),
                                 ("tertiary", p.usage.tertiary)):
                if window is not None:
                    lines.append("  " + _window_line(window.label or slot.capitalize(), window, now))
            for extra in p.usage.extra_rate_windows:
                lines.append("  " + _window_line(extra.title, extra.window, now))
            if p.usage.login_method:
                lines.append(f"  {p.usage.login_method}")
            if p.usage.account_email:
                lines.append(f"  Account: {p.usage.account_email}")
        if p.credits is not None:
            total = f" of {p.credits.total:g}" if p.credits.total is not None else ""
            lines.append(f"  Credits: {p.credits.remaining:g}{total} {p.credits.unit} left")
        if p.status is not None and p.status.indicator not in (None, "none"):
            lines.append(f"  Status: {p.status.indicator} {p.status.description or ''}".rstrip())
        if p.error is not None:
            lines.append(f"  Error ({p.error.kind}): {p.error.message}")
        if p.usage is None and p.error is None:
            lines.append("  No data yet")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


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
        "configuredSource": first.plan.mode,
        "strategies": strategies,
        "intervalSeconds": first.plan.interval_seconds,
        "lastAttemptAt": _iso(first.last_attempt_at),
        "lastSuccessAt": _iso(first.last_success_at),
        "nextRunAt": _iso(first.next_run_at) if first.enabled else None,
        "consecutiveFailures": first.consecutive_failures,
        "lastError": first.error.wire() if first.error else None,
        "lastAttempts": [a.wire() for a in first.attempts],
        "dashboardUrl": spec.dashboard_url,
        "statusUrl": spec.status.page_url if spec.status else None,
        "accounts": [a.plan.account for a in accounts if a.plan.account is not None],
    }
