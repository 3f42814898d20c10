"""`codexbard compat`: a `codexbar` command for clients written for CodexBar's CLI.

`codexbard.compat.install` writes and removes the `codexbar` shim (marked as ours like the service files);
`codexbard.compat.shim` answers what the shim is asked (`usage`, `cost`, `serve`, `capabilities`,
`config providers`) through `codexbard compat run …`.
"""

from __future__ import annotations

SHIM_NAME = "codexbar"
"""The command name clients written for CodexBar look up on PATH."""

SHIM_TAG = "codexbard-compat-install"
"""The ownership marker tag of the shim (see `codexbard.service.render.owner_of`)."""

__all__ = ["SHIM_NAME", "SHIM_TAG"]
