"""Without Chromium the browser tests skip with an install hint, and fail instead when CI requires them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HINT = ("no Chromium at /nonexistent/chromium: the browser tests need Debian's Chromium at /nonexistent/chromium "
        "and Playwright's Python package: `apt-get install chromium`")


def run_browser_test(require: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "CODEXBARD_REQUIRE_BROWSER")}
    env["CODEXBARD_CHROMIUM"] = "/nonexistent/chromium"
    if require:
        env["CODEXBARD_REQUIRE_BROWSER"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--basetemp",
         str(Path(os.environ["HOME"]) / ("required" if require else "optional")),
         "tests/browser/test_page.py::test_polling_fallback_when_events_fail"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("require", [False, True])
def test_missing_chromium_skips_or_fails(require: bool) -> None:
    result = run_browser_test(require)
    if require:
        assert result.returncode == 1, result.stdout
        assert "1 error" in result.stdout and HINT in result.stdout and "(required under CI)" in result.stdout
    else:
        assert result.returncode == 0, result.stdout
        assert "1 skipped" in result.stdout and HINT in result.stdout
