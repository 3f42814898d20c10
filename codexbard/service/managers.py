"""The two service managers: a systemd user unit (Linux) and a launchd LaunchAgent (macOS).

Each turns "install", "uninstall" and "status" into steps (see `steps`) and reads the manager's view of the service.
"""

from __future__ import annotations

import pwd
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from codexbard.config import Paths
from codexbard.host.files import HomeFiles
from codexbard.service.render import (
    ENV_FILE_NAME,
    LAUNCHD_LABEL,
    UNIT_NAME,
    Ownership,
    mark_plist,
    mark_unit,
    render_plist,
    render_unit,
    systemd_command,
)
from codexbard.service.steps import MakeDir, Note, Processes, RemoveFile, Run, ServiceError, Step, WriteFile

Platform = Literal["linux", "macos"]


@dataclass(frozen=True)
class Target:
    """Everything about this user and this install that the service files depend on."""

    files: HomeFiles
    paths: Paths
    command: tuple[str, ...]  # program and arguments up to and including `serve …`
    uid: int


@dataclass(frozen=True)
class ServiceState:
    """What the service manager says about the service."""

    loaded: bool
    active: bool
    summary: str
    hint: str | None = None


class Manager(Protocol):
    """One platform's service manager."""

    name: str
    path: Path

    def wanted(self) -> bytes:
        """The marked file `install` writes."""

    async def install_steps(self, state: Ownership, processes: Processes, *, dry_run: bool) -> list[Step]:
        """Steps that make the installed, enabled and running service match `wanted()`."""

    def uninstall_steps(self) -> list[Step]:
        """Steps that stop the service and remove the file `install` wrote."""

    def status_queries(self) -> list[tuple[str, ...]]:
        """The read-only commands `status` runs."""

    async def state(self, processes: Processes) -> ServiceState:
        """Ask the manager about the service."""

    async def after_install(self, processes: Processes, *, dry_run: bool) -> list[str]:
        """Lines of advice once the service is installed."""


def read_bytes(path: Path) -> bytes | None:
    """A file's bytes, or None when there is none."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror}") from None


def user_name(uid: int, env: Mapping[str, str]) -> str:
    """The login name for `uid` (for the `loginctl enable-linger` advice)."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return env.get("USER") or "$USER"


class SystemdUser:
    """A user unit in $XDG_CONFIG_HOME/systemd/user, run by `systemctl --user`."""

    name = "systemd"

    def __init__(self, target: Target, env: Mapping[str, str]) -> None:
        self.target = target
        self.env = env
        self.path = target.files.config_home / "systemd" / "user" / UNIT_NAME

    def wanted(self) -> bytes:
        """The marked unit for this install."""
        return mark_unit(render_unit(systemd_command(self.target.command))).encode()

    def _systemctl(self, *args: str) -> tuple[str, ...]:
        return ("systemctl", "--user", *args)

    async def install_steps(self, state: Ownership, processes: Processes, *, dry_run: bool) -> list[Step]:
        """Create the config and data directories, write the unit, reload, enable, then start or restart."""
        paths = self.target.paths
        steps: list[Step] = [MakeDir(paths.config_dir), MakeDir(paths.data_dir), MakeDir(self.path.parent, 0o755)]
        if state != "same":
            steps += [WriteFile(self.path, self.wanted()), Run(self._systemctl("daemon-reload"))]
        steps.append(Run(self._systemctl("enable", UNIT_NAME)))
        # A changed unit replaces a running daemon; an unchanged one is only started if it is not running.
        steps.append(Run(self._systemctl("start" if state in ("absent", "same") else "restart", UNIT_NAME)))
        return steps

    def uninstall_steps(self) -> list[Step]:
        """Stop and disable the unit, remove it, reload."""
        return [
            Run(self._systemctl("disable", "--now", UNIT_NAME)),
            RemoveFile(self.path),
            Run(self._systemctl("daemon-reload")),
        ]

    def status_queries(self) -> list[tuple[str, ...]]:
        """`systemctl --user show` with the properties `status` prints."""
        return [self._systemctl(
            "show", UNIT_NAME,
            "--property=LoadState,ActiveState,SubState,UnitFileState,MainPID,ExecMainStatus,NRestarts")]

    async def state(self, processes: Processes) -> ServiceState:
        """Parse `systemctl --user show`."""
        result = await processes.run(self.status_queries()[0])
        if result.returncode != 0:
            from codexbard.service.steps import describe_failure

            return ServiceState(False, False, f"unknown ({describe_failure(result)})")
        props = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
        if props.get("LoadState") != "loaded":
            return ServiceState(False, False, f"not loaded ({props.get('LoadState', 'unknown')})")
        active = props.get("ActiveState", "unknown")
        summary = f"{active} ({props.get('SubState', 'unknown')}), {props.get('UnitFileState') or 'unknown'}"
        pid = props.get("MainPID", "0")
        if pid not in ("", "0"):
            summary += f", pid {pid}"
        restarts = props.get("NRestarts", "0")
        if restarts not in ("", "0"):
            summary += f", {restarts} restarts"
        status = props.get("ExecMainStatus", "0")
        hint = None
        if active != "active" and status not in ("", "0"):
            summary += f", last exit status {status}"
            if status == "226":
                hint = ("status 226/NAMESPACE: this machine does not allow the unit's filesystem sandbox. Run "
                        "`systemctl --user edit codexbard`, add `[Service]`, `PrivateTmp=no` and `ProtectSystem=no`, "
                        "then `systemctl --user restart codexbard`.")
        if active != "active" and hint is None:
            hint = "see `journalctl --user -u codexbard -n 50`"
        return ServiceState(True, active == "active", summary, hint)

    async def after_install(self, processes: Processes, *, dry_run: bool) -> list[str]:
        """Where keys go, and lingering for machines nobody logs in to."""
        lines = [
            f"API keys: the service does not see your shell's environment. Store them with `codexbard config "
            f"set-secret --provider ID`, or as KEY=value lines in "
            f"{self.target.files.config_home / 'codexbard' / ENV_FILE_NAME} (chmod 600), then "
            "`systemctl --user restart codexbard`.",
            "logs: journalctl --user -u codexbard -f",
        ]
        linger = None
        if not dry_run:
            query = ("loginctl", "show-user", str(self.target.uid), "--property=Linger", "--value")
            try:
                result = await processes.run(query)
            except ServiceError:
                result = None
            if result is not None and result.returncode == 0:
                linger = result.stdout.strip()
        if linger == "yes":
            lines.append("lingering is on: the service starts at boot and keeps running after you log out.")
        else:
            lines.append(
                "the service runs while you are logged in. To start it at boot and keep it running after you log "
                "out (a headless machine, a server used over SSH), enable lingering once: "
                f"sudo loginctl enable-linger {user_name(self.target.uid, self.env)}")
        return lines


