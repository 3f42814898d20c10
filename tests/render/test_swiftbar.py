"""The SwiftBar / xbar text: exact output, titles that cannot break the line format, the refresh action."""

from __future__ import annotations

from datetime import UTC

from codexbard.models import Credits, FetchError, LastError
from codexbard.render import Thresholds, local_base_url, swiftbar
from codexbard.render.swiftbar import bar, clean
from tests.helpers import NOW
from tests.render.kit import H, payload, window

BASE = "http://127.0.0.1:8765"
REFRESH = ("Refresh now | bash=/usr/bin/curl param1=-fsS param2=-XPOST param3=--max-time param4=60 "
           "param5=http://127.0.0.1:8765/refresh terminal=false refresh=true")


def test_sections_with_bars_countdowns_pace_and_actions() -> None:
    claude = payload("claude", primary=window(28.0), secondary=window(59.0, "Weekly", 10080, 50 * H))
    kimi = payload("kimik2", display="Kimi K2", credits=Credits(remaining=160.0, total=340.0), stale=True)
    assert swiftbar([claude, kimi], NOW, Thresholds(), UTC, BASE) == "\n".join([
        "Claude 59%",
        "---",
        "Claude | size=14",
        "Session ▰▰▰▱▱▱▱▱▱▱ 28% · resets in 2h 0m (20:00) | font=Menlo size=12",
        "32% in reserve │ Expected 60% used │ Lasts until reset | size=11",
        "Weekly ▰▰▰▰▰▰▱▱▱▱ 59% · resets in 2d 2h (Fri 20:00) | font=Menlo size=12",
        "11% in reserve │ Expected 70% used │ Lasts until reset | size=11",
        "---",
        "Kimi K2 (stale) | size=14 color=#8a8a8a",
        "Credits: 160 of 340 credits left | size=12",
        "---",
        REFRESH,
        "Open dashboard | href=http://127.0.0.1:8765/",
    ]) + "\n"


def test_header_colour_follows_the_thresholds() -> None:
    def header(used: float, **kw: bool) -> str:
        return swiftbar([payload("a", primary=window(used), **kw)], NOW, Thresholds(), UTC, BASE).split("\n")[0]

    assert [header(10), header(80), header(95), header(95, stale=True)] == [
        "A 10%", "A 80% | color=#d9822b", "A 95% | color=#d13438", "A 95% | color=#8a8a8a"]


def test_errors_nothing_enabled_and_no_daemon_url() -> None:
    failed = payload("beta", error=FetchError.of("auth_required", "Beta key | rejected\nHTTP 401"))
    assert swiftbar([failed], NOW, Thresholds(), UTC, None) == (
        "AI ? | color=#d13438\n---\nBeta | size=14\nError: Beta key │ rejected HTTP 401 | size=12 color=#d13438\n"
        "---\nRefresh | refresh=true\n")
    assert swiftbar([], NOW, Thresholds(), UTC, None) == (
        "AI ? | color=#d13438\n---\nNo provider is enabled | size=12\n"
        "Run `codexbard providers` to see what each one needs | size=11\n---\nRefresh | refresh=true\n")
    assert swiftbar([payload("a")], NOW, Thresholds(), UTC, None).split("\n")[:4] == [
        "AI –", "---", "A | size=14", "No data yet | size=12"]


def test_titles_never_break_the_line_format() -> None:
    assert clean("--- a | b\nc") == "a │ b c"
    assert clean("---") == "?"
    assert clean("-- sub") == "sub"


def test_bar_rounds_to_cells_and_clamps() -> None:
    assert [bar(0), bar(4), bar(5), bar(55), bar(100), bar(140), bar(-5)] == [
        "▱" * 10, "▱" * 10, "▰" + "▱" * 9, "▰" * 6 + "▱" * 4, "▰" * 10, "▰" * 10, "▱" * 10]


def test_local_base_url_maps_wildcards_to_loopback_and_hides_token_binds() -> None:
    assert local_base_url("127.0.0.1", 8765, False) == "http://127.0.0.1:8765"
    assert local_base_url("0.0.0.0", 9000, False) == "http://127.0.0.1:9000"
    assert local_base_url("::", 9000, False) == "http://[::1]:9000"
    assert local_base_url("::1", 8765, False) == "http://[::1]:8765"
    assert local_base_url("localhost", 8765, False) == "http://localhost:8765"
    assert local_base_url("192.0.2.10", 8765, True) is None


def test_stale_data_says_why_the_last_refresh_failed() -> None:
    failed = LastError.of_error(FetchError.of("unavailable", "Alpha is down (HTTP 503)"), NOW)
    out = swiftbar([payload("a", primary=window(40.0), stale=True, last_error=failed)], NOW,
                          Thresholds(), UTC, None)
    assert "Last refresh failed: Alpha is down (HTTP 503) | size=12 color=#8a8a8a" in out.splitlines()
