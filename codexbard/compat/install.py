"""`codexbard compat install|uninstall`: write or remove the `codexbar` shim, only when it is ours to touch."""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from codexbard.compat import SHIM_NAME, SHIM_TAG
from codexbard.service.render import marker, owner_of, ownership

DEFAULT_DIR = "~/.local/bin"
SHIM_MODE = 0o755
MAX_SHIM_BYTES = 1 << 20


class CompatError(Exception):
    """An install or uninstall that must not go ahead; `code` is the process exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Outcome:
    """What install/uninstall did, as lines for people."""

    lines: tuple[str, ...]


def render_shim(command: Sequence[str]) -> bytes:
    """The marked `codexbar` script that runs `command compat run "$@"` (absolute paths, shell-quoted)."""
    if not command or not os.path.isabs(command[0]):
        raise CompatError("internal error: the codexbard command for the shim is not an absolute path")
    for word in command:
        if "\n" in word or "\r" in word or "\0" in word:
            raise CompatError(f"{word!r} cannot be written into the shim (it contains a line break)")
    head = "#!/bin/sh\n"
    body = (
        "# `codexbar` for clients written for CodexBar's CLI: every call goes to codexbard.\n"
        "# Remove it with `codexbard compat uninstall`; docs/clients/codexbar-compat.md explains it.\n"
        f"exec {shlex.join([*command, 'compat', 'run'])} \"$@\"\n"
    )
    line = f"# Written by `codexbard compat install`; {marker(SHIM_TAG, (head + body).encode())}\n"
    return (head + line + body).encode()


def shim_dir(env: Mapping[str, str], chosen: str | None) -> Path:
    """--dir (with `~` expanded against the environment's HOME, made absolute), else ~/.local/bin."""
    from codexbard.host.files import HomeFiles

    files = HomeFiles(env)
    path = files.expand(chosen) if chosen else files.expand(DEFAULT_DIR)
    return path if path.is_absolute() else Path.cwd() / path


def path_dirs(env: Mapping[str, str]) -> list[Path]:
    """The directories of the environment's PATH, in order (empty entries left out)."""
    return [Path(entry) for entry in env.get("PATH", "").split(os.pathsep) if entry]


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def _read(path: Path) -> bytes | None:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_SHIM_BYTES)
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        return b""  # a directory named codexbar is nobody's shim: foreign
    except OSError as exc:
        raise CompatError(f"cannot read {path}: {exc.strerror}") from None


def _others_on_path(env: Mapping[str, str], target: Path) -> list[Path]:
    """Executable `codexbar` files on PATH that are not `target` and not a shim this command wrote."""
    found: list[Path] = []
    for directory in path_dirs(env):
        candidate = directory / SHIM_NAME
        if not candidate.is_file() or not os.access(candidate, os.X_OK):
            continue
        if _same_dir(directory, target.parent):
            continue
        data = _read(candidate)
        if data is not None and owner_of(data, SHIM_TAG) == "ours":
            continue
        if candidate not in found:
            found.append(candidate)
    return found


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SHIM_MODE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, SHIM_MODE)  # the umask may have narrowed os.open's mode
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CompatError(f"cannot write {path}: {exc.strerror}") from None


def _path_note(env: Mapping[str, str], directory: Path) -> str:
    if any(_same_dir(entry, directory) for entry in path_dirs(env)):
        return f"{directory} is on PATH: clients find `{SHIM_NAME}` there"
    return (f"{directory} is not on PATH: add it (e.g. `export PATH=\"{directory}:$PATH\"` in your shell profile) "
            f"so clients find `{SHIM_NAME}`")


def install(env: Mapping[str, str], command: Sequence[str], directory: Path, *, force: bool) -> Outcome:
    """Write the shim into `directory` unless a `codexbar` that is not ours exists there or on PATH (`force`)."""
    target = directory / SHIM_NAME
    wanted = render_shim(command)
    state = ownership(_read(target), wanted, SHIM_TAG)
    if state in ("edited", "foreign") and not force:
        why = "was edited since `codexbard compat install` wrote it" if state == "edited" else \
            "was not written by `codexbard compat install`"
        raise CompatError(f"{target} {why}; not overwriting it without --force")
    others = _others_on_path(env, target)
    if others and not force:
        raise CompatError(f"a `{SHIM_NAME}` command already exists at {others[0]}; not installing another "
                          "without --force")
    lines: list[str] = []
    if state == "same":
        lines.append(f"{target} is up to date")
    else:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CompatError(f"cannot create {directory}: {exc.strerror}") from None
        _write(target, wanted)
        lines.append(f"wrote {target} (runs {shlex.join(command)} compat run)")
    for other in others:
        lines.append(f"note: {other} is another `{SHIM_NAME}`, left untouched; whichever comes first on PATH wins")
    lines.append(_path_note(env, directory))
    return Outcome(tuple(lines))


def uninstall(directory: Path) -> Outcome:
    """Remove the shim from `directory` when this command wrote it and nobody changed it since."""
    target = directory / SHIM_NAME
    existing = _read(target)
    if existing is None:
        return Outcome((f"nothing to uninstall: {target} does not exist",))
    state = owner_of(existing, SHIM_TAG)
    if state != "ours":
        why = "was edited since `codexbard compat install` wrote it" if state == "edited" else \
            "was not written by `codexbard compat install`"
        raise CompatError(f"{target} {why}; not removing it (remove it yourself if it should go)")
    try:
        target.unlink()
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise CompatError(f"cannot remove {target}: {exc.strerror}") from None
    return Outcome((f"removed {target}",))
