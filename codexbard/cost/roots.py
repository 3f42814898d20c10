"""Where Codex and Claude Code keep their logs, and enumerating the `.jsonl` files below those roots."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from codexbard.cost.pricing import Provider


@dataclass(frozen=True, slots=True)
class CostRoots:
    """Directories scanned per provider (a missing directory is simply empty)."""

    codex: tuple[Path, ...] = ()
    claude: tuple[Path, ...] = ()

    def for_provider(self, provider: Provider) -> tuple[Path, ...]:
        """Return the roots of one provider."""
        return self.codex if provider == "codex" else self.claude


def _split(value: str | None) -> list[str]:
    if value is None:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def _dedupe(paths: list[Path]) -> tuple[Path, ...]:
    seen: set[str] = set()
    out: list[Path] = []
    for path in paths:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return tuple(out)


def discover_roots(env: Mapping[str, str], home: Path) -> CostRoots:
    """Return the log roots from `CODEX_HOME` / `CLAUDE_CONFIG_DIR` (comma lists accepted) or the home defaults."""
    codex_homes = [Path(p).expanduser() for p in _split(env.get("CODEX_HOME"))] or [home / ".codex"]
    codex = [h / sub for h in codex_homes for sub in ("sessions", "archived_sessions")]
    claude_dirs = _split(env.get("CLAUDE_CONFIG_DIR"))
    if claude_dirs:
        claude = [Path(p).expanduser() / "projects" for p in claude_dirs]
    else:
        claude = [home / ".config" / "claude" / "projects", home / ".claude" / "projects"]
    return CostRoots(codex=_dedupe(codex), claude=_dedupe(claude))


class FoundFile(NamedTuple):
    """A log file seen on disk with its stat identity (a named tuple: thousands are made per scan)."""

    provider: Provider
    path: str
    dev: int
    ino: int
    size: int
    mtime_ns: int


def enumerate_files(roots: CostRoots) -> list[FoundFile]:
    """Return every `*.jsonl` below the roots (recursive, hidden entries skipped, one entry per device+inode)."""
    out: list[FoundFile] = []
    append = out.append
    seen: set[tuple[int, int]] = set()
    for provider in ("codex", "claude"):
        prov: Provider = "codex" if provider == "codex" else "claude"
        claude = prov == "claude"
        for root in roots.for_provider(prov):
            stack = [str(root)]
            while stack:
                directory = stack.pop()
                try:
                    entries = list(os.scandir(directory))
                except OSError:
                    continue
                for entry in entries:
                    name = entry.name
                    if name[0] == ".":
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                            continue
                        if name[-6:].lower() != ".jsonl" or not entry.is_file():
                            continue
                        st = entry.stat()
                    except OSError:
                        continue
                    ident = (st.st_dev, st.st_ino)
                    if ident in seen or (claude and st.st_size == 0):
                        continue
                    seen.add(ident)
                    append(FoundFile(prov, entry.path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
    return out
