"""The state machine: each transition changes the account, bumps the version and publishes before → after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from codexbard.errors import AuthRequired
from codexbard.events import AccountFacts, Event
from codexbard.models import FetchError, ProviderStatus
from codexbard.providers.runner import Attempt, FetchOutcome
from codexbard.runtime import Detection
from codexbard.state import AccountState, State
from codexbard.store import LatestRecord
from tests.fakes import ScriptedStrategy, fake_spec, make_runtime, snapshot

AT = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
LATER = AT + timedelta(seconds=300)
DOWN = FetchError.of("unavailable", "Alpha is down (HTTP 503)")


def make_state(tmp_path: Path, available: bool = True) -> State:
    runtime = make_runtime(tmp_path, [fake_spec("alpha", ScriptedStrategy([snapshot(1.0)], available=available)),
                                      fake_spec("beta", ScriptedStrategy([snapshot(2.0)]))])
    return State(AccountState(p, runtime.detect_blocking(p)) for p in runtime.targets)


def after(event: Event) -> AccountFacts:
    assert isinstance(event.after, AccountFacts)
    return event.after


def before(event: Event) -> AccountFacts:
    assert isinstance(event.before, AccountFacts)
    return event.before


def test_success_then_failure_then_success(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    events = state.hub.subscribe("test")
    attempt = Attempt("api", "api", "api", True, None, None, 12.0)
    ok = state.succeed("alpha", snapshot(40.0), "api", AT, attempts=[attempt], next_run_at=LATER)
    assert (ok.kind, ok.key, ok.at, ok.version, ok.manual) == ("success", "alpha", AT, 1, False)
    assert before(ok).snapshot is None and after(ok).snapshot == snapshot(40.0)
    assert (after(ok).fetched_at, after(ok).last_success_at, after(ok).next_run_at) == (AT, AT, LATER)
    failed = state.fail("alpha", DOWN, LATER, next_run_at=LATER + timedelta(seconds=600))
    assert before(failed) == after(ok)
    assert (after(failed).error, after(failed).stale, after(failed).consecutive_failures) == (DOWN, True, 1)
    assert after(failed).snapshot == snapshot(40.0)  # the last good one stays, marked stale
    again = state.fail("alpha", DOWN, LATER, manual=True, counts=False)
    assert after(again).consecutive_failures == 1 and again.manual is True
    back = state.succeed("alpha", snapshot(41.0), "api", LATER)
    assert (after(back).error, after(back).stale, after(back).consecutive_failures) == (None, False, 0)
    assert state.version == 4
    assert [e.kind for e in events.drain()] == ["success", "failure", "failure", "success"]
    account = state.require("alpha")
    assert account.attempts == [] and account.next_run_at == LATER + timedelta(seconds=600)


def test_a_failure_without_a_snapshot_is_not_stale_and_rate_limits_only_grow(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    limited = FetchError.of("rate_limited", "slow down")
    state.fail("alpha", limited, AT, rate_limited_until=AT + timedelta(hours=2))
    event = state.fail("alpha", limited, AT, rate_limited_until=AT + timedelta(hours=1))
    assert after(event).stale is False
    assert after(event).rate_limited_until == AT + timedelta(hours=2)
    state.succeed("alpha", snapshot(1.0), "api", AT)
    assert state.require("alpha").rate_limited_until is None


def test_restore_loads_the_stored_latest_state_as_stale(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    record = LatestRecord(provider="alpha", account=None, snapshot=snapshot(7.0), source="api", fetched_at=AT,
                          error=DOWN, last_attempt_at=LATER, last_success_at=AT, consecutive_failures=3)
    event = state.restore(record, LATER)
    assert event is not None and event.kind == "restore"
    assert after(event) == AccountFacts(enabled=True, snapshot=snapshot(7.0), source="api", fetched_at=AT,
                                        error=DOWN, stale=True, last_attempt_at=LATER, last_success_at=AT,
                                        consecutive_failures=3, next_run_at=None, rate_limited_until=None)
    gone = LatestRecord(provider="removed", account=None, snapshot=None, source=None, fetched_at=None, error=None,
                        last_attempt_at=None, last_success_at=None, consecutive_failures=0)
    assert state.restore(gone, LATER) is None
    assert state.version == 1


def test_enable_and_disable(tmp_path: Path) -> None:
    state = make_state(tmp_path, available=False)
    assert not state.require("alpha").enabled
    enabled = state.enable("alpha", Detection(True, False, []), AT, first_run=LATER)
    assert (before(enabled).enabled, after(enabled).enabled, after(enabled).next_run_at) == (False, True, LATER)
    disabled = state.disable("alpha", Detection(False, True, []), AT)
    assert (after(disabled).enabled, after(disabled).next_run_at) == (False, None)
    assert [a.key for a in state.enabled()] == ["beta"]


def test_status_changes_are_events(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    major = ProviderStatus(kind="statuspage", indicator="major", url="https://s.example")
    fine = major.model_copy(update={"indicator": "none"})
    first = state.set_status("alpha", major, AT)
    second = state.set_status("alpha", fine, LATER)
    assert (first.before, first.after, second.before, second.after) == (None, major, major, fine)
    assert state.statuses == {"alpha": fine}


def test_schedule_bumps_the_version_only_on_change(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    events = state.hub.subscribe("test")
    state.schedule("alpha", LATER)
    state.schedule("alpha", LATER)
    assert state.version == 1 and state.require("alpha").next_run_at == LATER
    assert events.drain() == []


def test_record_fetch_for_one_shot_commands(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    good = FetchOutcome(snapshot=snapshot(3.0), source="api", error=None)
    bad = FetchOutcome(snapshot=None, source=None, error=AuthRequired("Beta key rejected (HTTP 401)"))
    assert state.record_fetch("alpha", good, AT).kind == "success"
    event = state.record_fetch("beta", bad, AT)
    assert after(event).error == FetchError.of("auth_required", "Beta key rejected (HTTP 401)")
    assert state.require("beta").next_run_at is None


def test_unknown_keys_are_named(tmp_path: Path) -> None:
    state = make_state(tmp_path)
    try:
        state.succeed("nope", snapshot(1.0), "api", AT)
    except KeyError as exc:
        assert exc.args == ("no provider account 'nope'",)
    else:
        raise AssertionError("no KeyError")
    assert state.version == 0


def test_a_disabled_providers_message_gives_its_hint_once(tmp_path: Path) -> None:
    from codexbard.providers.registry import default_registry

    runtime = make_runtime(tmp_path, list(default_registry()))
    checked = 0
    for target in runtime.targets:
        spec = target.spec
        if not spec.enable_hint:
            continue
        message = AccountState(target, runtime.detect_blocking(target)).disabled_error().message
        assert message.startswith(f"{spec.display_name} is not enabled (")
        assert message.count(spec.enable_hint) == 1, message
        checked += 1
    assert checked >= 4


def test_payload_error_and_last_error_before_and_after_failures(tmp_path: Path) -> None:
    from codexbard import render

    state = make_state(tmp_path)
    account = state.require("alpha")
    # Never succeeded: no data, `error` set (clients show "no data"), `lastError` the same failure with its time.
    state.fail("alpha", DOWN, AT)
    wire = account.payload(AT, None).wire()
    assert (wire["usage"], wire["stale"]) == (None, False)
    assert wire["error"] == {"kind": "unavailable", "message": "Alpha is down (HTTP 503)", "code": 1}
    assert wire["lastError"] == {"kind": "unavailable", "message": "Alpha is down (HTTP 503)", "code": 1,
                                 "at": "2026-11-25T18:00:00Z"}
    state.succeed("alpha", snapshot(40.0), "api", AT)
    wire = account.payload(AT, None).wire()
    assert (wire["error"], wire["lastError"], wire["stale"]) == (None, None, False)
    # A failed re-poll keeps the good numbers: `error` stays null, `lastError` says why and when.
    state.fail("alpha", DOWN, LATER)
    stale = account.payload(LATER, None)
    wire = stale.wire()
    assert wire["usage"]["primary"]["usedPercent"] == 40.0
    assert (wire["error"], wire["stale"]) == (None, True)
    assert wire["lastError"] == {"kind": "unavailable", "message": "Alpha is down (HTTP 503)", "code": 1,
                                 "at": "2026-11-25T18:05:00Z"}
    flat = render.flat([stale])["alpha"]
    assert (flat["error"], flat["lastError"], flat["stale"]) == (None, "Alpha is down (HTTP 503)", True)
    text = render.text([stale], LATER)
    assert "  Last refresh failed 2026-11-25 18:05 UTC (unavailable): Alpha is down (HTTP 503)\n" in text
    assert "Error (" not in text
    # The next success clears it.
    state.succeed("alpha", snapshot(41.0), "api", LATER)
    wire = account.payload(LATER, None).wire()
    assert (wire["error"], wire["lastError"], wire["stale"]) == (None, None, False)


def test_serve_flags_map_to_settings(tmp_path: Path) -> None:
    from codexbard.config import Settings
    from codexbard.providers.registry import default_registry
    from codexbard.serve import ServeOptions, apply_options

    settings = Settings()
    apply_options(settings, default_registry(), ServeOptions(refresh_interval=600, request_timeout=30))
    assert (settings.default_interval_seconds, settings.refresh_timeout_seconds) == (600, 30)
    apply_options(settings, default_registry(), ServeOptions(refresh_interval=0.5, request_timeout=0))
    # Below the lowest provider minimum (60 s) it is raised, not refused; 0 means the longest wait.
    assert (settings.default_interval_seconds, settings.refresh_timeout_seconds) == (60, 600.0)
