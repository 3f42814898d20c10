"""`codexbard service install|uninstall|status`: the three operations."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from codexbard.config import Paths, Settings, config_path, default_data_dir, load_settings
from codexbard.errors import ConfigError
from codexbard.host.files import HomeFiles
from codexbard.host.process import ProcessRunner
from codexbard.service.install import detect_install
from codexbard.service.managers import Manager, Platform, Target, manager_for, read_bytes, service_command
from codexbard.service.render import owner_of, ownership
from codexbard.service.steps import Processes, ServiceError, carry_out

HEALTH_TIMEOUT = 3.0


def run_service(args: argparse.Namespace, env: Mapping[str, str] | None = None, out: TextIO | None = None) -> int:
    """Carry out `codexbard service …`; the process exit code (0 ok, 1 failed, 2 bad usage or config)."""
    environment = dict(os.environ if env is None else env)
    stream = sys.stdout if out is None else out
    try:
        return asyncio.run(_run(args, environment, stream))
    except ServiceError as exc:
        stream.flush()
        print(f"codexbard: {exc}", file=sys.stderr)
        return exc.code


def detect_platform(name: str = sys.platform) -> Platform:
    """linux or macos, from `sys.platform`; anything else has no supported service manager."""
    if name.startswith("linux"):
        return "linux"
    if name == "darwin":
        return "macos"
    raise ServiceError(f"`codexbard service` supports systemd (Linux) and launchd (macOS), not {name}; "
                       "run `codexbard serve` under your own supervisor", 2)


def _config_path(args: argparse.Namespace, env: Mapping[str, str]) -> Path | None:
    """--config, else $CODEXBARD_CONFIG, made absolute: the service's daemon must find the same file."""
    chosen = args.config or env.get("CODEXBARD_CONFIG")
    if not chosen:
        return None
    path = HomeFiles(env).expand(chosen)
    return path if path.is_absolute() else Path.cwd() / path


async def _run(args: argparse.Namespace, env: dict[str, str], out: TextIO) -> int:
    platform: Platform = args.platform or detect_platform()
    config = _config_path(args, env)
    try:
        settings, paths = load_settings(env, config)
    except ConfigError as exc:
        if args.service_command != "uninstall":
            raise ServiceError(f"config error: {exc}", 2) from None
        # Removing the service needs no settings: an invalid config must not keep it installed.
        settings = Settings.model_construct()
        file = config or config_path(env)
        paths = Paths(config_file=file, config_dir=file.parent, data_dir=default_data_dir(env))
    processes = Processes(ProcessRunner(env))
    command: tuple[str, ...] = ()
    if args.service_command == "install":
        command = service_command(detect_install().command, config)
    target = Target(files=HomeFiles(env), paths=paths, command=command, uid=os.getuid())
    manager = manager_for(platform, target, env)
    if args.service_command == "install":
        return await _install(manager, processes, out, dry_run=args.dry_run, force=args.force)
    if args.service_command == "uninstall":
        return await _uninstall(manager, processes, out, dry_run=args.dry_run, force=args.force)
    return await _status(manager, processes, out, _health_url(settings.host, settings.port), dry_run=args.dry_run)


def _refuse(path: Path, state: str, verb: str, manager: Manager) -> ServiceError:
    why = "was edited since `codexbard service install` wrote it" if state == "edited" else \
        "was not written by `codexbard service install`"
    advice = " (for lasting changes use `systemctl --user edit codexbard`)" if manager.name == "systemd" else ""
    return ServiceError(f"{path} {why}; not {verb} it without --force{advice}")


async def _install(manager: Manager, processes: Processes, out: TextIO, *, dry_run: bool, force: bool) -> int:
    wanted = manager.wanted()
    state = ownership(read_bytes(manager.path), wanted)
    if state in ("edited", "foreign") and not force:
        raise _refuse(manager.path, state, "overwriting", manager)
    steps = await manager.install_steps(state, processes, dry_run=dry_run)
    if state == "same":
        print(f"{manager.path} is up to date", file=out)
    await carry_out(steps, processes, out, dry_run=dry_run)
    for line in await manager.after_install(processes, dry_run=dry_run):
        print(line, file=out)
    return 0


async def _uninstall(manager: Manager, processes: Processes, out: TextIO, *, dry_run: bool, force: bool) -> int:
    existing = read_bytes(manager.path)
    if existing is None:
        print(f"nothing to uninstall: {manager.path} does not exist", file=out)
        return 0
    state = owner_of(existing)
    if state != "ours" and not force:
        raise _refuse(manager.path, state, "removing", manager)
    await carry_out(manager.uninstall_steps(), processes, out, dry_run=dry_run)
    return 0


async def _status(manager: Manager, processes: Processes, out: TextIO, url: str, *, dry_run: bool) -> int:
    existing = read_bytes(manager.path)
    if existing is None:
        print(f"file: {manager.path} (not installed)", file=out)
    else:
        owner = owner_of(existing)
        label = {"ours": "written by codexbard service install", "edited": "edited since codexbard wrote it"}
        print(f"file: {manager.path} ({label.get(owner, 'not written by codexbard')})", file=out)
    if dry_run:
        for argv in manager.status_queries():
            print(f"would run: {' '.join(argv)}", file=out)
        print(f"would fetch: {url}", file=out)
        return 0
    state = await manager.state(processes)
    print(f"service: {state.summary}", file=out)
    if state.hint:
        print(f"hint: {state.hint}", file=out)
    healthy, health = await asyncio.to_thread(fetch_health, url)
    print(f"health: {health}", file=out)
    return 0 if state.active and healthy else 1


def _health_url(host: str, port: int) -> str:
    """Where the daemon's /health answers from this machine (a wildcard bind is asked on loopback)."""
    name = host.strip("[]")
    if name in ("", "0.0.0.0"):
        name = "127.0.0.1"
    elif name == "::":
        name = "::1"
    return f"http://[{name}]:{port}/health" if ":" in name else f"http://{name}:{port}/health"


def fetch_health(url: str, timeout: float = HEALTH_TIMEOUT) -> tuple[bool, str]:
    """GET /health: whether it answered ok, and one line saying what came back."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read(65536)
            status = response.status
    except urllib.error.HTTPError as exc:
        return False, f"{url} answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, f"{url} is not answering ({getattr(reason, 'strerror', None) or reason})"
    try:
        data = json.loads(body)
    except ValueError:
        return False, f"{url} answered HTTP {status} with a body that is not JSON"
    if not isinstance(data, dict) or data.get("status") != "ok":
        return False, f"{url} answered HTTP {status} without status ok"
    details = []
    if isinstance(data.get("providersEnabled"), int):
        details.append(f"{data['providersEnabled']} providers enabled")
    if isinstance(data.get("uptimeSeconds"), int | float):
        details.append(f"up {int(data['uptimeSeconds'])} s")
    suffix = f" ({', '.join(details)})" if details else ""
    return True, f"ok{suffix} at {url}"
