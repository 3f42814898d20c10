"""The Waybar line: exact objects for each class, escaping, one line, the most constrained window."""

from __future__ import annotations

import json
from datetime import UTC
from zoneinfo import ZoneInfo

from codexbard.config import DisplayConfig
from codexbard.models import Credits, FetchError, LastError
from codexbard.render import Thresholds, waybar
from codexbard.render.waybar import CLASSES, waybar_object
from tests.helpers import NOW
from tests.render.kit import H, extra, payload, window

T = Thresholds()


def obj(*payloads: object, thresholds: Thresholds = T, zone: object = UTC) -> dict[str, object]:
    line = waybar(list(payloads), NOW, thresholds, zone)  # type: ignore[arg-type]
    assert line.endswith("\n") and line.count("\n") == 1  # one line, LF-terminated, no raw newline inside
    parsed: dict[str, object] = json.loads(line)
    assert list(parsed) == ["text", "alt", "tooltip", "class", "percentage"]
    return parsed


def test_the_most_constrained_window_across_providers_drives_text_and_percentage() -> None:
    claude = payload("claude", primary=window(28.0), secondary=window(59.0, "Weekly", 10080, 50 * H))
    codex = payload("codex", primary=window(12.0))
    assert obj(codex, claude) == {
        "text": "Claude 59%",
        "alt": "claude",
        "tooltip": "Codex\n  Session: 12% used, resets 20:00\n\n"
                   "Claude\n  Session: 28% used, resets 20:00\n  Weekly: 59% used, resets Fri 20:00",
        "class": "ok",
        "percentage": 59,
    }


def test_thresholds_pick_the_class_and_come_from_display_config() -> None:
    custom = Thresholds.of(DisplayConfig(warning_percent=50, critical_percent=80))
    assert custom == Thresholds(50.0, 80.0)
    assert [obj(payload("a", primary=window(u)))["class"] for u in (74.9, 75.0, 89.9, 90.0)] == [
        "ok", "warning", "warning", "critical"]
    assert [obj(payload("a", primary=window(u)), thresholds=custom)["class"] for u in (49, 50, 80)] == [
        "ok", "warning", "critical"]


def test_percentage_is_clamped_while_text_shows_over_quota() -> None:
    line = obj(payload("a", primary=window(112.4)))
    assert (line["text"], line["percentage"], line["class"]) == ("A 112%", 100, "critical")
    assert obj(payload("a", primary=window(-3.0)))["percentage"] == 0


def test_stale_data_is_classed_stale_and_says_so() -> None:
    line = obj(payload("a", primary=window(95.0), stale=True))
    assert line == {"text": "A 95%", "alt": "a", "tooltip": "A (stale)\n  Session: 95% used, resets 20:00",
                    "class": "stale", "percentage": 95}


def test_no_data_with_an_error_is_error_and_waiting_is_stale() -> None:
    failed = payload("beta", error=FetchError.of("auth_required", "Beta key rejected (HTTP 401)"))
    assert obj(failed) == {"text": "AI –", "alt": "beta", "tooltip": "Beta\n  Error: Beta key rejected (HTTP 401)",
                           "class": "error", "percentage": 0}
    assert obj(payload("beta")) == {"text": "AI –", "alt": "beta", "tooltip": "Beta\n  No data yet",
                                    "class": "stale", "percentage": 0}


def test_nothing_enabled_is_an_error_with_a_hint() -> None:
    assert obj() == {"text": "AI –", "alt": "none", "class": "error", "percentage": 0,
                     "tooltip": "no provider is enabled; run `codexbard providers` to see what each one needs"}


def test_pango_markup_is_escaped_everywhere() -> None:
    nasty = payload("x", display="R&D <Lab>", account="a>b", primary=window(10.0, "<b>Tok&ens</b>"),
                    error=None)
    line = obj(nasty)
    assert line["text"] == "R&amp;D &lt;Lab&gt; (a&gt;b) 10%"
    assert line["tooltip"] == "R&amp;D &lt;Lab&gt; (a&gt;b)\n  &lt;b&gt;Tok&amp;ens&lt;/b&gt;: 10% used, resets 20:00"
    failed = payload("y", error=FetchError.of("unavailable", 'cannot connect <"host"> & retry'))
    assert obj(failed)["tooltip"] == 'Y\n  Error: cannot connect &lt;"host"&gt; &amp; retry'


def test_extra_windows_count_and_windows_past_their_reset_do_not() -> None:
    claude = payload("claude", primary=window(20.0), extras=[extra(70.0)])
    assert obj(claude)["text"] == "Claude 70%"
    reset_already = payload("a", primary=window(99.0, resets_in=-H), secondary=window(30.0, "Weekly", 10080, 5 * H))
    line = obj(reset_already)
    assert (line["text"], line["tooltip"]) == ("A 30%", "A\n  Session: 99% used\n  Weekly: 30% used, resets 23:00")


def test_ties_keep_the_first_provider_in_order() -> None:
    assert obj(payload("a", primary=window(50.0)), payload("b", primary=window(50.0)))["alt"] == "a"


def test_credits_only_providers_show_their_balance() -> None:
    kimi = payload("kimik2", display="Kimi K2", credits=Credits(remaining=160.0, total=340.0, unit="credits"))
    assert obj(kimi) == {"text": "Kimi K2 160 credits", "alt": "kimik2",
                         "tooltip": "Kimi K2\n  Credits: 160 of 340 credits left", "class": "ok", "percentage": 53}


def test_reset_times_are_local_and_change_only_with_the_data() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    a = payload("a", primary=window(10.0, resets_in=3 * H), secondary=window(5.0, "Weekly", 10080, 120 * H),
                extras=[extra(1.0, "Monthly", 174 * H)])
    assert waybar_object([a], NOW, T, berlin)["tooltip"] == (  # NOW is Wed 2026-11-25 19:00 in Berlin
        "A\n  Session: 10% used, resets 22:00\n  Weekly: 5% used, resets Mon 19:00\n"
        "  Monthly: 1% used, resets Dec 3 01:00")
    later = waybar([a], NOW + 0.5 * H, T, berlin)
    assert later == waybar([a], NOW, T, berlin)  # no countdowns: the same data gives the same line


def test_classes_are_the_documented_five() -> None:
    assert CLASSES == ("ok", "warning", "critical", "stale", "error")


def test_stale_data_says_why_the_last_refresh_failed() -> None:
    failed = LastError.of_error(FetchError.of("unavailable", "Alpha is down (HTTP 503)"), NOW)
    line = obj(payload("a", primary=window(40.0), stale=True, last_error=failed))
    assert line["tooltip"] == ("A (stale)\n  Session: 40% used, resets 20:00\n"
                               "  Last refresh failed: Alpha is down (HTTP 503)")
    assert line["class"] == "stale"
