"""The text summary: local reset times, no repeated labels, a hint instead of an empty body."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

from codexbard.models import Credits
from codexbard.render import local_zone, text
from codexbard.render.localtime import reset_short, reset_stamp, zone_label
from tests.helpers import NOW
from tests.render.kit import H, payload, window


def test_reset_times_are_in_the_given_zone_with_its_abbreviation() -> None:
    a = payload("a", primary=window(40.0, "5-hour", description="5-hour"),
                secondary=window(12.0, "Weekly", 10080, 102 * H, description="1 week window"))
    assert text([a], NOW, ZoneInfo("America/New_York")) == (
        "A (api)\n"
        "  5-hour: 60% left (40% used), resets 2026-11-25 15:00 EST (in 2h 0m)\n"
        "  Weekly: 88% left (12% used), resets 2026-11-29 19:00 EST (in 4d 6h), 1 week window\n")
    assert text([a], NOW).splitlines()[1] == "  5-hour: 60% left (40% used), resets 2026-11-25 20:00 UTC (in 2h 0m)"


def test_a_plan_line_that_repeats_the_credits_label_is_left_out() -> None:
    kimi = payload("kimik2", display="Kimi K2", credits=Credits(remaining=160.0, total=340.0),
                   login="Credits: 160 left")
    assert text([kimi], NOW) == "Kimi K2 (api)\n  Credits: 160 of 340 credits left\n"
    openrouter = payload("openrouter", display="OpenRouter", credits=Credits(remaining=162.65, total=250.0, unit="USD"),
                         login="Balance: $162.65")
    assert text([openrouter], NOW) == "OpenRouter (api)\n  Balance: $162.65\n  Credits: 162.65 of 250 USD left\n"


def test_nothing_enabled_is_a_hint() -> None:
    assert text([], NOW) == "No enabled provider matches; run `codexbard providers` to see what each one needs.\n"


def test_local_zone_reads_tz_then_the_system_zone(tmp_path: Path) -> None:
    missing = tmp_path / "no-localtime"
    assert local_zone({"TZ": "Europe/Berlin"}, localtime=missing) == ZoneInfo("Europe/Berlin")
    assert local_zone({"TZ": ":Asia/Tokyo"}, localtime=missing) == ZoneInfo("Asia/Tokyo")
    assert local_zone({"TZ": "Not/AZone"}, localtime=missing) is UTC
    assert local_zone({"TZ": "../../etc/passwd"}, localtime=missing) is UTC
    assert local_zone({"TZ": ""}, localtime=missing) is UTC
    assert local_zone({}, localtime=missing) is UTC
    # the system zone: /etc/localtime as a symlink into a zoneinfo tree gives the zone by its key
    tree = tmp_path / "zoneinfo" / "Europe"
    tree.mkdir(parents=True)
    source = ZoneInfo("Europe/Lisbon")
    import tzdata  # the bundled database, present on every platform

    data = Path(tzdata.__file__).parent / "zoneinfo" / "Europe" / "Lisbon"
    (tree / "Lisbon").write_bytes(data.read_bytes())
    link = tmp_path / "localtime"
    link.symlink_to(tree / "Lisbon")
    assert local_zone({}, localtime=link) == source
    # a copied file outside any zoneinfo tree is read as it is
    copy = tmp_path / "copied"
    copy.write_bytes(data.read_bytes())
    zone = local_zone({}, localtime=copy)
    assert reset_stamp(NOW + 200 * 24 * H, zone) == "2027-06-13 19:00 WEST"
    # TZ may also be a path to a zone file
    assert reset_stamp(NOW, local_zone({"TZ": str(copy)}, localtime=missing)) == "2026-11-25 18:00 WET"


def test_zone_labels_and_short_reset_times() -> None:
    from datetime import timedelta, timezone

    assert zone_label(NOW.astimezone(timezone(timedelta(hours=5, minutes=30)))) == "UTC+05:30"
    assert zone_label(NOW.astimezone(ZoneInfo("America/Sao_Paulo"))) == "UTC-03"
    assert zone_label(NOW) == "UTC"
    assert reset_short(NOW + 5 * H, NOW, UTC) == "23:00"
    assert reset_short(NOW + 7 * H, NOW, UTC) == "Thu 01:00"
    assert reset_short(NOW - 30 * H, NOW, UTC) == "Nov 24 12:00"
