"""The in-memory view of every provider account: latest snapshot, error, schedule, status.

It is a state machine: an account's fields change only through the transition methods of `State`
(`succeed`, `fail`, `ingest`, `restore`, `enable`, `disable`, `set_status`, plus `schedule` for the next run), each
of which bumps `State.version` (the API caches rendered bytes by it) and publishes an `Event` with the
payload-relevant facts before and after to the `EventHub`. The scheduler calls them after each poll (and
the store persists the same facts); the API only reads, so no request touches the database or a provider.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from codexbard.events import AccountFacts, Event, EventHub, EventKind, Facts
from codexbard.models import (
    CostSummary,
    FetchError,
    LastError,
    ProviderPayload,
    ProviderStatus,
    UsageBlock,
    UsageSnapshot,
)
from codexbard.pace import snapshot_pace
from codexbard.providers.registry import PollTarget
from codexbard.providers.runner import Attempt, FetchOutcome
from codexbard.recent import RecentSamples
from codexbard.runtime import Detection
from codexbard.store.records import LatestRecord


@dataclass
class AccountState:
    """Everything known about one provider account."""

    target: PollTarget
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

    @property
    def key(self) -> str:
        """`<provider>` or `<provider>:<account>`."""
        return self.target.key

    def facts(self) -> AccountFacts:
        """The payload-relevant facts now (what events carry as before and after)."""
        return AccountFacts(
            enabled=self.enabled,
            snapshot=self.snapshot,
            source=self.source,
            fetched_at=self.fetched_at,
            error=self.error,
            stale=self.stale,
            last_attempt_at=self.last_attempt_at,
            last_success_at=self.last_success_at,
            consecutive_failures=self.consecutive_failures,
            next_run_at=self.next_run_at,
            rate_limited_until=self.rate_limited_until,
        )

    def last_error(self, now: datetime) -> LastError | None:
        """The failure of the latest poll, with its time; None once a poll succeeded after it."""
        if self.error is None:
            return None
        # `fail` (and `restore`, from the stored record) set the attempt time with the error.
        return LastError.of_error(self.error, self.last_attempt_at or now)

    def disabled_error(self) -> FetchError:
        """The error shown for a provider that is not enabled."""
        spec = self.target.spec
        reason = self.detection.reason()
        # A strategy's missing-key reason already ends with the hint: say it once.
        hint = f" {spec.enable_hint}" if spec.enable_hint and spec.enable_hint not in reason else ""
        return FetchError.of("not_configured", f"{spec.display_name} is not enabled ({reason}).{hint}")

    def payload(
        self,
        now: datetime,
        status: ProviderStatus | None,
        *,
        redact: bool = False,
        scheduled: bool = True,
        cost: CostSummary | None = None,
    ) -> ProviderPayload:
        """Build the API payload of this account at `now` (`cost`: the provider's local cost summary, if any)."""
        spec = self.target.spec
        snapshot = self.snapshot if self.enabled or not scheduled else None
        usage = (
            UsageBlock.build(spec.id, snapshot, self.fetched_at or now, redact=redact)
            if snapshot is not None
            else None
        )
        # API.md: `error` only when there is no usable data (clients treat any `error` as "no data");
        # a failure beside good data is reported in `lastError`, which clears on the next success.
        last_error = self.last_error(now)
        error: FetchError | None = self.error if usage is None else None
        if scheduled and not self.enabled:  # nothing is polled: say how to enable it
            error, last_error = self.disabled_error(), None
        return ProviderPayload(
            provider=spec.id,
            display_name=spec.display_name,
            account=self.target.account,
            source=self.source if snapshot is not None else None,
            version=snapshot.version if snapshot is not None else None,
            status=status,
            usage=usage,
            credits=snapshot.credits if snapshot is not None else None,
            cost=cost,
            pace=snapshot_pace(snapshot, now) if snapshot is not None else None,
            error=error,
            last_error=last_error,
            stale=self.stale and snapshot is not None,
            fetched_at=self.fetched_at if snapshot is not None else None,
            next_refresh_at=self.next_run_at if scheduled and self.enabled else None,
        )


class State:
    """All account states in registry/config order, plus service statuses."""

    def __init__(self, accounts: Iterable[AccountState], hub: EventHub | None = None) -> None:
        self.accounts: dict[str, AccountState] = {a.target.key: a for a in accounts}
        self.statuses: dict[str, ProviderStatus] = {}
        self.costs: dict[str, CostSummary] = {}  # provider id -> local cost summary (the cost job)
        self.version = 0
        self.hub = hub or EventHub()
        self.recent = RecentSamples()  # the samples forecasts read (codexbard/recent.py)

    def touch(self) -> None:
        """Mark the state changed (invalidates rendered responses)."""
        self.version += 1

    def get(self, key: str) -> AccountState | None:
        """Return one account's state by `<provider>[:<account>]`."""
        return self.accounts.get(key)

    def require(self, key: str) -> AccountState:
        """Return one account's state; KeyError naming the key when there is none."""
        account = self.accounts.get(key)
        if account is None:
            raise KeyError(f"no provider account {key!r}")
        return account

    # -- transitions -----------------------------------------------------------------------------

    def _emit(self, kind: EventKind, key: str, before: Facts | None, after: Facts | None, at: datetime,
              *, manual: bool = False) -> Event:
        self.version += 1
        event = Event(kind=kind, key=key, before=before, after=after, at=at, version=self.version, manual=manual)
        self.hub.publish(event)
        return event

    def succeed(self, key: str, snapshot: UsageSnapshot, source: str, at: datetime, *,
                attempts: list[Attempt] | None = None, next_run_at: datetime | None = None,
                manual: bool = False) -> Event:
        """A poll produced a snapshot: it replaces the last one; errors, failures and rate limits clear."""
        account = self.require(key)
        before = account.facts()
        account.snapshot = snapshot
        account.source = source
        account.fetched_at = at
        account.error = None
        account.stale = False
        account.last_attempt_at = at
        account.last_success_at = at
        account.consecutive_failures = 0
        account.rate_limited_until = None
        account.credential_fingerprint = None
        account.attempts = list(attempts or [])
        if next_run_at is not None:
            account.next_run_at = next_run_at
        self.recent.add(key, snapshot, at)
        return self._emit("success", key, before, account.facts(), at, manual=manual)

    def fail(self, key: str, error: FetchError, at: datetime, *, attempts: list[Attempt] | None = None,
             counts: bool = True, next_run_at: datetime | None = None,
             rate_limited_until: datetime | None = None, credential_fingerprint: str | None = None,
             manual: bool = False) -> Event:
        """A poll failed: the last good snapshot stays (stale) beside the error.

        `counts` says whether the failure adds to the consecutive failures the schedule backs off by (a
        user-initiated refresh does not). A `rate_limited_until` later than the one known is remembered.
        """
        account = self.require(key)
        before = account.facts()
        account.error = error
        account.stale = account.snapshot is not None
        account.last_attempt_at = at
        if counts:
            account.consecutive_failures += 1
        if rate_limited_until is not None and (
            account.rate_limited_until is None or rate_limited_until > account.rate_limited_until
        ):
            account.rate_limited_until = rate_limited_until
        if credential_fingerprint is not None:
            account.credential_fingerprint = credential_fingerprint
        account.attempts = list(attempts or [])
        if next_run_at is not None:
            account.next_run_at = next_run_at
        return self._emit("failure", key, before, account.facts(), at, manual=manual)

    def ingest(self, key: str, snapshot: UsageSnapshot, source: str, at: datetime) -> Event:
        """Data pushed to the daemon (Claude Code's status line) replaces the snapshot without a poll.

        The poll bookkeeping is left alone: last attempt and success, failure count, rate-limit back-off and
        the next run stay, so an ingest never resets the schedule or a provider's refresh floor. The error of
        the last poll stays too (the next poll reconciles); the data itself is fresh, so it is not stale.
        """
        account = self.require(key)
        before = account.facts()
        account.snapshot = snapshot
        account.source = source
        account.fetched_at = at
        account.stale = False
        return self._emit("ingest", key, before, account.facts(), at)

    def record_fetch(self, key: str, outcome: FetchOutcome, at: datetime, *, manual: bool = False) -> Event:
        """Apply a pipeline outcome without scheduling (the one-shot CLI's path: nothing is re-polled)."""
        if outcome.snapshot is not None:
            return self.succeed(key, outcome.snapshot, outcome.source or "", at, attempts=outcome.attempts,
                                manual=manual)
        error = outcome.error
        message = FetchError.of("internal", "the fetch produced neither a snapshot nor an error")
        return self.fail(key, FetchError.from_exception(error) if error is not None else message, at,
                         attempts=outcome.attempts, manual=manual)

    def restore(self, record: LatestRecord, at: datetime) -> Event | None:
        """Load an account's stored latest state at start (its snapshot is stale until re-polled).

        Returns None for a record of an account that is no longer configured.
        """
        key = record.provider if record.account is None else f"{record.provider}:{record.account}"
        account = self.get(key)
        if account is None:
            return None
        before = account.facts()
        account.snapshot = record.snapshot
        account.source = record.source
        account.fetched_at = record.fetched_at
        account.error = record.error
        account.last_attempt_at = record.last_attempt_at
        account.last_success_at = record.last_success_at
        account.consecutive_failures = max(0, record.consecutive_failures)
        account.stale = record.snapshot is not None
        return self._emit("restore", key, before, account.facts(), at)

    def enable(self, key: str, detection: Detection, at: datetime, *, first_run: datetime | None = None) -> Event:
        """Credentials appeared (or config enabled the account): it is polled from now on."""
        account = self.require(key)
        before = account.facts()
        account.detection = detection
        if first_run is not None:
            account.next_run_at = first_run
        return self._emit("enable", key, before, account.facts(), at)

    def disable(self, key: str, detection: Detection, at: datetime) -> Event:
        """Credentials disappeared (or config disabled the account): it is no longer polled."""
        account = self.require(key)
        before = account.facts()
        account.detection = detection
        account.next_run_at = None
        return self._emit("disable", key, before, account.facts(), at)

    def schedule(self, key: str, when: datetime | None) -> None:
        """Set an account's next scheduled poll (shown as nextRefreshAt; no event)."""
        account = self.require(key)
        if account.next_run_at != when:
            account.next_run_at = when
            self.version += 1

    def note_credentials(self, key: str, fingerprint: str) -> None:
        """Remember what the credentials looked like when a poll failed for want of them."""
        self.require(key).credential_fingerprint = fingerprint

    def set_status(self, provider_id: str, status: ProviderStatus, at: datetime) -> Event:
        """A provider's service status was read (or restored from the database)."""
        before = self.statuses.get(provider_id)
        self.statuses[provider_id] = status
        return self._emit("status", provider_id, before, status, at)

    def set_costs(self, costs: dict[str, CostSummary]) -> None:
        """The cost job scanned the logs: replace the local cost summaries (keyed by provider id; no event)."""
        if costs != self.costs:
            self.costs = dict(costs)
            self.version += 1

    # -- queries ---------------------------------------------------------------------------------

    def for_provider(self, provider_id: str) -> list[AccountState]:
        """Every account state of one provider, in config order."""
        return [a for a in self.accounts.values() if a.target.spec.id == provider_id]

    def enabled(self) -> list[AccountState]:
        """The accounts that are polled."""
        return [a for a in self.accounts.values() if a.enabled]

    def status_for(self, account: AccountState) -> ProviderStatus | None:
        """The service status shown in an account's payload."""
        source = account.target.spec.status
        if source is None:
            return None
        if source.kind == "link":
            return source.link_status()
        known = self.statuses.get(account.target.spec.id)
        if known is not None:
            return known
        return ProviderStatus(kind=source.kind, indicator="unknown", url=source.page_url)
