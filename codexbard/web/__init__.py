"""The web page `GET /` serves: one self-contained HTML document (inline CSS and JS, no CDN, no web font).

The page's files (`page.html`, `page.css`, `page.js`) ship as package data and are joined once into one
document. Its Content-Security-Policy allows exactly that inline style and script (by SHA-256 hash) and
requests to this origin only, so the page works offline and nothing injected into it can run.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Final

_STYLE_MARK: Final = "/*STYLE*/"
_SCRIPT_MARK: Final = "/*SCRIPT*/"


@dataclass(frozen=True, slots=True)
class Page:
    """The rendered page and the headers it is served with."""

    body: bytes
    headers: dict[str, str]


def _hash_source(text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


@functools.cache
def page() -> Page:
    """The page document with its security headers (built once per process)."""
    folder = resources.files(__package__)
    template = (folder / "page.html").read_text(encoding="utf-8")
    style = (folder / "page.css").read_text(encoding="utf-8")
    script = (folder / "page.js").read_text(encoding="utf-8")
    if template.count(_STYLE_MARK) != 1 or template.count(_SCRIPT_MARK) != 1:
        raise RuntimeError("codexbard/web/page.html lost its style or script marker; reinstall codexbard")
    html = template.replace(_STYLE_MARK, style).replace(_SCRIPT_MARK, script)
    policy = "; ".join([
        "default-src 'none'",
        f"script-src {_hash_source(script)}",
        f"style-src {_hash_source(style)}",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ])
    headers = {
        "content-security-policy": policy,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "cache-control": "no-cache",
    }
    return Page(html.encode(), headers)
