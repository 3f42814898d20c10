"""`codexbard statusline install|uninstall [--dry-run]`: edit Claude Code's settings.json, reversibly.

Install sets `statusLine` to `{"type": "command", "command": "<codexbard> statusline"}`, keeping every other
key. When the user already has a status-line command, codexbard wraps it (`… statusline --wrap '<theirs>'`) so
both outputs show. The file as it was is kept in codexbard's state dir; uninstall writes it back byte for byte
when nothing else changed since, else restores just the original `statusLine` value. Writes are atomic
(temp file + rename) and keep the file's mode.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codexbard.cli.common import EXIT_FAILED, EXIT_OK, CliError, err

KEY = "statusLine"
MARKER = " statusline"


def settings_path(env: Mapping[str, str]) -> Path:
    """Claude Code's user settings: `$CLAUDE_CONFIG_DIR/settings.json`, else `~/.claude/settings.json`."""
    root = env.get("CLAUDE_CONFIG_DIR", "").strip()
    if root:
        return Path(root) / "settings.json"
    return Path(env.get("HOME", str(Path.home()))) / ".claude" / "settings.json"


def backup_path(env: Mapping[str, str], settings: Path) -> Path:
    """Where the pre-install file is kept: `$XDG_STATE_HOME/codexbard/statusline/<name>.json`."""
    state = env.get("XDG_STATE_HOME", "").strip() or str(Path(env.get("HOME", str(Path.home()))) / ".local/state")
    name = "".join(c if c.isalnum() else "-" for c in str(settings.resolve()))
    return Path(state) / "codexbard" / "statusline" / f"{name}.json"


def our_command(env: Mapping[str, str]) -> str:
    """How Claude Code should start us: the installed `codexbard` (absolute when found)."""
    found = shutil.which("codexbard", path=env.get("PATH")) or (
        sys.argv[0] if sys.argv and os.path.basename(sys.argv[0]) == "codexbard" else None)
    program = os.path.abspath(found) if found else "codexbard"
    return f"{shlex.quote(program)} statusline"


def is_ours(value: Any) -> bool:
    """Whether a `statusLine` value is codexbard's."""
    command = value.get("command") if isinstance(value, dict) else None
    return isinstance(command, str) and "codexbard" in command and MARKER in command


def _read(path: Path) -> tuple[str | None, dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, {}
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        raise CliError(f"{path} is not valid JSON; fix it first (nothing was changed)") from None
    if not isinstance(data, dict):
        raise CliError(f"{path} does not hold a JSON object; nothing was changed")
    return text, data


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def install(env: Mapping[str, str], *, dry_run: bool = False, out: Any = None) -> int:
    """Add (or wrap) the status-line command; `--dry-run` prints the new `statusLine` value only."""
    stream = out or sys.stdout
    path = settings_path(env)
    text, data = _read(path)
    current = data.get(KEY)
    if is_ours(current):
        print(f"codexbard is already the status line in {path}", file=stream)
        return EXIT_OK
    command = our_command(env)
    theirs = current.get("command") if isinstance(current, dict) else None
    if isinstance(theirs, str) and theirs.strip():
        command = f"{command} --wrap {shlex.quote(theirs)}"
    value: dict[str, Any] = dict(current) if isinstance(current, dict) else {}
    value.update({"type": "command", "command": command})
    new = dict(data)
    new[KEY] = value
    if dry_run:
        print(f"would set {KEY} in {path} to:", file=stream)
        print(json.dumps(value, indent=2, ensure_ascii=False), file=stream)
        return EXIT_OK
    backup = backup_path(env, path)
    backup.parent.mkdir(parents=True, exist_ok=True)
    record = {"settings": str(path), "text": text, "had_key": KEY in data, "value": current, "installed": new}
    _write_atomic(backup, json.dumps(record, indent=2) + "\n")
    _write_atomic(path, _dump(new))
    print(f"installed: Claude Code's status line in {path} now runs {command}", file=stream)
    return EXIT_OK


def uninstall(env: Mapping[str, str], *, dry_run: bool = False, out: Any = None) -> int:
    """Restore what install replaced (the whole file when nothing else changed since)."""
    stream = out or sys.stdout
    path = settings_path(env)
    _, data = _read(path)
    if not is_ours(data.get(KEY)):
        print(f"codexbard is not the status line in {path}; nothing to do", file=stream)
        return EXIT_OK
    backup = backup_path(env, path)
    try:
        record = json.loads(backup.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict):
        err(f"no record of the original status line ({backup}); removing codexbard's entry only")
        record = {"text": None, "had_key": False, "value": None, "installed": None}
    if record.get("installed") == data and record.get("text") is not None:
        restored_text: str | None = record["text"]
    elif record.get("installed") == data and record.get("text") is None:
        restored_text = None  # the file did not exist before install
    else:
        new = dict(data)
        if record.get("had_key"):
            new[KEY] = record.get("value")
        else:
            new.pop(KEY, None)
        restored_text = _dump(new)
    if dry_run:
        print(f"would restore {path} to:", file=stream)
        print(restored_text if restored_text is not None else "(no file: it did not exist before install)",
              file=stream)
        return EXIT_OK
    if restored_text is None:
        try:
            path.unlink()
        except OSError as exc:
            err(f"cannot remove {path}: {exc.strerror}")
            return EXIT_FAILED
    else:
        _write_atomic(path, restored_text)
    backup.unlink(missing_ok=True)
    print(f"uninstalled: {path} is restored", file=stream)
    return EXIT_OK
