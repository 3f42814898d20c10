"""Output formats shared by the HTTP API and the CLI: the json array, the flat object, the text summary.

Import this package (`from codexbard import render`) rather than its modules; the names below are the
stable interface. New formats (waybar, swiftbar, …) get a module here and a name in `FORMATS`.
"""

from __future__ import annotations

from typing import Final

from codexbard.render.payloads import flat, payloads_json
from codexbard.render.providers import provider_info
from codexbard.render.summary import text

FORMATS: Final = ("json", "flat", "text")
"""The values of `?format=` on `GET /usage` and of `codexbard usage --format`, in that order."""

__all__ = ["FORMATS", "flat", "payloads_json", "provider_info", "text"]
