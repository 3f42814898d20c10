"""The `cli` strategy: run `claude` in a pseudo-terminal, type `/usage` (and `/status`), parse the panel.

Never spends quota: the only input ever typed is `/usage`, `/status`, `/exit`, Enter, and the sheet's
auto-answers to Claude Code's start-up prompts (`y` to the folder-trust question, Enter to the others). The
child runs with `--allowed-tools ""` in a dedicated probe folder, without any `ANTHROPIC_*` variable, and its
whole process group is killed afterwards. The session files Claude Code writes for the probe folder are
deleted after each probe so polling does not pollute the user's history.

`delegate_refresh` is the same machinery used by the OAuth strategy: start `claude`, type `/status`, and let
it refresh its own expired credentials file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from codexbard.errors import AuthRequired, CliMissing, NotConfigured, ProviderError, RateLimited, Timeout
from codexbard.host.clock import local_zone
from codexbard.host.credentials import write_private
from codexbard.providers.base import Availability, FetchContext, Strategy, StrategyKind
from codexbard.providers.claude import paths
from codexbard.providers.claude.const import (
    AUTO_ANSWERS,
    CHILD_ENV_DEFAULTS,
    CHILD_ENV_FORCED,
    CLI_AFTER_STOP_READ,
    CLI_ARGS,
    CLI_ENTER_INTERVAL,
    CLI_EXIT_COMMAND,
    CLI_OUTPUT_CAP,
    CLI_READ_INTERVAL,
    CLI_RECAPTURE_MIN_TIMEOUT,
    CLI_STARTUP_DELAY,
    CLI_STATUS_COMMAND,
    CLI_STATUS_IDLE,
    CLI_STATUS_MAX_TIMEOUT,
    CLI_TIMEOUT_AUTO,
    CLI_TIMEOUT_EXPLICIT,
    CLI_USAGE_COMMAND,
    DELEGATED_ENTER_INTERVAL,
    DELEGATED_SETTLE,
    DELEGATED_TIMEOUT,
    PROBE_SESSION_ID_FILE,
    PROBE_SETTINGS,
    PROJECTS_DIR,
    PTY_COLS,
    PTY_ROWS,
    SOURCE_CLI,
    STATUS_AUTO_ANSWERS,
    USAGE_AUTO_ANSWERS,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from codexbard.host.pty import PtySession
    from codexbard.models import UsageSnapshot

log = logging.getLogger(__name__)

AUTH_STATUS_ARGS = ("auth", "status", "--json")
AUTH_STATUS_TIMEOUT = 5.0


@dataclass
class Timing:
    """The dialogue's delays (the sheet's values; tests shrink them)."""

    startup: float = CLI_STARTUP_DELAY
    read: float = CLI_READ_INTERVAL
    enter: float = CLI_ENTER_INTERVAL
    after_stop: float = CLI_AFTER_STOP_READ
    status_idle: float = CLI_STATUS_IDLE
    timeout_auto: float = CLI_TIMEOUT_AUTO
    timeout_explicit: float = CLI_TIMEOUT_EXPLICIT
    recapture_min: float = CLI_RECAPTURE_MIN_TIMEOUT
    status_max: float = CLI_STATUS_MAX_TIMEOUT
    delegate_timeout: float = DELEGATED_TIMEOUT
    delegate_enter: float = DELEGATED_ENTER_INTERVAL
    delegate_settle: float = DELEGATED_SETTLE


TIMING = Timing()


def _squeeze(text: str) -> str:
    return "".join(text.lower().split())


async def _send(session: PtySession, keys: str) -> None:
    with contextlib.suppress(ProviderError):
        await session.send(keys)


async def capture(session: PtySession, command: str, timeout: float, timing: Timing) -> str:
    """Type `command` + Enter and read the rendered screen until the sheet's stop rule (or `timeout`)."""
    from codexbard.providers.claude.panel import usage_error

    usage = command == CLI_USAGE_COMMAND
    answers = AUTO_ANSWERS + (USAGE_AUTO_ANSWERS if usage else STATUS_AUTO_ANSWERS)
    fired: set[str] = set()
    try:
        await session.send(command + "\r")
    except ProviderError:
        raise Timeout(f"`claude` exited before {command}") from None
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + timeout
    last_enter = started
    last_change = started
    previous = ""
    while loop.time() < deadline:
        await asyncio.sleep(timing.read)
        screen = session.screen()
        squeezed = _squeeze(screen)
        if screen != previous:
            previous, last_change = screen, loop.time()
        for prompt, keys in answers:
            if prompt not in fired and _squeeze(prompt) in squeezed:
                fired.add(prompt)
                await _send(session, keys)
        if session.exited:
            raise Timeout(f"`claude` exited during {command}")
        if usage:
            if loop.time() - last_enter >= timing.enter:
                last_enter = loop.time()
                await _send(session, "\r")
            stop = (
                ("currentsession" in squeezed and _has_percent_after(squeezed, "currentsession"))
                or ("currentlyusingyoursubscription" in squeezed and "claudecodeusage" in squeezed)
                or "failedtoloadusagedata" in squeezed
                or isinstance(usage_error(screen), AuthRequired | RateLimited)
            )
            if stop:
                await asyncio.sleep(timing.after_stop)
                return session.screen()
        elif loop.time() - last_change >= timing.status_idle:
            return session.screen()
    return session.screen()


