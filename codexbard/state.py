"""The in-memory view of every provider account: latest snapshot, error, schedule, status.

The scheduler writes it after each poll (and the store persists the same facts); the API reads it,
so no request touches the database or a provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from codexbard.models import (
    FetchError,
    ProviderPayload,
    ProviderStatus,
    UsageBlock,
    UsageSnapshot,
)
from codexbard.pace import snapshot_pace
from codexbard.providers.registry import AccountPlan
from codexbard.providers.runner import Attempt
from codexbard.runtime import Detection


@dataclass
class AccountState:
    """Everything known about one provider account."""

    plan: AccountPlan
    detection: Detection
    snapshot: UsageSnapshot | None = None
    source: str | None = None
    fetched_at: datetime | None = None
    error: FetchError | None = None
    stale: bool = False
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    next_run_at: datetime | None = None
    attempts: list[Attempt] = field(default_factory=list)
    rate_limited_until: datetime | None = None
    credential_fingerprint: str | None = None  # taken when a poll fails for want of credentials

    @property
    def enabled(self) -> bool:
        """Whether this account is polled."""
        return self.detection.enabled

    def disabled_error(self) -> FetchError:
        """The error shown for a provider that is not enabled."""
        spec = self.plan.spec
        hint = f" {spec.enable_hint}" if spec.enable_hint else ""
        return FetchError.of(
            "not_configured", f"{spec.display_name} is not enabled ({self.detection.reason()}).{hint}"
        )

    def payload(
        self,
        now: datetime,
        status: ProviderStatus | None,
        *,
        redact: bool = False,
        scheduled: bool = True,
    ) -> ProviderPayload:
        """Build the API payload of this account at `now`."""
        spec = self.plan.spec
        snapshot = self.snapshot if self.enabled or not scheduled else None
        usage = (
            UsageBlock.build(spec.id, snapshot, self.fetched_at or now, redact=redact)
            if snapshot is not None
            else None
        )
        error = self.error
        if scheduled and not self.enabled:
            error = self.disabled_error()
        return ProviderPayload(
            provider=spec.id,
            display_name=spec.display_name,
            account=self.plan.account,
            source=self.source if snapshot is not None else None,
            version=snapshot.version if snapshot is not None else None,
            status=status,
            usage=usage,
            credits=snapshot.credits if snapshot is not None else None,
            cost=None,
            pace=snapshot_pace(snapshot, now) if snapshot is not None else None,
            error=error,
            stale=self.stale and snapshot is not None,
            fetched_at=self.fetched_at if snapshot is not None else None,
            next_refresh_at=self.next_run_at if scheduled and self.enabled else None,
        )


class State:
    """All account states in registry/config order, plus service statuses."""

    def __init__(self, accounts: Iterable[AccountState]) -> None:
        self.accounts: dict[str, AccountState] = {a.plan.key: a for a in accounts}
        self.statuses: dict[str, ProviderStatus] = {}
        self.version = 0

    def touch(self) -> None:
        """Mark the state changed (invalidates rendered responses)."""
        self.version += 1

    def get(self, key: str) -> AccountState | None:
        """Return one account's state by `<provider>[:<account>]`."""
        return self.accounts.get(key)

    def for_provider(self, provider_id: str) -> list[AccountState]:
        """Every account state of one provider, in config order."""
        return [a for a in self.accounts.values() if a.plan.spec.id == provider_id]

    def enabled(self) -> list[AccountState]:
        """The accounts that are polled."""
        return [a for a in self.accounts.values() if a.enabled]

    def status_for(self, account: AccountState) -> ProviderStatus | None:
        """The service status shown in an account's payload."""
        source = account.plan.spec.status
        if source is None:
            return None
        if source.kind == "link":
            return source.link_status()
        known = self.statuses.get(account.plan.spec.id)
        if known is not None:
            return known
        return ProviderStatus(kind=source.kind, indicator="unknown", url=source.page_url)
