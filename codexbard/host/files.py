"""HOME and XDG-relative file access, so every path a provider reads can point into a test directory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

MAX_READ_BYTES: Final = 1024 * 1024


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

    def first_line(self, path: str | Path) -> str | None:
        """Return the first line of a file, or None."""
        text = self.read_text(path)
        if text is None:
            return None
        lines = text.splitlines()
        return lines[0] if lines else ""
