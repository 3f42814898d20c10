"""The unit passes `systemd-analyze verify`, the agent parses with plistlib, hadolint passes on the Dockerfile."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from codexbard.service.render import (
    LAUNCHD_LABEL,
    mark_plist,
    mark_unit,
    owner_of,
    ownership,
    render_plist,
    render_unit,
    systemd_command,
    systemd_word,
)
from codexbard.service.steps import ServiceError

ROOT = Path(__file__).resolve().parents[2]
REPO_UNIT = ROOT / "systemd" / "codexbard.service"
REPO_PLIST = ROOT / "launchd" / f"{LAUNCHD_LABEL}.plist"


def verify(unit_dir: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze --user verify` without a running manager: it only needs a private XDG_RUNTIME_DIR."""
    runtime = unit_dir / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    return subprocess.run(
        ["systemd-analyze", "--user", "--man=no", "verify", str(unit_dir / "codexbard.service")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )


def fake_program(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_the_repository_unit_is_the_default_rendering() -> None:
    assert REPO_UNIT.read_text() == render_unit()
    assert "ExecStart=%h/.local/bin/codexbard serve\n" in REPO_UNIT.read_text()


def test_the_repository_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    home = tmp_path / "home"
    fake_program(home / ".local" / "bin" / "codexbard")
    (tmp_path / "codexbard.service").write_text(REPO_UNIT.read_text())
    result = verify(tmp_path, home)
    assert (result.returncode, result.stderr, result.stdout) == (0, "", "")


def test_verify_fails_when_exec_start_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "codexbard.service").write_text(REPO_UNIT.read_text())
    result = verify(tmp_path, tmp_path / "nobody")
    assert result.returncode == 1
    assert f"Command {tmp_path}/nobody/.local/bin/codexbard is not executable" in result.stderr


def test_a_rendered_unit_with_awkward_paths_passes_verify(tmp_path: Path) -> None:
    program = fake_program(tmp_path / "my tools%1" / "bin" / "codexbard")
    config = tmp_path / 'a $HOME "b".toml'
    text = mark_unit(render_unit(systemd_command([str(program), "serve", "--config", str(config)])))
    (tmp_path / "codexbard.service").write_text(text)
    result = verify(tmp_path, tmp_path)
    assert (result.returncode, result.stderr) == (0, "")
    assert f'ExecStart="{tmp_path}/my tools%%1/bin/codexbard" serve --config "{tmp_path}/a $$HOME \\"b\\".toml"\n' \
        in text


def test_unit_words_refuse_line_breaks() -> None:
    with pytest.raises(ServiceError, match="line break"):
        systemd_word("/tmp/a\nb")


def test_the_unit_has_the_service_settings() -> None:
    lines = set(render_unit().splitlines())
    assert {
        "Type=notify", "Restart=on-failure", "StartLimitIntervalSec=300", "StartLimitBurst=5", "WatchdogSec=60s",
        "EnvironmentFile=-%E/codexbard/service.env", "NoNewPrivileges=yes", "PrivateTmp=yes",
        "ProtectSystem=full",
        "UMask=0077", "WantedBy=default.target", "SyslogIdentifier=codexbard",
    } <= lines
    assert any(line.startswith("Description=codexbard") for line in lines)


def test_the_repository_plist_parses_and_has_the_required_keys() -> None:
    agent = plistlib.loads(REPO_PLIST.read_bytes())
    assert agent == {
        "Label": "dev.codexbard.agent",
        "ProgramArguments": ["/Users/YOU/.local/bin/codexbard", "serve"],
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "Umask": 63,
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1",
                                 "PATH": "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
        "StandardOutPath": "/Users/YOU/Library/Logs/codexbard/codexbard.log",
        "StandardErrorPath": "/Users/YOU/Library/Logs/codexbard/codexbard.log",
    }
    assert REPO_PLIST.read_bytes() == render_plist(
        ["/Users/YOU/.local/bin/codexbard", "serve"], Path("/Users/YOU/Library/Logs/codexbard/codexbard.log"))


def test_a_marked_plist_still_parses() -> None:
    data = mark_plist(render_plist(["/x/codexbard", "serve"], Path("/Users/a/Library/Logs/codexbard/codexbard.log")))
    assert data.splitlines()[1].startswith(b"<!-- Written by `codexbard service install`; ")
    assert plistlib.loads(data)["ProgramArguments"] == ["/x/codexbard", "serve"]
    assert owner_of(data) == "ours"


def test_ownership_tells_untouched_edited_and_foreign_files_apart() -> None:
    wanted = mark_unit(render_unit()).encode()
    older = mark_unit(render_unit("/old/codexbard serve")).encode()
    assert ownership(None, wanted) == "absent"
    assert ownership(wanted, wanted) == "same"
    assert ownership(older, wanted) == "ours"
    assert ownership(older.replace(b"RestartSec=5s", b"RestartSec=9s"), wanted) == "edited"
    assert ownership(render_unit().encode(), wanted) == "foreign"
    assert ownership(b"", wanted) == "foreign"


def test_hadolint_passes_on_the_dockerfile() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([str(hadolint), "--no-color", str(ROOT / "Dockerfile")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_the_dockerfile_is_multi_stage_non_root_with_data_volume_and_healthcheck() -> None:
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    assert [line for line in lines if line.startswith("FROM ")] == [
        "FROM ${PYTHON_IMAGE} AS build", "FROM ${PYTHON_IMAGE}"]
    assert "COPY --from=build /opt/codexbard /opt/codexbard" in lines
    assert "USER 10001:10001" in lines and 'VOLUME ["/data"]' in lines
    assert "CODEXBARD_HOST=0.0.0.0 \\" in lines and "CODEXBARD_DATA_DIR=/data" in lines
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert "/health" in (ROOT / "Dockerfile").read_text()
