"""Headless Chromium for the browser tests: Debian's `chromium` driven by Playwright (no browser download).

Without Chromium (or Playwright) the tests skip with a message saying how to install it; under CI
(`CI=true`, or `CODEXBARD_REQUIRE_BROWSER=1`, which `.ci/run` sets) a missing browser fails them instead, so
CI never passes by skipping. The variables are read at import, before the autouse fixture clears
`CODEXBARD_*` from the environment.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("CODEXBARD_CHROMIUM", "/usr/bin/chromium"))
REQUIRED = os.environ.get("CODEXBARD_REQUIRE_BROWSER") == "1" or os.environ.get("CI", "").lower() == "true"
INSTALL_HINT = (
    "the browser tests need Debian's Chromium at {path} and Playwright's Python package: "
    "`apt-get install chromium` and `.venv/bin/pip install -e '.[dev]'` (set CODEXBARD_CHROMIUM to use "
    "another Chromium binary); Playwright's own browser download is never used"
)
# Quiet, offline Chromium: no background requests, no name resolution beyond loopback.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
    "--disable-extensions", "--disable-sync", "--no-first-run", "--no-pings", "--disable-domain-reliability",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright is not installed"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM}"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module.

    Playwright's sync API runs an event loop in the main thread while it is open; closing it with the module
    keeps that loop away from later tests that call `asyncio.run`.
    """
    problem = missing()
    if problem is not None:
        message = f"{problem}: " + INSTALL_HINT.format(path=CHROMIUM)
        if REQUIRED:
            pytest.fail(message + " (required under CI)", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