def _has_percent_after(squeezed: str, label: str) -> bool:
    import re

    tail = squeezed[squeezed.index(label):]
    return re.search(r"\d{1,3}(?:\.\d+)?%", tail) is not None


def child_extra_env(ctx: FetchContext, cwd: Path) -> dict[str, str]:
    """The variables a `claude` child gets on top of the scrubbed environment (no ANTHROPIC_* ever)."""
    extra = {k: v for k, v in CHILD_ENV_DEFAULTS.items() if not ctx.env.get(k)}
    extra.update(CHILD_ENV_FORCED)
    extra.update(paths.child_env(ctx))
    extra["PWD"] = str(cwd)
    return extra


def prepare_probe(folder: Path) -> str:
    """Create the probe folder with its settings merged and return its stable session id (blocking)."""
    settings = folder / PROBE_SETTINGS
    settings.parent.mkdir(parents=True, exist_ok=True)
    current: dict[str, object] = {}
    with contextlib.suppress(OSError, ValueError):
        loaded = json.loads(settings.read_text())
        if isinstance(loaded, dict):
            current = loaded
    if current.get("disableDeepLinkRegistration") != "disable":
        current["disableDeepLinkRegistration"] = "disable"
        write_private(settings, (json.dumps(current, indent=2) + "\n").encode())
    id_file = folder / PROBE_SESSION_ID_FILE
    with contextlib.suppress(OSError, ValueError):
        existing = str(uuid.UUID(id_file.read_text().strip()))
        return existing
    session_id = str(uuid.uuid4())
    write_private(id_file, (session_id + "\n").encode())
    return session_id


def forget_probe_sessions(config_root: Path, folder: Path) -> int:
    """Delete the session `.jsonl` files Claude Code wrote for the probe folder (blocking); how many."""
    project = config_root / PROJECTS_DIR / paths.project_folder_name(str(folder))
    removed = 0
    with contextlib.suppress(OSError):
        for entry in project.glob("*.jsonl"):
            with contextlib.suppress(OSError):
                entry.unlink()
                removed += 1
    return removed


async def _spawn(ctx: FetchContext, binary: str, folder: Path, session_id: str) -> PtySession:
    from codexbard.host.pty import PtySession

    argv = [binary, *CLI_ARGS, session_id]
    return await PtySession.spawn(ctx.process, argv, cols=PTY_COLS, rows=PTY_ROWS,
                                  extra_env=child_extra_env(ctx, folder), cwd=str(folder), max_output=CLI_OUTPUT_CAP)


async def _close(session: PtySession, grace: float = 0.5) -> None:
    """Type `/exit`, give `claude` `grace` s to leave on its own, then kill its group."""
    await _send(session, CLI_EXIT_COMMAND + "\r")
    with contextlib.suppress(ProviderError):
        await session.settle(grace, timeout=grace)
    await session.close()


