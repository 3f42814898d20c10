"""Claude Code's status-line JSON pushed to the daemon: pick the account, overlay the two windows (pure)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from codexbard.models import UsageSnapshot
from codexbard.providers.claude.const import PROVIDER_ID, SOURCE_STATUSLINE
from codexbard.providers.registry import PollTarget

MAX_BODY_BYTES = 64 * 1024
SOURCE = SOURCE_STATUSLINE


class UnknownAccount(ValueError):
    """`?account=` names no configured Claude account."""


@dataclass(frozen=True)
class IngestResult:
    """What an ingest decided: the new snapshot (None when nothing was usable) and why not."""

    snapshot: UsageSnapshot | None
    reason: str | None


def _same_dir(configured: object, wanted: str, home: str | None) -> bool:
    if not isinstance(configured, str) or not configured.strip():
        return False
    text = configured.strip()
    if home and (text == "~" or text.startswith("~/")):
        text = home + text[1:]
    return os.path.normpath(text) == os.path.normpath(wanted)


def choose_target(targets: Iterable[PollTarget], account: str | None, config_dir: str | None,
                home: str | None = None) -> PollTarget | None:
    """The Claude account an ingest updates: by label, else by config dir, else the default (or first) one."""
    claude = [p for p in targets if p.spec.id == PROVIDER_ID]
    if account:
        for target in claude:
            if target.account == account:
                return target
        raise UnknownAccount(f"no Claude account '{account}'")
    if config_dir:
        for target in claude:
            if _same_dir(target.options.get("claude_config_dir"), config_dir, home):
                return target
    default = [p for p in claude if p.account is None]
    if default:
        return default[0]
    return claude[0] if claude else None


def ingest(payload: object, base: UsageSnapshot | None, now: datetime) -> IngestResult:
    """Overlay the status line's `five_hour`/`seven_day` on the last snapshot; windows already reset are left."""
    from codexbard.providers.claude.parse import merge_statusline, parse_statusline

    update = parse_statusline(payload, now=now)
    if update is None:
        return IngestResult(None, "no usable rate_limits in the status-line JSON")
    return IngestResult(merge_statusline(base, update), None)
