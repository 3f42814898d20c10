"""Deprecated location of the shared output formats; they live in `codexbard.render` now.

Kept as a re-export so that code still importing `codexbard.api.render` keeps working; import
`codexbard.render` instead.
"""

from __future__ import annotations

from codexbard.render import FORMATS, flat, payloads_json, provider_info, text

__all__ = ["FORMATS", "flat", "payloads_json", "provider_info", "text"]