async def delegate_refresh(
    ctx: FetchContext, credentials: Path, timing: Timing | None = None, *,
    changed: Callable[[], Awaitable[bool]] | None = None,
) -> bool:
    """Start `claude`, type `/status`, press Enter until its credentials changed; whether they did.

    The credentials file's identity is watched; `changed` (e.g. a re-read of the macOS keychain item) is
    asked too, after each Enter.
    """
    timing = timing or TIMING
    binary = await asyncio.to_thread(paths.find_cli, ctx)
    if binary is None:
        return False
    folder = paths.probe_dir(ctx)
    session_id = await asyncio.to_thread(prepare_probe, folder)
    before = await ctx.files.stat_identity_async(credentials)
    try:
        session = await _spawn(ctx, binary, folder, session_id)
    except ProviderError:
        return False
    refreshed = False
    try:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(timing.startup)
        await _send(session, CLI_STATUS_COMMAND + "\r")
        deadline = loop.time() + ctx.remaining(timing.delegate_timeout)
        fired: set[str] = set()
        while loop.time() < deadline and not session.exited:
            await asyncio.sleep(timing.delegate_enter)
            if await ctx.files.stat_identity_async(credentials) != before or (
                    changed is not None and await changed()):
                refreshed = True
                await asyncio.sleep(timing.delegate_settle)
                break
            squeezed = _squeeze(session.screen())
            answered = [(p, k) for p, k in AUTO_ANSWERS + STATUS_AUTO_ANSWERS
                        if p not in fired and _squeeze(p) in squeezed]
            for prompt, keys in answered:
                fired.add(prompt)
                await _send(session, keys)
            if answered:  # a start-up prompt swallowed the command: type it again
                await _send(session, CLI_STATUS_COMMAND + "\r")
            else:
                await _send(session, "\r")
    finally:
        await _close(session)
        await asyncio.to_thread(forget_probe_sessions, paths.config_root(ctx), folder)
    return refreshed


class ClaudeCliStrategy(Strategy):
    """`claude` in a PTY: the `/usage` panel (and `/status` for the plan), parsed by panel.py."""

    id: ClassVar[str] = "cli"
    kind: ClassVar[StrategyKind] = "cli"
    source_label: ClassVar[str] = SOURCE_CLI

    def __init__(self, timing: Timing | None = None) -> None:
        self.timing = timing or TIMING

    async def available(self, ctx: FetchContext) -> Availability:
        """Available when the `claude` binary is found (no process is started here)."""
        binary = await asyncio.to_thread(paths.find_cli, ctx)
        if binary is None:
            return Availability.no("`claude` (Claude Code) is not installed or not on PATH; set CLAUDE_CLI_PATH",
                                   kind="cli_missing")
        return Availability.yes(f"`claude` at {binary}")

    async def logged_in(self, ctx: FetchContext, binary: str) -> bool | None:
        """`claude auth status --json` → loggedIn (None when the answer cannot be read)."""
        try:
            result = await ctx.process.run([binary, *AUTH_STATUS_ARGS], timeout=AUTH_STATUS_TIMEOUT,
                                           extra_env=paths.child_env(ctx))
            data = json.loads(result.stdout)
        except (ProviderError, ValueError):
            return None
        value = data.get("loggedIn") if isinstance(data, dict) else None
        return value if isinstance(value, bool) else None

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """Check the login, run one probe (re-capturing once when the screen shows no panel), parse it."""
        from codexbard.providers.claude.panel import is_still_loading, looks_like_usage, parse_panel, usage_error

        binary = await asyncio.to_thread(paths.find_cli, ctx)
        if binary is None:
            raise CliMissing("`claude` (Claude Code) is not installed or not on PATH; set CLAUDE_CLI_PATH")
        explicit = ctx.option("source", "auto") != "auto"
        logged_in = await self.logged_in(ctx, binary)
        if logged_in is False or (logged_in is None and not explicit):
            raise NotConfigured("Claude CLI is not logged in (`claude auth status`); run `claude` and log in")
        timeout = self.timing.timeout_explicit if explicit else self.timing.timeout_auto
        folder = paths.probe_dir(ctx)
        session_id = await asyncio.to_thread(prepare_probe, folder)
        session = await _spawn(ctx, binary, folder, session_id)
        status_text: str | None = None
        try:
            await asyncio.sleep(self.timing.startup)
            usage_text = await capture(session, CLI_USAGE_COMMAND, ctx.remaining(timeout), self.timing)
            if not looks_like_usage(usage_text) and usage_error(usage_text) is None:
                usage_text = await capture(session, CLI_USAGE_COMMAND,
                                           ctx.remaining(max(timeout, self.timing.recapture_min)), self.timing)
            if looks_like_usage(usage_text) and usage_error(usage_text) is None and not is_still_loading(usage_text):
                try:
                    status_text = await capture(session, CLI_STATUS_COMMAND,
                                                ctx.remaining(min(timeout, self.timing.status_max)), self.timing)
                except ProviderError:
                    status_text = None  # /status only adds identity; its failure is ignored
        finally:
            await _close(session)
            await asyncio.to_thread(forget_probe_sessions, paths.config_root(ctx), folder)
        return parse_panel(usage_text, status_text, now=ctx.clock.now(), tz=local_zone(ctx.env))

    def should_fall_back(self, error: ProviderError) -> bool:
        """Every CLI failure may go on to the web step (which runs only when a session cookie is set)."""
        return True