class LaunchAgent:
    """A LaunchAgent in ~/Library/LaunchAgents, loaded into the `gui/<uid>` domain."""

    name = "launchd"

    def __init__(self, target: Target) -> None:
        self.target = target
        home = target.files.home
        self.path = home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
        self.log_dir = home / "Library" / "Logs" / "codexbard"
        self.domain = f"gui/{target.uid}"
        self.service = f"{self.domain}/{LAUNCHD_LABEL}"

    def wanted(self) -> bytes:
        """The marked plist for this install."""
        return mark_plist(render_plist(self.target.command, self.log_dir / "codexbard.log"))

    async def _loaded(self, processes: Processes) -> bool:
        result = await processes.run(("launchctl", "print", self.service))
        return result.returncode == 0

    async def install_steps(self, state: Ownership, processes: Processes, *, dry_run: bool) -> list[Step]:
        """Write the plist; bootstrap it, or replace the loaded one, or kick an unchanged one."""
        steps: list[Step] = [MakeDir(self.log_dir), MakeDir(self.path.parent, 0o755)]
        if state != "same":
            steps.append(WriteFile(self.path, self.wanted()))
        # --dry-run runs nothing, not even the query: an existing file is taken as loaded.
        loaded = state != "absent" and (dry_run or await self._loaded(processes))
        bootstrap = [Run(("launchctl", "enable", self.service)),
                     Run(("launchctl", "bootstrap", self.domain, str(self.path)), retries=4)]
        if not loaded:
            steps += bootstrap
        elif state == "same":
            steps.append(Run(("launchctl", "kickstart", self.service)))
        else:
            # bootout returns before the old process is gone, so bootstrap may need another try.
            steps += [Run(("launchctl", "bootout", self.service)), *bootstrap]
        return steps

    def uninstall_steps(self) -> list[Step]:
        """Unload (stopping the daemon) and remove the plist; the logs stay."""
        return [
            Run(("launchctl", "bootout", self.service), may_fail=True),
            RemoveFile(self.path),
            Note(f"logs kept in {self.log_dir}"),
        ]

    def status_queries(self) -> list[tuple[str, ...]]:
        """`launchctl print` of the agent."""
        return [("launchctl", "print", self.service)]

    async def state(self, processes: Processes) -> ServiceState:
        """Parse the `state`, `pid` and `last exit code` lines of `launchctl print`."""
        result = await processes.run(self.status_queries()[0])
        if result.returncode != 0:
            return ServiceState(False, False, f"not loaded in {self.domain}")
        fields: dict[str, str] = {}
        for line in result.stdout.splitlines():
            key, sep, value = line.strip().partition(" = ")
            if sep and key in ("state", "pid", "last exit code") and key not in fields:
                fields[key] = value.strip()
        state = fields.get("state", "unknown")
        summary = state
        if "pid" in fields:
            summary += f", pid {fields['pid']}"
        exit_code = fields.get("last exit code")
        if exit_code not in (None, "0", "(never exited)"):
            summary += f", last exit code {exit_code}"
        hint = None if state == "running" else f"see {self.log_dir / 'codexbard.log'}"
        return ServiceState(True, state == "running", summary, hint)

    async def after_install(self, processes: Processes, *, dry_run: bool) -> list[str]:
        """Where keys go and where the logs are."""
        return [
            "API keys: the agent does not see your shell's environment. Store them with `codexbard config "
            "set-secret --provider ID` (the login Keychain).",
            f"logs: {self.log_dir / 'codexbard.log'}",
        ]


def manager_for(platform: Platform, target: Target, env: Mapping[str, str]) -> Manager:
    """The service manager of a platform."""
    return SystemdUser(target, env) if platform == "linux" else LaunchAgent(target)


def service_command(command: Sequence[str], config: Path | None) -> tuple[str, ...]:
    """The full daemon command line: the install's entry point, `serve`, and `--config` when one is chosen."""
    return (*command, "serve", *(("--config", str(config)) if config is not None else ()))
