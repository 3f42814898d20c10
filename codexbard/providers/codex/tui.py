"""The `/status` PTY scrape (source mode `cli` only, after the RPC fails): the Codex TUI's status panel.

Manual/diagnostic only, as the sheet recommends: the bare TUI may start an interactive login, so `auto`
never runs it. Keys sent, and nothing else: `/status` + Enter (re-sent at most twice), Enter (at most six
times, to get past a welcome screen), Down + Enter + Enter to skip an update prompt, and `/exit` at the
end — never a prompt, so no quota is spent. `codexbard.host.pty` (and pyte) is imported only here, when
this strategy runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final

from codexbard.errors import ParseError, ProviderError
from codexbard.models import UsageSnapshot
from codexbard.providers.base import Availability, FetchContext, Strategy, StrategyKind
from codexbard.providers.codex.const import (
    PTY_COLS,
    PTY_ENV_DEFAULTS,
    PTY_EXIT_COMMAND,
    PTY_RETRY_COLS,
    PTY_RETRY_ROWS,
    PTY_RETRY_TIMEOUT,
    PTY_ROWS,
    PTY_STATE_DIR,
    PTY_STATUS_COMMAND,
    PTY_STATUS_MARKERS,
    PTY_TIMEOUT,
    PTY_UPDATE_MARKERS,
    SOURCE_CLI,
)
from codexbard.providers.codex.home import local_zone, resolve_home
from codexbard.providers.codex.rpc import cli_available, require_cli

if TYPE_CHECKING:
    from codexbard.host.pty import PtySession

STARTUP_WAIT: Final = 0.4
TICK: Final = 0.12
ENTER_EVERY: Final = 1.2
MAX_ENTERS: Final = 6
RESEND_AFTER: Final = 3.0
MAX_RESENDS: Final = 2
# Once a status marker shows, read until the output is quiet this long (at most AFTER_MARKER seconds).
QUIET_AFTER_MARKER: Final = 0.5
AFTER_MARKER: Final = 2.0
DOWN: Final = "\x1b[B"
EXIT_WAIT: Final = 0.3


def toml_string(text: str) -> str:
    """A TOML basic string (quotes and backslashes escaped)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def status_argv(cli: str, state_dir: str) -> list[str]:
    """The exact TUI command line: read-only, never asking, no history, an in-memory thread store."""
    return [
        cli, "-s", "read-only", "-a", "never",
        "-c", 'history.persistence="none"',
        "-c", 'experimental_thread_store={type="in_memory",id="codexbar-status"}',
        "-c", f"sqlite_home={toml_string(state_dir)}",
    ]  # fmt: skip


def state_dir(ctx: FetchContext) -> Path:
    """`$TMPDIR/CodexBar/CodexStatusProbe` (the system temp dir without TMPDIR)."""
    parent = (ctx.env.get("TMPDIR") or "").strip() or tempfile.gettempdir()
    return Path(parent) / PTY_STATE_DIR


def _has(text: str, needles: tuple[str, ...]) -> bool:
    lowered = text.lower()
    return any(n.lower() in lowered for n in needles)


async def _drive(session: PtySession, timeout: float) -> str:
    """The sheet's dialogue; returns the rendered screen once a status marker settled (or at the deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    await asyncio.sleep(STARTUP_WAIT)
    sent_at: float | None = None
    last_enter = loop.time()
    enters = resends = 0
    skipped_update = False
    while loop.time() < deadline and not session.exited:
        screen = session.screen()
        if _has(screen, PTY_STATUS_MARKERS):
            await session.settle(QUIET_AFTER_MARKER, timeout=max(0.0, min(AFTER_MARKER, deadline - loop.time())))
            break
        if not skipped_update and _has(screen, PTY_UPDATE_MARKERS):
            skipped_update = True
            for keys, pause in ((DOWN, 0.12), ("\r", 0.15), ("\r", 0.0)):
                await session.send(keys)
                await asyncio.sleep(pause)
            sent_at = None
        if sent_at is None:
            await session.send(PTY_STATUS_COMMAND + "\r")
            sent_at = last_enter = loop.time()
            await asyncio.sleep(0.2)
            continue
        now = loop.time()
        if now - sent_at >= RESEND_AFTER and resends < MAX_RESENDS:
            resends += 1
            await session.send(PTY_STATUS_COMMAND + "\r")
            sent_at = last_enter = now
        elif now - last_enter >= ENTER_EVERY and enters < MAX_ENTERS:
            enters += 1
            await session.send("\r")
            last_enter = now
        await session.settle(TICK, timeout=TICK)
    return session.screen()


class CodexStatusPty(Strategy):
    """Scrape `/status` from the Codex TUI in a pseudo-terminal."""

    id: ClassVar[str] = "status-pty"
    kind: ClassVar[StrategyKind] = "cli"
    source_label: ClassVar[str] = SOURCE_CLI

    async def available(self, ctx: FetchContext) -> Availability:
        """Available when `codex` resolves."""
        return cli_available(ctx)

    async def fetch(self, ctx: FetchContext) -> UsageSnapshot:
        """Run the scrape (60 x 200, 8 s); on a parse failure once more at 70 x 220 with 4 s."""
        cli = require_cli(ctx)
        try:
            return await self._scrape(ctx, cli, PTY_COLS, PTY_ROWS, PTY_TIMEOUT)
        except ParseError:
            return await self._scrape(ctx, cli, PTY_RETRY_COLS, PTY_RETRY_ROWS, PTY_RETRY_TIMEOUT)

    async def _scrape(self, ctx: FetchContext, cli: str, cols: int, rows: int, timeout: float) -> UsageSnapshot:
        from codexbard.host.pty import PtySession
        from codexbard.providers.codex.parse import parse_status_text

        home = resolve_home(ctx)
        probe = state_dir(ctx)
        await asyncio.to_thread(os.makedirs, probe, 0o700, True)
        extra = {k: v for k, v in PTY_ENV_DEFAULTS.items() if not ctx.env.get(k)}
        extra.update(home.child_env())
        session = await PtySession.spawn(
            ctx.process, status_argv(cli, str(probe)), cols=cols, rows=rows, extra_env=extra,
            cwd=str(ctx.files.home),
        )
        try:
            screen = await _drive(session, ctx.remaining(timeout))
            if not session.exited:
                with contextlib.suppress(ProviderError):  # the group is killed below anyway
                    await session.send(PTY_EXIT_COMMAND + "\n", timeout=0.5)
                    await session.settle(EXIT_WAIT, timeout=EXIT_WAIT)  # let it leave on its own first
        finally:
            await session.close()
        return parse_status_text(_clean(screen), now=ctx.clock.now(), tz=local_zone(ctx))


_BOX: Final = re.compile(r"[│┃|]\s*$", re.MULTILINE)


def _clean(screen: str) -> str:
    """The rendered screen without the right border of the TUI's panel (it ends reset text otherwise)."""
    return _BOX.sub("", screen)
