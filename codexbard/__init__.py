"""codexbard: a local daemon that knows how much of every AI coding plan is left."""

from __future__ import annotations

__all__ = ["__version__"]

_version: str | None = None


def __getattr__(name: str) -> str:
    """`__version__`, read from the installed metadata on first use (importlib.metadata costs ~30 ms)."""
    global _version
    if name != "__version__":
        raise AttributeError(name)
    if _version is None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            _version = version("codexbard")
        except PackageNotFoundError:  # running from a source tree without an install
            _version = "0.0.0+local"
    return _version
