"""Claude `/usage` panel text (as rendered on a terminal) → snapshot or typed error, and reset-text parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from codexbard.errors import AuthRequired, ParseError, ProviderError, RateLimited, Unavailable
from codexbard.models import Identity, NamedWindow, RateWindow, UsageSnapshot, WindowValue
from codexbard.providers.claude.panel import (
    clean_reset,
    is_all_models,
    looks_like_usage,
    panel_identity,
    parse_panel,
    parse_reset_text,
    percent_left,
    strip_ansi,
)

PANELS = Path(__file__).parent / "fixtures" / "panels"
# 11:00 in Chicago (CST, UTC-6; DST starts on Mar 8 2026), 02:00 on Mar 3 in Tokyo.
NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def text(name: str) -> str:
    return (PANELS / name).read_text(encoding="utf-8")


def panel(name: str, status: str | None = None) -> UsageSnapshot:
    return parse_panel(text(name), text(status) if status else None, now=NOW, tz=UTC)


def win(used: float, minutes: int, label: str, reset: str | None, at: datetime | None) -> RateWindow:
    return RateWindow(used_percent=used, window_minutes=minutes, resets_at=at, reset_description=reset, label=label)


def scoped(window_id: str, title: str, used: float, reset: str | None, at: datetime | None) -> NamedWindow:
    return NamedWindow(id=window_id, title=title, window=WindowValue(
        used_percent=used, window_minutes=10080, resets_at=at, reset_description=reset))


CHI_2PM = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
CHI_MAR6_3AM = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
SESSION_RESET = "Resets 2pm (America/Chicago)"
WEEK_RESET = "Resets Mar 6 at 3am (America/Chicago)"

PANEL_CASES: list[tuple[str, str | None, UsageSnapshot]] = [
    # The sheet's capture plus /status: identity from /status (plan compacted to "Max").
    ("usage_basic.txt", "status.txt", UsageSnapshot(
        primary=win(23.0, 300, "Session", SESSION_RESET, CHI_2PM),
        secondary=win(41.0, 10080, "Weekly", WEEK_RESET, CHI_MAR6_3AM),
        tertiary=win(9.0, 10080, "Sonnet", WEEK_RESET, CHI_MAR6_3AM),
        # No reset under "Current week (Fable)": the weekly reset is used.
        extra_rate_windows=[scoped("claude-weekly-scoped-fable", "Fable only", 17.0, WEEK_RESET, CHI_MAR6_3AM)],
        identity=Identity(account_email="jordan.lee@example.net", account_organization="Jordan's Workspace",
                          login_method="Max"))),
    # ANSI colours, CR LF, an OSC title and a no-break space before "used".
    ("usage_ansi.txt", None, UsageSnapshot(
        primary=win(23.0, 300, "Session", SESSION_RESET, CHI_2PM),
        secondary=win(41.0, 10080, "Weekly", WEEK_RESET, CHI_MAR6_3AM),
        tertiary=win(9.0, 10080, "Sonnet", WEEK_RESET, CHI_MAR6_3AM))),
    # Older single-line format: "12% used  (Resets 11am)"; no zone -> tz (UTC); 11am today is past -> tomorrow.
    ("usage_single_line.txt", None, UsageSnapshot(
        primary=win(12.0, 300, "Session", "Resets 11am", datetime(2026, 3, 3, 11, 0, tzinfo=UTC)),
        secondary=win(55.0, 10080, "Weekly", "Resets Mar 7, 10:30am (Europe/Vienna)",
                      datetime(2026, 3, 7, 9, 30, tzinfo=UTC)))),
    # "remaining" / "left" / "available" wording; Opus as the model window (no reset of its own).
    ("usage_remaining.txt", None, UsageSnapshot(
        primary=win(40.0, 300, "Session", "Resets 9pm (UTC)", datetime(2026, 3, 2, 21, 0, tzinfo=UTC)),
        secondary=win(11.5, 10080, "Weekly", "Resets Mar 9 at 9am (UTC)", datetime(2026, 3, 9, 9, 0, tzinfo=UTC)),
        tertiary=win(3.0, 10080, "Sonnet", None, None))),
    # Percent and reset on separate lines further down; "Mar6" repaired; Tokyo zone.
    ("usage_separate_lines.txt", None, UsageSnapshot(
        primary=win(30.0, 300, "Session", "Resets 3:30pm (Asia/Tokyo)", datetime(2026, 3, 3, 6, 30, tzinfo=UTC)),
        secondary=win(70.0, 10080, "Weekly", "Resets Mar6 at 9am (Asia/Tokyo)",
                      datetime(2026, 3, 6, 0, 0, tzinfo=UTC)))),
    # Garbled "all modls" is still the weekly window (never an extra "all modls only" row); "Fable only" stays as is.
    ("usage_garbled.txt", None, UsageSnapshot(
        primary=win(33.0, 300, "Session", "Resets 4pm (UTC)", datetime(2026, 3, 2, 16, 0, tzinfo=UTC)),
        secondary=win(66.0, 10080, "Weekly", "Resets Mar 8 at 1pm (UTC)", datetime(2026, 3, 8, 13, 0, tzinfo=UTC)),
        extra_rate_windows=[scoped("claude-weekly-scoped-fable-only", "Fable only", 5.0, "Resets Mar 8 at 1pm (UTC)",
                                   datetime(2026, 3, 8, 13, 0, tzinfo=UTC))])),
    # An exact copy of "all models" wins over an earlier garbled one.
    ("usage_garbled_and_exact.txt", None, UsageSnapshot(
        primary=win(33.0, 300, "Session", "Resets 4pm (UTC)", datetime(2026, 3, 2, 16, 0, tzinfo=UTC)),
        secondary=win(66.0, 10080, "Weekly", "Resets Mar 8 at 1pm (UTC)", datetime(2026, 3, 8, 13, 0, tzinfo=UTC)))),
    # Status-bar "| Opus 4 | 0%" and the context meter before the panel are not usage.
    ("usage_status_bar_noise.txt", None, UsageSnapshot(
        primary=win(3.0, 300, "Session", "Resets 6pm (UTC)", datetime(2026, 3, 2, 18, 0, tzinfo=UTC)),
        secondary=win(1.0, 10080, "Weekly", "Resets Mar 9 at 12am (UTC)", datetime(2026, 3, 9, 0, 0, tzinfo=UTC)))),
    # Layout drift ("Current sesion"): the first percent of the panel is the session.
    ("usage_fallback_first_percent.txt", None, UsageSnapshot(
        primary=win(14.0, 300, "Session", None, None), secondary=win(2.0, 10080, "Weekly", None, None))),
    # The last occurrence per model wins; another model inherits the weekly reset.
    ("usage_duplicate_model.txt", None, UsageSnapshot(
        primary=win(10.0, 300, "Session", "Resets 11pm (UTC)", datetime(2026, 3, 2, 23, 0, tzinfo=UTC)),
        secondary=win(20.0, 10080, "Weekly", "Resets Mar 5 at 8am (UTC)", datetime(2026, 3, 5, 8, 0, tzinfo=UTC)),
        extra_rate_windows=[
            scoped("claude-weekly-scoped-fable", "Fable only", 35.0, "Resets Mar 4 at 8am (UTC)",
                   datetime(2026, 3, 4, 8, 0, tzinfo=UTC)),
            scoped("claude-weekly-scoped-design-tools", "Design tools only", 1.0, "Resets Mar 5 at 8am (UTC)",
                   datetime(2026, 3, 5, 8, 0, tzinfo=UTC)),
        ])),
    # Subscription notice only: limits unavailable, not an error.
    ("usage_subscription_notice.txt", None, UsageSnapshot()),
]


@pytest.mark.parametrize(("fixture", "status", "expected"), PANEL_CASES, ids=[c[0] for c in PANEL_CASES])
def test_panel(fixture: str, status: str | None, expected: UsageSnapshot) -> None:
    assert panel(fixture, status) == expected


ERROR_CASES: list[tuple[str, type[ProviderError], str]] = [
    ("usage_login_prompt.txt", AuthRequired, "not logged in"),
    ("usage_invalid_api_key.txt", AuthRequired, "not logged in"),
    ("usage_failed_json.txt", AuthRequired, "OAuth token lacks scope \\(insufficient_scope\\)"),
    ("usage_failed_token_json.txt", AuthRequired, "Token is no longer valid \\(token_expired\\)"),
    ("usage_failed_token_text.txt", AuthRequired, "token expired"),
    ("usage_failed_rate_limit_json.txt", RateLimited, "rate limited"),
    ("usage_failed_rate_limited_text.txt", RateLimited, "rate limited"),
    ("usage_failed_server_json.txt", Unavailable, "Claude CLI error: Internal server error"),
    ("usage_failed_plain.txt", Unavailable, "could not load usage data"),
    ("usage_loading.txt", Unavailable, "still loading"),
    ("usage_trust_prompt.txt", Unavailable, "folder-trust prompt"),
    ("usage_empty.txt", Unavailable, "empty screen"),
    ("usage_no_session.txt", ParseError, "missing Current session"),
]


@pytest.mark.parametrize(("fixture", "error", "message"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_panel_errors(fixture: str, error: type[ProviderError], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        panel(fixture)
    assert type(info.value) is error


def test_rate_limit_blocks_cli_for_five_minutes() -> None:
    with pytest.raises(RateLimited) as info:
        panel("usage_failed_rate_limit_json.txt")
    assert info.value.retry_after == 300.0


def test_identity_from_status_account_line() -> None:
    assert panel_identity(text("usage_basic.txt"), text("status_account.txt")) == Identity(
        account_email="sam@example.org", account_organization=None, login_method="Pro")
    assert panel_identity("nothing here") is None
    assert panel_identity("Account: someone") == Identity(account_email="someone")
    assert panel_identity("Welcome to Claude Ultra plan") == Identity(login_method="Ultra")
    assert panel_identity("Claude Code v2.1.7") is None


@pytest.mark.parametrize(("line", "left"), [
    ("███ 23% used", 77.0), ("40% left", 40.0), ("12.5 % remaining", 12.5), ("9%\u00a0available", 9.0),
    ("150% used", 0.0), ("5% spent", 95.0), ("7%", None), ("Opus 4 | 0% used", None), ("no percent used", None),
])
def test_percent_left(line: str, left: float | None) -> None:
    assert percent_left(line) == left


def test_helpers() -> None:
    assert strip_ansi("\x1b[1mA\x1b[0m\r\nB\rC\x07") == "A\nB\nC"
    assert is_all_models("allmodels") and is_all_models("allmodls") and not is_all_models("fable")
    assert clean_reset("Resets Mar 6 t 3am (America/Chicago)) ") == "Resets Mar 6 at 3am (America/Chicago)"
    assert clean_reset("Resets 2pm (Europe/Vienna") == "Resets 2pm (Europe/Vienna)"
    assert looks_like_usage(text("usage_basic.txt")) and looks_like_usage(text("usage_subscription_notice.txt"))
    assert not looks_like_usage(text("usage_login_prompt.txt"))


# --- Reset text → instant ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reset", "window", "expected"), [
    ("Resets 2pm (America/Chicago)", 5 * 3600, datetime(2026, 3, 2, 20, 0, tzinfo=UTC)),
    ("Resets: 10.30pm (UTC)", None, datetime(2026, 3, 2, 22, 30, tzinfo=UTC)),
    ("Resets 18:45 (UTC)", None, datetime(2026, 3, 2, 18, 45, tzinfo=UTC)),
    ("Resets 9:05 am (UTC)", None, datetime(2026, 3, 3, 9, 5, tzinfo=UTC)),
    # The next 4pm is 23 h away (beyond 5 h) while today's 4pm (1 h ago) lies within 5 h -> the past one.
    ("Resets 4pm (UTC)", 5 * 3600, datetime(2026, 3, 2, 16, 0, tzinfo=UTC)),
    ("Resets Mar 6 at 3am (America/Chicago)", 7 * 86400, datetime(2026, 3, 6, 9, 0, tzinfo=UTC)),
    ("Resets Mar 6, 2027, 3:00 AM (UTC)", None, datetime(2027, 3, 6, 3, 0, tzinfo=UTC)),
    ("Resets Mar 6 2025 3am (UTC)", None, datetime(2025, 3, 6, 3, 0, tzinfo=UTC)),
    ("Resets Mar6at3am (UTC)", None, datetime(2026, 3, 6, 3, 0, tzinfo=UTC)),
    ("Resets March 10, 5pm (UTC)", None, datetime(2026, 3, 10, 17, 0, tzinfo=UTC)),
    # Month-day in the past this year -> next year.
    ("Resets Feb 1 at 1am (UTC)", None, datetime(2027, 2, 1, 1, 0, tzinfo=UTC)),
    # ...unless this year's occurrence lies within the window length in the past.
    ("Resets Feb 28 at 1am (UTC)", 7 * 86400, datetime(2026, 2, 28, 1, 0, tzinfo=UTC)),
    # Feb 29 resolves to the next leap year.
    ("Resets Feb 29 at 1am (UTC)", None, datetime(2028, 2, 29, 1, 0, tzinfo=UTC)),
    # An unknown zone name falls back to the given zone.
    ("Resets 8pm (Mars/Olympus)", None, datetime(2026, 3, 2, 20, 0, tzinfo=UTC)),
    # DST gap in Chicago (Mar 8 2026, 2:00-3:00 does not exist): no instant that day.
    ("Resets Mar 8 at 2:30am (America/Chicago)", None, datetime(2027, 3, 8, 8, 30, tzinfo=UTC)),
    # DST repeat in Chicago (Nov 1 2026, 1:30 happens twice): the first occurrence.
    ("Resets Nov 1 at 1:30am (America/Chicago)", None, datetime(2026, 11, 1, 6, 30, tzinfo=UTC)),
    ("Resets soon", None, None),
    ("Resets 13pm (UTC)", None, None),
    ("", None, None),
])
def test_parse_reset_text(reset: str, window: float | None, expected: datetime | None) -> None:
    assert parse_reset_text(reset, now=NOW, tz=UTC, window_seconds=window) == expected


def test_parse_reset_text_uses_given_zone() -> None:
    plus2 = timezone(timedelta(hours=2))
    assert parse_reset_text("Resets 9pm", now=NOW, tz=plus2) == datetime(2026, 3, 2, 19, 0, tzinfo=UTC)
    assert parse_reset_text(None, now=NOW) is None
