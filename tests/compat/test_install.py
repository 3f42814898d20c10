"""`codexbard compat install|uninstall`: the marked shim, refusals, foreign files untouched, idempotence."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from codexbard.compat.install import render_shim
from codexbard.service.install import detect_install
from codexbard.service.render import owner_of
from tests.cli import Result, base_env, run

FOREIGN = b"#!/bin/sh\necho 'the real CodexBar CLI'\n"


def env_for(home: Path, *path_dirs: Path) -> dict[str, str]:
    """HOME at `home`, PATH made of `path_dirs` then the system directories."""
    return base_env(home, PATH=os.pathsep.join([*(str(d) for d in path_dirs), "/usr/bin", "/bin"]))


def compat(capsys: pytest.CaptureFixture[str], env: dict[str, str], *argv: str) -> Result:
    return run(capsys, env, "compat", *argv)


def shim_bytes() -> bytes:
    return render_shim(detect_install().command)


def foreign(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(FOREIGN)
    path.chmod(0o755)
    return path


def test_the_shim_is_marked_and_runs_this_install(tmp_path: Path) -> None:
    command = ("/opt/code x/bin/codexbard",)
    data = render_shim(command)
    lines = data.decode().splitlines()
    assert lines[0] == "#!/bin/sh"
    assert lines[1].startswith("# Written by `codexbard compat install`; codexbard-compat-install sha256=")
    assert lines[-1] == "exec '/opt/code x/bin/codexbard' compat run \"$@\""
    assert owner_of(data, "codexbard-compat-install") == "ours"
    assert owner_of(data.replace(b"compat run", b"compat  run"), "codexbard-compat-install") == "edited"
    assert owner_of(data) == "foreign"  # not a service file
    assert render_shim(("/usr/bin/python3", "-m", "codexbard")).decode().splitlines()[-1] == \
        "exec /usr/bin/python3 -m codexbard compat run \"$@\""


def test_install_into_a_fresh_home_then_reinstall_then_uninstall(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bin_dir = tmp_path / ".local" / "bin"
    env = env_for(tmp_path, bin_dir)
    target = bin_dir / "codexbar"
    command = " ".join(detect_install().command)

    first = compat(capsys, env, "install")
    assert first == Result(0, f"wrote {target} (runs {command} compat run)\n"
                              f"{bin_dir} is on PATH: clients find `codexbar` there\n", "")
    assert target.read_bytes() == shim_bytes()
    assert stat.S_IMODE(target.stat().st_mode) == 0o755

    again = compat(capsys, env, "install")
    assert again == Result(0, f"{target} is up to date\n{bin_dir} is on PATH: clients find `codexbar` there\n", "")
    assert target.read_bytes() == shim_bytes()

    assert compat(capsys, env, "uninstall") == Result(0, f"removed {target}\n", "")
    assert not target.exists()
    assert compat(capsys, env, "uninstall") == Result(
        0, f"nothing to uninstall: {target} does not exist\n", "")


def test_a_dir_off_path_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = env_for(tmp_path)
    result = compat(capsys, env, "install", "--dir", "~/tools")
    tools = tmp_path / "tools"
    assert result.code == 0
    assert result.out.splitlines()[1] == (
        f"{tools} is not on PATH: add it (e.g. `export PATH=\"{tools}:$PATH\"` in your shell profile) "
        "so clients find `codexbar`")
    assert (tools / "codexbar").read_bytes() == shim_bytes()
    assert compat(capsys, env, "uninstall", "--dir", str(tools)) == Result(0, f"removed {tools / 'codexbar'}\n", "")


def test_another_codexbar_on_path_needs_force_and_is_never_touched(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    bin_dir = tmp_path / ".local" / "bin"
    brew = foreign(tmp_path / "brew" / "bin" / "codexbar")
    env = env_for(tmp_path, brew.parent, bin_dir)

    refused = compat(capsys, env, "install")
    assert refused == Result(1, "", f"codexbard: a `codexbar` command already exists at {brew}; not installing "
                                    "another without --force\n")
    assert not (bin_dir / "codexbar").exists()

    forced = compat(capsys, env, "install", "--force")
    assert forced.code == 0
    assert forced.out.splitlines()[1:] == [
        f"note: {brew} is another `codexbar`, left untouched; whichever comes first on PATH wins",
        f"{bin_dir} is on PATH: clients find `codexbar` there",
    ]
    assert (bin_dir / "codexbar").read_bytes() == shim_bytes()
    assert brew.read_bytes() == FOREIGN
    assert compat(capsys, env, "uninstall") == Result(0, f"removed {bin_dir / 'codexbar'}\n", "")
    assert brew.read_bytes() == FOREIGN


def test_a_foreign_file_in_dir_is_refused_then_replaced_only_with_force(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bin_dir = tmp_path / ".local" / "bin"
    target = foreign(bin_dir / "codexbar")
    env = env_for(tmp_path, bin_dir)

    assert compat(capsys, env, "install") == Result(
        1, "", f"codexbard: {target} was not written by `codexbard compat install`; not overwriting it without "
               "--force\n")
    assert compat(capsys, env, "uninstall") == Result(
        1, "", f"codexbard: {target} was not written by `codexbard compat install`; not removing it (remove it "
               "yourself if it should go)\n")
    assert target.read_bytes() == FOREIGN

    assert compat(capsys, env, "install", "--force").code == 0
    assert target.read_bytes() == shim_bytes()


def test_an_edited_shim_is_left_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bin_dir = tmp_path / ".local" / "bin"
    env = env_for(tmp_path, bin_dir)
    target = bin_dir / "codexbar"
    assert compat(capsys, env, "install").code == 0
    edited = target.read_bytes() + b"# my change\n"
    target.write_bytes(edited)

    assert compat(capsys, env, "install") == Result(
        1, "", f"codexbard: {target} was edited since `codexbard compat install` wrote it; not overwriting it "
               "without --force\n")
    assert compat(capsys, env, "uninstall") == Result(
        1, "", f"codexbard: {target} was edited since `codexbard compat install` wrote it; not removing it "
               "(remove it yourself if it should go)\n")
    assert target.read_bytes() == edited


def test_an_older_shim_of_ours_is_rewritten(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bin_dir = tmp_path / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    target = bin_dir / "codexbar"
    target.write_bytes(render_shim(("/old/venv/bin/codexbard",)))
    env = env_for(tmp_path, bin_dir)
    result = compat(capsys, env, "install")
    assert result.code == 0
    assert result.out.startswith(f"wrote {target} ")
    assert target.read_bytes() == shim_bytes()


def test_a_shim_of_ours_elsewhere_on_path_is_not_a_conflict(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other"
    env = env_for(tmp_path, other, tmp_path / ".local" / "bin")
    assert compat(capsys, env, "install", "--dir", str(other)).code == 0
    assert compat(capsys, env, "install").code == 0
    assert (tmp_path / ".local" / "bin" / "codexbar").read_bytes() == shim_bytes()
