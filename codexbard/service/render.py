"""The systemd user unit and the launchd agent, rendered from the command that starts the daemon.

Files written by `codexbard service install` carry a marker with the SHA-256 of the rest of the file, so a later
install or uninstall can tell its own untouched file from one a person wrote or edited.
"""

from __future__ import annotations

import hashlib
import plistlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final, Literal

from codexbard.service.steps import ServiceError

UNIT_NAME: Final = "codexbard.service"
LAUNCHD_LABEL: Final = "dev.codexbard.agent"
ENV_FILE_NAME: Final = "service.env"
LAUNCHD_PATH: Final = "/opt/homebrew/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

DEFAULT_EXEC_START: Final = "%h/.local/bin/codexbard serve"
"""The unit in the repository runs what `pipx install .` and `uv tool install .` link into ~/.local/bin."""

SERVICE_TAG: Final = "codexbard-service-install"
"""The marker tag of files `codexbard service install` writes (other installers pass their own tag)."""
_MARKER: Final = f"{SERVICE_TAG} sha256="
_SYSTEMD_SPECIAL: Final = re.compile(r"""[\s"'\\;]""")

Ownership = Literal["absent", "same", "ours", "edited", "foreign"]


def systemd_word(value: str) -> str:
    """Quote one literal argument or path for a unit file (`%` and `$` escaped, quotes where needed)."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise ServiceError(f"{value!r} cannot be written into a unit file (it contains a line break)")
    text = value.replace("%", "%%").replace("$", "$$")
    if value and not _SYSTEMD_SPECIAL.search(value):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_command(argv: Sequence[str]) -> str:
    """An ExecStart= value running exactly `argv` (no shell, no variable expansion)."""
    return " ".join(systemd_word(arg) for arg in argv)


def render_unit(exec_start: str = DEFAULT_EXEC_START) -> str:
    """The user unit; `exec_start` is unit syntax (specifiers allowed, literals quoted)."""
    return f"""\
# codexbard as a systemd user service. `codexbard service install` writes it (with the interpreter of the running
# install) to ~/.config/systemd/user/codexbard.service; docs/service.md explains every line.
# Local changes belong in a drop-in (`systemctl --user edit codexbard`), which survives a reinstall.

[Unit]
Description=codexbard: AI coding plan usage daemon (HTTP on 127.0.0.1:8765 by default)
# Restart on failure, but give up after 5 failed starts in 5 minutes.
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
# READY=1 is sent once the port is bound; WATCHDOG=1 every WatchdogSec/2 from the event loop.
Type=notify
ExecStart={exec_start}
# API keys for the service (KEY=value lines, chmod 600); the keyring and `codexbard config set-secret` also work.
EnvironmentFile=-%E/codexbard/{ENV_FILE_NAME}
Environment=PYTHONUNBUFFERED=1
Restart=on-failure
RestartSec=5s
TimeoutStartSec=60s
TimeoutStopSec=15s
WatchdogSec=60s
# Logs go to the journal with syslog priorities: journalctl --user -u codexbard
SyslogIdentifier=codexbard
UMask=0077
MemoryMax=256M
NoNewPrivileges=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
SystemCallArchitectures=native
# Filesystem sandbox: /usr, /boot and /etc read-only, a private /tmp. Not `strict`: the Codex and Claude
# Code CLIs that codexbard runs refresh their own credentials under $HOME (~/.codex, ~/.claude, ~/.claude.json),
# and codexbard writes refreshed Codex tokens back there. It needs user namespaces; where the kernel forbids
# them the unit fails with status=226/NAMESPACE and `codexbard service status` says how to turn it off.
PrivateTmp=yes
ProtectSystem=full

[Install]
WantedBy=default.target
"""


def render_plist(command: Sequence[str], log_file: Path, extra_env: Mapping[str, str] | None = None) -> bytes:
    """The LaunchAgent: started at load/login, restarted after a failure, logs to `log_file`."""
    agent = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": list(command),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "Umask": 0o077,
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1", "PATH": LAUNCHD_PATH, **(extra_env or {})},
        "StandardOutPath": str(log_file),
        "StandardErrorPath": str(log_file),
    }
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML, sort_keys=False)


def mark_unit(text: str) -> str:
    """The unit with its ownership marker as the first line."""
    return f"# Written by `codexbard service install`; {_MARKER}{_digest(text.encode())}\n{text}"


def mark_plist(data: bytes) -> bytes:
    """The plist with its ownership marker as an XML comment after the XML declaration."""
    head, sep, rest = data.partition(b"\n")
    if not head.startswith(b"<?xml") or not sep:
        raise ServiceError("internal error: the rendered plist has no XML declaration")
    comment = f"<!-- Written by `codexbard service install`; {_MARKER}{_digest(data)} -->\n".encode()
    return head + sep + comment + rest


def ownership(existing: bytes | None, wanted: bytes, tag: str = SERVICE_TAG) -> Ownership:
    """How an existing file relates to the one an installer wants to write (both marked with `tag`)."""
    if existing is None:
        return "absent"
    if existing == wanted:
        return "same"
    return owner_of(existing, tag)


def marker(tag: str, data: bytes) -> str:
    """The marker text (`<tag> sha256=<hex>`) for a file whose content without its marker line is `data`."""
    return f"{tag} sha256={_digest(data)}"


def owner_of(existing: bytes, tag: str = SERVICE_TAG) -> Literal["ours", "edited", "foreign"]:
    """`ours` for an untouched file the installer of `tag` wrote, `edited` when changed since, `foreign` otherwise.

    The marker line (the whole line holding `<tag> sha256=<hex>`) is left out of the digest.
    """
    found = _marker_line(tag).search(existing)
    if found is None:
        return "foreign"
    unmarked = existing[: found.start()] + existing[found.end():]
    return "ours" if _digest(unmarked) == found.group(1).decode() else "edited"


def _marker_line(tag: str) -> re.Pattern[bytes]:
    return re.compile(rb"^.*" + re.escape(tag.encode()) + rb" sha256=([0-9a-f]{64}).*\n", re.M)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
