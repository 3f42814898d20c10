"""Output formats shared by the HTTP API and the CLI: json, flat, the text summary, Waybar and SwiftBar.

Import this package (`from codexbard import render`) rather than its modules; the names below are the
stable interface. New formats (waybar, swiftbar, …) get a module here and a name in `FORMATS`.
"""

from __future__ import annotations

from typing import Final

from codexbard.render.levels import Thresholds
from codexbard.render.localtime import local_zone
from codexbard.render.payloads import flat, payloads_json
from codexbard.render.providers import provider_info
from codexbard.render.summary import text
from codexbard.render.swiftbar import local_base_url, swiftbar
from codexbard.render.waybar import waybar

FORMATS: Final = ("json", "flat", "text", "waybar", "swiftbar")
"""The values of `?format=` on `GET /usage` and of `codexbard usage --format`, in that order."""

__all__ = ["FORMATS", "Thresholds", "flat", "local_base_url", "local_zone", "payloads_json", "provider_info",
           "swiftbar", "text", "waybar"]
