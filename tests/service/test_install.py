"""Which interpreter and entry point a service runs: venv, pipx, uv tool or system Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from codexbard.service.command import detect_platform
from codexbard.service.install import Install, detect_install
from codexbard.service.steps import ServiceError


def layout(root: Path, bindir: str, *, script: bool) -> Path:
    """A fake environment: `bin/python` and, when asked, the `codexbard` console script beside it."""
    bin_path = root / bindir
    bin_path.mkdir(parents=True)
    python = bin_path / "python"
    python.write_text("")
    if script:
        (bin_path / "codexbard").write_text("#!/bin/sh\n")
        (bin_path / "codexbard").chmod(0o755)
    return python


@pytest.mark.parametrize(("bindir", "kind"), [
    (".local/pipx/venvs/codexbard/bin", "pipx"),
    (".local/share/uv/tools/codexbard/bin", "uv tool"),
    ("src/codexbard/.venv/bin", "venv"),
])
def test_the_console_script_beside_the_interpreter_is_used(tmp_path: Path, bindir: str, kind: str) -> None:
    python = layout(tmp_path, bindir, script=True)
    found = detect_install(str(python), prefix=str(python.parent.parent), base_prefix="/usr")
    assert found == Install(kind, python, (str(python.parent / "codexbard"),))
    assert found.describe() == f"{kind} install, Python {python}"


def test_without_a_script_the_module_is_run(tmp_path: Path) -> None:
    python = layout(tmp_path, "usr/bin", script=False)
    found = detect_install(str(python), prefix="/usr", base_prefix="/usr", installed=True)
    assert found == Install("system", python, (str(python), "-m", "codexbard"))


def test_a_python_without_codexbard_installed_is_refused(tmp_path: Path) -> None:
    python = layout(tmp_path, "usr/bin", script=False)
    with pytest.raises(ServiceError, match=f"codexbard is not installed in {python}, so a service could not start"):
        detect_install(str(python), prefix="/usr", base_prefix="/usr", installed=False)


def test_an_unknown_interpreter_is_refused() -> None:
    with pytest.raises(ServiceError, match="cannot tell which Python runs codexbard"):
        detect_install("", prefix="/usr", base_prefix="/usr")


@pytest.mark.parametrize(("name", "platform"), [("linux", "linux"), ("darwin", "macos")])
def test_platforms(name: str, platform: str) -> None:
    assert detect_platform(name) == platform


def test_other_platforms_are_a_usage_error() -> None:
    with pytest.raises(ServiceError, match="supports systemd \\(Linux\\) and launchd \\(macOS\\), not win32") as info:
        detect_platform("win32")
    assert info.value.code == 2
