"""codexbard: a local daemon that knows how much of every AI coding plan is left."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("codexbard")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
