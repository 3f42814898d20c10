"""HOME and XDG-relative file access, so every path a provider reads can point into a test directory.

Small files are read whole (bounded by a limit the caller may raise); large logs are streamed from a byte
offset, with the file's device+inode identity so a reader can tell appended, truncated and replaced files
apart. Every blocking read has an async form that runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

MAX_READ_BYTES: Final = 1024 * 1024
READ_CHUNK_BYTES: Final = 1024 * 1024
MAX_LINE_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True)
class FileIdentity:
    """Which file a path names now (device + inode) and how far it has grown."""

    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        """Build from a stat result."""
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def same_file(self, other: FileIdentity) -> bool:
        """Whether both describe the same file (it may have been renamed, or grown)."""
        return (self.dev, self.ino) == (other.dev, other.ino)


class Resume(StrEnum):
    """How a reader that stopped at a byte offset of a file continues with the file as it is now."""

    NEW = "new"  # never read before: start at 0
    UNCHANGED = "unchanged"  # same file, nothing after the offset
    APPENDED = "appended"  # same file, bytes after the offset: continue there
    TRUNCATED = "truncated"  # same file, now shorter than the offset: start again at 0
    REPLACED = "replaced"  # another file under this path (different inode): start at 0


def classify_resume(previous: FileIdentity | None, offset: int, current: FileIdentity) -> tuple[Resume, int]:
    """Decide how to continue reading `current` after stopping at `offset` of `previous`; return (how, offset)."""
    if previous is None:
        return Resume.NEW, 0
    if not current.same_file(previous):
        return Resume.REPLACED, 0
    if current.size < offset:
        return Resume.TRUNCATED, 0
    if current.size == offset:
        return Resume.UNCHANGED, offset
    return Resume.APPENDED, offset


class FileChanged(Exception):
    """The file under a path is not the one (or not as long as) the reader expected; start again."""

    def __init__(self, path: Path, how: Resume) -> None:
        super().__init__(f"{path} was {how.value} since it was last read")
        self.path = path
        self.how = how


class HomeFiles:
    """Resolve and read user files through HOME and the XDG variables of one environment."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    @property
    def home(self) -> Path:
        """The user's home directory (HOME, else the password database)."""
        home = self.env.get("HOME")
        return Path(home) if home else Path.home()

    def _xdg(self, name: str, default: str) -> Path:
        value = self.env.get(name, "")
        # The XDG spec says relative values are invalid and must be ignored.
        if value and os.path.isabs(value):
            return Path(value)
        return self.home / default

    @property
    def config_home(self) -> Path:
        """$XDG_CONFIG_HOME or ~/.config."""
        return self._xdg("XDG_CONFIG_HOME", ".config")

    @property
    def data_home(self) -> Path:
        """$XDG_DATA_HOME or ~/.local/share."""
        return self._xdg("XDG_DATA_HOME", ".local/share")

    @property
    def state_home(self) -> Path:
        """$XDG_STATE_HOME or ~/.local/state."""
        return self._xdg("XDG_STATE_HOME", ".local/state")

    def tool_dir(self, env_vars: Sequence[str], default: str) -> Path:
        """A tool's home: the first non-blank of `env_vars` (trimmed, used literally), else `default` (`~` expanded).

        E.g. `tool_dir(("CODEX_HOME",), "~/.codex")`.
        """
        for name in env_vars:
            value = self.env.get(name, "").strip()
            if value:
                return Path(value)
        return self.expand(default)

    def expand(self, path: str | Path) -> Path:
        """Expand a leading `~` against this environment's HOME."""
        text = str(path)
        if text == "~":
            return self.home
        if text.startswith("~/"):
            return self.home / text[2:]
        return Path(text)

    def read_text(self, path: str | Path, *, limit: int = MAX_READ_BYTES) -> str | None:
        """Read a small text file, or None when it is absent or unreadable."""
        target = self.expand(path)
        try:
            with target.open("rb") as handle:
                data = handle.read(limit + 1)
        except OSError:
            return None
        if len(data) > limit:
            return None
        return data.decode("utf-8", errors="replace")

    async def read_text_async(self, path: str | Path, *, limit: int = MAX_READ_BYTES) -> str | None:
        """`read_text` in a worker thread."""
        return await asyncio.to_thread(self.read_text, path, limit=limit)

    def first_line(self, path: str | Path, *, limit: int = MAX_READ_BYTES) -> str | None:
        """Return the first line of a file, or None."""
        text = self.read_text(path, limit=limit)
        if text is None:
            return None
        lines = text.splitlines()
        return lines[0] if lines else ""

    def stat_identity(self, path: str | Path) -> FileIdentity | None:
        """The identity of the file at `path` (symlinks followed), or None when there is no such file."""
        try:
            return FileIdentity.of(self.expand(path).stat())
        except (OSError, ValueError):
            return None

    async def stat_identity_async(self, path: str | Path) -> FileIdentity | None:
        """`stat_identity` in a worker thread."""
        return await asyncio.to_thread(self.stat_identity, path)

    async def read_lines_from(
        self,
        path: str | Path,
        offset: int,
        *,
        expect: FileIdentity | None = None,
        chunk: int = READ_CHUNK_BYTES,
        max_line: int = MAX_LINE_BYTES,
    ) -> AsyncIterator[tuple[bytes, int]]:
        """Yield each complete line after `offset` (without its newline) and the byte offset just past it.

        A partial last line is not yielded: the offset after the last yielded line is where the next read
        resumes. With `expect`, the open file must be that file (same device+inode) and at least `offset`
        long, else FileChanged says how it changed. A line longer than `max_line` bytes is skipped whole.
        Reads run in a worker thread, `chunk` bytes at a time. OSError when the file cannot be opened.
        """
        if offset < 0 or chunk <= 0:
            raise ValueError("offset must be >= 0 and chunk > 0")
        target = self.expand(path)
        handle = await asyncio.to_thread(open, target, "rb")
        try:
            current = FileIdentity.of(await asyncio.to_thread(os.fstat, handle.fileno()))
            if expect is not None and not current.same_file(expect):
                raise FileChanged(target, Resume.REPLACED)
            if current.size < offset:
                raise FileChanged(target, Resume.TRUNCATED)
            await asyncio.to_thread(handle.seek, offset)
            pending = bytearray()
            pending_start = offset  # file offset of pending[0]
            skipping = False  # inside an over-long line, dropping bytes until its newline
            while data := await asyncio.to_thread(handle.read, chunk):
                start = 0
                while (newline := data.find(b"\n", start)) != -1:
                    end_offset = pending_start + len(pending) + (newline + 1 - start)
                    if skipping:
                        skipping = False
                        log.debug("skipped a line longer than %d bytes in %s", max_line, target)
                    elif len(pending) + newline - start > max_line:
                        log.debug("skipped a line longer than %d bytes in %s", max_line, target)
                    else:
                        pending.extend(data[start:newline])
                        yield bytes(pending), end_offset
                    pending.clear()
                    pending_start = end_offset
                    start = newline + 1
                rest = data[start:]
                if skipping:
                    pending_start += len(rest)
                elif len(pending) + len(rest) > max_line:
                    pending_start += len(pending) + len(rest)
                    pending.clear()
                    skipping = True
                else:
                    pending.extend(rest)
        finally:
            await asyncio.to_thread(handle.close)
